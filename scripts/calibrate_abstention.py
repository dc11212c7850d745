"""Fit the "no good evidence" model of tutor/retrieval/hybrid.py (FusionParams.conf_*)
on the bundled QA set (``tutor.retrieval.calibration``): answerable vs unanswerable
questions, logistic regression on (best dense cosine, query coverage of the top passage,
best BM25 score, mean and largest share of a question word's character 5-grams unknown
to the corpus). Prints the fitted weights, the abstention figures at 0.5 on the fitted
set and their leave-one-out estimate (each question scored by a model fitted without it).
This is how the built-in weights were chosen; ``tutor models --calibrate`` does the same
for another embedder and saves the result for the runtime.

    .venv/bin/python scripts/calibrate_abstention.py            # the configured embedder
    .venv/bin/python scripts/calibrate_abstention.py --hashing  # the test fake's own
"""

from __future__ import annotations

import sys

from tutor.config import REPO_ROOT, Settings
from tutor.evaluation.calibration import calibrate
from tutor.models import apply_offline


def main(embedder=None) -> None:
    if embedder is None:
        from tutor.runtime import load_embedder

        settings = Settings.load()
        apply_offline(settings)
        embedder = load_embedder(settings)
    cal = calibrate(embedder, REPO_ROOT / "corpus")
    print(cal.summary())
    print(" ".join(f"{k}={v:.2f}" for k, v in cal.params.items()))


if __name__ == "__main__":
    if sys.argv[1:] == ["--hashing"]:
        from tutor.retrieval.embedders import HashingEmbedder

        main(HashingEmbedder())
    else:
        main()
