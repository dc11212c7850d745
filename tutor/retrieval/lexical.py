"""BM25 that is updated in place: passages are added and removed by chunk id, and every
score stays exactly what a fresh build over the live passages would give.

The index keeps raw term frequencies and passage lengths, not weights: a weight depends
on the number of passages, the term's document frequency and the mean passage length,
which every upload and delete changes, so weights are computed at query time from the
live statistics (Lucene's variant as bm25s computes it, k1 1.2, b 0.75):

    idf = log(1 + (N - df + 0.5) / (df + 0.5))
    tfc = tf / (tf + k1 (1 - b + b dl / avgdl))

N, df and avgdl count live passages only; dl counts tokens with repeats, and a passage
without a token counts as the single token "∅". The factor ``k1 (1 - b + b dl / avgdl)``
is kept per passage and recomputed (one vector operation) whenever avgdl moves; a removed
passage's is infinite, so its postings weigh nothing until they are dropped.

Postings live in segments, each holding, term by term, the rows of its passages: a build
or an ``add`` appends a segment (only the new texts are tokenised), a ``remove``
tombstones rows and lowers the document frequencies at once. Many small segments merge
among themselves; once the added and removed passages pass a share of the index, a
compaction merges everything into one segment of live passages, without tokenising
anything again.
"""

from __future__ import annotations

import functools
import hashlib
from pathlib import Path

import numpy as np

from tutor.text import langdetect, letters, textnorm
from tutor.text.textnorm import tokenize

K1, B = 1.2, 0.75  # bm25s's defaults
EMPTY = "∅"  # the one token of a passage that has none
BATCH = 10_000  # passages tokenised at a time: bounds the token lists held in memory


def text_hashes(texts) -> np.ndarray:
    """A 64-bit hash of each text: what the index remembers of a passage, so that the
    digest of a saved index can be updated without reading every text again."""
    return np.frombuffer(b"".join(hashlib.blake2b(t.encode("utf-8", "surrogatepass"), digest_size=8).digest()
                                  for t in texts), "<u8").copy()


@functools.cache
def _code_digest() -> bytes:
    h = hashlib.sha256()
    # the tokenizers' code (the character view folds letters through letters.py) and this
    # file, which holds BM25's k1 and b
    for file in (textnorm.__file__, langdetect.__file__, letters.__file__, __file__):
        h.update(Path(file).read_bytes())
    return h.digest()


def corpus_digest(ids, hashes) -> str:
    """What a saved BM25 index must match: every chunk's id and the hash of its text (in
    id order), and the code that turns text into tokens (a changed stemmer or stopword
    list means a rebuild)."""
    ids, hashes = np.asarray(ids, np.int64), np.asarray(hashes, "<u8")
    order = np.argsort(ids, kind="stable")
    h = hashlib.sha256(_code_digest())
    h.update(ids[order].astype("<i8").tobytes())
    h.update(hashes[order].tobytes())
    return h.hexdigest()


class Segment:
    """Postings of some passages, term by term: the ``i``-th term ``terms[i]`` (sorted) is
    held by rows ``rows[starts[i]:starts[i + 1]]`` (ascending), ``tfs`` times each."""

    __slots__ = ("terms", "starts", "rows", "tfs", "lo", "hi")

    def __init__(self, terms: np.ndarray, starts: np.ndarray, rows: np.ndarray, tfs: np.ndarray):
        self.terms, self.starts, self.rows, self.tfs = terms, starts, rows, tfs
        self.lo, self.hi = (int(rows.min()), int(rows.max())) if len(rows) else (0, -1)

    @classmethod
    def of_postings(cls, terms: np.ndarray, rows: np.ndarray, tfs: np.ndarray) -> Segment:
        """From (term, row, tf) triples sorted by term."""
        starts = np.concatenate([[0], np.flatnonzero(np.diff(terms)) + 1, [len(terms)]]).astype(np.int64)
        if not len(terms):
            starts = starts[:1]
        return cls(terms[starts[:-1]].astype(np.int32), starts, rows.astype(np.int32), tfs.astype(np.float32))

    def posting_terms(self) -> np.ndarray:
        return np.repeat(self.terms, np.diff(self.starts))

    @property
    def nbytes(self) -> int:
        return sum(a.nbytes for a in (self.terms, self.starts, self.rows, self.tfs))


def merge(segments: list[Segment], live: np.ndarray) -> Segment:
    """One segment of the postings of live rows. Each segment is already sorted by term,
    so the stable sort (timsort) only merges runs, and rows stay ascending within a term
    because the segments come in row order."""
    terms = np.concatenate([s.posting_terms() for s in segments])
    rows = np.concatenate([s.rows for s in segments])
    tfs = np.concatenate([s.tfs for s in segments])
    keep = live[rows]
    terms, rows, tfs = terms[keep], rows[keep], tfs[keep]
    order = np.argsort(terms, kind="stable")
    return Segment.of_postings(terms[order], rows[order], tfs[order])


