"""The top passages re-ranked by the LLM reading them (``tutor.generation.reader``).

Each of the first ``passages`` hits gets ``weight`` x (its query likelihood minus the best
one's) added to its fused score, and they are re-ordered; the rest keep their places. The
reader steps aside, leaving the order as retrieval gave it, when more answers than
``max_parallel`` are being computed at once (a full class: a queue would grow behind it), when
it would run past ``deadline_s``, or when its model or server fails.
Choices and figures: docs/decisions/2026-12-07-evidence-reader.md.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from dataclasses import dataclass, replace

from tutor.generation.reader import Reader, ReaderError
from tutor.retrieval.hybrid import Hit

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ReadingParams:
    passages: int = 5
    weight: float = 0.05
    deadline_s: float = 2.0
    max_parallel: int = 1


class EvidenceReading:
    def __init__(self, reader: Reader, params: ReadingParams | None = None):
        self.reader = reader
        self.params = params or ReadingParams()
        self._answering = 0
        self._lock = threading.Lock()
        self.outcomes: Counter[str] = Counter()  # how often it read, and why it stepped aside


    def answering(self):
        """A context for one answer being computed: ``rerank`` counts the answers inside it."""
        return _Answering(self)

    def rerank(self, question: str, hits: list[Hit]) -> tuple[list[Hit], str]:
        """``hits`` re-ordered, and a note on what the reader did: ``reader``, or why it
        stepped aside (``reader_busy``, ``reader_deadline``, ``reader_error``)."""
        ranked, note = self._rerank(question, hits)
        self.outcomes[note] += 1
        return ranked, note

    def _rerank(self, question: str, hits: list[Hit]) -> tuple[list[Hit], str]:
        p = self.params
        top = hits[: p.passages]
        if len(top) < 2:
            return hits, "reader_none"
        if self._answering > p.max_parallel:
            return hits, "reader_busy"
        try:
            scores = self.reader.likelihoods(question, [h.chunk.text for h in top],
                                             deadline=time.monotonic() + p.deadline_s)
        except TimeoutError:
            return hits, "reader_deadline"
        except (ReaderError, RuntimeError, ValueError) as exc:  # a broken reader costs the re-ranking only
            log.warning("the evidence reader failed (%s); passages keep retrieval's order", exc)
            return hits, "reader_error"
        best = max(scores)
        mixed = [replace(h, score=h.score + p.weight * (s - best)) for h, s in zip(top, scores)]
        mixed.sort(key=lambda h: h.score, reverse=True)
        return mixed + hits[len(top):], "reader"


class _Answering:
    def __init__(self, reading: EvidenceReading):
        self.reading = reading

    def __enter__(self):
        with self.reading._lock:
            self.reading._answering += 1

    def __exit__(self, *exc):
        with self.reading._lock:
            self.reading._answering -= 1
