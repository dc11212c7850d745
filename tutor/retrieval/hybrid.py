"""Hybrid retrieval: dense and BM25 candidates fused by weighted reciprocal rank,
filtered by document metadata, with an evidence score for abstention."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from tutor.store import Chunk

MAX_QUERY_CHARS = 2000


@dataclass
class Filters:
    lang: str = ""
    subject: str = ""
    grade: int | None = None
    policies: tuple[str, ...] = ()

    def accepts(self, chunk: Chunk) -> bool:
        d = chunk.doc
        if d is None:
            return False
        if self.lang and d.lang != self.lang:
            return False
        if self.subject and d.subject != self.subject:
            return False
        if self.grade is not None and d.grade is not None and d.grade > self.grade:
            return False
        if self.policies and d.policy not in self.policies:
            return False
        return True

    @property
    def active(self) -> bool:
        return bool(self.lang or self.subject or self.grade is not None or self.policies)


@dataclass
class Hit:
    chunk: Chunk
    score: float
    dense: float | None = None
    lexical: float | None = None
    dense_rank: int | None = None
    lexical_rank: int | None = None


@dataclass
class SearchResult:
    query: str
    hits: list[Hit]
    confidence: float = 0.0
    notes: list[str] = field(default_factory=list)

    @property
    def has_evidence(self) -> bool:
        return bool(self.hits) and self.confidence >= 0.5


@dataclass
class FusionParams:
    mode: str = "hybrid"  # hybrid, dense, lexical
    dense_weight: float = 1.0
    lexical_weight: float = 1.0
    rrf_k: float = 60.0
    candidates: int = 50
    lang_bonus: float = 0.5  # in top-rank votes, for passages in the student's language
    # Logistic evidence model on (best dense cosine of the top 3, share of the query's
    # stems found in the top passage, best BM25 score of the top 3), fitted on the bundled
    # QA set's answerable vs unanswerable questions by scripts/calibrate_abstention.py.
    conf_bias: float = -11.24
    conf_dense: float = 6.07
    conf_coverage: float = 0.98
    conf_lexical: float = 1.01


class Retriever:
    def __init__(self, index, params: FusionParams | None = None):
        self.index = index
        self.params = params or FusionParams()

    def search(self, query: str, k: int = 5, filters: Filters | None = None,
               params: FusionParams | None = None, prefer_lang: str = "") -> SearchResult:
        p = params or self.params
        filters = filters or Filters()
        notes = []
        query = " ".join(query.split())
        if len(query) > MAX_QUERY_CHARS:
            query = query[:MAX_QUERY_CHARS]
            notes.append("query_truncated")
        if not any(ch.isalnum() for ch in query):
            return SearchResult(query, [], 0.0, notes + ["empty_query"])
        n = p.candidates * (4 if filters.active else 1)
        index = self.index
        with index.lock:
            dense_scores, dense_ids = (np.zeros(0), np.zeros(0, np.int64))
            lex_scores, lex_ids = (np.zeros(0), np.zeros(0, np.int64))
            if p.mode in ("hybrid", "dense"):
                qv = index.embedder.encode_queries([query])[0]
                dense_scores, dense_ids = index.dense.search(qv, n)
            if p.mode in ("hybrid", "lexical"):
                lex_scores, lex_ids = index.lexical.search(query, n)
        chunks = index.store.chunks_by_ids(set(dense_ids.tolist()) | set(lex_ids.tolist()))
        hits: dict[int, Hit] = {}

        def add(ids, scores, kind):
            rank = 0
            for cid, score in zip(ids.tolist(), scores.tolist()):
                chunk = chunks.get(cid)
                if chunk is None or not filters.accepts(chunk):
                    continue  # deleted since the index was written, or filtered out
                rank += 1
                hit = hits.setdefault(cid, Hit(chunk, 0.0))
                weight = p.dense_weight if kind == "dense" else p.lexical_weight
                hit.score += weight / (p.rrf_k + rank)
                setattr(hit, kind, float(score))
                setattr(hit, kind + "_rank", rank)

        add(dense_ids, dense_scores, "dense")
        add(lex_ids, lex_scores, "lexical")
        if prefer_lang:
            for hit in hits.values():
                if hit.chunk.doc.lang == prefer_lang:
                    hit.score += p.lang_bonus / (p.rrf_k + 1)
        ranked = sorted(hits.values(), key=lambda h: h.score, reverse=True)[:k]
        confidence = self._confidence(query, ranked, p)
        return SearchResult(query, ranked, confidence, notes)

    def _confidence(self, query: str, hits: list[Hit], p: FusionParams) -> float:
        if not hits:
            return 0.0
        top_dense = max((h.dense or 0.0) for h in hits[:3])
        top_lexical = max((h.lexical or 0.0) for h in hits[:3])
        coverage = query_coverage(query, hits[0].chunk.search_text)
        z = (p.conf_bias + p.conf_dense * top_dense + p.conf_coverage * coverage
             + p.conf_lexical * top_lexical)
        return 1.0 / (1.0 + math.exp(-z))


def query_coverage(query: str, text: str) -> float:
    """Share of the query's content stems that occur in the text."""
    from tutor.retrieval.textnorm import tokenize

    q = set(tokenize(query))
    if not q:
        return 0.0
    return len(q & set(tokenize(text))) / len(q)
