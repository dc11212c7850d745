"""The "no good evidence" model for any embedder.

The evidence model (``FusionParams.conf_*``) reads the best dense cosine, and cosines sit
in a different band for every embedder: e5-small's best cosine is 0.77-0.91 for nearly
any bundled question, answerable or not (5th to 95th percentile), the test fake's about
0.4. Its built-in weights are fitted for e5-small. A school that plugs in another
embedder fits it again with ``tutor models --calibrate``: the bundled QA set's answerable
and unanswerable questions are searched with that embedder, a logistic regression is
fitted on the evidence features, and the weights are saved in the data directory
(``calibration/``), where the runtime finds them by embedder name
(docs/decisions/2026-12-02-evidence-model-per-embedder.md).
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import re
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

FEATURES = ("dense", "coverage", "lexical", "unknown", "unknown_max")
PARAMS = ("conf_bias",) + tuple("conf_" + f for f in FEATURES)
C_GRID = (0.01, 0.03, 0.1, 0.3, 1.0, 10.0)
FOLDER = "calibration"


@dataclass
class Calibration:
    params: dict[str, float]  # FusionParams field -> value
    c: float  # regularisation chosen by leave-one-out log-loss
    n: int
    abstention: float  # share of unanswerable questions it abstains on (fitted)
    false_abstention: float  # share of answerable ones it abstains on (fitted)
    loo_abstention: float  # the same, each question scored by a model fitted without it
    loo_false_abstention: float

    def summary(self) -> str:
        return (f"abstention {self.abstention:.3f} (left out {self.loo_abstention:.3f}), "
                f"false abstention {self.false_abstention:.3f} (left out {self.loo_false_abstention:.3f}), "
                f"n={self.n}, C={self.c:g}")


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


def fit(x: np.ndarray, y: np.ndarray, c_grid=C_GRID) -> Calibration:
    """Class-balanced logistic regression on standardised features; C by leave-one-out
    log-loss. (Standardised first: e5's cosines vary by a few hundredths, and unscaled the
    regularisation holds their weight down: docs/decisions/2026-12-01-evidence-model.md.)"""
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
    final = model(np.ones(len(y), bool), best)
    weights = final.coef_[0] / sd  # the same model on the raw features
    bias = float(final.intercept_[0] - weights @ mu)
    fitted = final.decision_function(z)
    params = {"conf_bias": round(bias, 4)} | {
        "conf_" + k: round(float(w), 4) for k, w in zip(FEATURES, weights)}
    return Calibration(params, best, int(len(y)),
                       float(np.mean(fitted[~y] < 0)), float(np.mean(fitted[y] < 0)),
                       float(np.mean(loo[best][~y] < 0)), float(np.mean(loo[best][y] < 0)))


def calibrate(embedder, corpus_dir: Path) -> Calibration:
    """Fit the evidence model for ``embedder`` on the bundled QA set, searched over the
    bundled corpus in a throw-away index (the school's own index is not touched)."""
    from tutor.evaluation import datasets
    from tutor.evaluation.pools import Pool, bundled_docs

    pool = Pool(bundled_docs(corpus_dir), embedder)
    try:
        x, y = evidence_samples(pool.retriever, datasets.bundled_items())
    finally:
        pool.close()
    return fit(x, y)


def calibration_file(data_path: Path, embedder_name: str) -> Path:
    """Where the calibration of one embedder is kept: readable name plus a hash, so that
    two local paths ending in the same folder name do not share a file."""
    slug = re.sub(r"[^A-Za-z0-9._-]+", "_", embedder_name)[-60:].strip("._") or "embedder"
    digest = hashlib.sha1(embedder_name.encode()).hexdigest()[:10]
    return data_path / FOLDER / f"{slug}-{digest}.json"


def write_calibration(data_path: Path, embedder_name: str, cal: Calibration) -> Path:
    path = calibration_file(data_path, embedder_name)
    path.parent.mkdir(parents=True, exist_ok=True)
    record = {"embedder": embedder_name, "params": cal.params, "c": cal.c, "n": cal.n,
              "abstention": cal.abstention, "false_abstention": cal.false_abstention,
              "loo_abstention": cal.loo_abstention, "loo_false_abstention": cal.loo_false_abstention,
              "fitted_at": time.strftime("%Y-%m-%d %H:%M:%S")}
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(record, indent=1), encoding="utf-8")
    tmp.replace(path)
    return path


def read_calibration(data_path: Path, embedder_name: str) -> dict | None:
    """The saved record for ``embedder_name``, or None when there is none. A file that
    cannot be used (corrupt, written for another embedder, a weight missing or not a
    finite number) is reported in the log and ignored."""
    path = calibration_file(data_path, embedder_name)
    if not path.exists():
        return None
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
        params = record["params"]
        if record.get("embedder") != embedder_name:
            raise ValueError(f"written for {record.get('embedder')!r}")
        if set(params) != set(PARAMS) or not all(_number(v) for v in params.values()):
            raise ValueError("weights missing or not finite")
        if not all(_number(record.get(k)) for k in FIGURES):
            raise ValueError("figures missing")
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        log.warning("ignoring the evidence calibration %s (%s); run `tutor models --calibrate`", path, exc)
        return None
    record["params"] = {k: float(v) for k, v in params.items()}
    return record


def apply_calibration(embedder, data_path: Path, builtin: bool = False):
    """``embedder`` with the evidence weights saved for it (``Retriever`` reads its
    ``calibration``). Without a saved file, an embedder other than the built-in one is
    left with e5-small's weights, and the log says how to fit its own."""
    saved = read_calibration(data_path, embedder.name)
    if saved is not None:
        embedder.calibration = saved["params"]
    elif not builtin:
        log.warning("the evidence model (when to say the materials do not answer) was fitted for the "
                    "built-in e5-small, not for %s; run `tutor models --calibrate` once", embedder.name)
    return embedder


FIGURES = ("n", "abstention", "false_abstention", "loo_abstention", "loo_false_abstention")


def _number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
