"""Quiz me: cloze questions made from the retrieved passages and checked against them."""

from __future__ import annotations

import re
from dataclasses import dataclass

from tutor.ingest.chunking import split_sentences
from tutor.pedagogy.hints import ANSWER_MARK
from tutor.retrieval.hybrid import Hit
from tutor.text.answers import normalize_answer, suffix_tolerant_match
from tutor.text.textnorm import STOPWORDS


@dataclass
class QuizItem:
    prompt: str
    answer: str
    sentence: str
    hit: Hit


def make_cloze(hits: list[Hit], seed: int = 0) -> QuizItem | None:
    """Pick a sentence with a number or a proper name (else its longest word) and gap it."""
    candidates = []
    for hit in hits[:3]:
        for sentence in split_sentences(hit.chunk.text):
            if ANSWER_MARK.search(sentence) or len(sentence.split()) < 6 or "`" in sentence:
                continue
            words = sentence.split()
            target = None
            for w in words[1:]:
                core = w.strip(".,;:!?()«»\"'")
                if re.fullmatch(r"\d{2,}", core) or (core[:1].isupper() and len(core) > 3):
                    target = core
                    break
            if target is None:
                content = [w.strip(".,;:!?()«»\"'") for w in words[1:]]
                content = [w for w in content if len(w) >= 6 and w.lower() not in STOPWORDS
                           and w.isalpha()]
                if content:
                    target = max(content, key=len)
            if target:
                candidates.append((hit, sentence, target))
    if not candidates:
        return None
    hit, sentence, target = candidates[seed % len(candidates)]
    prompt = re.sub(rf"(?<!\w){re.escape(target)}(?!\w)", "_____", sentence, count=1)
    return QuizItem(prompt, target, sentence, hit)


def check_answer(item: QuizItem, reply: str) -> bool:
    return bool(suffix_tolerant_match(reply, [item.answer])) or \
        normalize_answer(item.answer) in normalize_answer(reply).split()
