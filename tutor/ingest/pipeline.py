"""Ingestion: file -> parsed blocks -> chunks -> embeddings -> one database transaction
-> index refresh. Bad files raise ``IngestError`` with one sentence for the teacher and
change nothing. A PDF of more than ``background_pages`` pages becomes a job instead
(``tutor.ingest.jobs`` works through it)."""

from __future__ import annotations

import hashlib
import logging
import math
import os
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from tutor.ingest.chunking import chunk_blocks
from tutor.ingest.readers import FORMATS, ReadError, pdf_page_count, read_file
from tutor.scopes import Place, Scope
from tutor.store import POLICIES, Document
from tutor.text.langdetect import detect_language

log = logging.getLogger(__name__)

SUBJECTS = ("ai-literacy", "biology", "geography", "history", "world-history", "physics", "chemistry",
            "mathematics", "informatics", "kazakh-language", "russian-language", "english",
            "kazakh-literature", "russian-literature", "literature", "language", "arts", "other")
LANGS = ("kk", "ru", "en")


class IngestError(ValueError):
    def __init__(self, name: str, problem: str):
        self.name = name
        self.problem = problem
        super().__init__(f"{name}: {problem}")


@dataclass
class IngestResult:
    doc_key: str
    status: str  # added, replaced, unchanged, duplicate
    chunks: int
    title: str
    lang: str
    message: str = ""
    job_id: int | None = None  # status "queued": the background job that ingests it


def safe_name(name: str) -> str:
    """The file's own name, without any directory part (no path traversal)."""
    base = re.split(r"[\\/]", name)[-1]
    base = unicodedata.normalize("NFC", base).replace("\x00", "")
    base = re.sub(r"[^\w.\- ]+", "_", base).strip(" .")
    return base[:120] or "upload"


def _size(n: int) -> str:
    # One decimal, rounded up: whole megabytes rounded down would print a file just over
    # the limit as "1 MB, more than the limit of 1 MB".
    for unit, label in ((1024 * 1024, "MB"), (1024, "KB")):
        if n >= unit:
            return f"{math.ceil(n * 10 / unit) / 10:.1f} {label}"
    return f"{n} bytes"


def content_hash_of(data: bytes, meta: dict) -> str:
    return hashlib.sha256(data + repr(sorted((k, str(v)) for k, v in meta.items())).encode()).hexdigest()


def check_meta(name: str, lang: str, policy: str, grade) -> int | None:
    """Raise ``IngestError`` for a language, policy or grade that cannot be stored; the grade as a number."""
    if lang not in LANGS:
        raise IngestError(name, f"language must be one of {', '.join(LANGS)}, not {lang!r}")
    if policy not in POLICIES:
        raise IngestError(name, f"policy must be one of {', '.join(POLICIES)}, not {policy!r}")
    try:
        return int(grade) if grade not in (None, "") else None
    except ValueError:
        raise IngestError(name, f"grade must be a number, not {grade!r}") from None


def _how_read(stats: dict) -> str:
    """A sentence for the teacher when pages were OCR'd or repaired, so a poor scan is noticed."""
    parts = []
    if stats.get("ocr_pages"):
        low = f", lowest confidence {round(stats['ocr_confidence'] * 100)}%" if "ocr_confidence" in stats else ""
        parts.append(f"{stats['ocr_pages']} page(s) read by OCR{low}")
    if stats.get("repaired_pages"):
        parts.append(f"{stats['repaired_pages']} page(s) with a broken Kazakh font repaired")
    if stats.get("unread_pages"):
        unread = stats["unread_pages"]
        pages = ", ".join(str(n) for n in list(unread)[:10]) + (", ..." if len(unread) > 10 else "")
        parts.append(f"page(s) {pages} not read: {next(iter(unread.values()))}")
    return "; ".join(parts) + "." if parts else ""


