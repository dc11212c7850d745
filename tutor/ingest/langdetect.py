"""Language of a text among Kazakh, Russian and English, by script and letters.

Kazakh Cyrillic has nine letters Russian lacks (ә ғ қ ң ө ұ ү һ і); they are frequent
enough that a few of them in a sentence settle the question. Latin-script Kazakh (the
2021 alphabet) is recognised by its own letters (ä ğ ñ ö ū ü ı, q).
"""

from __future__ import annotations

import re

KK_CYR = set("әғқңөұүһіӘҒҚҢӨҰҮҺІ")
KK_LAT = set("äğñöūüıÄĞÑÖŪÜİ")
_KK_WORDS = re.compile(r"\b(және|деген|дегеніміз|қандай|неше|қай|бұл|мен|үшін|жылы|қалай|ма|ме|ба|бе|па|пе)\b",
                       re.IGNORECASE)
_LAT_KK_WORDS = re.compile(r"\b(jäne|degen|qandai|qai|būl|üşin|jyly|qalai|nemese|degenımız)\b",
                           re.IGNORECASE)


def detect_language(text: str, default: str = "ru") -> str:
    """'kk', 'ru' or 'en' (``default`` when the text has no letters)."""
    cyr = lat = kk = kk_lat = 0
    for ch in text:
        if "а" <= ch.lower() <= "я" or ch in "ёЁ":
            cyr += 1
        elif ch in KK_CYR:
            kk += 1
        elif ch.isascii() and ch.isalpha():
            lat += 1
        elif ch in KK_LAT:
            kk_lat += 1
    if cyr + kk >= lat + kk_lat and cyr + kk > 0:
        letters = cyr + kk
        if kk / letters > 0.012 or (kk and _KK_WORDS.search(text)) or _KK_WORDS.search(text):
            return "kk"
        return "ru"
    if lat + kk_lat > 0:
        if kk_lat or _LAT_KK_WORDS.search(text):
            return "kk"
        return "en"
    return default
