"""The Kazakh letters, and Kazakh as typed on a Russian keyboard.

Many students have no Kazakh layout and type the nine Kazakh letters as their nearest Russian
ones: "кандай" for "қандай", "жумыс" for "жұмыс", "бир" for "бір". Search folds those letters so
that both spellings meet (``keyboard_folded``); the evaluation types its questions so
(``russian_keyboard``).
"""

from __future__ import annotations

from functools import lru_cache

KK_LETTERS = frozenset("әғқңөұүһі")
KK_LETTERS_ANY_CASE = KK_LETTERS | frozenset("ӘҒҚҢӨҰҮҺІ")
_KK_TO_RU = str.maketrans("әғқңөұүһіӘҒҚҢӨҰҮҺІ", "агкноуухиАГКНОУУХИ")


@lru_cache(maxsize=200_000)
def keyboard_folded(word: str) -> str:
    """A folded word with the Kazakh letters as a Russian keyboard types them."""
    return word.translate(_KK_TO_RU)


def russian_keyboard(text: str) -> str:
    """``text`` as typed on a Russian keyboard: Kazakh letters as their nearest Russian
    ones, case kept (how the evaluation makes its keyboard-typed questions)."""
    return text.translate(_KK_TO_RU)
