"""`tutor db migrate`: a school's SQLite data folder moved into a real PostgreSQL database
(tutor/bench/postgres.py) without loss, checked table by table."""

from __future__ import annotations

import shutil
import time

import numpy as np
import pytest

from tutor.cli import main
from tutor.store import Chunk, Document, Store
from tutor.transfer import copy_store, table_digest


@pytest.fixture
def school(tmp_path, _fake_corpus_dir) -> str:
    """The bundled corpus's data folder plus what a school adds: an upload replaced and one
    deleted (so chunk ids have gaps), a background job, the question log, ratings, flags and
    a teacher with a session."""
    folder = tmp_path / "school"
    shutil.copytree(_fake_corpus_dir, folder)
    store = Store(folder / "ustaz.sqlite3")
    klass = store.query("SELECT id FROM classes")[0]["id"]
    place = store.default_place()
    for version in (1, 2):
        store.put_document(Document("upload", f"Upload v{version}", content_hash=f"u{version}",
                                    school_id=place.school_id),
                           [Chunk("Текст", "текст")], np.ones((1, 4), np.float32))
    store.put_document(Document("gone", "Gone", content_hash="g"), [Chunk("x", "x")] * 3)
    store.delete_document("gone")
    job = store.create_job("book", "book.pdf", "/jobs/book.pdf", {"title": "Кітап"}, "hb", 3)
    store.commit_batch(job, 0, [(1, 1, ""), (2, 0, "blank page")], [Chunk("бет", "бет")],
                       np.zeros((1, 4), np.float32), 1.25)
    store.log_question("s", "kk", "explain", "Фотосинтез деген не?", False, 0.123456789, class_id=klass)
    store.add_feedback("s", 1, "рахмет", ["upload"], "bio", class_id=klass)
    store.add_flag("s", "bullying", "ru", None, class_id=klass)
    with store.transaction() as db:
        teacher = db.execute("INSERT INTO teachers (school_id, username, password_hash, created) "
                             "VALUES (?, ?, ?, ?)", (place.school_id, "aigul", "hash", time.time())).lastrowid
        db.execute("INSERT INTO class_teachers VALUES (?, ?)", (klass, teacher))
        db.execute("INSERT INTO teacher_sessions VALUES (?, ?, ?, ?)", ("tok", teacher, 1.0, 2.0))
    store.close()
    return f"sqlite:///{folder / 'ustaz.sqlite3'}"


def test_a_school_moves_into_postgres_without_loss(school, postgres, capsys):
    target = postgres.create_database("region")
    assert main(["db", "migrate", "--from", school, "--to", target]) == 0
    out = capsys.readouterr().out
    assert "every table's row count and checksum match" in out and "DIFFERS" not in out

    before, after = Store(school), Store(target)
    assert after.generation == before.generation
    assert [(d.id, d.doc_key, d.version, d.school_id) for d in after.documents()] == \
        [(d.id, d.doc_key, d.version, d.school_id) for d in before.documents()]
    assert after.chunks_of("upload")[0].id == before.chunks_of("upload")[0].id
    assert after.all_chunk_rows() == before.all_chunk_rows()  # ids, texts and vectors
    assert after.job(1)["failed_pages"] == [(2, "blank page")]
    assert after.query("SELECT score FROM questions")[0][0] == 0.123456789

    # new rows continue after the copied ids, past those of the deleted document too
    highest = before.query("SELECT seq FROM sqlite_sequence WHERE name='chunks'")[0][0]
    after.put_document(Document("new", "New", content_hash="n"), [Chunk("y", "y")])
    assert after.chunks_of("new")[0].id == highest + 1
    assert after.log_question("s", "ru", "explain", "?", True, 1.0) == 2
    before.close()
    after.close()


def test_a_target_with_data_is_refused_unless_forced(school, postgres, capsys):
    target = postgres.create_database("taken")
    store = Store(target)
    store.add_flag("other", "violence", "ru", None)
    store.close()
    assert main(["db", "migrate", "--from", school, "--to", target]) == 2
    assert "already holds data: flags (1 rows). Use --force" in capsys.readouterr().err
    assert main(["db", "migrate", "--from", school, "--to", target, "--force"]) == 0
    store = Store(target)
    assert [r["session"] for r in store.query("SELECT session FROM flags")] == ["s"]
    store.close()


def test_the_checks_see_a_changed_value_and_a_round_trip_back_to_sqlite(school, postgres, tmp_path):
    target = postgres.create_database("roundtrip")
    assert all(c.ok for c in copy_store(school, target, say=lambda _: None))
    back = f"sqlite:///{tmp_path / 'back.sqlite3'}"
    checks = copy_store(target, back, say=lambda _: None)
    assert all(c.ok for c in checks) and {c.table for c in checks} >= {"chunks", "teachers", "state"}

    store = Store(target)
    columns = store.db.columns("questions")
    rows, digest = table_digest(store, "questions", columns)
    store.query("UPDATE questions SET score = 0.1234567891")
    assert table_digest(store, "questions", columns)[0] == rows
    assert table_digest(store, "questions", columns)[1] != digest
    store.close()
