"""Another process's corpus change (the CLI, another app replica) becomes searchable here
without a restart."""

import threading
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


def _lesson(marker: str):
    from tutor.store import Chunk, Document

    return (Document(f"upload/{marker}.md", marker, lang="ru"),
            [Chunk(f"{marker} lives here.", f"{marker} lives here.")])


def test_a_change_through_one_postgresql_store_wakes_the_others_wait(postgres):
    url = postgres.create_database("sync_wake")
    here, there = Store(url), Store(url)
    try:
        assert here.wait_for_change(0.05)  # the first wait opens the listener and says "look"
        assert not here.wait_for_change(0.2)  # nothing changed since
        woken = []
        waiter = threading.Thread(target=lambda: woken.append((here.wait_for_change(5.0), time.monotonic())))
        waiter.start()
        time.sleep(0.3)
        with there.transaction() as db:  # an uncommitted change wakes nobody
            db.execute("INSERT OR REPLACE INTO state VALUES ('probe', '1')")
            there._bump_generation(db)
            time.sleep(0.3)
            assert not woken
            committed = time.monotonic()
        waiter.join(timeout=5)
        assert woken and woken[0][0] is True
        assert woken[0][1] - committed < 0.5  # well under the 1 s poll interval
        assert here.generation == there.generation
    finally:
        here.close()
        there.close()


def test_the_listener_reconnects_after_the_database_drops_it(postgres):
    url = postgres.create_database("sync_restart")
    here, there = Store(url), Store(url)
    try:
        here.wait_for_change(0.05)
        pid = here.db._listener.info.backend_pid
        there.query("SELECT pg_terminate_backend(?)", (pid,))  # what a server restart does to it
        try:
            here.wait_for_change(1.0)
        except Exception:  # noqa: BLE001 - the broken wait may fail; CorpusSync then polls once
            pass
        assert here.wait_for_change(0.05)  # a new listener: "look", a change may have been missed
        woken = []
        waiter = threading.Thread(target=lambda: woken.append(here.wait_for_change(5.0)))
        waiter.start()
        time.sleep(0.2)
        there.put_document(*_lesson("Reconnected"))
        waiter.join(timeout=5)
        assert woken == [True]
    finally:
        here.close()
        there.close()


def test_sqlite_has_no_change_signal_and_is_polled(tmp_path):
    store = Store(tmp_path / "ustaz.sqlite3")
    try:
        assert not hasattr(store, "wait_for_change")
    finally:
        store.close()


def test_a_replica_whose_sync_stopped_catches_up_on_every_change_at_once(fake_runtime, tmp_path):
    """A replica that stopped looking (a long pause, a stuck thread) finds everything that
    changed meanwhile on its next look: the generation says how far behind it is."""
    other = SearchIndex(Store(fake_runtime.settings.db_path), HashingEmbedder(), tmp_path / "replica-index")
    other.open()
    retriever = Retriever(other)
    sync = CorpusSync(other, interval_s=0.2)
    for i, name in enumerate(("Зорват", "Кельтау", "Арысай")):
        fake_runtime.ingestor.ingest_bytes(f"lake{i}.md", LESSON.replace("Зорват".encode(), name.encode()),
                                           lang="ru")
    fake_runtime.ingestor.delete("upload/lake0.md")
    assert other.generation < other.store.generation
    assert sync.check()  # one look catches up with four changes
    assert not sync.check()
    assert other.generation == other.store.generation
    texts = lambda q: " ".join(h.chunk.text for h in retriever.search(q, k=3).hits)  # noqa: E731
    assert "Кельтау" in texts("озеро Кельтау") and "Арысай" in texts("озеро Арысай")
    assert "Зорват" not in texts("озеро Зорват")
