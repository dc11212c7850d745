"""What an answer is, in the UI and in its data."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

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

    @classmethod
    def from_hit(cls, n: int, hit: Hit, quote: str = "") -> Citation:
        c, d = hit.chunk, hit.chunk.doc
        return cls(n, d.doc_key, d.title, d.subject, d.grade, c.section, c.page, c.slide,
                   quote or c.text, d.lang, d.policy)

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
