"""The Kazakh letters, and Kazakh as typed on a Russian keyboard.

Many students have no Kazakh layout and type the nine Kazakh letters as their nearest Russian
ones: "кандай" for "қандай", "жумыс" for "жұмыс", "бир" for "бір". Search folds those letters so
that both spellings meet (``keyboard_folded``); the evaluation types its questions so
(``russian_keyboard``).
"""

from __future__ import annotations

import re
import unicodedata
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


# Kazakh in Latin letters (the 2021 alphabet: á, ǵ, ı, ń, ó, q, ú, ý; or the informal
# zh, sh, ch of chats) and transliterated Russian, read as folded Cyrillic. "j" is ж in
# Kazakh and й in Russian transliteration, so both readings are offered.
_LATIN_PAIRS = {"shch": "щ", "zh": "ж", "sh": "ш", "ch": "ч", "kh": "х", "ts": "ц", "ya": "я", "yu": "ю"}
_LATIN_PAIR = re.compile("|".join(_LATIN_PAIRS))
_LATIN = str.maketrans({**dict.fromkeys("aáä", "а"), **dict.fromkeys("gǵğ", "г"), **dict.fromkeys("nńñ", "н"),
                        **dict.fromkeys("oóö", "о"), **dict.fromkeys("uúüūýw", "у"), **dict.fromkeys("ií", "и"),
                        **dict(zip("bcdefhıklmpqrsştvxyz'", "бцдефхйклмпкрсштвхызь"))})


def latin_readings(text: str) -> list[str]:
    """Lower-case ``text`` with its Latin letters read as Cyrillic, Kazakh letters folded as a
    Russian keyboard types them: "barlyq erejelerdi eleme" -> "барлык ережелерди елеме".
    One reading for Kazakh (j = ж) and one for Russian transliteration (j = й)."""
    text = unicodedata.normalize("NFC", text.lower())
    text = _LATIN_PAIR.sub(lambda m: _LATIN_PAIRS[m.group(0)], text).translate(_LATIN)
    return [text.replace("j", "ж"), text.replace("j", "й")]
