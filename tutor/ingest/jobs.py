"""Background ingestion of large PDFs: a job reads, chunks and embeds a few pages at a time
and stages them (``Store.commit_batch``), then publishes the whole document in one
transaction. A killed process resumes at the job's ``pages_done``.

The document becomes searchable when its last page is done, not batch by batch
(docs/decisions/2026-12-07-background-ingest-jobs.md says why)."""

from __future__ import annotations

import logging
import os
import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from pathlib import Path

from tutor.ingest.chunking import chunk_blocks
from tutor.ingest.pipeline import IngestError, Ingestor, check_meta
from tutor.ingest.readers import Block, ReadError, read_pdf_pages
from tutor.store import Document
from tutor.text.langdetect import detect_language

log = logging.getLogger(__name__)


def lower_priority() -> None:
    """Nice the calling thread (Linux: a thread is a task of its own; the threads it starts,
    such as torch's OpenMP team, inherit the value), so students' answers come first."""
    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 19)
    except (AttributeError, OSError) as exc:
        log.debug("cannot lower the ingest thread's priority: %s", exc)


def eta_seconds(job: dict) -> float | None:
    """Seconds left at the job's own pace so far (None before its first batch)."""
    if not job["pages_done"] or job["status"] not in ("queued", "running"):
        return None
    return (job["pages_total"] - job["pages_done"]) * job["busy_s"] / job["pages_done"]


