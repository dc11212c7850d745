"""Parts of ``tutor bench ingest`` about background jobs: a school's textbook folder, text and
scanned, through the job runner (pages/s, peak memory, one and two workers) and students'
answer latency while a 300-page textbook or a scanned one is ingested in the background,
against the same questions idle."""

from __future__ import annotations

import logging
import random
import shutil
import threading
import time
from pathlib import Path

from tutor.bench.e2e import cold_model_cache
from tutor.bench.measure import RssSampler, latency
from tutor.bench.synthetic import corpus_docs, make_pdf, scanned_pdf, text_pages
from tutor.evaluation.datasets import bundled_items
from tutor.ingest import Ingestor
from tutor.ingest.jobs import JobRunner
from tutor.retrieval.cache import CachedEmbedder
from tutor.retrieval.indexes import SearchIndex
from tutor.runtime import build_runtime, build_tutor
from tutor.store import Store

log = logging.getLogger(__name__)


def textbooks(corpus_dir, folder: Path, count: int, pages: int, scanned: bool = False) -> list[Path]:
    """``count`` text PDFs (or scanned, image-only ones) of ``pages`` pages, Kazakh and Russian in turn."""
    docs = corpus_docs(corpus_dir)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(count):
        lang = ("kk", "ru")[i % 2]
        title = ("Оқулық" if lang == "kk" else "Учебник") + f" {i + 1}"
        path = folder / f"{'scan' if scanned else 'textbook'}-{i + 1}-{lang}.pdf"
        lines = text_pages([d for d in docs if d.lang == lang], pages, seed=100 + i)
        path.write_bytes(scanned_pdf(lines, title, seed=i) if scanned else make_pdf(lines, title))
        paths.append(path)
    return paths



def library_run(inner, paths: list[Path], folder: Path, workers: int, batch_pages: int) -> dict:
    """Every PDF as a job (fresh store, index and an empty embedding cache), ``workers`` at a time."""
    store = Store(folder / "ustaz.sqlite3")
    embedder = CachedEmbedder(inner, folder / "embedding-cache.sqlite3")
    index = SearchIndex(store, embedder, folder / "index")
    index.open()
    ingestor = Ingestor(store, index, max_bytes=1 << 30, background_pages=1, jobs_dir=folder / "jobs")
    runner = JobRunner(ingestor, batch_pages=batch_pages, pause_s=0)
    for path in paths:
        ingestor.ingest_path(path)
    t0 = time.perf_counter()
    with RssSampler() as memory:
        runner.run_pending(workers=workers)
    seconds = time.perf_counter() - t0
    jobs = store.jobs(limit=1000)
    pages = sum(j["pages_done"] for j in jobs)
    chunks = store.query("SELECT COUNT(*) FROM chunks")[0][0]
    store.close()
    return {"workers": workers, "pdfs": len(paths), "pages": pages, "chunks": chunks, "seconds": seconds,
            "pages_s": pages / seconds, "peak_rss_bytes": memory.peak, "rss_start_bytes": memory.start,
            "done": sum(j["status"] == "done" for j in jobs)}


def _answer_while(tutor, questions: list[dict], busy: threading.Event | None, rounds: int,
                  gap_s: float = 0.0) -> list[float]:
    """Answer the questions one after another (one student at a time, so a latency is the
    service time), ``gap_s`` apart; with ``busy``, keep going while it is set."""
    seconds = []
    for r in range(rounds):
        for i, q in enumerate(questions):
            if busy is not None and not busy.is_set():
                return seconds
            t0 = time.perf_counter()
            tutor.ask(q["question"], session_id=f"bench-{r}-{i}", lang=q["lang"])
            seconds.append(time.perf_counter() - t0)
            time.sleep(gap_s)
    return seconds


def _latency(seconds: list[float]) -> dict:
    return {**latency(seconds), "max_ms": max(seconds) * 1000 if seconds else None}


def answers_during_ingest(settings, folder: Path, pages: int, n_questions: int, scanned_pages: int = 0) -> dict:
    """p50/p95 of answers idle, during a background job as the app runs it (low-priority
    thread, small batches, a pause between them), during the same job run without those
    measures (normal priority, no pause) and, with ``scanned_pages``, during a scanned PDF's
    job as the app runs it (tesseract, started by the niced thread, inherits its priority)."""
    # Its own copy of the embedding cache: the bundled lessons' vectors are warm, and the
    # benchmark's synthetic pages never land in the user's cache.
    cache = cold_model_cache(settings, folder)
    if (settings.model_path / "embedding-cache.sqlite3").exists():
        shutil.copy(settings.model_path / "embedding-cache.sqlite3", cache / "embedding-cache.sqlite3")
    smallest = min(pages, scanned_pages) if scanned_pages else pages
    # A scanned textbook is about 0.5 MB a page, past the 50 MB upload limit at 100 pages.
    settings = settings.replace(model_cache=str(cache), background_pages=min(settings.background_pages, smallest - 1),
                                max_upload_mb=max(settings.max_upload_mb, 1024))
    runtime, tutor, _ = build_tutor(settings, build_runtime(settings))
    items = bundled_items("answerable")
    questions = random.Random(0).sample(items, min(n_questions, len(items)))
    # Every question once before timing, and the idle figures over several passes: the
    # passes during ingest repeat the same questions, so both sides see them warm.
    _answer_while(tutor, questions, None, 1)
    out = {"idle": _latency(_answer_while(tutor, questions, None, 3, gap_s=0.2))}
    docs = [d for d in corpus_docs(settings.corpus_dir) if d.lang == "kk"]
    variants = [("during ingest (as the app runs it)", 1, False), ("during ingest, no priority measures", 2, False)]
    if scanned_pages:
        variants.append(("during OCR of a scanned PDF (as the app runs it)", 3, True))
    for variant, seed, scanned in variants:
        path = folder / f"during-{seed}.pdf"
        if scanned:
            path.write_bytes(scanned_pdf(text_pages(docs, scanned_pages, seed=seed), f"Оқулық {seed}", seed=seed))
        else:
            path.write_bytes(make_pdf(text_pages(docs, pages, seed=seed), f"Оқулық {seed}"))
        app_run = seed != 2
        busy = threading.Event()
        busy.set()
        if app_run:
            runner = runtime.jobs
            runner.start()
        else:
            runner = JobRunner(runtime.ingestor, batch_pages=settings.job_batch_pages, pause_s=0)
        result = runtime.ingestor.ingest_path(path, lang="kk")
        t0 = time.perf_counter()

        def work(runner=runner, job_id=result.job_id, started=app_run):
            if not started:
                runner.run_pending()
            while runtime.store.job(job_id)["status"] in ("queued", "running"):
                time.sleep(0.05)
            busy.clear()

        watcher = threading.Thread(target=work, daemon=True)
        watcher.start()
        # paced, so the answers cover the whole job, its publish and index refresh included
        seconds = _answer_while(tutor, questions, busy, rounds=100_000, gap_s=0.2)
        watcher.join()
        ingest_s = time.perf_counter() - t0
        if app_run:
            runner.stop()
        job = runtime.store.job(result.job_id)
        out[variant] = {**_latency(seconds), "ingest_s": ingest_s, "pages": job["pages_done"],
                        "pages_s": job["pages_done"] / ingest_s, "status": job["status"], "scanned": scanned}
    runtime.store.close()
    return out
