"""Language of a text among Kazakh, Russian and English, by script and letters.

Kazakh Cyrillic has nine letters Russian lacks (ә ғ қ ң ө ұ ү һ і); they are frequent
enough that a few of them in a sentence settle the question: in Kazakh text at least a
fifth of the words hold one (bundled questions: 5th percentile 0.19; FLORES-kk: minimum
0.22). A Russian text that quotes a Kazakh name or phrase («Кіші жүз») has a few such
words too, so Russian function words (и, в, что, который...), which Kazakh does not
use, outweigh as many Kazakh words. Latin-script Kazakh (the 2021 alphabet) is
recognised by its own letters (ä ğ ñ ö ū ü ı, q).
"""

from __future__ import annotations

import re

from tutor.text.letters import KK_LETTERS_ANY_CASE as KK_CYR
from tutor.text.letters import keyboard_folded

KK_LAT = set("äğñöūüıÄĞÑÖŪÜİ")
# Kazakh words that settle it without a Kazakh letter, and the question and function words
# as they look typed on a Russian keyboard, Kazakh letters replaced by the nearest Russian
# ones ("кандай", "дегенимиз"): students without a Kazakh layout write so, and their
# question must still be answered in Kazakh. ("кім" and "қай" are not folded: "Ким" is a
# common surname in Russian text, "Кай" a name.)
_KK_FOLDABLE = """және деген дегеніміз қандай неше бұл үшін қалай қашан қайда қанша кімнің
    нешінші""".split()
_KK_WORD_SET = frozenset(_KK_FOLDABLE + """кім қай мен жылы ма ме ба бе па пе немесе деп
    бойынша туралы емес неден""".split() + [keyboard_folded(w) for w in _KK_FOLDABLE])
_KK_WORDS = re.compile(r"\b(" + "|".join(sorted(_KK_WORD_SET)) + r")\b", re.IGNORECASE)
# Russian words that Kazakh text does not use on their own ("он", "от", "не", "на" are
# Kazakh words too and are left out).
_RU_WORDS = frozenset("""и в во что это как для по из при был была были было который которая
    которое которые также или где его её их со она они чтобы если только между""".split())
KAZAKH_WORDS, RUSSIAN_WORDS = _KK_WORD_SET, _RU_WORDS  # also read by the letter restorer (textnorm)
_CYR = re.compile("[а-яА-ЯёЁ]")
_KK_CYR_RE = re.compile("[" + "".join(sorted(KK_CYR)) + "]")
_LAT = re.compile("[A-Za-z]")
_KK_LAT_RE = re.compile("[" + "".join(sorted(KK_LAT)) + "]")
_WORD = re.compile(r"[^\W\d_]+")
# A question put in Kazakh or Russian about English terms ("present continuous қалай
# жасалады?") may have more Latin letters than Cyrillic; its frame (the question and function
# words) says the language, unless the Latin part has a frame of its own.
_EN_FRAME = frozenset("""the a an is are was were be do does did what how why when where who
    which whose of to in on at for and or it this that these can could should i you we mean""".split())
_RU_FRAME = _RU_WORDS | frozenset("чем почему зачем сколько какой какая какое какие когда кто такое".split())
_LATIN_WORD = re.compile(r"\b[A-Za-z]+\b")
_LAT_KK_WORDS = re.compile(r"\b(jäne|degen|qandai|qai|būl|üşin|jyly|qalai|nemese|degenımız)\b",
                           re.IGNORECASE)


def detect_language(text: str, default: str = "ru") -> str:
    """'kk', 'ru' or 'en' (``default`` when the text has no letters)."""
    # counted by regular expressions, not a loop over characters: every passage is
    # detected when it is indexed and when its stems are taken at search time
    cyr, kk = len(_CYR.findall(text)), len(_KK_CYR_RE.findall(text))
    lat, kk_lat = len(_LAT.findall(text)), len(_KK_LAT_RE.findall(text))
    if cyr + kk >= lat + kk_lat and cyr + kk > 0:
        if not kk and not _KK_WORDS.search(text):
            return "ru"  # nothing Kazakh in it: the word count below could only say ru
        found = [w for w in _WORD.findall(text) if not w.isascii()]
        words = [w.lower() for w in found]
        # Units are not words: "В" (volt) is not the preposition "в", "мА" not the
        # particle "ма". One- and two-letter words count only in lower case.
        short_ok = [len(w) > 2 or w.islower() for w in found]
        kazakh = sum(1 for w, ok in zip(words, short_ok)
                     if not KK_CYR.isdisjoint(w) or (w in _KK_WORD_SET and ok))
        russian = sum(1 for w, ok in zip(words, short_ok) if w in _RU_WORDS and ok)
        if russian >= 2 and russian >= kazakh:
            return "ru"
        if kazakh >= 0.15 * len(words):
            return "kk"
        return "kk" if (kk / (cyr + kk) > 0.012 and russian < 2) or (kazakh and not russian) else "ru"
    if lat + kk_lat > 0:
        if kk_lat or _LAT_KK_WORDS.search(text):
            return "kk"
        if cyr + kk:
            cyrillic = _LATIN_WORD.sub(" ", text)
            framed = _KK_WORDS.search(cyrillic) or any(w.lower() in _RU_FRAME for w in _WORD.findall(cyrillic))
            if framed and not any(w.lower() in _EN_FRAME for w in _LATIN_WORD.findall(text)):
                return detect_language(cyrillic, default)
        return "en"
    return default
