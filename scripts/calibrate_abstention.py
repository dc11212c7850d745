"""Fit the "no good evidence" model of tutor/retrieval/hybrid.py (FusionParams.conf_*)
on the bundled QA set: answerable vs unanswerable questions, logistic regression on
(best dense cosine, query coverage of the top passage, best BM25 score).

    .venv/bin/python scripts/calibrate_abstention.py
"""

from __future__ import annotations

import numpy as np
from sklearn.linear_model import LogisticRegression

from tutor.config import REPO_ROOT, Settings
from tutor.evaluation import datasets
from tutor.evaluation.tasks.base import EvalContext
from tutor.models import apply_offline
from tutor.retrieval.hybrid import evidence_features
from tutor.runtime import load_embedder


def main(embedder=None) -> None:
    settings = Settings.load()
    apply_offline(settings)
    ctx = EvalContext(embedder or load_embedder(settings), REPO_ROOT / "corpus", None, progress=False)
    pool = ctx.pool([])
    features, labels = [], []
    for item in datasets.bundled_items():
        if item["type"] not in ("answerable", "unanswerable"):
            continue
        hits = pool.retriever.search(item["question"], k=10).hits
        f = evidence_features(item["question"], hits, pool.index.lexical) if hits else {}
        features.append([f.get("dense", 0.0), f.get("coverage", 0.0), f.get("lexical", 0.0)])
        labels.append(item["type"] == "answerable")
    pool.close()
    x, y = np.array(features), np.array(labels)
    model = LogisticRegression(C=10, class_weight="balanced").fit(x, y)
    p = model.predict_proba(x)[:, 1]
    print(f"conf_bias={model.intercept_[0]:.2f} conf_dense={model.coef_[0][0]:.2f} "
          f"conf_coverage={model.coef_[0][1]:.2f} conf_lexical={model.coef_[0][2]:.2f}")
    print(f"at 0.5: abstention on unanswerable {np.mean(p[~y] < 0.5):.3f}, "
          f"false abstention {np.mean(p[y] < 0.5):.3f} (n={len(y)})")


if __name__ == "__main__":
    import sys

    if sys.argv[1:] == ["--hashing"]:  # the test fake's own calibration
        from tutor.retrieval.embedders import HashingEmbedder

        main(HashingEmbedder())
    else:
        main()
