"""Whole textbooks in the background: a large PDF becomes a job that reads, embeds and stages
a few pages at a time, reports unreadable pages, publishes the document when every page is
done, and resumes after ``kill -9`` with no page lost or repeated. Every PDF is made here
from the bundled corpus."""

from __future__ import annotations

import io
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest
from conftest import CORPUS, model_cache
from test_ingest import make_pdf as make_plain_pdf

from tutor.auth import TeacherAuth
from tutor.bench.synthetic import corpus_docs, make_pdf, text_pages
from tutor.config import REPO_ROOT, Settings
from tutor.ingest import IngestError
from tutor.ingest.jobs import eta_seconds
from tutor.ingest.readers import ReadError, pdf_page_count, read_pdf, read_pdf_pages
from tutor.retrieval.embedders import HashingEmbedder
from tutor.runtime import build_runtime
from tutor.store import SCHEMA, Store
from tutor.ui import teacher_text as tx
from tutor.ui.services import Services


def book(pages: int, seed: int = 0, title: str = "Биология 8") -> bytes:
    docs = [d for d in corpus_docs(CORPUS) if d.lang == "kk"]
    return make_pdf(text_pages(docs, pages, seed=seed), title)


@pytest.fixture
def runtime(tmp_path):
    """A runtime without the bundled corpus (fast), where PDFs over 5 pages become jobs of 2-page batches."""
    s = Settings.load(env={}, data_dir=str(tmp_path / "data"), corpus_dir="", model_cache=str(tmp_path / "m"),
                      background_pages=5, job_batch_pages=2)
    rt = build_runtime(s, embedder=HashingEmbedder())
    rt.jobs.pause_s = 0
    yield rt
    rt.store.close()


def pages_of(store: Store, doc_key: str) -> list[int]:
    return [c.page for c in store.chunks_of(doc_key)]


def direct_chunks(tmp_path: Path, pdf: bytes) -> list[tuple[int, str]]:
    """(page, text) of every chunk when the same PDF is ingested in one go."""
    s = Settings.load(env={}, data_dir=str(tmp_path / "direct"), corpus_dir="", model_cache=str(tmp_path / "m"),
                      background_pages=0)
    rt = build_runtime(s, embedder=HashingEmbedder())
    rt.ingestor.ingest_bytes("book.pdf", pdf)
    out = [(c.page, c.text) for c in rt.store.chunks_of("upload/book.pdf")]
    rt.store.close()
    return out


# ------------------------------------------------------------------ the reader
def test_pdf_pages_are_read_by_range_with_their_page_numbers():
    pdf = book(6)
    assert pdf_page_count(pdf) == 6
    part = read_pdf_pages(pdf, 2, 4)
    assert {b.page for b in part.blocks} == {3, 4} and part.title == "Биология 8"
    assert {b.page for b in read_pdf_pages(pdf, 5).blocks} == {6}
    whole = read_pdf(pdf)
    assert {b.page for b in whole.blocks} == set(range(1, 7))
    assert [b.text for b in whole.blocks if b.page in (3, 4)] == [b.text for b in part.blocks]
    with pytest.raises(ReadError, match="damaged"):
        pdf_page_count(b"%PDF-1.4\nnot really a pdf")


# ------------------------------------------------------------------- the job
def test_large_pdf_returns_a_job_at_once_and_is_searchable_only_when_complete(runtime, tmp_path):
    pdf = book(9)
    result = runtime.ingestor.ingest_bytes("book.pdf", pdf, subject="biology", grade="8")
    assert result.status == "queued" and result.job_id and result.chunks == 0
    job = runtime.store.job(result.job_id)
    assert (job["pages_total"], job["pages_done"], job["status"]) == (9, 0, "queued")
    assert Path(job["path"]).read_bytes() == pdf  # the upload is kept in the data folder

    runtime.jobs.step(job)  # one batch: staged, not yet searchable
    job = runtime.store.job(result.job_id)
    assert (job["pages_done"], job["status"]) == (2, "running")
    assert runtime.store.get_document("upload/book.pdf") is None
    assert eta_seconds(job) is not None and eta_seconds(job) >= 0

    runtime.jobs.run_pending()
    job = runtime.store.job(result.job_id)
    assert job["status"] == "done" and job["message"] == "9 of 9 pages"
    doc = runtime.store.get_document("upload/book.pdf")
    assert (doc.subject, doc.grade, doc.lang, doc.title) == ("biology", 8, "kk", "Биология 8")
    # the same chunks, in the same order, as ingesting the whole file in one go
    assert [(c.page, c.text) for c in runtime.store.chunks_of("upload/book.pdf")] == direct_chunks(tmp_path, pdf)
    assert not Path(job["path"]).exists()  # the kept file goes once the document is in
    assert not runtime.store.query("SELECT * FROM job_chunks")
    last = runtime.store.chunks_of("upload/book.pdf")[-1]
    hits = runtime.retriever.search(last.text[:200], k=3).hits
    assert last.id in [h.chunk.id for h in hits]
    # uploading it again changes nothing
    assert runtime.ingestor.ingest_bytes("book.pdf", pdf, subject="biology", grade="8").status == "unchanged"


