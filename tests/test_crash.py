"""Crash safety: a process killed with SIGKILL in the middle of an ingest or an index
rebuild, a damaged index file and a full disk all leave a database and a search index
that agree, with no half document."""

from __future__ import annotations

import errno
import os
import random
import signal
import subprocess
import sys
import threading
from pathlib import Path

import faiss
import numpy as np
import pytest

from tutor.config import REPO_ROOT, Settings
from tutor.retrieval.embedders import HashingEmbedder
from tutor.retrieval.hybrid import FusionParams, Retriever
from tutor.retrieval.indexes import DenseIndex, SearchIndex
from tutor.runtime import build_runtime
from tutor.store import Store

SECTIONS = 3  # every test document has three sections, so three chunks

# The worker ingests documents (or rebuilds the index) over a data folder until it is
# killed. It prints a line after each step so the test knows where it is.
WORKER = r"""
import sys, time
from contextlib import contextmanager
from pathlib import Path

import faiss

from tutor.ingest import Ingestor
from tutor.retrieval.embedders import HashingEmbedder
from tutor.retrieval.indexes import SearchIndex
from tutor.store import Store

data, mode, start = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3])


class SlowEmbedder(HashingEmbedder):
    def encode_passages(self, texts, batch_size=32, progress=False):
        time.sleep(0.03)
        return super().encode_passages(texts)


class PausingStore(Store):
    # Once armed, the n-th transaction stops for good just before (or just after) COMMIT.
    armed, count = False, 0

    @contextmanager
    def transaction(self):
        with super().transaction() as db:
            yield db
            self._maybe_stop("uncommitted")
        self._maybe_stop("committed")

    def _maybe_stop(self, where):
        if self.armed and mode == "pause:" + where:
            self.count += 1
            if self.count == 3:
                print("stopped " + where, flush=True)
                time.sleep(120)


def document(i):
    parts = [f"# Topic {i}"]
    for s in range(3):
        parts.append(f"## Part {s}\n\nDocument marker{i}x{s} talks about subject{i} in part{s}.")
    return "\n\n".join(parts).encode()


store = PausingStore(data / "ustaz.sqlite3")
index = SearchIndex(store, SlowEmbedder(), data / "index")
index.open()
ingestor = Ingestor(store, index)
store.armed = True
if mode.startswith(("ingest", "pause")):
    for i in range(start, start + 10_000):
        ingestor.ingest_bytes(f"doc{i}.md", document(i))
        print(f"done {i}", flush=True)
elif mode == "rebuild-loop":
    while True:
        index.rebuild()
        print("rebuilt", flush=True)
elif mode == "rebuild-write":
    real = faiss.write_index

    def half_write(idx, path):
        real(idx, path)
        with open(path, "r+b") as f:
            f.truncate(Path(path).stat().st_size // 2)
        print("half written", flush=True)
        time.sleep(120)

    faiss.write_index = half_write
    index.rebuild()
"""


