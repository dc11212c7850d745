"""``tutor bench retrieval --scopes``: a region installation. A shared library of region
chunks and many classes with their own chunks; each question is asked from one class, whose
search sees the region library, its school's and its own chunks only (masks inside faiss and
BM25). Reports the class's query latency, the cost of a class's first search after a corpus
change (its masks are made then), the recall of the scoped dense search against exact search
over what the class sees, leaks (always 0 or the bench fails) and memory."""

from __future__ import annotations

import gc
import logging
import random
import time
from pathlib import Path

import numpy as np

from tutor.bench.measure import RssSampler, latency, machine_info, rss_bytes, threads_of, timed
from tutor.bench.report import Report
from tutor.bench.retrieval import SyntheticCorpus, fill_store, recall
from tutor.bench.synthetic import corpus_docs
from tutor.evaluation.datasets import bundled_items
from tutor.migrate import new_class_code
from tutor.models import apply_offline
from tutor.retrieval.hybrid import Filters, Retriever
from tutor.retrieval.indexes import SearchIndex
from tutor.runtime import load_embedder
from tutor.scopes import Scope
from tutor.store import Store

log = logging.getLogger(__name__)

CLASSES_PER_SCHOOL = 10


def fill(store: Store, corpus: SyntheticCorpus, region: int, classes: int, per_class: int) -> list[Scope]:
    """Region documents first, then each class's; returns the classes' scopes."""
    now = time.time()
    scopes = []
    with store.transaction() as db:
        for c in range(classes):
            if c % CLASSES_PER_SCHOOL == 0:
                school = db.execute("INSERT INTO schools (name, created) VALUES (?, ?)",
                                    (f"bench-school-{c // CLASSES_PER_SCHOOL}", now)).lastrowid
            klass = db.execute("INSERT INTO classes (school_id, name, code, created) VALUES (?,?,?,?)",
                               (school, f"class-{c}", new_class_code(), now)).lastrowid
            scopes.append(Scope(school, klass))
    fill_store(store, corpus, region)
    for i, scope in enumerate(scopes):
        fill_store(store, corpus, per_class, region + i * per_class, scope.school_id, scope.class_id)
    return scopes


def exact_scoped(index: SearchIndex, vectors: dict[int, np.ndarray], scope: Scope, qv: np.ndarray,
                 k: int) -> list[int]:
    """The ``k`` chunk ids nearest to ``qv`` among those ``scope`` sees, by brute force."""
    ids = index.scope_filter(scope).ids
    mat = np.stack([vectors[i] for i in ids.tolist()])
    return ids[np.argsort(-(mat @ qv))[:k]].tolist()


