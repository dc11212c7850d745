"""What an answer is, in the UI and in its data."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from typing import Protocol

from tutor.retrieval.hybrid import Hit

MODES = ("explain", "hints", "quiz", "coach")


@dataclass
class Citation:
    n: int
    doc_key: str
    title: str
    subject: str
    grade: int | None
    section: str
    page: int | None
    slide: int | None
    quote: str
    lang: str
    policy: str = "reference"
    source_name: str = ""  # the uploaded file's name, so a student can find the page or photo
    source_format: str = ""
    ocr_confidence: float | None = None  # the page was read by OCR with this confidence (0-1)

    @classmethod
    def from_hit(cls, n: int, hit: Hit, quote: str = "") -> Citation:
        c, d = hit.chunk, hit.chunk.doc
        return cls(n, d.doc_key, d.title, d.subject, d.grade, c.section, c.page, c.slide,
                   quote or c.text, d.lang, d.policy, d.source_name, d.source_format, c.ocr_confidence)

    def location(self) -> str:
        parts = [self.section] if self.section else []
        if self.page:
            parts.append(f"p. {self.page}")
        if self.slide:
            parts.append(f"slide {self.slide}")
        return " · ".join(parts)


@dataclass
class Answer:
    text: str
    lang: str
    mode: str = "explain"
    composer: str = "extractive"
    citations: list[Citation] = field(default_factory=list)
    abstained: bool = False
    policy: str = "reference"
    confidence: float = 0.0
    ai_generated: bool = True  # Kazakhstan's AI law: every answer is labelled
    notes: list[str] = field(default_factory=list)
    flag: str = ""  # safety category when moderation intervened

    def to_dict(self) -> dict:
        return asdict(self)


class Composer(Protocol):
    """Turns the question and the evidence into a cited answer: extractive (quotes) or
    generative (a model writes, checked, with the extractive answer as its fallback)."""

    name: str

    def compose(self, question: str, lang: str, hits: list[Hit], mode: str = "explain") -> Answer: ...

    def stream(self, question: str, lang: str, hits: list[Hit],
               mode: str = "explain") -> Iterator[tuple[str, Answer | None]]:
        """The answer text so far, piece by piece, then the whole ``Answer`` with the last piece."""
