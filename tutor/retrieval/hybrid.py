"""Hybrid retrieval: dense and BM25 candidates fused by weighted reciprocal rank,
filtered by document metadata, with an evidence score for abstention."""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field

import numpy as np

from tutor.retrieval.synonyms import SynonymTable, bundled_table
from tutor.scopes import Scope
from tutor.store import Chunk
from tutor.text.langdetect import detect_language
from tutor.text.textnorm import LetterRestorer, content_words, may_lack_kazakh_letters, tokenize, word_ngrams

MAX_QUERY_CHARS = 2000


@dataclass
class Filters:
    lang: str = ""
    subject: str = ""
    grade: int | None = None
    policies: tuple[str, ...] = ()
    # the student's class and school: searched inside the indexes (SearchIndex.scope_filter),
    # checked again here on every candidate's document; None for tools that see every document
    scope: Scope | None = None

    def accepts(self, chunk: Chunk) -> bool:
        return self.accepts_document(chunk.doc)

    def accepts_document(self, d) -> bool:
        if d is None:
            return False
        if self.scope is not None and not self.scope.sees(d):
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
    evidence: dict[str, float] = field(default_factory=dict)  # what the confidence was computed from

    @property
    def has_evidence(self) -> bool:
        return bool(self.hits) and self.confidence >= 0.5


@dataclass
class FusionParams:
    """Score fusion: each list's scores are min-max normalised per query and summed with
    these weights (dense, stem BM25, character 5-gram BM25). Chosen on the bundled QA set:
    docs/decisions/2026-11-29-fusion-weights.md."""

    mode: str = "hybrid"  # hybrid, dense, lexical (stem BM25 alone)
    dense_weight: float = 0.35
    lexical_weight: float = 0.35
    chars_weight: float = 0.30
    candidates: int = 100
    lang_bonus: float = 0.05  # added to passages in the student's language
    # Multiplies both lexical lists' share for passages in another language than the
    # question: shared words across kk/ru are mostly names and numbers, so their scores
    # there are noise next to the dense similarity (docs/decisions/2026-11-29-fusion-weights.md).
    cross_lexical: float = 0.5
    # Logistic evidence model on evidence_features(), fitted on the bundled QA set's
    # answerable vs unanswerable questions by scripts/calibrate_abstention.py; another
    # embedder gets its own (tutor models --calibrate).
    # Features, fit and figures: docs/decisions/2026-12-01-evidence-model.md
    conf_bias: float = -19.57
    conf_dense: float = 20.38
    conf_coverage: float = 3.53
    conf_lexical: float = 0.65
    conf_unknown: float = -5.38
    conf_unknown_max: float = -0.34


class Retriever:
    def __init__(self, index, params: FusionParams | None = None, synonyms: SynonymTable | None = None):
        self.index = index
        # abbreviations and the words they stand for (synonyms.toml), read by the lexical views
        self.synonyms = bundled_table() if synonyms is None else synonyms
        # an embedder may bring its own evidence calibration (cosine scales differ by model)
        calibration = getattr(getattr(index, "embedder", None), "calibration", None) or {}
        self.params = params or FusionParams(**calibration)
        self._restorer: tuple[object, int, LetterRestorer] | None = None

    def restore_letters(self, query: str) -> str:
        """``query`` with the Kazakh letters a Russian keyboard lacks put back, when it is
        Kazakh typed without them (``textnorm.LetterRestorer``); otherwise ``query``. The
        restorer is built from the BM25 vocabulary when first needed (0.5 s for 290,000
        terms), and again once the vocabulary has grown or shrunk by 1%."""
        lexical = getattr(self.index, "lexical", None)
        if lexical is None or not may_lack_kazakh_letters(query):
            return query
        with self.index.lock:
            size = lexical.vocabulary_size
            if (self._restorer is None or self._restorer[0] is not lexical
                    or abs(size - self._restorer[1]) > 0.01 * self._restorer[1]):
                self._restorer = (lexical, size, LetterRestorer(lexical))
            return self._restorer[2].restore(query)

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
        restored = self.restore_letters(query)
        if restored != query:
            query = restored
            notes.append("kazakh_letters_restored")
        n = p.candidates * (4 if filters.active else 1)
        index = self.index
        empty = (np.zeros(0, np.float32), np.zeros(0, np.int64))
        dense = lexical = chars = empty
        if p.mode in ("hybrid", "dense"):
            qv = index.embedder.encode_queries([query])[0]
        # The lexical views also match the other forms of an abbreviation or term the
        # question names ("жасанды интеллект" meets "ЖИ"); dense and evidence read the question.
        named = self.synonyms.named(query) if p.mode != "dense" else []
        with index.lock:
            scoped = index.scope_filter(filters.scope) if hasattr(index, "scope_filter") else None
            if p.mode in ("hybrid", "dense"):
                dense = index.dense.search(qv, n, scoped.selector if scoped else None)
            if p.mode in ("hybrid", "lexical"):
                lexical = index.lexical.search(query, n, named, scoped.rows(index.lexical) if scoped else None)
            if p.mode == "hybrid" and index.chars is not None:
                chars = index.chars.search(query, n, named, scoped.rows(index.chars) if scoped else None)
        ids = set(dense[1].tolist()) | set(lexical[1].tolist()) | set(chars[1].tolist())
        # Fusion needs each candidate's document only; texts are read for the top k.
        # (A chunk missing from the store was deleted since the index was written.)
        docs = {cid: d for cid, d in index.documents_of_chunks(ids).items()
                if filters.accepts_document(d)}
        single = p.mode != "hybrid"
        query_lang = detect_language(query) if p.cross_lexical != 1.0 and not single else ""
        foreign = {cid for cid, d in docs.items() if query_lang and d.lang not in ("", query_lang)}
        # Plain dicts while fusing (a few hundred candidates); Hit objects for the top k only.
        total: dict[int, float] = {}
        raw: dict[str, dict[int, float]] = {"dense": {}, "lexical": {}}
        ranks: dict[str, dict[int, int]] = {"dense": {}, "lexical": {}}

        def add(values, ids, kind, weight, cross=1.0):
            keep = [(cid, s) for cid, s in zip(ids.tolist(), values.tolist()) if cid in docs]
            if not keep:
                return
            low = min(s for _, s in keep)
            span = max(s for _, s in keep) - low
            for rank, (cid, score) in enumerate(keep, start=1):
                w = weight * cross if cid in foreign else weight
                total[cid] = total.get(cid, 0.0) + w * ((score - low) / span if span > 0 else 1.0)
                if kind in raw:
                    raw[kind][cid] = score
                    ranks[kind][cid] = rank

        add(*dense, "dense", 1.0 if single else p.dense_weight)
        add(*lexical, "lexical", 1.0 if single else p.lexical_weight, p.cross_lexical)
        add(*chars, "chars", p.chars_weight, p.cross_lexical)
        if prefer_lang:
            for cid in total:
                if docs[cid].lang == prefer_lang:
                    total[cid] += p.lang_bonus
        top = sorted(total, key=total.__getitem__, reverse=True)[:k]
        chunks = index.store.chunks_by_ids(top)
        ranked = [Hit(chunks[cid], total[cid], raw["dense"].get(cid), raw["lexical"].get(cid),
                      ranks["dense"].get(cid), ranks["lexical"].get(cid))
                  for cid in top if cid in chunks]
        if not ranked:
            return SearchResult(query, ranked, 0.0, notes)
        f = evidence_features(query, ranked, index.lexical, index.chars)
        return SearchResult(query, ranked, self._confidence(f, p), notes, f)

    @staticmethod
    def _confidence(f: dict[str, float], p: FusionParams) -> float:
        z = (p.conf_bias + p.conf_dense * f["dense"] + p.conf_coverage * f["coverage"]
             + p.conf_lexical * f["lexical"] + p.conf_unknown * f["unknown"]
             + p.conf_unknown_max * f["unknown_max"])
        return 1.0 / (1.0 + math.exp(-z))