def run(settings, folder: Path, quick: bool = False) -> Report:
    import faiss
    import torch

    apply_offline(settings)
    threads = threads_of(settings)
    torch.set_num_threads(threads)
    faiss.omp_set_num_threads(threads)
    report = Report("retrieval-scopes", quick, machine_info(threads), flags="--scopes")
    region, classes, per_class, n_queries, n_real = ((2_000, 20, 100, 10, 64) if quick
                                                     else (50_000, 200, 500, 100, 1_200))
    embedder = load_embedder(settings)
    uncached = getattr(embedder, "inner", embedder)
    corpus = SyntheticCorpus(corpus_docs(settings.corpus_dir), uncached, n_real)
    total = region + classes * per_class
    corpus.grow(total)
    store = Store(folder / "scopes.sqlite3")
    fill_s, scopes = timed(fill, store, corpus, region, classes, per_class)
    gc.collect()
    before = rss_bytes()
    index = SearchIndex(store, uncached, folder / "scopes-index")
    with RssSampler() as sampler:
        open_s, _ = timed(index.open)
    gc.collect()
    index_bytes = rss_bytes() - before
    retriever = Retriever(index)
    items = [r for r in bundled_items("answerable") if r["lang"] in ("kk", "ru")]
    rng = random.Random(1)
    queries = [r["question"] for r in rng.sample(items, min(n_queries, len(items)))]
    asked_from = [rng.choice(scopes) for _ in queries]

    first, leaks = [], 0
    for q, scope in zip(queries, asked_from):  # each class's first search makes its masks
        seconds, result = timed(retriever.search, q, 10, Filters(scope=scope))
        first.append(seconds)
        leaks += sum(not scope.sees(h.chunk.doc) for h in result.hits)
    scoped, unscoped = [], []
    for _ in range(1 if quick else 3):
        for q, scope in zip(queries, asked_from):
            seconds, result = timed(retriever.search, q, 10, Filters(scope=scope))
            scoped.append(seconds)
            leaks += sum(not scope.sees(h.chunk.doc) for h in result.hits)
            unscoped.append(timed(retriever.search, q, 10)[0])
    # the same searches with the question vectors already made (the app keeps recent ones):
    # what the scope masks and the fusion cost beyond the embedding
    index.embedder = KnownQueries(uncached)
    for q, scope in zip(queries, asked_from):
        retriever.search(q, 10, Filters(scope=scope))
    known = [timed(retriever.search, q, 10, Filters(scope=scope))[0]
             for _ in range(1 if quick else 3) for q, scope in zip(queries, asked_from)]
    index.embedder = uncached
    gc.collect()
    masks_bytes = rss_bytes() - before - index_bytes
    # the dense search alone: scoped (selector) against exact search over what the class sees
    qvecs = uncached.encode_queries(queries)
    vectors = dict(zip(*index._vectors()))
    found, exact = [], []
    for qv, scope in zip(qvecs, asked_from):
        found.append(index.dense.search(qv, 10, index.scope_filter(scope).selector)[1].tolist())
        exact.append(exact_scoped(index, vectors, scope, qv, 10))
    class_recall = recall(found, exact, 10)

    t = report.table(f"A class's search ({region:,} region chunks + {classes} classes x {per_class} chunks "
                     f"= {total:,}; k=10, query embedding included)",
                     ["search", "p50 ms", "p95 ms", "searches"])
    t.add("from a class (scoped)", *_row(latency(scoped)))
    t.add("a class's first search after a corpus change (masks made)", *_row(latency(first)))
    t.add("from a class, question vector already made", *_row(latency(known)))
    t.add("unscoped (every chunk)", *_row(latency(unscoped)))
    embed = latency([timed(uncached.encode_queries, [q])[0] for q in queries[:20]])
    t.add("of which the query embedding", *_row(embed))
    m = report.table("Isolation, recall and memory",
                     ["chunks", "dense index", "hits outside the class's scope", "scoped dense recall@10 vs exact",
                      "RSS of indexes MB", "RSS of masks for the classes asked MB", "peak RSS building MB",
                      "store fill s", "index open s"])
    m.add(total, type(index.dense.index).__name__, leaks, class_recall, index_bytes / 1e6,
          max(masks_bytes, 0) / 1e6, (sampler.peak - before) / 1e6, fill_s, open_s)
    report.notes += [
        f"{len(queries)} real kk/ru questions from eval/data/qa, each asked from a random one of the "
        f"{classes} classes ({CLASSES_PER_SCHOOL} per school), then {1 if quick else 3} more rounds; "
        "vectors beyond the embedded texts are synthetic (see `tutor bench retrieval`).",
        "A class sees the region library, its school's documents (none here) and its own: what it "
        "may not see is masked inside faiss (an ID selector) and BM25 (a row mask), made on a "
        "class's first search after each corpus change and kept until the next.",
        "Scoped dense recall compares the faiss search with the class's selector to exact search "
        "over the vectors that class sees.",
    ]
    report.results = {"region": region, "classes": classes, "per_class": per_class, "total": total,
                      "scoped": latency(scoped),
                      "scoped_vector_known": latency(known), "first": latency(first), "unscoped": latency(unscoped),
                      "embed_query": embed, "leaks": leaks, "scoped_dense_recall_at_10": class_recall,
                      "index_mb": index_bytes / 1e6, "masks_mb": max(masks_bytes, 0) / 1e6}
    store.close()
    if leaks:
        raise AssertionError(f"{leaks} hits outside the asking class's scope")
    return report


class KnownQueries:
    """The embedder remembering every question vector it made (a warm-up pass makes them)."""

    def __init__(self, embedder):
        self._inner = embedder
        self._known: dict[str, np.ndarray] = {}

    def encode_queries(self, texts):
        for text in texts:
            if text not in self._known:
                self._known[text] = self._inner.encode_queries([text])[0]
        return np.stack([self._known[t] for t in texts])

    def __getattr__(self, name):
        return getattr(self._inner, name)


def _row(lat: dict) -> tuple:
    return lat["p50_ms"], lat["p95_ms"], lat["n"]