def run_worker(data: Path, mode: str, start: int, until: str, times: int = 1,
               jitter: float = 0.0) -> None:
    """Start the worker, wait until it has printed ``until`` ``times`` times, then SIGKILL it."""
    proc = subprocess.Popen([sys.executable, "-c", WORKER, str(data), mode, str(start)],
                            cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    watchdog = threading.Timer(40, proc.kill)  # a stuck worker fails the test, not the run
    watchdog.start()
    try:
        seen = 0
        while seen < times:
            line = proc.stdout.readline()
            if not line:
                proc.wait()
                pytest.fail(f"worker ended early ({proc.returncode}): {proc.stderr.read()[-2000:]}")
            seen += line.startswith(until)
        if jitter:
            threading.Event().wait(jitter)
        os.kill(proc.pid, signal.SIGKILL)
        assert proc.wait(timeout=10) == -signal.SIGKILL
    finally:
        watchdog.cancel()
        proc.kill()
        proc.stdout.close()
        proc.stderr.close()


def assert_consistent(data: Path) -> tuple[str, int]:
    """Open the folder as the app does at start; return (what open() did, documents)."""
    store = Store(data / "ustaz.sqlite3")
    try:
        assert store.query("PRAGMA integrity_check")[0][0] == "ok"
        index = SearchIndex(store, HashingEmbedder(), data / "index")
        action = index.open()
        live = store.chunk_ids()
        assert index.dense.ids() == live
        assert set(index.lexical.ids.tolist()) == live
        rows = store.query("SELECT id, search_text FROM chunks ORDER BY id")
        vectors = index.embedder.encode_passages([r["search_text"] for r in rows])
        for row, vector in zip(rows, vectors):
            np.testing.assert_allclose(index.dense.index.reconstruct(int(row["id"])), vector, atol=1e-5)
        assert store.query("SELECT COUNT(*) FROM chunks WHERE doc_id NOT IN "
                           "(SELECT id FROM documents)")[0][0] == 0
        docs = store.documents()
        for doc in docs:  # whole documents only: every section of every document
            i = doc.doc_key.removeprefix("upload/doc").removesuffix(".md")
            texts = [c.text for c in store.chunks_of(doc.doc_key)]
            assert [f"marker{i}x{s}" in t for s, t in enumerate(texts)] == [True] * SECTIONS, texts
        if docs:
            last = docs[-1].doc_key.removeprefix("upload/doc").removesuffix(".md")
            hits = Retriever(index).search(f"marker{last}x1 subject{last} part1").hits
            assert hits and hits[0].chunk.doc.doc_key == docs[-1].doc_key
        return action, len(docs)
    finally:
        store.close()


def _doc(i: int) -> bytes:
    parts = [f"# Topic {i}"]
    for s in range(SECTIONS):
        parts.append(f"## Part {s}\n\nDocument marker{i}x{s} talks about subject{i} in part{s}.")
    return "\n\n".join(parts).encode()


@pytest.fixture
def runtime(tmp_path):
    s = Settings.load(env={}, data_dir=str(tmp_path / "data"), model_cache=str(tmp_path / "m"))
    rt = build_runtime(s, embedder=HashingEmbedder(), load_corpus=False)
    for i in range(4):
        rt.ingestor.ingest_bytes(f"doc{i}.md", _doc(i))
    yield rt
    rt.store.close()


# --------------------------------------------------------------- kill -9 mid-ingest
def test_kill_during_ingest_leaves_database_and_index_in_agreement(tmp_path):
    data = tmp_path / "data"
    rng = random.Random(7)
    total = 0
    for _ in range(3):  # killed again and again at a random moment, restarted each time
        run_worker(data, "ingest", total, until="done", times=3, jitter=rng.uniform(0, 0.08))
        _, docs = assert_consistent(data)
        assert docs >= total + 3
        total = docs


@pytest.mark.parametrize("where", ["uncommitted", "committed"])
def test_kill_around_the_commit_keeps_whole_documents(tmp_path, where):
    data = tmp_path / "data"
    run_worker(data, f"pause:{where}", 0, until="stopped")
    action, docs = assert_consistent(data)
    # third document: rolled back before COMMIT, kept after it (then the index repairs itself)
    assert docs == (2 if where == "uncommitted" else 3)
    assert action == ("loaded" if where == "uncommitted" else "repaired")


# -------------------------------------------------------------- kill -9 mid-rebuild
def test_kill_during_rebuild_leaves_database_and_index_in_agreement(runtime):
    data = runtime.settings.data_path
    runtime.store.close()
    rng = random.Random(11)
    for _ in range(2):
        run_worker(data, "rebuild-loop", 0, until="rebuilt", times=3, jitter=rng.uniform(0, 0.03))
        assert assert_consistent(data)[1] == 4


def test_kill_while_writing_the_index_keeps_the_previous_file(runtime):
    data = runtime.settings.data_path
    dense = runtime.settings.index_path / "dense.faiss"
    before = dense.read_bytes()
    runtime.store.close()
    run_worker(data, "rebuild-write", 0, until="half written")
    assert dense.read_bytes() == before  # the half-written copy never replaced it
    assert assert_consistent(data) == ("loaded", 4)


# --------------------------------------------------------------- damaged index file
def _flip_middle(b: bytes) -> bytes:
    mid = len(b) // 2  # inside the stored vectors: faiss reads it without complaint
    return b[:mid] + bytes(x ^ 0x5A for x in b[mid:mid + 64]) + b[mid + 64:]


@pytest.mark.parametrize("damage", {
    "garbage": lambda b: random.Random(3).randbytes(len(b)),
    "truncated": lambda b: b[: len(b) // 2],
    "empty": lambda b: b"",
    "flipped vectors": _flip_middle,
}.items(), ids=lambda d: d[0])
def test_damaged_index_file_is_detected_and_rebuilt_from_the_database(runtime, damage):
    data = runtime.settings.data_path
    dense = runtime.settings.index_path / "dense.faiss"
    runtime.store.close()
    dense.write_bytes(damage[1](dense.read_bytes()))
    assert assert_consistent(data) == ("rebuilt (damaged file)", 4)
    assert assert_consistent(data) == ("loaded", 4)  # and the rebuilt file is sound


# ------------------------------------------------------------------------ disk full
def test_failing_index_write_keeps_the_previous_index_usable(runtime, monkeypatch):
    files = runtime.settings.index_path
    dense_before, meta_before = (files / "dense.faiss").read_bytes(), (files / "index.json").read_bytes()
    old_ids = runtime.store.chunk_ids()

    def disk_full(index, path):
        with open(path, "wb") as f:  # a partial file, as a full disk leaves it
            f.write(b"IxM2")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(faiss, "write_index", disk_full)
    r = runtime.ingestor.ingest_bytes("doc4.md", _doc(4))
    # the document is stored and searchable now; the teacher is told the file was not saved
    assert r.status == "added" and "No space left on device" in r.message
    hits = runtime.retriever.search("marker4x1 subject4 part1", params=FusionParams(mode="dense")).hits
    assert hits[0].chunk.doc.doc_key == r.doc_key
    with pytest.raises(OSError):
        runtime.index.rebuild()

    assert (files / "dense.faiss").read_bytes() == dense_before
    assert (files / "index.json").read_bytes() == meta_before
    # no partial file left behind (the BM25 indexes of the new corpus were saved before the
    # dense write failed: they match the database, so the next start may load them)
    assert sorted(p.name for p in files.iterdir()) == ["dense.faiss", "index.json", "lexical.npz"]
    assert DenseIndex.load(files / "dense.faiss", runtime.embedder.dim).ids() == old_ids

    monkeypatch.undo()
    runtime.store.close()
    assert assert_consistent(runtime.settings.data_path) == ("repaired", 5)
