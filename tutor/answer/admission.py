"""Admission records: a generator is used by the ``auto`` composer only after it has passed
the admission check (``tutor.evaluation.admission``). The result is stored per generator."""

from __future__ import annotations

import json
import re
from pathlib import Path

from tutor.generation.loading import pick_precision


def record_path(data_dir: Path, generator_spec: str) -> Path:
    slug = re.sub(r"[^\w.-]+", "_", generator_spec).strip("_")[:100]
    return data_dir / "admission" / f"{slug}.json"


def admission_key(resolved, settings) -> str:
    """What an admission record is kept under: the generator, and for an in-process one
    its precision too, since bfloat16 weights are not the model that passed in float32."""
    if resolved.kind != "transformers":
        return resolved.spec
    return f"{resolved.spec} [{pick_precision(settings.generator_precision)}]"


def read_record(data_dir: Path, generator_spec: str) -> dict | None:
    try:
        return json.loads(record_path(data_dir, generator_spec).read_text())
    except (OSError, ValueError):
        return None
