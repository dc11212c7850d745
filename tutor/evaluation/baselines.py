"""The hybrid search other RAG apps ship, as a baseline for the retrieval tasks: a plain
BM25 and the dense ranking fused by reciprocal rank (Open WebUI's and kotaemon's hybrid
search, LangChain's ``EnsembleRetriever``)."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Hashable, Iterable

import numpy as np

RRF_K = 60
DEPTH = 100  # candidates taken from each ranking before fusing

_WORD = re.compile(r"\w+")


def plain_tokens(text: str) -> list[str]:
    return _WORD.findall(text.lower())


class PlainBM25:
    """Okapi BM25 over lowercased words (Unicode ``\\w+``), with no stemming, synonyms or
    stopwords. k1 1.5, b 0.75 and the idf are rank_bm25's ``BM25Okapi``, which Open WebUI
    runs through LangChain's ``BM25Retriever``: idf = ln((N - df + 0.5) / (df + 0.5)), and a
    word in more than half the passages weighs 0.25 x the mean idf rather than negatively.
    (LangChain's own default splits on whitespace alone; the words here are the issue's.)
    Built once over a pool's texts as postings per word; a query sums the postings of its
    words with ``np.bincount``."""

    def __init__(self, ids: Iterable[int], texts: list[str], k1: float = 1.5, b: float = 0.75,
                 epsilon: float = 0.25):
        self.ids = np.asarray(list(ids), np.int64)
        self.vocab: dict[str, int] = {}
        rows, cols, tfs = [], [], []
        lengths = np.zeros(len(texts), np.float64)
        for row, text in enumerate(texts):
            counts = Counter(plain_tokens(text))
            lengths[row] = sum(counts.values())
            for word, tf in counts.items():
                rows.append(row)
                cols.append(self.vocab.setdefault(word, len(self.vocab)))
                tfs.append(tf)
        n = len(texts)
        rows_a, cols_a, tf = np.array(rows, np.int64), np.array(cols, np.int64), np.array(tfs, np.float64)
        df = np.bincount(cols_a, minlength=len(self.vocab))
        idf = np.log(n - df + 0.5) - np.log(df + 0.5)
        if len(idf):
            idf[idf < 0] = epsilon * idf.mean()
        avgdl = lengths.sum() / n if n else 1.0
        norm = k1 * (1 - b + b * lengths[rows_a] / (avgdl or 1.0))
        weights = idf[cols_a] * tf * (k1 + 1) / (tf + norm)
        order = np.argsort(cols_a, kind="stable")
        self._rows, self._weights = rows_a[order], weights[order]
        self._starts = np.concatenate([[0], np.cumsum(df)])

    def scores(self, query: str) -> np.ndarray:
        """One score per passage; a repeated query word counts again, as in rank_bm25."""
        counts = Counter(self.vocab[w] for w in plain_tokens(query) if w in self.vocab)
        if not counts:
            return np.zeros(len(self.ids))
        spans = [slice(self._starts[c], self._starts[c + 1]) for c in counts]
        rows = np.concatenate([self._rows[s] for s in spans])
        weights = np.concatenate([self._weights[s] * q for s, q in zip(spans, counts.values())])
        return np.bincount(rows, weights=weights, minlength=len(self.ids))

    def search(self, query: str, k: int) -> tuple[np.ndarray, np.ndarray]:
        """The ``k`` best passage ids and their scores, best first. Passages that share no
        word with the query are left out rather than ranked in storage order."""
        scores = self.scores(query)
        order = np.argsort(-scores, kind="stable")[:k]
        order = order[scores[order] > 0]
        return self.ids[order], scores[order]


def reciprocal_rank_fusion(rankings: list[list[Hashable]], k: int = RRF_K) -> list[Hashable]:
    """Items by the sum over rankings of 1 / (k + rank), rank counted from 1 (Cormack et al.
    2009); an item missing from a ranking adds nothing for it."""
    fused: dict[Hashable, float] = {}
    for ranking in rankings:
        for rank, item in enumerate(ranking, start=1):
            fused[item] = fused.get(item, 0.0) + 1.0 / (k + rank)
    return sorted(fused, key=fused.__getitem__, reverse=True)