class Ingestor:
    def __init__(self, store, index, max_bytes: int = 50 * 1024 * 1024, background_pages: int = 0,
                 jobs_dir: str | Path | None = None, ocr=None):
        self.store = store
        self.index = index
        self.max_bytes = max_bytes
        self.ocr = ocr  # the OCR engine for scans and photos (tesseract when None)
        self.background_pages = background_pages if jobs_dir else 0
        self.jobs_dir = Path(jobs_dir) if jobs_dir else None
        self.on_job = None  # called with a new job's id (the job runner wakes up)

    def place_of(self, place: Place | None, bundled: bool = False) -> Place:
        """Where a document goes when no place is named: the bundled curriculum to the region
        library, an upload to the default school (a one-school install has nothing else)."""
        if place is not None:
            return place
        return Place("region") if bundled else self.store.default_place()

    def ingest_bytes(self, name: str, data: bytes, *, doc_key: str = "", bundled: bool = False,
                     refresh: bool = True, place: Place | None = None, **meta_overrides) -> IngestResult:
        name = safe_name(name)
        place = self.place_of(place, bundled)
        if len(data) > self.max_bytes:
            raise self._too_big(name, len(data))
        if self.background_pages and name.lower().endswith(".pdf") and not bundled:
            try:
                pages = pdf_page_count(data)
            except ReadError as exc:
                raise IngestError(name, str(exc)) from None
            if pages > self.background_pages:
                return self.submit(name, data, pages, doc_key=doc_key, place=place, **meta_overrides)
        try:
            parsed = read_file(name, data, ocr=self.ocr)
        except ReadError as exc:
            raise IngestError(name, str(exc)) from None
        meta = {**parsed.meta, **{k: v for k, v in meta_overrides.items() if v not in (None, "")}}
        title = str(meta.get("title") or parsed.title).strip()[:300]
        chunks = chunk_blocks(title, parsed.blocks)
        if not chunks:
            raise IngestError(name, "no text found in the file")
        sample = " ".join(c.text for c in chunks[:20])
        lang = str(meta.get("lang") or detect_language(sample))
        policy = str(meta.get("policy") or "reference")
        grade = check_meta(name, lang, policy, meta.get("grade"))
        content_hash = content_hash_of(data, meta)
        doc_key = doc_key or place.key_prefix + "upload/" + name
        known = self._known(doc_key, content_hash, place)
        if known:
            return known
        doc = Document(
            doc_key=doc_key, title=title, subject=str(meta.get("subject", "")), grade=grade,
            lang=lang, policy=policy, author=str(meta.get("author", "")),
            licence=str(meta.get("licence", meta.get("license", ""))),
            translation_of=str(meta.get("translation_of", "")), source_name=name,
            source_format=parsed.fmt, content_hash=content_hash, bundled=bundled,
            school_id=place.school_id, class_id=place.class_id)
        existing = self.store.get_document(doc_key)
        # Embeddings are computed before the transaction: a crash here changes nothing.
        vectors = self.index.embedder.encode_passages([c.search_text for c in chunks])
        self.store.put_document(doc, chunks, vectors)
        message = " ".join(m for m in (_how_read(parsed.stats), self._refresh() if refresh else "") if m)
        status = "replaced" if existing else "added"
        return IngestResult(doc_key, status, len(chunks), title, lang, message)

    def _known(self, doc_key: str, content_hash: str, place: Place) -> IngestResult | None:
        existing = self.store.get_document(doc_key)
        if existing and existing.content_hash == content_hash:
            return IngestResult(doc_key, "unchanged", 0, existing.title, existing.lang,
                                "already up to date")
        # only a twin the place's students already see: another class's copy stays its own
        twin = self.store.find_by_hash(content_hash, Scope(place.school_id, place.class_id))
        if twin and twin.doc_key != doc_key:
            return IngestResult(twin.doc_key, "duplicate", 0, twin.title, twin.lang,
                                f"the same content is already in the corpus as {twin.doc_key}")
        return None

    def submit(self, name: str, data: bytes, pages: int, *, doc_key: str = "",
               place: Place | None = None, **meta_overrides) -> IngestResult:
        """Queue a large PDF as a background job: checked and saved now, read page batch by
        page batch later. The file is kept in the jobs folder until the job ends."""
        meta = {k: v for k, v in meta_overrides.items() if v not in (None, "")}
        # an unset language is detected from the text when the job publishes the document
        check_meta(name, meta.get("lang", LANGS[0]), meta.get("policy", "reference"), meta.get("grade"))
        content_hash = content_hash_of(data, meta)
        place = self.place_of(place)
        doc_key = doc_key or place.key_prefix + "upload/" + name
        title = str(meta.get("title", "")) or re.sub(r"[_-]+", " ", name.rsplit(".", 1)[0]).strip()
        known = self._known(doc_key, content_hash, place)
        if known:
            return known
        running = self.store.active_job_for(content_hash)
        if running:
            return IngestResult(doc_key, "queued", 0, title, meta.get("lang", ""),
                                f"already being ingested: {running['pages_done']} of "
                                f"{running['pages_total']} pages done", running["id"])
        self.jobs_dir.mkdir(parents=True, exist_ok=True)
        path = self.jobs_dir / f"{content_hash[:24]}.pdf"
        tmp = path.with_suffix(".tmp")
        tmp.write_bytes(data)
        os.replace(tmp, path)  # a job never points at a half-written file
        job_id = self.store.create_job(doc_key, name, str(path), meta, content_hash, pages, place)
        if self.on_job:
            self.on_job(job_id)
        return IngestResult(doc_key, "queued", 0, title, meta.get("lang", ""),
                            f"{pages} pages, ingested in the background", job_id)

    def ingest_path(self, path: str | Path, **kwargs) -> IngestResult:
        path = Path(path)
        try:
            size = path.stat().st_size
        except OSError as exc:
            raise IngestError(path.name, f"cannot open the file ({exc.strerror})") from None
        if size > self.max_bytes:
            raise self._too_big(path.name, size)
        return self.ingest_bytes(path.name, path.read_bytes(), **kwargs)

    def _too_big(self, name: str, size: int) -> IngestError:
        return IngestError(name, f"the file is {_size(size)}, more than the limit of "
                                 f"{_size(self.max_bytes)}")

    def delete(self, doc_key: str) -> bool:
        removed = self.store.delete_document(doc_key)
        if removed:
            self._refresh()
        return removed

    def _refresh(self) -> str:
        # The change is committed and the in-memory index already has it; only the index
        # file failed (disk full). Saying "error" would make the teacher upload it again.
        try:
            self.index.refresh()
        except OSError as exc:
            log.warning("search index not saved: %s", exc)
            return (f"saved, but the search index file could not be written ({exc.strerror or exc}); "
                    "it is repaired at the next start")
        return ""

    def load_bundled(self, corpus_dir: str | Path,
                     progress: Callable[[int, int], None] | None = None) -> list[IngestResult]:
        """Load ``corpus/<lang>/*.md``; unchanged files are skipped, so this is cheap.
        ``progress(done, total)`` is called after each file."""
        corpus_dir = Path(corpus_dir)
        results = []
        files = sorted(p for p in corpus_dir.rglob("*") if p.suffix.lower() in FORMATS)
        seen = set()
        for done, path in enumerate(files, start=1):
            key = path.relative_to(corpus_dir).with_suffix("").as_posix()
            seen.add(key)
            results.append(self.ingest_path(path, doc_key=key, bundled=True, refresh=False))
            if progress:
                progress(done, len(files))
        for doc in self.store.documents():
            if doc.bundled and doc.doc_key not in seen:
                self.store.delete_document(doc.doc_key)
        self.index.refresh()
        return results
