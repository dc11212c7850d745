"""Data-access layer: documents, versions, chunks, index state, background ingest
jobs, feedback, unanswered questions, safety flags and the question log.

Every corpus change runs in one transaction, so a crash leaves the previous state.
The ``corpus_generation`` counter moves with every change; the search index records
the generation it was built from and repairs itself when the two disagree.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterable
from contextlib import AbstractContextManager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np

from tutor.database import connect
from tutor.migrate import DEFAULT_SCHOOL, upgrade
from tutor.scopes import Place, Scope

SCHEMA = (Path(__file__).parent / "schema.sql").read_text(encoding="utf-8")

POLICIES = ("reference", "homework", "assessment")


class TutorStore(Protocol):
    """What the Tutor reads and writes: the corpus generation, a document's chunks and section
    titles, the question log and safety flags. ``Store`` implements it on SQLite or PostgreSQL."""

    @property
    def generation(self) -> int: ...

    def chunks_of(self, doc_key: str) -> list[Chunk]: ...

    def section_titles(self, scope: Scope | None = None) -> list[str]: ...

    def log_question(self, session: str, lang: str, mode: str, question: str,
                     answered: bool, score: float | None, kind: str = "",
                     class_id: int | None = None) -> int: ...

    def add_flag(self, session: str, category: str, lang: str, text: str | None,
                 class_id: int | None = None) -> None: ...


@dataclass
class Document:
    doc_key: str
    title: str
    subject: str = ""
    grade: int | None = None
    lang: str = ""
    policy: str = "reference"
    author: str = ""
    licence: str = ""
    translation_of: str = ""
    source_name: str = ""
    source_format: str = ""
    content_hash: str = ""
    bundled: bool = False
    id: int | None = None
    version: int = 1
    # the scope (tutor/scopes.py): both None for the region library
    school_id: int | None = None
    class_id: int | None = None


@dataclass
class Chunk:
    text: str
    search_text: str
    section: str = ""
    page: int | None = None
    slide: int | None = None
    ord: int = 0
    id: int | None = None
    doc: Document | None = field(default=None, repr=False)
    ocr_confidence: float | None = None  # of the page it was read from by OCR (0-1)

    def location(self) -> str:
        parts = []
        if self.section:
            parts.append(self.section)
        if self.page:
            parts.append(f"p. {self.page}")
        if self.slide:
            parts.append(f"slide {self.slide}")
        return " · ".join(parts)


class Store:
    """The tables in an SQLite file or a PostgreSQL database (tutor/database.py); safe to
    share between threads."""

    def __init__(self, location: str | Path):
        """``location``: a path or sqlite:///path (the file) or postgresql://... (a server)."""
        self.db = connect(location)
        self.path = self.db.path  # None for a server
        self.db.script(SCHEMA)
        # CREATE TABLE IF NOT EXISTS leaves a data folder's older questions table as it was
        if "kind" not in self.db.columns("questions"):
            self.query("ALTER TABLE questions ADD COLUMN kind TEXT NOT NULL DEFAULT ''")
        feedback_columns = self.db.columns("feedback")
        for column, default in (("question", "''"), ("sources", "'[]'")):
            if column not in feedback_columns:
                self.query(f"ALTER TABLE feedback ADD COLUMN {column} TEXT NOT NULL DEFAULT {default}")
        if "ocr_confidence" not in self.db.columns("chunks"):
            self.query("ALTER TABLE chunks ADD COLUMN ocr_confidence REAL")
        self.migrated = upgrade(self)
        if self.db.kind == "postgresql":
            # other processes' changes wake CorpusSync at once (LISTEN/NOTIFY); on SQLite
            # there is no such signal and the generation is polled
            self.wait_for_change = self.db.wait_for_change

    # ------------------------------------------------------------- connections
    def _conn(self) -> sqlite3.Connection:
        return self.db.connection()  # (SQLite only: the online backup before a migration)

    def transaction(self) -> AbstractContextManager[sqlite3.Connection]:
        """A write transaction: one writer at a time (SQLite's BEGIN IMMEDIATE; on PostgreSQL
        an advisory lock), so read-then-write steps need no locks of their own."""
        return self.db.transaction()

    def query(self, sql: str, params: Iterable = ()) -> list[sqlite3.Row]:
        return self.db.query(sql, params)

    def close(self) -> None:
        self.db.close()

    # ------------------------------------------------------------------- state
    def get_state(self, key: str, default: str = "") -> str:
        rows = self.query("SELECT value FROM state WHERE key=?", (key,))
        return rows[0]["value"] if rows else default

    def _bump_generation(self, db: sqlite3.Connection) -> int:
        row = db.execute("SELECT value FROM state WHERE key='corpus_generation'").fetchone()
        gen = int(row["value"]) + 1 if row else 1
        db.execute("INSERT OR REPLACE INTO state VALUES ('corpus_generation', ?)", (str(gen),))
        if self.db.kind == "postgresql":
            self.db.notify(db, str(gen))
        return gen

    @property
    def generation(self) -> int:
        return int(self.get_state("corpus_generation", "0"))

    # --------------------------------------------------------------- documents
    def find_by_hash(self, content_hash: str, scope: Scope | None = None) -> Document | None:
        """A document with this content that ``scope`` sees (any, when None)."""
        rows = self.query("SELECT * FROM documents WHERE content_hash=? ORDER BY id", (content_hash,))
        docs = [d for d in map(_doc, rows) if scope is None or scope.sees(d)]
        return docs[0] if docs else None

    def default_place(self) -> Place:
        """The default school (made by the schema upgrade): where uploads go when no place is named."""
        rows = self.query("SELECT id FROM schools WHERE name=? ORDER BY id LIMIT 1", (DEFAULT_SCHOOL,))
        return Place("school", rows[0]["id"] if rows else None)

    def get_document(self, doc_key: str) -> Document | None:
        rows = self.query("SELECT * FROM documents WHERE doc_key=?", (doc_key,))
        return _doc(rows[0]) if rows else None

    def documents(self, lang: str = "", subject: str = "") -> list[Document]:
        sql, params = "SELECT * FROM documents WHERE 1=1", []
        if lang:
            sql, params = sql + " AND lang=?", params + [lang]
        if subject:
            sql, params = sql + " AND subject=?", params + [subject]
        return [_doc(r) for r in self.query(sql + " ORDER BY lang, subject, title", params)]

    def put_document(self, doc: Document, chunks: list[Chunk],
                     embeddings: np.ndarray | None = None) -> Document:
        """Insert or replace a document and all its chunks in one transaction."""
        with self.transaction() as db:
            self._write_document(db, doc, chunks, embeddings)
        return doc

    def _write_document(self, db: sqlite3.Connection, doc: Document, chunks: list[Chunk],
                        embeddings: np.ndarray | None) -> None:
        now = time.time()
        old = db.execute("SELECT id, version FROM documents WHERE doc_key=?",
                         (doc.doc_key,)).fetchone()
        fields = asdict(doc)
        for key in ("id", "version"):
            fields.pop(key)
        fields["bundled"] = int(doc.bundled)
        if old:
            doc.version = old["version"] + 1
            doc.id = old["id"]
            db.execute("DELETE FROM chunks WHERE doc_id=?", (doc.id,))
            sets = ", ".join(f"{k}=?" for k in fields)
            db.execute(f"UPDATE documents SET {sets}, version=?, updated=? WHERE id=?",
                       (*fields.values(), doc.version, now, doc.id))
            action = "replace"
        else:
            cols = ", ".join(fields)
            marks = ", ".join("?" for _ in fields)
            cur = db.execute(
                f"INSERT INTO documents ({cols}, version, created, updated) "
                f"VALUES ({marks}, 1, ?, ?)", (*fields.values(), now, now))
            doc.id, doc.version, action = cur.lastrowid, 1, "add"
        for i, ch in enumerate(chunks):
            emb = None if embeddings is None else np.asarray(embeddings[i], "<f4").tobytes()
            cur = db.execute(
                "INSERT INTO chunks (doc_id, ord, text, search_text, section, page, slide, "
                "embedding, ocr_confidence) VALUES (?,?,?,?,?,?,?,?,?)",
                (doc.id, i, ch.text, ch.search_text, ch.section, ch.page, ch.slide, emb,
                 ch.ocr_confidence))
            ch.id, ch.ord = cur.lastrowid, i
        db.execute("INSERT INTO versions (doc_key, version, content_hash, action, at) "
                   "VALUES (?,?,?,?,?)", (doc.doc_key, doc.version, doc.content_hash, action, now))
        self._bump_generation(db)

    def update_metadata(self, doc_key: str, **changes) -> Document:
        allowed = {"title", "subject", "grade", "lang", "policy"}
        bad = set(changes) - allowed
        if bad:
            raise ValueError(f"cannot edit {', '.join(sorted(bad))}")
        if "policy" in changes and changes["policy"] not in POLICIES:
            raise ValueError(f"policy must be one of {', '.join(POLICIES)}")
        with self.transaction() as db:
            sets = ", ".join(f"{k}=?" for k in changes)
            cur = db.execute(f"UPDATE documents SET {sets}, updated=? WHERE doc_key=?",
                             (*changes.values(), time.time(), doc_key))
            if cur.rowcount == 0:
                raise KeyError(doc_key)
            self._bump_generation(db)
        return self.get_document(doc_key)

    def delete_document(self, doc_key: str) -> bool:
        with self.transaction() as db:
            row = db.execute("SELECT id, version, content_hash FROM documents WHERE doc_key=?",
                             (doc_key,)).fetchone()
            if row is None:
                return False
            db.execute("DELETE FROM chunks WHERE doc_id=?", (row["id"],))
            db.execute("DELETE FROM documents WHERE id=?", (row["id"],))
            db.execute("INSERT INTO versions (doc_key, version, content_hash, action, at) "
                       "VALUES (?,?,?,?,?)", (doc_key, row["version"], row["content_hash"],
                                              "delete", time.time()))
            self._bump_generation(db)
        return True

    # ------------------------------------------------------------------ chunks
    def chunks_by_ids(self, ids: Iterable[int]) -> dict[int, Chunk]:
        ids = [int(i) for i in ids]
        if not ids:
            return {}
        marks = ",".join("?" for _ in ids)
        rows = self.query(
            f"SELECT c.id AS cid, c.ord, c.text, c.search_text, c.section, c.page, c.slide, c.ocr_confidence, d.* "
            f"FROM chunks c JOIN documents d ON d.id = c.doc_id WHERE c.id IN ({marks})", ids)
        out = {}
        for r in rows:
            out[r["cid"]] = Chunk(r["text"], r["search_text"], r["section"], r["page"], r["slide"],
                                  r["ord"], r["cid"], _doc(r), r["ocr_confidence"])
        return out

    def documents_of_chunks(self, ids: Iterable[int]) -> dict[int, Document]:
        """The document of each chunk id that still exists, without the chunks' texts:
        what fusion and filters need for a few hundred candidates (one Document object
        per document, shared by its chunks)."""
        ids = [int(i) for i in ids]
        if not ids:
            return {}
        pairs = self.query(f"SELECT id, doc_id FROM chunks WHERE id IN ({','.join('?' * len(ids))})", ids)
        doc_ids = sorted({r[1] for r in pairs})
        docs = {r["id"]: _doc(r) for r in self.query(
            f"SELECT * FROM documents WHERE id IN ({','.join('?' * len(doc_ids))})", doc_ids)}
        return {r[0]: docs[r[1]] for r in pairs if r[1] in docs}

    def chunks_of(self, doc_key: str) -> list[Chunk]:
        rows = self.query(
            "SELECT c.id AS cid, c.ord, c.text, c.search_text, c.section, c.page, c.slide, c.ocr_confidence, d.* "
            "FROM chunks c JOIN documents d ON d.id=c.doc_id WHERE d.doc_key=? ORDER BY c.ord",
            (doc_key,))
        return [Chunk(r["text"], r["search_text"], r["section"], r["page"], r["slide"], r["ord"],
                      r["cid"], _doc(r), r["ocr_confidence"]) for r in rows]

    def all_chunk_rows(self) -> list[sqlite3.Row]:
        """(id, search_text, embedding) of every live chunk, for building indexes."""
        return self.query("SELECT id, search_text, embedding FROM chunks ORDER BY id")

    def chunk_ids(self) -> set[int]:
        return {r[0] for r in self.query("SELECT id FROM chunks")}

    def section_titles(self, scope: Scope | None = None) -> list[str]:
        """Each document title with each of its section names (the topics a student may name),
        of the documents ``scope`` sees (all when None)."""
        rows = self.query("SELECT DISTINCT d.title || ' ' || c.section, d.school_id, d.class_id "
                          "FROM chunks c JOIN documents d ON d.id = c.doc_id")
        return [r[0] for r in rows if scope is None or scope.sees(Document("", "", school_id=r[1], class_id=r[2]))]

    def set_embeddings(self, pairs: Iterable[tuple[int, np.ndarray]]) -> None:
        with self.transaction() as db:
            db.executemany("UPDATE chunks SET embedding=? WHERE id=?",
                           [(np.asarray(v, "<f4").tobytes(), int(i)) for i, v in pairs])

    def stats(self) -> list[dict]:
        rows = self.query(
            "SELECT d.lang, d.subject, COUNT(DISTINCT d.id) AS documents, COUNT(c.id) AS chunks "
            "FROM documents d LEFT JOIN chunks c ON c.doc_id=d.id GROUP BY d.lang, d.subject "
            "ORDER BY d.lang, d.subject")
        return [dict(r) for r in rows]

    # -------------------------------------------------------- background jobs
    def create_job(self, doc_key: str, source_name: str, path: str, meta: dict, content_hash: str,
                   pages_total: int, place: Place | None = None) -> int:
        now = time.time()
        place = place or self.default_place()
        with self.transaction() as db:
            return db.execute(
                "INSERT INTO jobs (doc_key, source_name, path, meta, content_hash, pages_total, "
                "created, updated, school_id, class_id) VALUES (?,?,?,?,?,?,?,?,?,?)",
                (doc_key, source_name, path, json.dumps(meta, ensure_ascii=False), content_hash,
                 pages_total, now, now, place.school_id, place.class_id)).lastrowid

    def job(self, job_id: int) -> dict | None:
        rows = self.jobs(job_id=job_id)
        return rows[0] if rows else None

    def jobs(self, active: bool = False, job_id: int | None = None, limit: int = 100) -> list[dict]:
        """Jobs, newest first, each with its failed pages as [(page, error)]."""
        sql, params = "SELECT * FROM jobs WHERE 1=1", []
        if active:
            sql += " AND status IN ('queued', 'running')"
        if job_id is not None:
            sql, params = sql + " AND id=?", [job_id]
        out = []
        for r in self.query(sql + " ORDER BY id DESC LIMIT ?", [*params, limit]):
            job = dict(r)
            job["meta"] = json.loads(job["meta"])
            job["failed_pages"] = [(p["page"], p["error"]) for p in self.query(
                "SELECT page, error FROM job_pages WHERE job_id=? AND error != '' ORDER BY page",
                (job["id"],))]
            out.append(job)
        return out

    def active_job_for(self, content_hash: str) -> dict | None:
        rows = self.query("SELECT id FROM jobs WHERE content_hash=? AND status IN ('queued', 'running') "
                          "ORDER BY id LIMIT 1", (content_hash,))
        return self.job(rows[0]["id"]) if rows else None

    def commit_batch(self, job_id: int, first: int, pages: list[tuple[int, int, str]],
                     chunks: list[Chunk], embeddings: np.ndarray | None, busy_s: float,
                     meta: dict | None = None) -> bool:
        """Stage one batch: its chunks, one job_pages row per page (page, chunks, error) and
        the new pages_done, all or nothing. Only when the job is still at ``first``: a second
        worker on the same job (another process) loses the race and commits nothing."""
        with self.transaction() as db:
            cur = db.execute(
                "UPDATE jobs SET pages_done=?, status='running', busy_s=busy_s+?, updated=?"
                + (", meta=?" if meta is not None else "") + " WHERE id=? AND pages_done=? "
                "AND status IN ('queued', 'running')",
                (first + len(pages), busy_s, time.time(),
                 *([json.dumps(meta, ensure_ascii=False)] if meta is not None else []), job_id, first))
            if cur.rowcount == 0:
                return False
            db.executemany("INSERT INTO job_pages (job_id, page, chunks, error) VALUES (?,?,?,?)",
                           [(job_id, *p) for p in pages])
            db.executemany(
                "INSERT INTO job_chunks (job_id, text, search_text, section, page, embedding, "
                "ocr_confidence) VALUES (?,?,?,?,?,?,?)",
                [(job_id, c.text, c.search_text, c.section, c.page,
                  None if embeddings is None else np.asarray(embeddings[i], "<f4").tobytes(),
                  c.ocr_confidence)
                 for i, c in enumerate(chunks)])
        return True

    def staged_chunks(self, job_id: int) -> list[Chunk]:
        rows = self.query("SELECT text, search_text, section, page, ocr_confidence FROM job_chunks "
                          "WHERE job_id=? ORDER BY id", (job_id,))
        return [Chunk(r["text"], r["search_text"], r["section"], r["page"],
                      ocr_confidence=r["ocr_confidence"]) for r in rows]

    def publish_job(self, job_id: int, doc: Document, message: str = "") -> int | None:
        """The staged chunks become the document, and the job is done, in one transaction.
        Returns the number of chunks; None when the job had already ended (another process
        published it first)."""
        with self.transaction() as db:
            cur = db.execute("UPDATE jobs SET status='done', message=?, updated=? WHERE id=? AND "
                             "status IN ('queued', 'running') AND pages_done=pages_total",
                             (message, time.time(), job_id))
            if cur.rowcount == 0:
                return None
            rows = db.execute("SELECT text, search_text, section, page, embedding, ocr_confidence "
                              "FROM job_chunks WHERE job_id=? ORDER BY id", (job_id,)).fetchall()
            chunks = [Chunk(r["text"], r["search_text"], r["section"], r["page"],
                            ocr_confidence=r["ocr_confidence"]) for r in rows]
            vectors = None
            if rows and all(r["embedding"] for r in rows):
                vectors = np.frombuffer(b"".join(r["embedding"] for r in rows), "<f4").reshape(len(rows), -1)
            self._write_document(db, doc, chunks, vectors)  # (the index embeds what has no vector)
            db.execute("DELETE FROM job_chunks WHERE job_id=?", (job_id,))
        return len(chunks)

    def finish_job(self, job_id: int, status: str, message: str) -> None:
        """End a job without a document (failed, or nothing to publish), unless it has ended."""
        with self.transaction() as db:
            cur = db.execute("UPDATE jobs SET status=?, message=?, updated=? WHERE id=? AND "
                             "status IN ('queued', 'running')", (status, message, time.time(), job_id))
            if cur.rowcount:
                db.execute("DELETE FROM job_chunks WHERE job_id=?", (job_id,))

    # ------------------------------------------------- questions, feedback, flags
    def log_question(self, session: str, lang: str, mode: str, question: str,
                     answered: bool, score: float | None, kind: str = "",
                     class_id: int | None = None) -> int:
        """``kind`` is '' for a question the lessons may answer, 'cannot_know' for one about
        live or private facts (the weather, the news, a phone number)."""
        with self.transaction() as db:
            cur = db.execute(
                "INSERT INTO questions (at, session, lang, mode, question, answered, score, kind, "
                "class_id) VALUES (?,?,?,?,?,?,?,?,?)",
                (time.time(), session, lang, mode, question, int(answered), score, kind, class_id))
            return cur.lastrowid

    def unanswered(self, limit: int = 200, class_ids: Iterable[int] | None = None) -> list[dict]:
        """Questions without good evidence, grouped (case- and space-insensitive; SQLite's
        lower() only folds ASCII, so grouping happens here) and without session ids. Questions
        no lesson could answer (kind 'cannot_know': tomorrow's weather) are no gap to fill.
        ``class_ids``: only the questions asked in these classes (None: all)."""
        groups: dict[tuple[str, str], dict] = {}
        where, params = _in_classes(class_ids)
        for r in self.query("SELECT question, lang, at FROM questions WHERE answered=0 AND kind=''"
                            + where, params):
            key = (" ".join(r["question"].split()).casefold().rstrip("?!. "), r["lang"])
            g = groups.setdefault(key, {"q": " ".join(r["question"].split()), "lang": r["lang"],
                                        "asked": 0, "last": 0.0})
            g["asked"] += 1
            g["last"] = max(g["last"], r["at"])
        ranked = sorted(groups.values(), key=lambda g: (-g["asked"], -g["last"]))
        return ranked[:limit]

    def add_feedback(self, session: str, rating: int, comment: str, doc_keys: list[str],
                     subject: str, question: str = "", sources: list[dict] | None = None,
                     class_id: int | None = None) -> None:
        with self.transaction() as db:
            db.execute("INSERT INTO feedback (at, session, rating, comment, doc_keys, subject, "
                       "question, sources, class_id) VALUES (?,?,?,?,?,?,?,?,?)",
                       (time.time(), session, int(rating), comment, json.dumps(doc_keys), subject,
                        question, json.dumps(sources or [], ensure_ascii=False), class_id))

    def feedback_items(self, limit: int = 500, class_ids: Iterable[int] | None = None) -> list[dict]:
        """Each rating or comment, newest first, with its question, sources and the documents'
        current titles (a source whose document was deleted keeps the title it had).
        ``class_ids``: only those given in these classes (None: all)."""
        where, params = _in_classes(class_ids)
        rows = self.query("SELECT at, rating, comment, doc_keys, subject, question, sources "
                          "FROM feedback WHERE 1=1" + where + " ORDER BY at DESC, id DESC LIMIT ?",
                          (*params, limit))
        titles = {r["doc_key"]: r["title"] for r in self.query("SELECT doc_key, title FROM documents")}
        items = []
        for r in rows:
            item = dict(r)
            item["doc_keys"] = json.loads(r["doc_keys"] or "[]")
            item["sources"] = json.loads(r["sources"] or "[]")
            for source in item["sources"]:
                source["title"] = titles.get(source.get("doc_key"), source.get("title", ""))
            item["titles"] = [titles.get(k, k) for k in item["doc_keys"]]
            items.append(item)
        return items

    def add_flag(self, session: str, category: str, lang: str, text: str | None,
                 class_id: int | None = None) -> None:
        with self.transaction() as db:
            db.execute("INSERT INTO flags (at, session, category, lang, text, class_id) "
                       "VALUES (?,?,?,?,?,?)", (time.time(), session, category, lang, text, class_id))

    def flags(self, class_ids: Iterable[int] | None = None) -> list[dict]:
        where, params = _in_classes(class_ids)
        return [dict(r) for r in self.query("SELECT at, category, lang, text FROM flags WHERE 1=1"
                                            + where + " ORDER BY at DESC LIMIT 500", params)]

    def purge_older_than(self, days: int) -> int:
        cutoff = time.time() - days * 86400
        with self.transaction() as db:
            n = 0
            for table in ("questions", "feedback", "flags"):
                n += db.execute(f"DELETE FROM {table} WHERE at < ?", (cutoff,)).rowcount
        return n

    def export_personal_data(self) -> dict:
        return {t: [dict(r) for r in self.query(f"SELECT * FROM {t}")]
                for t in ("questions", "feedback", "flags")}


def _in_classes(class_ids: Iterable[int] | None) -> tuple[str, list[int]]:
    """A WHERE clause part (and its parameters) for rows of these classes; None: no limit."""
    if class_ids is None:
        return "", []
    ids = sorted({int(c) for c in class_ids})
    return f" AND class_id IN ({','.join('?' * len(ids)) or 'NULL'})", ids


def _doc(row: sqlite3.Row) -> Document:
    return Document(
        doc_key=row["doc_key"], title=row["title"], subject=row["subject"], grade=row["grade"],
        lang=row["lang"], policy=row["policy"], author=row["author"], licence=row["licence"],
        translation_of=row["translation_of"], source_name=row["source_name"],
        source_format=row["source_format"], content_hash=row["content_hash"],
        bundled=bool(row["bundled"]), id=row["id"], version=row["version"],
        school_id=row["school_id"], class_id=row["class_id"])
