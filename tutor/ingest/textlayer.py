"""Is a PDF page's text layer Kazakh or Russian a reader would recognise, and can a broken
one be repaired? Old Kazakh fonts draw ә ғ қ ң ө ұ ү һ і correctly but carry look-alike
code points (Latin i, IPA ə and ɵ, letters of other Cyrillic alphabets, private-use code
points) in the text layer; search then never finds those words."""

from __future__ import annotations

import re
import tomllib
from functools import cache
from pathlib import Path

_WORD = re.compile(r"[^\W\d_]+")
_CYRILLIC = re.compile("[а-яёәғқңөұүһіА-ЯЁӘҒҚҢӨҰҮҺІ]")
_LATIN = re.compile("[A-Za-z]")
# letters of the Kazakh, Russian and English alphabets and Greek (ρ, ω, π in formulas); any
# other letter is suspect
_EXPECTED = re.compile("[a-zA-Zа-яёА-ЯЁәғқңөұүһіӘҒҚҢӨҰҮҺІα-ωΑ-Ω]")
_PRIVATE = re.compile("[\ue000-\uf8ff]")

# A page is implausible when more than this share of its words mixes scripts or holds a
# letter foreign to kk/ru/en, or more than this share of its letters is private-use.
MAX_ODD_WORDS = 0.02
MAX_PRIVATE = 0.002


@cache
def lookalikes() -> tuple[dict[str, str], dict[str, str]]:
    table = tomllib.loads((Path(__file__).parent / "lookalikes.toml").read_text(encoding="utf-8"))
    return dict(table.get("anywhere", {})), dict(table.get("in_cyrillic_words", {}))


def _letter_runs(text: str) -> list[str]:
    return "".join(ch if ch.isalpha() else " " for ch in text).split()


def _odd(word: str) -> bool:
    if _CYRILLIC.search(word) and _LATIN.search(word):
        return True
    return len(_EXPECTED.findall(word)) < len(word)


def odd_shares(text: str) -> tuple[float, float]:
    """(share of words that mix scripts or hold an unexpected letter, share of letters that
    are private-use code points)."""
    # runs of letters only: "x²", "H₂O" and "м³" hold no odd letter
    words = _letter_runs(text)
    letters = sum(len(w) for w in words) + len(_PRIVATE.findall(text))
    if not words:
        return 0.0, 1.0 if letters else 0.0
    odd = sum(1 for w in words if _odd(w))
    return odd / len(words), len(_PRIVATE.findall(text)) / max(letters, 1)


def plausible(text: str) -> bool:
    words, private = odd_shares(text)
    return words <= MAX_ODD_WORDS and private <= MAX_PRIVATE


def repair(text: str) -> str:
    """``text`` with the look-alikes of the table put back as the letters they stand for."""
    anywhere, in_cyrillic = lookalikes()
    text = text.translate(str.maketrans(anywhere))
    inside = str.maketrans(in_cyrillic)

    def fix(match: re.Match) -> str:
        word = match.group(0)
        return word.translate(inside) if _CYRILLIC.search(word) and _LATIN.search(word) else word

    return _WORD.sub(fix, text)