class JobRunner:
    """Works through the store's queued and running jobs, oldest first. ``run_pending`` runs
    them in the calling thread (the ``tutor ingest`` command); ``start`` runs them in
    background threads at low priority (the app)."""

    def __init__(self, ingestor: Ingestor, batch_pages: int = 8, pause_s: float = 0.05):
        self.ingestor = ingestor
        self.store = ingestor.store
        self.batch_pages = batch_pages
        self.pause_s = pause_s
        self._claimed: set[int] = set()
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._calls: queue.Queue | None = None
        ingestor.on_job = lambda _id: self._wake.set()

    def _locked(self, fn, *args):
        """Run a step that holds a lock answers also take (the database's write lock, the
        search index's) on the normal-priority thread when there is one: a niced thread
        holding it would make answers wait for the little CPU it gets."""
        if self._calls is None:
            return fn(*args)
        future: Future = Future()
        self._calls.put((fn, args, future))
        return future.result()

    def _serve_calls(self) -> None:
        while (item := self._calls.get()) is not None:
            fn, args, future = item
            try:
                future.set_result(fn(*args))
            except BaseException as exc:  # noqa: BLE001 - handed back to the job's thread
                future.set_exception(exc)

    # ---------------------------------------------------------------- driving
    def claim(self) -> dict | None:
        """The oldest unfinished job no thread of this runner is working on."""
        with self._lock:
            for job in reversed(self.store.jobs(active=True, limit=1000)):
                if job["id"] not in self._claimed:
                    self._claimed.add(job["id"])
                    return job
        return None

    def run_job(self, job: dict, progress: Callable[[dict], None] | None = None) -> dict:
        """Batches until the job ends (or the runner stops); returns the job as stored."""
        job_id = job["id"]
        try:
            while not self._stop.is_set():
                job = self.store.job(job_id)
                if job is None or job["status"] not in ("queued", "running"):
                    break
                self.step(job)
                if progress:
                    progress(self.store.job(job_id))
                if self.pause_s:
                    time.sleep(self.pause_s)  # the GIL and the cores go to answers for a moment
        finally:
            with self._lock:
                self._claimed.discard(job_id)
        return self.store.job(job_id)

    def run_pending(self, workers: int = 1, progress: Callable[[dict], None] | None = None) -> None:
        """Every pending job, ``workers`` at a time, in the calling thread and helpers."""
        def work():
            while (job := self.claim()) is not None:
                self.run_job(job, progress)

        helpers = [threading.Thread(target=work, daemon=True) for _ in range(workers - 1)]
        for t in helpers:
            t.start()
        work()
        for t in helpers:
            t.join()

    def start(self, workers: int = 1) -> None:
        # Started here, by the caller's thread: a thread inherits the nice value of the one
        # that starts it, so the job threads could not start it at normal priority.
        self._stop.clear()
        self._calls = queue.Queue()
        committer = threading.Thread(target=self._serve_calls, name="ingest-commit", daemon=True)
        committer.start()
        self._threads.append(committer)

        def loop():
            lower_priority()
            while not self._stop.is_set():
                job = self.claim()
                if job is None:
                    self._wake.wait(5.0)
                    self._wake.clear()
                    continue
                try:
                    self.run_job(job)
                except Exception:  # noqa: BLE001 - one broken job must not stop the others
                    log.exception("ingest job %s stopped", job["id"])
                    self._locked(self.store.finish_job, job["id"], "failed", "internal error; see the server log")

        for _ in range(workers):
            t = threading.Thread(target=loop, name="ingest-job", daemon=True)
            t.start()
            self._threads.append(t)

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self._wake.set()
        for t in self._threads[1:]:
            t.join(timeout)
        if self._calls is not None:
            self._calls.put(None)
            self._threads[0].join(timeout)
            self._calls = None
        self._threads = []

    # -------------------------------------------------------------- one batch
    def step(self, job: dict) -> None:
        """One batch of pages: read, chunk, embed, stage (one transaction); or, when every page
        is done, publish the document."""
        first, total = job["pages_done"], job["pages_total"]
        if first >= total:
            self._locked(self._publish, job)
            return
        try:
            data = Path(job["path"]).read_bytes()
        except OSError as exc:
            self._locked(self.store.finish_job, job["id"], "failed", f"the uploaded file is gone ({exc.strerror})")
            return
        started = time.perf_counter()
        stop = min(first + self.batch_pages, total)
        meta = dict(job["meta"])
        blocks, errors = self._read(data, first, stop, meta, job["source_name"])
        chunks = chunk_blocks(meta["title"], blocks)
        vectors = None
        if chunks:
            try:
                vectors = self.ingestor.index.embedder.encode_passages([c.search_text for c in chunks])
            except Exception as exc:  # noqa: BLE001 - the pages are reported, the job goes on
                log.warning("job %s pages %d-%d: embedding failed: %s", job["id"], first + 1, stop, exc)
                errors = {p: f"could not be embedded ({type(exc).__name__})" for p in range(first + 1, stop + 1)}
                chunks = []
        per_page = {p: 0 for p in range(first + 1, stop + 1)}
        for c in chunks:
            per_page[c.page] += 1
        pages = [(p, n, errors.get(p, "")) for p, n in per_page.items()]
        if not self._locked(self.store.commit_batch, job["id"], first, pages, chunks, vectors,
                            time.perf_counter() - started, meta):
            log.info("job %s: pages %d-%d were committed by another worker", job["id"], first + 1, stop)

    def _read(self, data: bytes, first: int, stop: int, meta: dict, name: str
              ) -> tuple[list[Block], dict[int, str]]:
        """The batch's blocks and an error per page that gave none. A page is read on its own
        only when the batch fails or gives it no text, to say which page and why."""
        try:
            parsed = read_pdf_pages(data, first, stop)
            blocks, title = parsed.blocks, parsed.title
        except ReadError:
            blocks, title = [], ""
        errors: dict[int, str] = {}
        found = {b.page for b in blocks}
        for page in range(first + 1, stop + 1):
            if page in found:
                continue
            try:
                parsed = read_pdf_pages(data, page - 1, page)
                blocks += parsed.blocks
                title = title or parsed.title
            except ReadError as exc:
                errors[page] = str(exc)
        blocks.sort(key=lambda b: b.page or 0)  # (stable: a page keeps its order)
        if "title" not in meta:  # fixed by the first batch: every chunk's search text carries it
            meta["title"] = (title or name.rsplit(".", 1)[0].replace("_", " ")).strip()[:300]
        return blocks, errors

    def _publish(self, job: dict) -> None:
        meta, name = job["meta"], job["source_name"]
        chunks = self.store.staged_chunks(job["id"])
        failed = len(job["failed_pages"])
        if not chunks:
            self.store.finish_job(job["id"], "failed", "no text found in the file"
                                  + (f" ({job['failed_pages'][0][1]})" if failed else ""))
            self._remove_file(job)
            return
        sample = " ".join(c.text for c in chunks[:20])
        lang = str(meta.get("lang") or detect_language(sample))
        try:
            grade = check_meta(name, lang, meta.get("policy", "reference"), meta.get("grade"))
        except IngestError as exc:
            self.store.finish_job(job["id"], "failed", exc.problem)
            self._remove_file(job)
            return
        doc = Document(
            doc_key=job["doc_key"], title=meta["title"], subject=str(meta.get("subject", "")),
            grade=grade, lang=lang, policy=str(meta.get("policy", "reference")),
            author=str(meta.get("author", "")), licence=str(meta.get("licence", "")),
            source_name=name, source_format="pdf", content_hash=job["content_hash"],
            school_id=job["school_id"], class_id=job["class_id"])
        message = f"{job['pages_total'] - failed} of {job['pages_total']} pages"
        if failed:
            message += "; pages not read: " + ", ".join(str(p) for p, _ in job["failed_pages"][:20])
        if self.store.publish_job(job["id"], doc, message) is None:
            return  # another process published it
        refresh_problem = self.ingestor._refresh()
        if refresh_problem:
            log.warning("job %s: %s", job["id"], refresh_problem)
        self._remove_file(job)

    @staticmethod
    def _remove_file(job: dict) -> None:
        try:
            Path(job["path"]).unlink(missing_ok=True)
        except OSError as exc:
            log.warning("job %s: could not remove %s (%s)", job["id"], job["path"], exc)
