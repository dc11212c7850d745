"""Text helpers every layer may use: Kazakh letters and keyboard folding, language detection,
tokens and stems, answer matching. A leaf: it imports nothing else from tutor."""