class LexicalIndex:
    """BM25 over a token stream: ``tokenize`` (stems) or ``char_ngrams``."""

    compact_share = 0.1  # compact once added-since and removed passages pass this share
    max_segments = 8  # ... and merge the added segments among themselves past this many

    def __init__(self, ids=(), texts=(), tokenizer=tokenize, hashes=None):
        self.tokenizer = tokenizer
        self._vocab: dict[str, int] = {}  # a term's number is its place in the dict
        self._df = np.zeros(0, np.int64)  # live passages holding each term
        self._segments: list[Segment] = []
        self._base_rows = 0  # rows of the first segment; the others hold what was added since
        self._row_ids = np.zeros(0, np.int64)  # chunk id of each row, live or removed
        self._lens = np.zeros(0, np.int64)  # tokens of each row, repeats included
        self._live = np.zeros(0, bool)
        self._hashes = np.zeros(0, "<u8")
        self._n_live = 0
        self._norms = np.zeros(0, np.float32)  # k1 (1 - b + b dl / avgdl); infinite when removed
        self.add(ids, texts, hashes)

    # ------------------------------------------------------------------ changes
    def add(self, ids, texts, hashes=None) -> None:
        """Index new passages; only their texts are tokenised."""
        ids = np.asarray(ids, np.int64)
        if not len(ids):
            return
        texts = list(texts)
        if len(texts) != len(ids):
            raise ValueError(f"{len(ids)} ids for {len(texts)} texts")
        if len(np.unique(ids)) < len(ids) or np.isin(ids, self.ids).any():
            raise ValueError("a chunk id is already in the index")
        hashes = text_hashes(texts) if hashes is None else np.asarray(hashes, "<u8")
        lens = []
        for at in range(0, len(texts), BATCH):
            segment, seg_lens = self._segment_of(texts[at:at + BATCH], len(self._row_ids) + at)
            if not self._segments:
                self._base_rows = len(self._row_ids) + at + len(seg_lens)
            self._segments.append(segment)
            lens.append(seg_lens)
            self._df = np.concatenate([self._df, np.zeros(len(self._vocab) - len(self._df), np.int64)])
            self._df[segment.terms] += np.diff(segment.starts)
        self._row_ids = np.concatenate([self._row_ids, ids])
        self._lens = np.concatenate([self._lens, *lens])
        self._live = np.concatenate([self._live, np.ones(len(ids), bool)])
        self._hashes = np.concatenate([self._hashes, hashes])
        self._n_live += len(ids)
        self._changed()

    def _segment_of(self, texts: list[str], first_row: int) -> tuple[Segment, np.ndarray]:
        tokens = [self.tokenizer(t) or [EMPTY] for t in texts]
        lens = np.fromiter(map(len, tokens), np.int64, len(tokens))
        vocab = self._vocab
        # (a new term gets the next number: len(vocab) is read before setdefault inserts it)
        terms = np.fromiter((vocab.setdefault(t, len(vocab)) for doc in tokens for t in doc),
                            np.int64, int(lens.sum()))
        n = len(tokens)
        # one key per (term, passage) pair: sorted, they come term by term, then by passage
        keys, tfs = np.unique(terms * n + np.repeat(np.arange(n), lens), return_counts=True)
        terms, rows = np.divmod(keys, n)
        return Segment.of_postings(terms, rows + first_row, tfs), lens

    def remove(self, ids) -> None:
        """Tombstone passages by chunk id (unknown ids are ignored): N, df and avgdl stop
        counting them at once; their postings go at the next merge."""
        ids = np.asarray(ids if isinstance(ids, np.ndarray) else list(ids), np.int64)
        rows = np.flatnonzero(self._live & np.isin(self._row_ids, ids))
        if not len(rows):
            return
        gone = np.zeros(len(self._row_ids), bool)
        gone[rows] = True
        for seg in self._segments:
            if seg.hi < rows[0] or seg.lo > rows[-1]:
                continue
            hit = np.flatnonzero(gone[seg.rows])
            if len(hit):  # the term of each posting hit: the span it falls in
                held = seg.terms[np.searchsorted(seg.starts, hit, side="right") - 1]
                self._df -= np.bincount(held, minlength=len(self._df))
        self._live[rows] = False
        self._n_live -= len(rows)
        self._changed()

    def _changed(self) -> None:
        added = len(self._row_ids) - self._base_rows
        removed = len(self._row_ids) - self._n_live
        if added + removed > self.compact_share * self._n_live:
            self.compact()
            return
        if len(self._segments) > self.max_segments:
            self._segments = [self._segments[0]] + self._nonempty([merge(self._segments[1:], self._live)])
        self._set_norms()

    @staticmethod
    def _nonempty(segments: list[Segment]) -> list[Segment]:
        return [s for s in segments if len(s.terms)]

    def compact(self) -> None:
        """One segment of live passages: removed passages and terms no passage holds any
        more are dropped, rows and terms renumbered; no text is tokenised again."""
        live = self._live
        if self._segments:
            seg = merge(self._segments, live)
            keep = self._df > 0
            new_row, new_term = np.cumsum(live) - 1, np.cumsum(keep) - 1
            self._vocab = {w: i for i, w in enumerate(w for w, k in zip(self._vocab, keep.tolist()) if k)}
            self._df = self._df[keep]
            self._segments = self._nonempty([Segment(new_term[seg.terms].astype(np.int32), seg.starts,
                                                     new_row[seg.rows].astype(np.int32), seg.tfs)])
        self._row_ids, self._lens, self._hashes = self._row_ids[live], self._lens[live], self._hashes[live]
        self._live = np.ones(len(self._row_ids), bool)
        self._base_rows = len(self._row_ids)
        self._set_norms()

    def _set_norms(self) -> None:
        if not self._n_live:
            self._norms = np.full(len(self._row_ids), np.inf, np.float32)
            return
        avgdl = self._lens[self._live].sum() / self._n_live
        norms = K1 * ((1 - B) + B * self._lens / avgdl)  # the expression bm25s evaluates
        norms[~self._live] = np.inf
        self._norms = norms.astype(np.float32)

    # ------------------------------------------------------------------ reading
    @property
    def ids(self) -> np.ndarray:
        """The chunk ids of the live passages."""
        return self._row_ids[self._live]

    @property
    def size(self) -> int:
        return self._n_live

    @property
    def segments(self) -> int:
        return len(self._segments)

    @property
    def nbytes(self) -> int:
        rows = (self._row_ids, self._lens, self._live, self._hashes, self._norms, self._df)
        return sum(s.nbytes for s in self._segments) + sum(a.nbytes for a in rows)

    def digest(self) -> str:
        """``corpus_digest`` of the live passages, from the hashes kept beside the postings."""
        return corpus_digest(self._row_ids[self._live], self._hashes[self._live])

    def vocabulary(self) -> tuple[list[str], np.ndarray]:
        """Every term, and how many live passages hold it."""
        return list(self._vocab), self._df

    @property
    def vocabulary_size(self) -> int:
        return len(self._vocab)

    def doc_freq(self, token: str) -> int:
        """How many passages hold ``token``."""
        at = self._vocab.get(token)
        return int(self._df[at]) if at is not None else 0

    def idf(self, token: str) -> float:
        """Inverse document frequency; a word the corpus never uses weighs the most."""
        n = max(self.size, 1)
        return float(np.log(1 + n / (self.doc_freq(token) + 0.5)))

    def _scores(self, terms: np.ndarray) -> np.ndarray:
        """BM25 score of every row: the postings of the query's terms in every segment (a
        repeated term counts again, as in bm25s), weighted from the live statistics and
        summed by ``np.bincount`` (5-10x faster than bm25s's ``np.add.at`` at 100k)."""
        df = self._df[terms]
        idf = np.log(1 + (self._n_live - df + 0.5) / (df + 0.5)).astype(np.float32)
        rows, tfs, spans = [], [], []
        for seg in self._segments:
            at = np.minimum(np.searchsorted(seg.terms, terms), len(seg.terms) - 1)
            for j in np.flatnonzero(seg.terms[at] == terms).tolist():
                lo, hi = seg.starts[at[j]], seg.starts[at[j] + 1]
                rows.append(seg.rows[lo:hi])
                tfs.append(seg.tfs[lo:hi])
                spans.append(j)
        if not rows:
            return np.zeros(len(self._row_ids))
        rows, tf = np.concatenate(rows), np.concatenate(tfs)
        weight = np.repeat(idf[spans], [len(r) for r in tfs]) * (tf / (tf + self._norms[rows]))
        return np.bincount(rows, weights=weight, minlength=len(self._row_ids))

    @property
    def rows(self) -> int:
        """Rows, live or removed (a row mask fits while this stays)."""
        return len(self._row_ids)

    def rows_of(self, ids: np.ndarray) -> np.ndarray:
        """A mask over the rows: True where the row's chunk id is among ``ids``."""
        return np.isin(self._row_ids, ids)

    def search(self, query: str, k: int, synonyms=(), rows: np.ndarray | None = None
               ) -> tuple[np.ndarray, np.ndarray]:
        """The ``k`` best passages holding a query token, best first: (scores, chunk ids).
        ``rows``: a mask from ``rows_of``; the other rows score 0 (a class searching only
        what it may see still gets its own ``k``). Statistics stay those of every passage.

        ``synonyms``: for each group of equivalent forms the question names (an
        abbreviation and the words it stands for), the form the question uses and all the
        group's forms. The tokens of the question's form score as one slot: as many tokens
        as it has, each worth the mean token score of whichever form a passage holds best.
        So "жасанды интеллект" in a question meets "ЖИ" in a passage as fully as its own
        two words, and a passage holding both forms gains nothing over one holding either."""
        empty = np.zeros(0, np.float32), np.zeros(0, np.int64)
        if not self._n_live:
            return empty
        vocab = self._vocab
        tokens = self.tokenizer(query)
        slots = []
        for own, forms in synonyms:
            taken = 0
            for t in self._form_tokens(query, own):
                if t in tokens:
                    tokens.remove(t)
                    taken += 1
            alternatives = [ts for ts in (self._form_tokens(query, f) for f in forms) if ts]
            if taken and alternatives:
                slots.append((taken, alternatives))
        known = [vocab[t] for t in tokens if t in vocab]
        if not known and not any(t in vocab for _, alts in slots for ts in alts for t in ts):
            return empty
        scores = self._scores(np.asarray(known, np.int64)) if known else np.zeros(len(self._row_ids))
        for taken, alternatives in slots:
            best = np.zeros(len(self._row_ids))
            for ts in alternatives:
                terms = [vocab[t] for t in ts if t in vocab]
                if terms:
                    np.maximum(best, self._scores(np.asarray(terms, np.int64)) / len(ts), out=best)
            scores += taken * best
        if rows is not None:
            scores = np.where(rows, scores, 0.0)
        k = min(k, len(scores))
        top = np.argpartition(-scores, k - 1)[:k]
        top = top[np.argsort(-scores[top], kind="stable")]
        top = top[scores[top] > 0]  # a removed passage scores 0
        return scores[top].astype(np.float32), self._row_ids[top]

    def _form_tokens(self, query: str, form: str) -> list[str]:
        """The tokens of ``form`` as they would stand in ``query``: tokenised after it, so
        that it is read in the question's language (a stemmer depends on it)."""
        return self.tokenizer(f"{query} {form}")[len(self.tokenizer(query)):]

    # -------------------------------------------------------------- persistence
    def state(self, prefix: str) -> dict[str, np.ndarray]:
        """The arrays of the index, named with ``prefix``, for ``np.savez`` (each segment's
        own arrays: no copy of a large index)."""
        arrays = {"ids": self._row_ids, "lens": self._lens, "live": self._live, "hashes": self._hashes,
                  "vocab": np.array(list(self._vocab), dtype=str), "df": self._df,
                  "base": np.array(self._base_rows, np.int64), "segments": np.array(len(self._segments))}
        for i, seg in enumerate(self._segments):
            arrays.update({f"s{i}_terms": seg.terms, f"s{i}_starts": seg.starts, f"s{i}_rows": seg.rows,
                           f"s{i}_tfs": seg.tfs})
        return {prefix + name: a for name, a in arrays.items()}

    @classmethod
    def from_state(cls, arrays, prefix: str, tokenizer) -> LexicalIndex:
        """The index ``state`` saved, without tokenising a single passage. Arrays that do
        not fit together raise ValueError."""
        self = cls(tokenizer=tokenizer)
        self._row_ids, self._lens = arrays[prefix + "ids"].astype(np.int64), arrays[prefix + "lens"].astype(np.int64)
        self._live, self._hashes = arrays[prefix + "live"].astype(bool), arrays[prefix + "hashes"].astype("<u8")
        self._vocab = {w: i for i, w in enumerate(arrays[prefix + "vocab"].tolist())}
        self._df, self._base_rows = arrays[prefix + "df"].astype(np.int64), int(arrays[prefix + "base"])
        n_rows, n_terms = len(self._row_ids), len(self._vocab)
        fits = (len(self._lens) == len(self._live) == len(self._hashes) == n_rows and len(self._df) == n_terms
                and 0 <= self._base_rows <= n_rows)
        for i in range(int(arrays[prefix + "segments"])):
            seg = Segment(*(arrays[f"{prefix}s{i}_{name}"] for name in ("terms", "starts", "rows", "tfs")))
            fits = fits and (len(seg.starts) == len(seg.terms) + 1 > 1 and seg.starts[0] == 0
                             and seg.starts[-1] == len(seg.rows) == len(seg.tfs) and 0 <= seg.lo <= seg.hi < n_rows
                             and 0 <= seg.terms[0] and seg.terms[-1] < n_terms)
            self._segments.append(seg)
        if not fits:
            raise ValueError("the saved BM25 arrays do not fit together")
        self._n_live = int(self._live.sum())
        self._set_norms()
        return self
