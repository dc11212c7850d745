"""The two search indexes and their persistence.

Dense: faiss over normalised embeddings (inner product = cosine), with chunk ids, so a
document's chunks are added and removed without a rebuild. Exact search (a flat index)
up to ``APPROX_FROM`` vectors; past it an IVF index, which ``tutor bench retrieval``
shows to hold recall while staying under the latency target. Embeddings also live in the
database, so a lost or corrupt index file is rebuilt without running the embedder.

Lexical: BM25 over normalised stems, and a second one over character n-grams
(``tutor.retrieval.lexical``). They keep raw term frequencies and weigh them at query time
from the live statistics, so a corpus change updates them in place by chunk id, with the
scores a rebuild would give: ``refresh`` removes the chunks gone and reads and tokenises
only the new ones under the search lock, and writes the files after releasing it. They
are saved beside the dense index (``lexical.npz``) with a digest of every chunk's id and
text hash and of the tokenizer's code, updated from the hashes they keep; a start loads
them when the database's texts give the same digest and builds them afresh otherwise
(well under a second for a school's corpus, about a minute at 100k chunks):
docs/decisions/2026-12-01-bm25-updated-in-place.md.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import logging
import os
import threading
from pathlib import Path
from typing import Protocol

import numpy as np

from tutor.retrieval.lexical import LexicalIndex, corpus_digest, text_hashes
from tutor.scopes import Scope
from tutor.store import Document
from tutor.text.textnorm import char_ngrams, tokenize

log = logging.getLogger(__name__)

APPROX_FROM = 50_000
ID_BATCH = 500  # chunk ids per SQL statement


class ChunkIndex(Protocol):
    """One view of the chunks, searched by chunk id: the dense index (``DenseIndex``, a question
    vector) and the lexical ones (``LexicalIndex``, the question's text). ``SearchIndex`` keeps
    all of them in step with the store."""

    @property
    def size(self) -> int: ...

    def remove(self, ids) -> None: ...

    def search(self, query, k: int) -> tuple[np.ndarray, np.ndarray]:
        """(scores, chunk ids) of the best ``k``, best first."""


class DenseIndex:
    def __init__(self, dim: int):
        import faiss

        self.dim = dim
        self.index = faiss.IndexIDMap2(faiss.IndexFlatIP(dim))

    @classmethod
    def build(cls, ids: np.ndarray, vectors: np.ndarray, dim: int) -> DenseIndex:
        import faiss

        self = cls(dim)
        n = len(ids)
        if n >= APPROX_FROM:
            nlist = int(4 * np.sqrt(n))
            quantizer = faiss.IndexFlatIP(dim)
            ivf = faiss.IndexIVFFlat(quantizer, dim, nlist, faiss.METRIC_INNER_PRODUCT)
            sample = vectors[np.random.default_rng(0).choice(n, min(n, nlist * 40), replace=False)]
            ivf.train(sample)
            ivf.nprobe = max(8, nlist // 16)
            self.index = ivf
        if n:
            self.index.add_with_ids(np.ascontiguousarray(vectors, np.float32),
                                    np.asarray(ids, np.int64))
        return self

    @property
    def size(self) -> int:
        return int(self.index.ntotal)

    def add(self, ids, vectors) -> None:
        if len(ids):
            self.index.add_with_ids(np.ascontiguousarray(vectors, np.float32),
                                    np.asarray(ids, np.int64))

    def remove(self, ids) -> None:
        import faiss

        if len(ids):
            self.index.remove_ids(faiss.IDSelectorBatch(np.asarray(list(ids), np.int64)))

    def search(self, query: np.ndarray, k: int, selector=None) -> tuple[np.ndarray, np.ndarray]:
        """``selector``: a faiss ID selector; only its chunk ids are searched (from ``selector_of``)."""
        import faiss

        if self.size == 0:
            return np.zeros(0, np.float32), np.zeros(0, np.int64)
        params = None
        if selector is not None:
            ivf = isinstance(self.index, faiss.IndexIVF)
            params = (faiss.SearchParametersIVF(sel=selector, nprobe=self.index.nprobe) if ivf
                      else faiss.SearchParameters(sel=selector))
        scores, ids = self.index.search(np.ascontiguousarray(query[None, :], np.float32),
                                        min(k, self.size), params=params)
        keep = ids[0] >= 0
        return scores[0][keep], ids[0][keep]

    @staticmethod
    def selector_of(ids: np.ndarray):
        """A faiss selector of these chunk ids (a hash set: the ids are sparse)."""
        import faiss

        ids = np.ascontiguousarray(ids, np.int64)
        return faiss.IDSelectorBatch(len(ids), faiss.swig_ptr(ids))

    def ids(self) -> set[int]:
        import faiss

        if isinstance(self.index, faiss.IndexIDMap2):
            return set(faiss.vector_to_array(self.index.id_map).tolist())
        invlists = self.index.invlists
        out: set[int] = set()
        for lst in range(self.index.nlist):
            n = invlists.list_size(lst)
            if n:
                ptr = invlists.get_ids(lst)
                out.update(faiss.rev_swig_ptr(ptr, n).tolist())
        return out

    def save(self, path: Path) -> None:
        import faiss

        tmp = path.with_name(path.name + ".tmp")
        try:
            faiss.write_index(self.index, str(tmp))
            os.replace(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)

    @classmethod
    def load(cls, path: Path, dim: int) -> DenseIndex:
        import faiss

        self = cls(dim)
        self.index = faiss.read_index(str(path))
        if self.index.d != dim:
            raise ValueError(f"index has dimension {self.index.d}, embedder has {dim}")
        return self


class IndexFiles:
    """Where the dense index and its sidecar (the corpus generation it matches) live."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.dense = folder / "dense.faiss"
        self.meta = folder / "index.json"
        self.lexical = folder / "lexical.npz"

    def read_meta(self) -> dict:
        try:
            return json.loads(self.meta.read_text())
        except (OSError, ValueError):
            return {}

    def dense_digest(self) -> str:
        h = hashlib.sha256()
        with open(self.dense, "rb") as f:
            while block := f.read(1 << 20):
                h.update(block)
        return h.hexdigest()

    def write_meta(self, meta: dict) -> None:
        tmp = self.meta.with_name("index.json.tmp")
        tmp.write_text(json.dumps(meta))
        os.replace(tmp, self.meta)


class ScopeFilter:
    """The chunk ids one scope may see, with the dense selector and the lexical row masks
    made from them once per corpus generation (a class's searches reuse them)."""

    def __init__(self, ids: np.ndarray):
        self.ids = ids
        self._selector = None
        self._rows: dict[int, tuple[int, np.ndarray]] = {}

    @property
    def selector(self):
        if self._selector is None:
            self._selector = DenseIndex.selector_of(self.ids)
        return self._selector

    def rows(self, lexical: LexicalIndex) -> np.ndarray:
        have = self._rows.get(id(lexical))
        if have is None or have[0] != lexical.rows:
            have = self._rows[id(lexical)] = (lexical.rows, lexical.rows_of(self.ids))
        return have[1]


class SearchIndex:
    """Dense + lexical indexes kept in step with the store."""

    def __init__(self, store, embedder, folder: Path):
        self.store = store
        self.embedder = embedder
        self.files = IndexFiles(folder)
        self.lock = threading.RLock()  # searches hold it while they read the indexes
        self._writing = threading.RLock()  # one change at a time, files written included
        self.dense: DenseIndex | None = None
        self.lexical: LexicalIndex | None = None
        self.chars: LexicalIndex | None = None
        self._chunk_ids = np.zeros(0, np.int64)
        self._chunk_docs = np.zeros(0, np.int64)
        self._documents: dict = {}
        self._scopes: dict = {}  # Scope -> ScopeFilter (None: sees all), for the generation made at
        self.generation = -1

    # ----------------------------------------------------------------- syncing
    def open(self) -> str:
        """Load the saved index, or repair or rebuild it from the database. Returns what
        was done, for the log."""
        with self._writing, self.lock:
            generation = self.store.generation
            self.files.folder.mkdir(parents=True, exist_ok=True)
            meta = self.files.read_meta()
            self._claim_embeddings(meta.get("embedder", ""))
            action = "loaded"
            dense = None
            if meta.get("embedder") == self.embedder.name and self.files.dense.exists():
                try:
                    # faiss notices a truncated or garbled header, not damaged vectors
                    if meta.get("sha256") and meta["sha256"] != self.files.dense_digest():
                        raise ValueError("checksum mismatch")
                    dense = DenseIndex.load(self.files.dense, self.embedder.dim)
                except Exception as exc:  # noqa: BLE001 - faiss raises RuntimeError on corruption
                    log.warning("search index file is damaged (%s); rebuilding it", exc)
                    action = "rebuilt (damaged file)"
            elif self.files.dense.exists():
                action = "rebuilt (embedder changed)"
            else:
                action = "built"
            if dense is None:
                self._rebuild_dense()
            else:
                self.dense = dense
                if meta.get("generation") != self.store.generation or dense.size != len(self.store.chunk_ids()):
                    self._repair_dense()
                    action = "repaired"
            self._rebuild_lexical()
            self.generation = generation
            self._save()
            return action

    def _claim_embeddings(self, index_embedder: str) -> None:
        """Stored embeddings belong to the model that made them. Another model of the same
        dimension would pass the dimension check and silently mix two vector spaces, so a
        change of embedder clears them (they are recomputed)."""
        owner = self.store.get_state("embedder") or index_embedder
        if owner == self.embedder.name:
            return
        with self.store.transaction() as db:
            if owner:
                db.execute("UPDATE chunks SET embedding=NULL")
            db.execute("INSERT OR REPLACE INTO state VALUES ('embedder', ?)", (self.embedder.name,))

    def _embed_missing(self) -> None:
        rows = self.store.query("SELECT id, search_text FROM chunks WHERE embedding IS NULL")
        if rows:
            vectors = self.embedder.encode_passages([r["search_text"] for r in rows])
            self.store.set_embeddings(zip([r["id"] for r in rows], vectors))

    def _vectors(self, ids: list[int] | None = None) -> tuple[np.ndarray, np.ndarray]:
        self._embed_missing()
        if ids is None:
            rows = self.store.query("SELECT id, embedding FROM chunks ORDER BY id")
        else:  # in parts: SQLite caps the parameters of a statement (a bulk import repaired)
            rows = []
            for at in range(0, len(ids), ID_BATCH):
                part = ids[at:at + ID_BATCH]
                rows += self.store.query(f"SELECT id, embedding FROM chunks WHERE id IN "
                                         f"({','.join('?' * len(part))}) ORDER BY id", part)
        rows = [r for r in rows if r["embedding"] and len(r["embedding"]) == 4 * self.embedder.dim]
        id_arr = np.asarray([r["id"] for r in rows], np.int64)
        vec = (np.frombuffer(b"".join(r["embedding"] for r in rows), "<f4").reshape(-1, self.embedder.dim)
               if rows else np.zeros((0, self.embedder.dim), np.float32))
        return id_arr, vec

    def _check_embedding_dims(self) -> None:
        bad = self.store.query("SELECT COUNT(*) FROM chunks WHERE embedding IS NOT NULL AND "
                               "length(embedding) != ?", (4 * self.embedder.dim,))[0][0]
        if bad:  # the embedder changed: stored vectors belong to another model
            self.store.query("UPDATE chunks SET embedding=NULL")

    def _rebuild_dense(self) -> None:
        self._check_embedding_dims()
        ids, vectors = self._vectors()
        self.dense = DenseIndex.build(ids, vectors, self.embedder.dim)

    def _repair_dense(self) -> None:
        self._check_embedding_dims()
        live = self.store.chunk_ids()
        have = self.dense.ids()
        stale = have - live
        missing = sorted(live - have)
        self.dense.remove(stale)
        if missing:
            ids, vectors = self._vectors(missing)
            self.dense.add(ids, vectors)

    def _rebuild_lexical(self) -> None:
        """Both BM25 indexes from every chunk's text: loaded from the saved file when that
        was built from exactly these chunks by this tokenizer, built afresh otherwise."""
        rows = self.store.query("SELECT id, doc_id, search_text FROM chunks ORDER BY id")
        ids, texts = [r["id"] for r in rows], [r["search_text"] for r in rows]
        hashes = text_hashes(texts)
        if not self._load_lexical(corpus_digest(ids, hashes)):
            self.lexical = LexicalIndex(ids, texts, tokenize, hashes)
            self.chars = LexicalIndex(ids, texts, char_ngrams, hashes)
            self._save_lexical()
        self._set_chunk_docs(np.asarray(ids, np.int64), np.asarray([r["doc_id"] for r in rows], np.int64))

    def _update_lexical(self) -> bool:
        """Both BM25 indexes brought up to the database by chunk id: a chunk id is never
        reused and a chunk's text never changes (a replaced document gets new chunks), so
        the chunks gone are removed and only the new ones are read and tokenised. Returns
        whether anything changed."""
        # (without ORDER BY, SQLite reads the doc_id index, not the whole table: 3x faster)
        rows = self.store.query("SELECT id, doc_id FROM chunks")
        pairs = np.fromiter(itertools.chain.from_iterable(rows), np.int64, 2 * len(rows)).reshape(-1, 2)
        pairs = pairs[np.argsort(pairs[:, 0])]
        live, doc_ids = np.ascontiguousarray(pairs[:, 0]), np.ascontiguousarray(pairs[:, 1])
        have = self.lexical.ids
        gone = np.setdiff1d(have, live, assume_unique=True)
        new = np.setdiff1d(live, have, assume_unique=True).tolist()
        for lexical in (self.lexical, self.chars):
            lexical.remove(gone)
        if new:
            found = []
            for at in range(0, len(new), ID_BATCH):  # (SQLite caps the parameters of a statement)
                part = new[at:at + ID_BATCH]
                found += self.store.query(f"SELECT id, search_text FROM chunks WHERE id IN "
                                          f"({','.join('?' * len(part))}) ORDER BY id", part)
            ids, texts = [r["id"] for r in found], [r["search_text"] for r in found]
            hashes = text_hashes(texts)
            for lexical in (self.lexical, self.chars):
                lexical.add(ids, texts, hashes)
        self._set_chunk_docs(live, doc_ids)
        return bool(len(gone) or new)

    def _set_chunk_docs(self, ids: np.ndarray, doc_ids: np.ndarray) -> None:
        # Which document each chunk (ids ascending) belongs to, for fusion and filters: reading
        # it from the database would be a quarter of a search at 100k chunks (a page per candidate).
        self._chunk_ids, self._chunk_docs = ids, doc_ids
        self._documents = {d.id: d for d in self.store.documents()}
        self._scopes = {}

    def scope_filter(self, scope: Scope | None) -> ScopeFilter | None:
        """What a search from ``scope`` may find, as masks for each index; None when it
        sees every chunk (one school: the region library and its own materials)."""
        if scope is None:
            return None
        with self.lock:
            if scope not in self._scopes:
                seen = [d for d, doc in self._documents.items() if scope.sees(doc)]
                self._scopes[scope] = None if len(seen) == len(self._documents) else ScopeFilter(
                    self._chunk_ids[np.isin(self._chunk_docs, np.asarray(seen, np.int64))])
            return self._scopes[scope]

    def _load_lexical(self, digest: str) -> bool:
        """The saved BM25 indexes, when they were built from exactly these chunks by this
        tokenizer; a missing, stale or damaged file means a rebuild."""
        try:
            with np.load(self.files.lexical, allow_pickle=False) as arrays:
                if str(arrays["digest"]) != digest:
                    return False
                lexical = LexicalIndex.from_state(arrays, "stems_", tokenize)
                chars = LexicalIndex.from_state(arrays, "chars_", char_ngrams)
            if lexical.digest() != digest or chars.digest() != digest:
                raise ValueError("its passages are not those of its digest")
        except FileNotFoundError:
            return False
        except Exception as exc:  # noqa: BLE001 - a damaged file is rebuilt, whatever numpy raises
            log.warning("saved BM25 index is damaged (%s); rebuilding it", exc)
            return False
        self.lexical, self.chars = lexical, chars
        return True

    def _save_lexical(self) -> None:
        """Both indexes with the digest of their passages, derived from the text hashes
        they keep (no text is read again after an incremental change)."""
        tmp = self.files.lexical.with_name("lexical.tmp.npz")
        try:
            np.savez(tmp, digest=np.array(self.lexical.digest()), **self.lexical.state("stems_"),
                     **self.chars.state("chars_"))
            os.replace(tmp, self.files.lexical)
        except OSError as exc:  # a full disk costs the next start a rebuild, nothing more
            log.warning("could not save the BM25 index (%s)", exc)

    def documents_of_chunks(self, ids) -> dict[int, Document]:
        """The document of each candidate chunk id that still exists. From memory while the
        indexes match the database; from the database when another process has changed the
        corpus since (until ``refresh``), so a deleted chunk is never taken for a live one."""
        ids = np.fromiter(ids, np.int64)
        if self.generation != self.store.generation or not len(self._chunk_ids):
            return self.store.documents_of_chunks(ids.tolist())
        at = np.minimum(np.searchsorted(self._chunk_ids, ids), len(self._chunk_ids) - 1)
        found = self._chunk_ids[at] == ids
        docs = self._documents
        return {cid: docs[d] for cid, d in zip(ids[found].tolist(), self._chunk_docs[at[found]].tolist())
                if d in docs}

    def _save(self) -> None:
        """The dense index and its sidecar, which names the corpus generation they match."""
        self.dense.save(self.files.dense)
        self.files.write_meta({"generation": self.generation, "embedder": self.embedder.name,
                               "size": self.dense.size, "sha256": self.files.dense_digest()})

    def refresh(self) -> None:
        """Bring the indexes up to date after a corpus change, by chunk id: the chunks gone
        are removed, and only the new ones are read (and embedded when they are not yet).
        Searches wait for the change in memory, not for the files being written: those
        only read the indexes, and no other change starts before they are written."""
        with self._writing:
            generation = self.store.generation  # read first: a change landing meanwhile is not lost
            if generation == self.generation:
                return
            with self.lock:
                self._repair_dense()
                lexical_changed = self._update_lexical()
                self.generation = generation
            if lexical_changed:  # first: when the dense write fails (full disk), these still match
                self._save_lexical()
            self._save()

    def rebuild(self) -> None:
        with self._writing, self.lock:
            generation = self.store.generation
            self._rebuild_dense()
            self._rebuild_lexical()
            self.generation = generation
            self._save()