def test_the_same_file_uploaded_twice_while_running_gets_the_same_job(runtime):
    pdf = book(8)
    first = runtime.ingestor.ingest_bytes("book.pdf", pdf)
    again = runtime.ingestor.ingest_bytes("book.pdf", pdf)
    assert again.status == "queued" and again.job_id == first.job_id
    assert len(runtime.store.jobs()) == 1


def test_a_page_without_text_is_reported_and_the_rest_is_kept(runtime):
    lines = [[f"Page {n} tells about volcano number {n} and its magma chamber."] for n in range(1, 9)]
    lines[2] = None  # a scanned page: no text layer
    result = runtime.ingestor.ingest_bytes("volcanoes.pdf", make_plain_pdf(lines), lang="en")
    runtime.jobs.run_pending()
    job = runtime.store.job(result.job_id)
    assert job["status"] == "done"
    assert [p for p, _ in job["failed_pages"]] == [3] and "no text layer" in job["failed_pages"][0][1]
    assert "pages not read: 3" in job["message"]
    assert sorted(set(pages_of(runtime.store, "upload/volcanoes.pdf"))) == [1, 2, 4, 5, 6, 7, 8]


def test_a_pdf_with_no_readable_page_fails_with_a_message_and_adds_nothing(runtime):
    result = runtime.ingestor.ingest_bytes("scan.pdf", make_plain_pdf([None] * 7))
    job = runtime.jobs.run_job(runtime.store.job(result.job_id))
    assert job["status"] == "failed" and "no text found" in job["message"]
    assert runtime.store.get_document("upload/scan.pdf") is None


def test_a_batch_commits_all_or_nothing_and_a_second_worker_loses_the_race(runtime):
    result = runtime.ingestor.ingest_bytes("book.pdf", book(8))
    job = runtime.store.job(result.job_id)
    runtime.jobs.step(job)
    runtime.jobs.step(job)  # a stale copy of the job at pages_done 0: another worker's late batch
    job = runtime.store.job(result.job_id)
    assert job["pages_done"] == 2
    assert [r[0] for r in runtime.store.query("SELECT page FROM job_pages ORDER BY page")] == [1, 2]
    assert {r[0] for r in runtime.store.query("SELECT DISTINCT page FROM job_chunks")} == {1, 2}
    while (job := runtime.store.job(result.job_id))["pages_done"] < 8:
        runtime.jobs.step(job)
    runtime.jobs.step(job)  # published
    n = len(runtime.store.chunks_of("upload/book.pdf"))
    runtime.jobs.step(job)  # another worker publishing the same job late changes nothing
    assert n > 0 and len(runtime.store.chunks_of("upload/book.pdf")) == n
    assert runtime.store.get_document("upload/book.pdf").version == 1


@pytest.mark.parametrize("name,data,meta,problem", [
    ("book.pdf", b"%PDF-1.4\n1 0 obj garbage", {}, "damaged"),
    ("book.pdf", None, {"grade": "eight"}, "grade must be a number"),
    ("book.pdf", None, {"policy": "anything"}, "policy must be one of"),
    ("book.pdf", None, {"lang": "de"}, "language must be one of"),
])
def test_bad_large_uploads_get_a_clear_message_and_change_nothing(runtime, name, data, meta, problem):
    with pytest.raises(IngestError, match=problem):
        runtime.ingestor.ingest_bytes(name, data or book(8), **meta)
    assert runtime.store.jobs() == [] and runtime.store.documents() == []
    assert not runtime.ingestor.jobs_dir.exists() or not any(runtime.ingestor.jobs_dir.iterdir())


