"""Evaluation pools: a throw-away store and index over an external corpus, with the
bundled curriculum mixed in as distractors."""

from __future__ import annotations

import hashlib
import tempfile
from dataclasses import dataclass, replace
from functools import cached_property
from pathlib import Path

from tutor.evaluation.baselines import DEPTH, PlainBM25, reciprocal_rank_fusion
from tutor.ingest.chunking import chunk_blocks
from tutor.ingest.readers import Block, read_markdown
from tutor.retrieval.hybrid import Retriever
from tutor.retrieval.indexes import SearchIndex
from tutor.store import Document, Store


@dataclass
class PoolDoc:
    key: str
    title: str
    text: str = ""
    lang: str = ""
    subject: str = ""
    policy: str = "reference"
    grade: int | None = None
    blocks: list[Block] | None = None


def external_docs(corpus: list[dict], prefix: str, lang: str) -> list[PoolDoc]:
    """An external data set's passages as pool documents, keyed ``prefix + id``."""
    return [PoolDoc(prefix + d["id"], d.get("title", ""), d["text"], lang) for d in corpus]


def bundled_docs(corpus_dir: Path) -> list[PoolDoc]:
    docs = []
    for path in sorted(corpus_dir.rglob("*.md")):
        parsed = read_markdown(path.read_bytes())
        m = parsed.meta
        grade = int(m["grade"]) if str(m.get("grade", "")).isdigit() else None
        docs.append(PoolDoc(path.relative_to(corpus_dir).with_suffix("").as_posix(), parsed.title,
                            lang=m.get("lang", ""), subject=m.get("subject", ""),
                            policy=m.get("policy", "reference"), grade=grade, blocks=parsed.blocks))
    return docs


class Pool:
    """Owns a temporary folder; close() removes it."""

    def __init__(self, docs: list[PoolDoc], embedder, progress: bool = False, params=None):
        self._tmp = tempfile.TemporaryDirectory(prefix="ustaz-eval-")
        folder = Path(self._tmp.name)
        self.store = Store(folder / "pool.sqlite3")
        all_chunks = []
        for doc in docs:
            blocks = doc.blocks if doc.blocks is not None else [Block(doc.text)]
            chunks = chunk_blocks(doc.title, blocks)
            all_chunks.append((doc, chunks))
        texts = [c.search_text for _, chunks in all_chunks for c in chunks]
        vectors = embedder.encode_passages(texts, progress=progress)
        at = 0
        for doc, chunks in all_chunks:
            d = Document(doc_key=doc.key, title=doc.title, subject=doc.subject, grade=doc.grade,
                         lang=doc.lang, policy=doc.policy,
                         content_hash=hashlib.sha1(doc.key.encode()).hexdigest())
            self.store.put_document(d, chunks, vectors[at:at + len(chunks)])
            at += len(chunks)
        self.index = SearchIndex(self.store, embedder, folder / "index")
        self.index.open()
        self.retriever = Retriever(self.index, params)
        self.size = len(texts)

    def ranked_docs(self, query: str, k: int = 10, params=None, filters=None) -> list[str]:
        result = self.retriever.search(query, k=k * 4, params=params, filters=filters)
        seen: list[str] = []
        for hit in result.hits:
            key = hit.chunk.doc.doc_key
            if key not in seen:
                seen.append(key)
            if len(seen) == k:
                break
        return seen

    @cached_property
    def plain_bm25(self) -> PlainBM25:
        rows = self.store.query("SELECT id, search_text FROM chunks ORDER BY id")
        return PlainBM25([r[0] for r in rows], [r[1] for r in rows])

    def rrf_ranked_docs(self, query: str, k: int = 10, params=None, filters=None) -> list[str]:
        """Documents in the order of the RAG-app hybrid (``baselines``): the pool's dense
        ranking and the plain BM25 fused by reciprocal rank over chunks, then ranked like
        ``ranked_docs``."""
        dense = replace(params or self.retriever.params, mode="dense")
        dense_ids = [h.chunk.id for h in self.retriever.search(query, DEPTH, filters, dense).hits]
        bm25_ids = self.plain_bm25.search(query, DEPTH * (4 if filters and filters.active else 1))[0]
        owners = self.store.documents_of_chunks(set(dense_ids) | set(bm25_ids.tolist()))
        # filtered as the retriever filters its own candidates
        bm25_ids = [c for c in bm25_ids.tolist()
                    if c in owners and (filters is None or filters.accepts_document(owners[c]))]
        seen: list[str] = []
        for cid in reciprocal_rank_fusion([dense_ids, bm25_ids[:DEPTH]]):
            key = owners[cid].doc_key
            if key not in seen:
                seen.append(key)
            if len(seen) == k:
                break
        return seen

    def close(self) -> None:
        self.store.close()
        self._tmp.cleanup()
