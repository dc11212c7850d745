"""What the moderation and instruction patterns share: the folding of text and patterns, and
compiling a pattern list (``*.toml`` beside this file) into one regular expression."""

from __future__ import annotations

import re
import tomllib
from functools import cache
from pathlib import Path

HERE = Path(__file__).parent

# Children type Kazakh without its letters (қ -> к, ө -> о) and mix Latin look-alikes into
# Cyrillic words; both text and patterns are folded the same way before matching.
_FOLD = str.maketrans("әөұүқғңіһёӘӨҰҮҚҒҢІҺЁ’‘`´", "аоуукгнихеаоуукгнихе''''")
_HOMOGLYPHS = str.maketrans("aceopxykmtbh", "асеорхукмтвн")
_WORD = re.compile(r"\w+")
_INVISIBLE = re.compile(r"[\u00ad\u200b-\u200f\u2060\ufeff]")


def _unmix(m: re.Match) -> str:
    word = m.group(0)
    if re.search(r"[а-я]", word) and re.search(r"[a-z]", word):
        return word.translate(_HOMOGLYPHS)
    return word


def normalize(text: str) -> str:
    """Lower case, Kazakh letters folded, look-alike Latin letters in Cyrillic words
    replaced, stretched letters ("суууицид") shortened, invisible characters dropped."""
    text = _INVISIBLE.sub("", text).lower().translate(_FOLD)
    if re.search(r"[a-z]", text) and re.search(r"[а-я]", text):
        text = _WORD.sub(_unmix, text)
    text = re.sub(r"([^\W\d_])\1{2,}", r"\1", text)
    return re.sub(r"\s+", " ", text)


@cache
def load(name: str) -> dict:
    """A pattern file beside this module (``moderation``, ``instructions``)."""
    return tomllib.loads((HERE / f"{name}.toml").read_text(encoding="utf-8"))


def compile_patterns(patterns: list[str], parts: dict[str, str] | None = None) -> re.Pattern:
    """One alternation, every branch starting at a word boundary, parts and gaps filled in."""
    parts = load("moderation")["parts"] if parts is None else parts
    out = []
    for pattern in patterns:
        pattern = re.sub(r"\{([A-Z_]+)\}", lambda m: parts[m.group(1)], pattern)
        out.append(re.sub(r"~(\d)", r"(?:\\w+\\W+){0,\1}", pattern).translate(_FOLD))
    return re.compile("(?<!\\w)(?:" + "|".join(out) + ")")
