"""Run evaluation tasks, write reports, and apply the CI gate (eval/thresholds.toml)."""

from __future__ import annotations

import hashlib
import json
import sys
import time
import tomllib
from dataclasses import replace
from pathlib import Path

from tutor.config import REPO_ROOT
from tutor.evaluation.datasets import find_data_dir
from tutor.evaluation.report import write_reports
from tutor.evaluation.tasks import SUITES, TASKS, EvalContext
from tutor.evaluation.tasks.base import SkipTask
from tutor.generation.generators import make_generator
from tutor.models import ModelError, apply_offline, resolve_generator
from tutor.runtime import build_reading, load_embedder

THRESHOLDS = REPO_ROOT / "eval" / "thresholds.toml"


def select_tasks(names: list[str] | None) -> list[str]:
    if not names:
        return [name for name, task in TASKS.items() if not task.on_request]
    chosen: list[str] = []
    for name in names:
        if name in SUITES:
            chosen += [t for t in SUITES[name] if t not in chosen]
        elif name in TASKS:
            chosen.append(name) if name not in chosen else None
        else:
            known = ", ".join(sorted(SUITES) + sorted(TASKS))
            raise SystemExit(f"error: unknown suite or task {name!r} (known: {known})")
    return chosen


def corpus_version(corpus_dir: Path) -> tuple[str, int]:
    digest = hashlib.sha1()
    files = sorted(corpus_dir.rglob("*.md"))
    for path in files:
        digest.update(path.read_bytes())
    return digest.hexdigest()[:12], len(files)


def run(ctx: EvalContext, names: list[str], meta: dict) -> dict:
    started = time.perf_counter()
    report = {"tasks": {}, "meta": {**meta, "started": time.strftime("%Y-%m-%d %H:%M:%S")}}
    for name in names:
        task = TASKS[name]()
        t0 = time.perf_counter()
        print(f"[eval] {name} ...", file=sys.stderr, flush=True)
        try:
            result = task.run(ctx)
        except SkipTask as exc:
            report["tasks"][name] = {"skipped": str(exc)}
            continue
        result.update(primary=task.primary, direction=task.direction,
                      seconds=round(time.perf_counter() - t0, 1))
        report["tasks"][name] = result
        p = result["metrics"].get(task.primary)
        print(f"[eval] {name}: {task.primary} = {p:.3f} (n={result['n']}, "
              f"{result['seconds']} s)", file=sys.stderr, flush=True)
    ctx.close()
    report["meta"]["wall_s"] = round(time.perf_counter() - started, 1)
    return report


def apply_gate(report: dict, thresholds_path: Path = THRESHOLDS) -> list[str]:
    """Mark each task with its threshold; return the failures. A task's table gives the
    primary metric's ``min`` (and the ``measured`` value it was set under); its ``metrics``
    sub-table may add minimums for other metrics of the task."""
    limits = tomllib.loads(thresholds_path.read_text()) if thresholds_path.exists() else {}
    failures = []
    for name, task in report["tasks"].items():
        if name not in limits or "metrics" not in task:
            continue
        minimum = float(limits[name]["min"])
        value = float(task["metrics"].get(task["primary"], 0.0))
        ok = value >= minimum if task.get("direction", "max") == "max" else value <= minimum
        task["gate"] = {"min": minimum, "ok": ok}
        if not ok:
            side = "below" if task.get("direction", "max") == "max" else "above"
            failures.append(f"{name}: {task['primary']} {value:.3f} {side} the threshold {minimum}")
        for metric, floor in limits[name].get("metrics", {}).items():
            value = float(task["metrics"].get(metric, 0.0))
            if value < floor:
                task["gate"]["ok"] = False
                failures.append(f"{name}: {metric} {value:.3f} below the threshold {floor}")
    return failures


def run_cli(settings, args) -> int:
    apply_offline(settings)
    names = select_tasks(args.suite)
    data_dir = find_data_dir(args.data)
    embedder = load_embedder(settings)
    ctx = EvalContext(embedder, Path(settings.corpus_dir), data_dir, args.limit,
                      progress=not args.no_progress, settings=settings, seed=args.seed)
    if getattr(args, "generative", 0):
        ctx.generator = make_generator(resolve_generator(settings), settings)
        if ctx.generator is None:
            raise ModelError("generator", "--generative needs a generator, but it is 'none'")
        ctx.generative_limit = args.generative
    if getattr(args, "ablate_reader", 0):
        ctx.reading = build_reading(replace(settings, reader="on"))
        if ctx.reading is None:
            raise ModelError("generator", f"--reader needs a generator that reads, not {settings.generator!r}")
        ctx.reader_limit = args.ablate_reader
    version, n_docs = corpus_version(Path(settings.corpus_dir))
    meta = {"embedder": settings.embedder, "generator": settings.generator,
            "composer": settings.composer, "data_dir": str(data_dir) if data_dir else None,
            "limit": args.limit, "seed": args.seed if args.limit else None,
            "corpus_version": version, "corpus_documents": n_docs,
            "answers_composer": "extractive" + (f"; generative column on the first "
                                                f"{ctx.generative_limit} items"
                                                if ctx.generative_limit else ""),
            "reader": (f"{ctx.reading.reader.name}, {ctx.reading.params}, on the first "
                       f"{ctx.reader_limit} items" if ctx.reading else "off")}
    report = run(ctx, names, meta)
    failures = apply_gate(report) if args.gate else []
    out = Path(args.out)
    previous = None
    if (out / "report.json").exists():
        try:
            previous = json.loads((out / "report.json").read_text())
        except ValueError:
            previous = None
    write_reports(report, out, previous)
    if args.json_out:
        Path(args.json_out).write_text(json.dumps(report, indent=2, ensure_ascii=False))
    print((out / "report.md").read_text(encoding="utf-8"))
    if failures:
        print("CI gate failed:\n  " + "\n  ".join(failures), file=sys.stderr)
        return 1
    return 0
