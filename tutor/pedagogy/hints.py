"""The hint ladder for homework material: a pointer to the right section, then a rule
with gaps, then a first worked step, and never the final answer.

The guard does not trust the wording of the question ("my teacher allowed it"): in
hint mode every number the student did not give is masked, sentences that state an
answer ("Жауабы:", "Ответ:", "Answer:") are never quoted, and the words of the
document's final answers are masked wherever they appear.
"""

from __future__ import annotations

import re

from tutor.ingest.chunking import split_sentences
from tutor.retrieval.hybrid import Hit
from tutor.text.textnorm import tokenize

ANSWER_MARK = re.compile(r"(жауабы|жауап|ответ|answer)\s*[:：—-]", re.IGNORECASE)
SOLUTION_MARK = re.compile(r"(шешуі|шешу|решение|solution)\s*[:：.]?", re.IGNORECASE)
ANSWER_SECTION = re.compile(r"(ответ|жауап|answer|ключ|кілт|самопровер|өзіңді тексер)", re.IGNORECASE)
NUMBER = re.compile(r"\d+(?:[.,]\d+)?")
GAP = "____"


def final_answers(text: str) -> list[str]:
    """The answer statements of a homework text (what must never be shown)."""
    found = []
    for line in text.splitlines():
        m = ANSWER_MARK.search(line)
        if m:
            value = line[m.end():].strip(" *_.")
            if value:
                found.append(value)
    return found


def mask(text: str, question: str, secrets: list[str]) -> str:
    given = set(NUMBER.findall(question))
    out = NUMBER.sub(lambda m: m.group(0) if m.group(0) in given else GAP, text)
    for secret in secrets:
        for word in re.findall(r"[^\W\d_]{2,}", secret):
            if word.lower() not in question.lower() and len(word) >= 2 and not _common(word):
                out = re.sub(rf"(?<!\w){re.escape(word)}(?!\w)", GAP, out)
    out = re.sub(r"(\s*_{4}\s*)+", f" {GAP} ", out)
    return out.strip()


def _common(word: str) -> bool:
    # units and function words stay readable: masking "Ом" or "и" helps nobody
    return word.lower() in {"ом", "в", "а", "и", "мен", "және", "см", "км", "м", "кг", "г", "с",
                            "ohm", "v", "a", "and", "the", "of", "ва"}


def _safe_sentences(text: str) -> list[str]:
    return [s for s in split_sentences(text) if not ANSWER_MARK.search(s)]


def hint(level: int, question: str, hits: list[Hit], doc_text: str) -> tuple[str, Hit] | None:
    """Return the hint body for ``level`` (1-3) and the passage it comes from."""
    if not hits:
        return None
    secrets = final_answers(doc_text)
    q = set(tokenize(question))
    best_hit = hits[0]
    sentences = _safe_sentences(best_hit.chunk.text)
    if not sentences:
        return None
    ranked = sorted(sentences, key=lambda s: -len(q & set(tokenize(s))))
    if level <= 1:
        body = mask(ranked[0], question, secrets)
    elif level == 2:
        rule = next((s for s in ranked if "=" in s or ":" in s), ranked[0])
        body = mask(rule, question, secrets)
        body = _gap_content_word(body)
    else:
        step = None
        for i, s in enumerate(sentences):
            if SOLUTION_MARK.search(s):
                step = s if len(s.split()) > 3 else " ".join(sentences[i:i + 2])
                break
        body = mask(step or ranked[0], question, secrets)
    return body, best_hit


def _gap_content_word(text: str) -> str:
    words = [w for w in re.findall(r"[^\W\d_]{6,}", text)]
    if not words:
        return text
    longest = max(words, key=len)
    return text.replace(longest, GAP, 1)


def leaks(response: str, doc_text: str) -> bool:
    """Does a response show one of the document's final answers? (used by the eval)."""
    norm = " ".join(response.lower().split())
    for answer in final_answers(doc_text):
        a = " ".join(answer.lower().split())
        numbers = NUMBER.findall(a)
        if a and a in norm:
            return True
        if numbers and all(re.search(rf"(?<![\d.,]){re.escape(n)}(?![\d]|[.,]\d)", norm)
                           for n in numbers) and len(numbers) >= 1 and \
                any(w in norm for w in re.findall(r"[^\W\d_]{2,}", a)):
            return True
    return False
