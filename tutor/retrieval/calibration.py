"""The "no good evidence" model for any embedder.

The evidence model (``FusionParams.conf_*``) reads the best dense cosine, and cosines sit
in a different band for every embedder: e5-small's best cosine is 0.77-0.91 for nearly
any bundled question, answerable or not (5th to 95th percentile), the test fake's about
0.4. Its built-in weights are fitted for e5-small. A school that plugs in another
embedder fits it again with ``tutor models --calibrate`` (the fit: ``tutor.evaluation.calibration``);
the weights are saved in the data directory (``calibration/``), where the runtime finds them
by embedder name (docs/decisions/2026-12-02-evidence-model-per-embedder.md).
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

log = logging.getLogger(__name__)

FEATURES = ("dense", "coverage", "lexical", "unknown", "unknown_max")
PARAMS = ("conf_bias",) + tuple("conf_" + f for f in FEATURES)
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