def test_a_password_protected_large_pdf_is_refused_before_any_job(runtime):
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter()
    for page in PdfReader(io.BytesIO(book(8))).pages:
        writer.add_page(page)
    writer.encrypt("secret")
    out = io.BytesIO()
    writer.write(out)
    with pytest.raises(IngestError, match="password-protected"):
        runtime.ingestor.ingest_bytes("locked.pdf", out.getvalue())
    assert runtime.store.jobs() == []


def test_a_database_from_before_jobs_gets_the_job_tables(tmp_path):
    path = tmp_path / "old.sqlite3"
    with sqlite3.connect(path) as db:
        db.executescript(SCHEMA.split("-- Background ingestion")[0])
        db.execute("INSERT INTO documents (doc_key, title, content_hash, created, updated) "
                   "VALUES ('kk/x', 'X', 'h', 0, 0)")
    store = Store(path)
    assert store.jobs() == [] and store.get_document("kk/x").title == "X"
    job_id = store.create_job("upload/a.pdf", "a.pdf", str(tmp_path / "a.pdf"), {}, "hash", 3)
    assert store.job(job_id)["pages_total"] == 3


def test_teacher_sees_pages_done_and_time_left(runtime, tmp_path):
    services = Services(runtime.settings, runtime, None, TeacherAuth(tmp_path, "a-strong-pass"))
    token, _ = services.login("a-strong-pass")
    path = tmp_path / "Физика 8.pdf"
    path.write_bytes(book(10))
    (row,) = services.upload(token, [str(path)], "physics", "8", "", "reference")
    assert row[1] == "queued" and "10 pages" in row[4]
    (job,) = tx.table("jobs", services.jobs(token, "kk"), "kk")["data"]
    assert job[:4] == ["Физика 8.pdf", "кезекте", "0 / 10", ""]
    runtime.jobs.step(runtime.store.jobs()[0])
    (job,) = tx.table("jobs", services.jobs(token, "ru"), "ru")["data"]
    assert job[1] == "читается" and job[2] == "2 / 10" and job[3]  # a time left is shown
    runtime.jobs.run_pending()
    (job,) = tx.table("jobs", services.jobs(token, "en"), "en")["data"]
    assert job[1:3] == ["done", "10 / 10"] and job[5] == "10 of 10 pages read"
    with pytest.raises(PermissionError):
        services.jobs("not-a-token")


def test_the_background_thread_finishes_a_job_while_the_app_runs(runtime):
    runtime.jobs.start()
    try:
        if sys.platform == "linux":  # the job thread yields the CPU; commits keep normal priority
            names = {t.name: t.native_id for t in threading.enumerate()}
            assert os.getpriority(os.PRIO_PROCESS, names["ingest-job"]) == 19
            assert os.getpriority(os.PRIO_PROCESS, names["ingest-commit"]) == os.getpriority(os.PRIO_PROCESS, 0)
        result = runtime.ingestor.ingest_bytes("book.pdf", book(8))
        deadline = time.time() + 30
        while runtime.store.job(result.job_id)["status"] != "done" and time.time() < deadline:
            time.sleep(0.05)
    finally:
        runtime.jobs.stop()
    assert runtime.store.job(result.job_id)["status"] == "done"
    assert sorted(set(pages_of(runtime.store, "upload/book.pdf"))) == list(range(1, 9))


def test_several_jobs_run_side_by_side(runtime):
    ids = [runtime.ingestor.ingest_bytes(f"book{i}.pdf", book(7, seed=i)).job_id for i in range(3)]
    runtime.jobs.run_pending(workers=2)
    assert [runtime.store.job(i)["status"] for i in ids] == ["done"] * 3
    for i in range(3):
        assert sorted(set(pages_of(runtime.store, f"upload/book{i}.pdf"))) == list(range(1, 8))