def evidence_features(query: str, hits: list[Hit], lexical, chars=None) -> dict[str, float]:
    """What the evidence model looks at: the best dense cosine of the top 3 passages, the
    IDF-weighted share of the question's stems found in the best of them (a rare word the
    corpus lacks, such as "football", weighs most), the best BM25 score per question
    stem (length-normalised, so short questions are not penalised), and how unknown the
    question's words are to the whole corpus (``word_unknown_shares``): on average and for its
    least known word (one name the materials never use, "Кенесары", "Архимед", in an
    otherwise ordinary question about a topic next to theirs)."""
    q = list(dict.fromkeys(tokenize(query)))
    top = hits[:3]
    dense = max((h.dense or 0.0) for h in top)
    shares = word_unknown_shares(query, chars) if chars is not None else []
    unknown = sum(shares) / len(shares) if shares else 0.0
    unknown_max = max(shares, default=0.0)
    if not q:
        return {"dense": dense, "coverage": 0.0, "lexical": 0.0, "unknown": unknown,
                "unknown_max": unknown_max}
    weights = {t: lexical.idf(t) for t in q}
    total = sum(weights.values()) or 1.0
    passages = [passage_stems(h.chunk.search_text) for h in top]
    coverage = max(sum(w for t, w in weights.items() if t in words) for words in passages) / total
    best_lexical = max((h.lexical or 0.0) for h in top)
    return {"dense": dense, "coverage": coverage, "lexical": best_lexical / len(q), "unknown": unknown,
            "unknown_max": unknown_max}


def word_unknown_shares(query: str, chars) -> list[float]:
    """For each content word of the question, the share of its character 5-grams that no
    passage of the corpus holds: 1 for a word the materials never use ("Jupiter", "Java"),
    about 0.2 for a known word with one typo, 0 for a known word. A question about a
    topic the corpus lacks names things the corpus never mentions; the dense cosine alone
    cannot tell, because e5's cosines sit in a narrow band for any question. Counted on
    5-grams rather than stems so that a misspelt word stays mostly known. The evidence
    model takes their mean and their largest."""
    if chars.size == 0:
        return []
    shares = []
    for word in content_words(query):
        grams = word_ngrams(word, 5)
        shares.append(sum(chars.doc_freq(g) == 0 for g in grams) / len(grams))
    return shares


@functools.lru_cache(maxsize=4096)
def passage_stems(text: str) -> frozenset[str]:
    """The stems of a passage, remembered: the same top passages come back for the
    questions of a whole class, and stemming them again would be a third of a search."""
    return frozenset(tokenize(text))


def query_coverage(query: str, text: str) -> float:
    """Share of the query's content stems that occur in the text."""
    q = set(tokenize(query))
    if not q:
        return 0.0
    return len(q & set(tokenize(text))) / len(q)
