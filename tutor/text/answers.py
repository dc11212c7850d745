"""Comparing an answer with gold answers: normalisation, token F1, containment, and
matching that tolerates Kazakh inflection. Used by the quiz (a student's answer) and the
evaluation (a composed answer) alike."""

from __future__ import annotations

import string
from collections import Counter

_PUNCT = set(string.punctuation) | set("«»—–…“”„’")


def normalize_answer(text: str) -> str:
    text = text.lower().replace("ё", "е")
    text = "".join(" " if ch in _PUNCT else ch for ch in text)
    return " ".join(text.split())


def exact_match(prediction: str, golds: list[str]) -> float:
    p = normalize_answer(prediction)
    return float(any(p == normalize_answer(g) for g in golds))


def token_f1(prediction: str, golds: list[str]) -> float:
    best = 0.0
    p_tokens = normalize_answer(prediction).split()
    for gold in golds:
        g_tokens = normalize_answer(gold).split()
        common = Counter(p_tokens) & Counter(g_tokens)
        same = sum(common.values())
        if not same:
            continue
        precision, recall = same / len(p_tokens), same / len(g_tokens)
        best = max(best, 2 * precision * recall / (precision + recall))
    return best


def _stem_prefix(word: str) -> str:
    # Kazakh answers are inflected spans: compare words on their first letters
    # (at least 4, at most all but three) so that 'Абайдың' matches 'Абай'.
    if len(word) <= 4:
        return word
    return word[: max(4, len(word) - 3)]


def contains_answer(text: str, golds: list[str], suffix_tolerant: bool = False) -> float:
    norm = normalize_answer(text)
    for gold in golds:
        g = normalize_answer(gold)
        if not g:
            continue
        if g in norm:
            return 1.0
        if suffix_tolerant:
            words = norm.split()
            gw = [_stem_prefix(w) for w in g.split()]
            n = len(gw)
            for i in range(len(words) - n + 1):
                if all(words[i + j].startswith(gw[j]) for j in range(n)):
                    return 1.0
    return 0.0


def suffix_tolerant_match(prediction: str, golds: list[str]) -> float:
    """Exact match after cutting inflectional endings word by word."""
    p = [_stem_prefix(w) for w in normalize_answer(prediction).split()]
    for gold in golds:
        g = [_stem_prefix(w) for w in normalize_answer(gold).split()]
        if p and p == g:
            return 1.0
    return 0.0
