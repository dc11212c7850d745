"""The shared task interface (nanochat's tasks, sentence-transformers' evaluators)."""

from __future__ import annotations

import random
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path

from tutor.evaluation.pools import Pool, PoolDoc, bundled_docs


@dataclass
class EvalContext:
    embedder: object
    corpus_dir: Path
    data_dir: Path | None = None
    limit: int | None = None
    progress: bool = True
    seed: int = 0  # which items a --limit run takes
    settings: object = None
    fusion: object = None  # FusionParams for every pool (tests break retrieval with it)
    generator: object = None  # a Generator: answer tasks add a generative column
    generative_limit: int = 0  # items per answer task that get the generative column
    reading: object = None  # an EvidenceReading: tasks add a with/without-the-reader ablation
    reader_limit: int = 0  # items per task that get it
    _bundled: list[PoolDoc] | None = field(default=None, repr=False)
    _shared: Pool | None = field(default=None, repr=False)

    def bundled(self) -> list[PoolDoc]:
        if self._bundled is None:
            self._bundled = bundled_docs(self.corpus_dir)
        return self._bundled

    def pool(self, extra: list[PoolDoc], with_bundled: bool = True) -> Pool:
        if with_bundled and not extra:
            # the bundled-only pool serves several tasks; it is closed by close()
            if self._shared is None:
                self._shared = Pool(self.bundled(), self.embedder, progress=self.progress,
                                    params=self.fusion)
            return _Borrowed(self._shared)
        docs = (self.bundled() if with_bundled else []) + extra
        return Pool(docs, self.embedder, progress=self.progress, params=self.fusion)

    def close(self) -> None:
        if self._shared is not None:
            self._shared.close()
            self._shared = None

    def cap(self, items: list) -> list:
        """All items, or ``limit`` of them drawn with ``seed`` across the whole set (in their order):
        the same sample every run, spread over every file and language rather than the first ones."""
        if not self.limit or self.limit >= len(items):
            return items
        keep = sorted(random.Random(self.seed).sample(range(len(items)), self.limit))
        return [items[i] for i in keep]


class _Borrowed:
    """A shared pool handed to a task: everything but close() goes to the pool."""

    def __init__(self, pool: Pool):
        self._pool = pool

    def __getattr__(self, name):
        return getattr(self._pool, name)

    def close(self) -> None:
        pass


def mean(xs) -> float:
    """The mean of the values that are there (``None``: not measured for that item); 0 for none."""
    xs = [float(x) for x in xs if x is not None]
    return sum(xs) / len(xs) if xs else 0.0


class SkipTask(Exception):
    """The task's data is not available (e.g. no --data folder)."""


def require_data(ctx: EvalContext, subfolder: str):
    if ctx.data_dir is None:
        raise SkipTask("no --data folder")
    if not (ctx.data_dir / subfolder).is_dir():
        raise SkipTask(f"no {subfolder}/ in {ctx.data_dir}")
    return ctx.data_dir


class Task(ABC):
    name: str = ""
    suite: str = ""
    primary: str = ""
    direction: str = "max"  # or "min"
    needs_external: bool = False
    on_request: bool = False  # left out of a run that names no task (minutes of work of its own)

    @abstractmethod
    def run(self, ctx: EvalContext) -> dict:
        """Return {"metrics": {...}, "n": N, optional "by_lang", "baselines"}."""
