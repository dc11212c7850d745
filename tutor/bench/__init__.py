"""Benchmarks behind ``tutor bench``: one module per benchmark, each with
``run(settings, quick) -> Report``. Every run works in a temporary data folder (the
user's database and index are never touched) and reuses the provisioned models.
The results go to ``<out>/<name>.md`` and ``<out>/<name>.json``."""

from __future__ import annotations

import importlib
import logging
import os
import tempfile
import time
from pathlib import Path

from tutor.bench.report import Report, write_report
from tutor.config import Settings

log = logging.getLogger(__name__)

BENCHES = {
    "retrieval": "tutor.bench.retrieval",
    "generation": "tutor.bench.generation",
    "ingest": "tutor.bench.ingest",
    "e2e": "tutor.bench.e2e",
    "load": "tutor.bench.load",
    "ocr": "tutor.bench.ocr",
    "retrieval-scopes": "tutor.bench.scopes",
    "load-replicas": "tutor.bench.replicas",
}


def bench_settings(settings: Settings, folder: Path) -> Settings:
    """The user's settings with a throw-away data folder but the real model cache."""
    return settings.replace(data_dir=str(folder / "data"), model_cache=str(settings.model_path))


# Size flags of `tutor bench` and the benchmark that takes each.
SIZES = {"max_chunks": "retrieval", "pages": "ingest", "library_pages": "ingest", "scanned_pages": "ingest",
         "replicas": "load-replicas"}


def run_one(name: str, settings: Settings, quick: bool = False, **sizes) -> Report:
    module = importlib.import_module(BENCHES[name])
    extra = {k: v for k, v in sizes.items() if v and SIZES.get(k) == name}
    started, cpu = time.perf_counter(), os.times()
    with tempfile.TemporaryDirectory(prefix=f"ustaz-bench-{name}-") as tmp:
        report = module.run(bench_settings(settings, Path(tmp)), Path(tmp), quick=quick, **extra)
    report.options = extra
    wall = time.perf_counter() - started
    used = sum(os.times()[:4]) - sum(cpu[:4])
    # Other programs on the machine slow every figure down; these two numbers show it.
    report.machine["wall_s"] = round(wall, 1)
    report.machine["cpu_busy_cores"] = round(used / wall, 2) if wall else None
    report.machine["load_avg_1min_at_end"] = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    return report


def run_bench(settings: Settings, args) -> int:
    name = "retrieval-scopes" if args.what == "retrieval" and getattr(args, "scopes", False) else args.what
    name = "load-replicas" if args.what == "load" and getattr(args, "replicas", 0) else name
    report = run_one(name, settings, quick=args.quick, **{k: getattr(args, k, None) for k in SIZES})
    md_path, json_path = write_report(report, Path(args.out))
    print(report.markdown())
    print(f"\nwritten: {md_path} and {json_path}")
    return 0
