"""Fitting the "no good evidence" model for an embedder on the bundled QA set
(``tutor models --calibrate``); the result is kept and applied by ``tutor.retrieval.calibration``."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from tutor.evaluation import datasets
from tutor.evaluation.pools import Pool, bundled_docs
from tutor.retrieval.calibration import FEATURES, Calibration

C_GRID = (0.01, 0.03, 0.1, 0.3, 1.0, 10.0)
# The operating point: the balanced fit moved towards answering until at most this share of
# answerable questions is refused (left-out estimate). A refusal is the more common error a
# student meets, since most questions asked in class are about the materials.
FALSE_ABSTENTION_BUDGET = 0.08


def evidence_samples(retriever, items) -> tuple[np.ndarray, np.ndarray]:
    """Evidence features of the answerable and unanswerable questions among ``items``
    (the bundled QA set's records), and whether each is answerable."""
    features, labels = [], []
    for item in items:
        if item["type"] not in ("answerable", "unanswerable"):
            continue
        f = retriever.search(item["question"], k=10).evidence
        features.append([f.get(k, 0.0) for k in FEATURES])
        labels.append(item["type"] == "answerable")
    return np.array(features, dtype=float), np.array(labels, dtype=bool)


def fit(x: np.ndarray, y: np.ndarray, c_grid=C_GRID, budget: float = FALSE_ABSTENTION_BUDGET) -> Calibration:
    """Class-balanced logistic regression on standardised features, C by leave-one-out
    log-loss, then its bias raised in steps of 0.1 until the left-out false abstention is
    within ``budget``. (Standardised first: e5's cosines vary by a few hundredths, and unscaled
    the regularisation holds their weight down: docs/decisions/2026-12-01-evidence-model.md.)"""
    from sklearn.linear_model import LogisticRegression

    if len(y) < 10 or y.all() or not y.any():
        raise ValueError("calibration needs answerable and unanswerable questions (10 or more)")
    mu, sd = x.mean(0), x.std(0) + 1e-12
    z = (x - mu) / sd
    balance = np.where(y, 0.5 / y.mean(), 0.5 / (1 - y.mean()))

    def model(rows, c):
        return LogisticRegression(C=c, class_weight="balanced").fit(z[rows], y[rows])

    def leave_one_out(c):
        every = np.arange(len(y))
        return np.array([model(every != i, c).decision_function(z[i:i + 1])[0] for i in every])

    losses, loo = {}, {}
    for c in c_grid:
        loo[c] = leave_one_out(c)
        p = np.clip(1 / (1 + np.exp(-loo[c])), 1e-12, 1 - 1e-12)
        losses[c] = float(-np.mean(balance * (y * np.log(p) + (1 - y) * np.log(1 - p))))
    best = min(losses, key=losses.get)
    shift = next((s / 10 for s in range(51) if np.mean(loo[best][y] + s / 10 < 0) <= budget), 5.0)
    loo[best] = loo[best] + shift
    final = model(np.ones(len(y), bool), best)
    weights = final.coef_[0] / sd  # the same model on the raw features
    bias = float(final.intercept_[0] - weights @ mu) + shift
    fitted = final.decision_function(z) + shift
    params = {"conf_bias": round(bias, 4)} | {
        "conf_" + k: round(float(w), 4) for k, w in zip(FEATURES, weights)}
    return Calibration(params, best, int(len(y)),
                       float(np.mean(fitted[~y] < 0)), float(np.mean(fitted[y] < 0)),
                       float(np.mean(loo[best][~y] < 0)), float(np.mean(loo[best][y] < 0)))


def calibrate(embedder, corpus_dir: Path) -> Calibration:
    """Fit the evidence model for ``embedder`` on the bundled QA set, searched over the
    bundled corpus in a throw-away index (the school's own index is not touched)."""
    pool = Pool(bundled_docs(corpus_dir), embedder)
    try:
        x, y = evidence_samples(pool.retriever, datasets.bundled_items())
    finally:
        pool.close()
    return fit(x, y)