# --------------------------------------------------------------- integration
WORKER = textwrap.dedent("""
    import sys, time
    from tutor.config import Settings
    from tutor.retrieval.embedders import HashingEmbedder
    from tutor.runtime import build_runtime

    class Slow(HashingEmbedder):  # a batch takes a while, so the kill lands anywhere in it
        def encode_passages(self, texts, **kw):
            time.sleep(0.15)
            return super().encode_passages(texts)

    s = Settings.load(env={}, data_dir=sys.argv[1], corpus_dir="", model_cache=sys.argv[1] + "/m",
                      background_pages=5, job_batch_pages=3)
    rt = build_runtime(s, embedder=Slow())
    rt.jobs.pause_s = 0
    if len(sys.argv) > 2:
        print(rt.ingestor.ingest_path(sys.argv[2]).status, flush=True)
    rt.jobs.run_pending()
""")


def _worker(data: Path, *args: str) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    return subprocess.Popen([sys.executable, "-c", WORKER, str(data), *args], cwd=REPO_ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _done(data: Path) -> int:
    try:
        with sqlite3.connect(data / "ustaz.sqlite3", timeout=5) as db:
            row = db.execute("SELECT pages_done FROM jobs").fetchone()
    except sqlite3.OperationalError:
        return 0
    return row[0] if row else 0


@pytest.mark.integration  # real processes, killed with SIGKILL
def test_kill_9_in_the_middle_resumes_with_no_page_lost_or_repeated(tmp_path):
    pdf = book(60, seed=3)
    path = tmp_path / "book.pdf"
    path.write_bytes(pdf)
    data = tmp_path / "data"
    proc = _worker(data, str(path))
    stops = []
    for at_least in (12, 33):  # killed twice, in different batches
        deadline = time.time() + 120
        while _done(data) < at_least and proc.poll() is None and time.time() < deadline:
            time.sleep(0.02)
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.07)  # into the middle of the next batch
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        stops.append(_done(data))
        store = Store(data / "ustaz.sqlite3")
        (job,) = store.jobs()
        staged = [r[0] for r in store.query("SELECT page FROM job_pages WHERE job_id=? ORDER BY page", (job["id"],))]
        assert staged == list(range(1, job["pages_done"] + 1))  # exactly the pages done, once each
        assert store.get_document("upload/book.pdf") is None  # not searchable half-read
        store.close()
        proc = _worker(data)  # a restart, as the app or `tutor ingest` does
    out, err = proc.communicate(timeout=180)
    assert proc.returncode == 0, err
    assert 0 < stops[0] < stops[1] < 60
    store = Store(data / "ustaz.sqlite3")
    (job,) = store.jobs()
    assert job["status"] == "done" and job["pages_done"] == 60
    got = [(c.page, c.text) for c in store.chunks_of("upload/book.pdf")]
    assert got == direct_chunks(tmp_path, pdf)  # no page lost, none twice, in order
    assert not store.query("SELECT * FROM job_chunks")


@pytest.mark.integration  # the real embedder and the tutor command
def test_tutor_ingest_jobs_over_a_folder_of_textbooks(tmp_path):
    folder = tmp_path / "library"
    folder.mkdir()
    for i, pages in enumerate((45, 50, 4)):
        (folder / f"book{i}.pdf").write_bytes(book(pages, seed=i, title=f"Оқулық {i}"))
    (folder / "broken.pdf").write_bytes(b"%PDF-1.4 broken")
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), "TUTOR_DATA_DIR": str(tmp_path / "data"),
           "TUTOR_MODEL_CACHE": str(model_cache()), "TUTOR_CORPUS_DIR": ""}
    proc = subprocess.run([sys.executable, "-m", "tutor.cli", "ingest", "--jobs", "2", str(folder)],
                          cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=580)
    assert proc.returncode == 1  # the broken file
    assert "broken.pdf: the PDF is damaged" in proc.stderr
    assert "95/95" in proc.stderr  # the progress bar counted every page of the two large books
    for i in range(3):
        assert f"upload/book{i}.pdf" in proc.stdout
    store = Store(tmp_path / "data" / "ustaz.sqlite3")
    assert sorted(set(pages_of(store, "upload/book1.pdf"))) == list(range(1, 51))
    assert [j["status"] for j in store.jobs()] == ["done", "done"]
    shutil.rmtree(tmp_path / "data")
