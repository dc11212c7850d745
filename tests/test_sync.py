"""Another process's corpus change (the CLI, another app replica) becomes searchable here
without a restart."""

import time

from tutor.retrieval.embedders import HashingEmbedder
from tutor.retrieval.hybrid import Retriever
from tutor.retrieval.indexes import SearchIndex
from tutor.retrieval.sync import CorpusSync
from tutor.store import Store

LESSON = "# Озеро Зорват\n\nОзеро Зорват питается ледником; его глубина достигает 140 метров.\n".encode()


def until(condition, timeout_s: float = 5.0) -> float | None:
    """Seconds until ``condition()`` holds, or None after ``timeout_s``."""
    start = time.monotonic()
    while time.monotonic() - start < timeout_s:
        if condition():
            return time.monotonic() - start
        time.sleep(0.05)
    return None


def test_a_document_added_and_deleted_elsewhere_is_found_and_then_gone_here(fake_runtime, tmp_path):
    other = SearchIndex(Store(fake_runtime.settings.db_path), HashingEmbedder(), tmp_path / "replica-index")
    other.open()
    retriever = Retriever(other)
    sync = CorpusSync(other, interval_s=0.2).start()
    try:
        def found() -> bool:
            return any("Зорват" in h.chunk.text for h in retriever.search("озеро Зорват", k=3).hits)

        assert not found()
        fake_runtime.ingestor.ingest_bytes("zorvat.md", LESSON, lang="ru")
        assert until(found) is not None
        fake_runtime.ingestor.delete("upload/zorvat.md")
        assert until(lambda: not found()) is not None
        # the indexes themselves catch up (a deleted chunk is first hidden by the database check)
        assert until(lambda: other.generation == other.store.generation) is not None
        assert other.dense.size == len(other.store.chunk_ids())
    finally:
        sync.stop()
