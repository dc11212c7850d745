"""``tutor bench load``: a class asks at once. The app runs in this process on a free
loopback port; each student is a ``gradio_client`` in its own thread that asks its
questions one after another through the public ``/ask`` endpoint, as a browser would."""

from __future__ import annotations

import logging
import random
import socket
import threading
import time
from pathlib import Path

from tutor.bench.e2e import small_corpus
from tutor.bench.measure import RssSampler, latency, machine_info, peak_rss_bytes, threads_of, timed
from tutor.bench.report import Report
from tutor.evaluation.datasets import bundled_items

log = logging.getLogger(__name__)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def student(url: str, questions: list[dict], times: list, errors: list, ready: threading.Barrier) -> None:
    from gradio_client import Client

    try:
        client = Client(url, verbose=False)
    except Exception as exc:  # noqa: BLE001 - a failed connection is a result
        errors.append(f"connect: {type(exc).__name__}: {str(exc)[:200]}")
        ready.abort()
        return
    try:
        ready.wait()
    except threading.BrokenBarrierError:
        return
    for item in questions:
        t0 = time.perf_counter()
        try:
            out = client.predict(item["question"], [], "explain", "auto", "kk", api_name="/ask")
            history = out[0] if isinstance(out, tuple | list) and out and isinstance(out[0], list) else out
            if not history or history[-1]["role"] != "assistant" or not history[-1]["content"]:
                errors.append("empty answer")
            else:
                times.append(time.perf_counter() - t0)
        except Exception as exc:  # noqa: BLE001
            errors.append(f"{type(exc).__name__}: {str(exc)[:200]}")
    if hasattr(client, "close"):
        client.close()


def run(settings, folder: Path, quick: bool = False) -> Report:
    import torch

    from tutor.ui.app import build_app, launch  # gradio takes seconds to import: only here

    threads = threads_of(settings)
    torch.set_num_threads(threads)
    students, per_student = (3, 1) if quick else (30, 5)
    report = Report("load", quick, machine_info(threads))
    corpus = small_corpus(settings, folder) if quick else Path(settings.corpus_dir)
    work = settings.replace(corpus_dir=str(corpus), host="127.0.0.1", port=free_port())
    start_s, (demo, services) = timed(build_app, work)
    launch(demo, work, prevent_thread_lock=True, quiet=True)
    url = f"http://127.0.0.1:{work.port}/"
    docs = {p.relative_to(corpus).with_suffix("").as_posix() for p in corpus.rglob("*.md")}
    items = [r for r in bundled_items("answerable") if r.get("doc") in docs and r["lang"] in ("kk", "ru")]
    rng = random.Random(0)
    times: list[float] = []
    errors: list[str] = []
    ready = threading.Barrier(students + 1)
    workers = [threading.Thread(target=student, daemon=True,
                                args=(url, rng.sample(items, per_student), times, errors, ready))
               for _ in range(students)]
    try:
        with RssSampler() as memory:
            for w in workers:
                w.start()
            connect_s, _ = timed(ready.wait)  # every student has loaded the app's config
            t0 = time.perf_counter()
            for w in workers:
                w.join(timeout=1800)
            wall = time.perf_counter() - t0
    finally:
        demo.close()
        services.runtime.store.close()
    asked = students * per_student
    lat = latency(times)
    reading = services.tutor.reading
    table = report.table(f"{students} students x {per_student} questions, all at once "
                         f"(queue concurrency {work.queue_concurrency}, composer {services.composer_choice.name}, "
                         f"reader {'on' if reading else 'off'})",
                         ["questions", "errors", "p50 s to full answer", "p95 s", "max s", "wall s",
                          "answers/s", "peak RSS MB"])
    table.add(asked, len(errors), lat["p50_ms"] / 1000 if times else None,
              lat["p95_ms"] / 1000 if times else None, max(times) if times else None, wall,
              len(times) / wall if wall else None, memory.peak / 1e6)
    report.notes += [
        f"App built in {start_s:.1f} s; {students} clients connected in {connect_s:.1f} s before the first "
        "question. Each student asks the next question when the answer to the previous one is complete.",
        "Latency is the client's wall time for client.predict(question, [], 'explain', 'auto', 'kk', "
        "api_name='/ask'): queueing plus answering plus transport.",
        f"Peak RSS is sampled during the questions (server and clients share this process); the process "
        f"peak since it started is {peak_rss_bytes() / 1e6:.0f} MB.",
    ]
    if reading is not None:
        report.notes.append("The evidence reader (reader_max_parallel "
                            f"{work.reader_max_parallel}, deadline {work.reader_deadline_s} s): "
                            + ", ".join(f"{k} {v}" for k, v in sorted(reading.outcomes.items())) + ".")
    if errors:
        report.notes.append("Errors: " + "; ".join(sorted(set(errors))[:5]))
    report.results = {"students": students, "questions_per_student": per_student, "asked": asked,
                      "answered": len(times), "errors": len(errors), "error_samples": sorted(set(errors))[:5],
                      "latency_s": {k.replace("_ms", "_s"): (v / 1000 if k.endswith("_ms") and v is not None
                                                             else v) for k, v in lat.items()},
                      "wall_s": wall, "answers_per_s": len(times) / wall if wall else None,
                      "peak_rss_bytes": memory.peak, "composer": services.composer_choice.name,
                      "queue_concurrency": work.queue_concurrency, "app_build_s": start_s,
                      "reader_outcomes": dict(reading.outcomes) if reading else None,
                      "connect_s": connect_s}
    return report
