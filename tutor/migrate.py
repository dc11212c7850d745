"""Versioned schema changes of the data folder's database.

``schema.sql`` is version 1 and is applied at every start (its statements are idempotent).
Each later version is a file ``migrations/NNNN_name.sql`` plus, where rows must be moved, a
Python step in ``DATA_STEPS``; both run in one transaction with the new version number, after
a backup copy of an SQLite database that holds data. The files are in SQLite's dialect; on
PostgreSQL each statement is translated (tutor/database.py). A versioned SQL runner rather than Alembic: the
schema is a dozen tables, the SQL stays readable next to the code that uses it, and it adds
no dependency to a school PC.
"""

from __future__ import annotations

import logging
import secrets
import sqlite3
import time
from pathlib import Path

from tutor.database import statements

log = logging.getLogger(__name__)

FOLDER = Path(__file__).parent / "migrations"
DEFAULT_SCHOOL = "default"
DEFAULT_CLASS = "default"
# class codes: no 0/O, 1/I/L, so a code read off a projector is typed right
CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
CODE_LENGTH = 6


def new_class_code() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def migrations() -> list[tuple[int, str, str]]:
    """(version, name, SQL) of every migration file, in order."""
    out = []
    for path in sorted(FOLDER.glob("[0-9][0-9][0-9][0-9]_*.sql")):
        version, name = path.stem.split("_", 1)
        out.append((int(version), name, path.read_text(encoding="utf-8")))
    return out


LATEST = max([1] + [v for v, _, _ in migrations()])


def _schools_step(db) -> None:
    """One default school with its default class; what the data folder held becomes theirs:
    uploaded documents the school's, the bundled curriculum the region library's, and the
    question log, ratings and flags the default class's."""
    now = time.time()
    school = db.execute("INSERT INTO schools (name, created) VALUES (?, ?)",
                        (DEFAULT_SCHOOL, now)).lastrowid
    klass = db.execute("INSERT INTO classes (school_id, name, code, is_default, created) "
                       "VALUES (?, ?, ?, 1, ?)", (school, DEFAULT_CLASS, new_class_code(), now)).lastrowid
    db.execute("UPDATE documents SET school_id=? WHERE bundled=0", (school,))
    db.execute("UPDATE jobs SET school_id=?", (school,))
    for table in ("questions", "feedback", "flags"):
        db.execute(f"UPDATE {table} SET class_id=?", (klass,))


DATA_STEPS = {2: _schools_step}


def current_version(store) -> int:
    return int(store.get_state("schema_version", "1"))


def holds_data(store) -> bool:
    return any(store.query(f"SELECT 1 FROM {t} LIMIT 1")
               for t in ("documents", "questions", "feedback", "jobs"))


def backup(store, version: int) -> Path | None:
    """A consistent copy of the database before it is changed (SQLite's online backup)."""
    path = getattr(store, "path", None)
    if path is None or not isinstance(store._conn(), sqlite3.Connection):
        return None
    folder = Path(path).parent / "backups"
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"{Path(path).stem}-schema{version}-{time.strftime('%Y%m%d-%H%M%S')}.sqlite3"
    dest = sqlite3.connect(target)
    try:
        store._conn().backup(dest)
        dest.execute("PRAGMA journal_mode=DELETE")  # one self-contained file
    finally:
        dest.close()
    return target


def upgrade(store) -> list[int]:
    """Apply every migration newer than the database, each in its own transaction. Returns
    the versions applied."""
    version = current_version(store)
    pending = [m for m in migrations() if m[0] > version]
    if not pending:
        return []
    if holds_data(store):
        copy = backup(store, version)
        if copy:
            log.warning("upgrading the database from schema %d to %d; a copy of it is in %s",
                        version, pending[-1][0], copy)
    applied = []
    for number, _, sql in pending:
        with store.transaction() as db:
            # another process (a second app server on the same database) may have applied it
            row = db.execute("SELECT value FROM state WHERE key='schema_version'").fetchone()
            if row and int(row["value"]) >= number:
                continue
            for statement in statements(sql):
                db.execute(statement)  # (a PostgreSQL connection translates the dialect)
            if number in DATA_STEPS:
                DATA_STEPS[number](db)
            db.execute("INSERT OR REPLACE INTO state VALUES ('schema_version', ?)", (str(number),))
        applied.append(number)
    return applied
