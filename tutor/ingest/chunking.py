"""Sentence- and heading-aware chunking.

Chunks never cross a section boundary and never cut a sentence. They are kept well
under e5-small's 512-token window: Kazakh and Russian words average two to three
sentencepiece tokens, so ``max_words`` = 160 leaves room for the title and heading
path that are prepended to each chunk's search text.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from tutor.ingest.readers import Block
from tutor.store import Chunk

_SENTENCE_END = re.compile(r"(?<=[.!?…])[\"»)]*\s+(?=[\"«(]?[A-ZА-ЯЁӘҒҚҢӨҰҮҺІ0-9])")
_ABBREV = re.compile(r"(?:\b(?:т\.?е|т\.?к|др|пр|г|гг|в|вв|ж|жж|млн|млрд|тыс|см|им|e\.g|i\.e|etc|Dr|Mr|Mrs|St))\.$",
                     re.IGNORECASE)


# A line that ends without closing punctuation, followed by one that starts with a small
# letter, is one sentence wrapped at a fixed width (a hard-wrapped text or Markdown file,
# text pasted from a PDF viewer): "көздің көру қабілетінің" / "бұзылуы нәтижесінде ...".
_OPEN_END = re.compile(r"[^.!?…:;]$")
_SMALL_START = re.compile(r"^[a-zа-яёәғқңөұүһі]")


def join_wrapped_lines(text: str) -> list[str]:
    """The lines of ``text`` with fixed-width wraps undone; code fences are left as they
    are."""
    lines: list[str] = []
    fenced = False
    for line in text.split("\n"):
        line = line.strip()
        if line.startswith("```"):
            fenced = not fenced
            lines.append(line)
        elif (not fenced and lines and lines[-1] and not lines[-1].startswith("```")
              and _OPEN_END.search(lines[-1]) and _SMALL_START.match(line)):
            lines[-1] = f"{lines[-1]} {line}"
        else:
            lines.append(line)
    return lines


def split_sentences(text: str) -> list[str]:
    text = re.sub(r"[ \t]+", " ", text.strip())
    out: list[str] = []
    for line in join_wrapped_lines(text):
        if not line:
            continue
        parts = _SENTENCE_END.split(line)
        for part in parts:
            if out and _ABBREV.search(out[-1]) and not out[-1].endswith("\n"):
                out[-1] = out[-1] + " " + part
            else:
                out.append(part)
    return [s.strip() for s in out if s.strip()]


def _words(text: str) -> int:
    return len(text.split())


def chunk_blocks(title: str, blocks: Iterable[Block], max_words: int = 160,
                 min_words: int = 40) -> list[Chunk]:
    """Group consecutive blocks of the same section (and page/slide) into chunks."""
    groups: list[tuple[tuple, list[Block]]] = []
    for block in blocks:
        key = (tuple(block.headings), block.page, block.slide)
        if groups and groups[-1][0] == key:
            groups[-1][1].append(block)
        else:
            groups.append((key, [block]))

    chunks: list[Chunk] = []
    for (headings, page, slide), members in groups:
        section = " › ".join(headings)
        confidences = [b.ocr_confidence for b in members if b.ocr_confidence is not None]
        ocr = min(confidences) if confidences else None
        pieces: list[str] = []
        for block in members:
            if _words(block.text) <= max_words:
                pieces.append(block.text)
            else:
                pieces.extend(split_sentences(block.text))
        current: list[str] = []
        for piece in pieces:
            if current and _words(" ".join(current)) + _words(piece) > max_words:
                chunks.append(_make(title, section, page, slide, current, ocr))
                current = []
            current.append(piece)
        if current:
            # a short tail joins the previous chunk of the same section
            if (chunks and _words(" ".join(current)) < min_words and chunks[-1].section == section
                    and chunks[-1].page == page and chunks[-1].slide == slide
                    and _words(chunks[-1].text) + _words(" ".join(current)) <= max_words * 1.3):
                prev = chunks.pop()
                current = [prev.text, *current]
            chunks.append(_make(title, section, page, slide, current, ocr))
    return chunks


def _make(title: str, section: str, page, slide, parts: list[str], ocr: float | None = None) -> Chunk:
    text = "\n".join(parts).strip()
    head = f"{title} — {section}" if section else title
    return Chunk(text=text, search_text=f"{head}\n{text}", section=section, page=page, slide=slide,
                 ocr_confidence=ocr)
