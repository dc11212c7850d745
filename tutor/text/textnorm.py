"""Text normalisation for lexical search in Kazakh, Russian and English.

Case folding keeps the Kazakh letters (ә ғ қ ң ө ұ ү һ і) and folds ё to е. Russian and
English words go through Snowball (PyStemmer). No maintained Kazakh stemmer is on the
registry, so Kazakh words get a light suffix stripper written here: Kazakh is
agglutinative, and cutting plural, possessive and case endings merges the forms a
question and a passage use (``Абайдың``, ``Абайға`` -> ``абай``). Its effect is
measured by ``tutor eval --suite retrieval`` (BM25 rows). The character n-gram view also
folds the Kazakh letters as a Russian keyboard types them (``keyboard_folded``).
"""

from __future__ import annotations

import re
from functools import lru_cache

import Stemmer

from tutor.text.langdetect import KAZAKH_WORDS, RUSSIAN_WORDS, detect_language
from tutor.text.letters import KK_LETTERS as _KK_LETTERS
from tutor.text.letters import keyboard_folded

_TOKEN = re.compile(r"[0-9]+|[^\W\d_]+", re.UNICODE)


def _fold(text: str) -> str:
    """Lower case, ё as е, Latin-script Kazakh's dotless ı as i. (``str.replace`` rather
    than ``str.translate``, which costs a tenth of building a 100k-chunk index.)"""
    return text.lower().replace("ё", "е").replace("ı", "i").replace("İ", "i")


# Roman numerals are often typed with Cyrillic letters that look the same: "ХІХ ғасыр"
# (Cyrillic Ha and Kazakh I) for "XIX ғасыр", or mixed, "XІX". A word of two or more
# letters that holds a Cyrillic і or х, is made only of numeral look-alikes and reads as
# a valid numeral is written in Latin letters, so both spellings meet. (One letter is
# left alone: "С. Сейфуллин", "і" are initials and letters; "см", "мм" hold no і or х.)
_ROMAN = re.compile(r"m{0,4}(cm|cd|d?c{0,3})(xc|xl|l?x{0,3})(ix|iv|v?i{0,3})")
_ROMAN_LOOKALIKES = str.maketrans("ісхм", "icxm")
_ROMAN_LETTERS = set("ivxlcdmісхм")


def _latin_numeral(word: str) -> str:
    if len(word) < 2 or not ("і" in word or "х" in word) or not set(word) <= _ROMAN_LETTERS:
        return word
    latin = word.translate(_ROMAN_LOOKALIKES)
    return latin if _ROMAN.fullmatch(latin) else word


def _words(text: str) -> list[str]:
    """The folded words of a text, numerals in Latin letters."""
    return [_latin_numeral(w) for w in _TOKEN.findall(_fold(text))]


# Longest first; each entry is stripped only when a stem of at least MIN_STEM letters stays.
_KK_SUFFIXES = sorted(
    """
    лардың лердің дардың дердің тардың тердің ларының лерінің дарының дерінің
    лармен лермен дармен дермен тармен термен ларына леріне дарына деріне ларында лерінде
    ларынан лерінен дарынан дерінен ларға лерге дарға дерге тарға терге
    лары лері дары дері тары тері лар лер дар дер тар тер
    ының інің нның ның нің дың дің тың тің
    ынан інен нан нен дан ден тан тен
    ында інде нда нде да де та те
    ына іне ға ге қа ке на не
    мен бен пен
    ымыз іміз ыңыз іңіз сы сі ы і
    ын ін н
    шы ші лық лік дық дік тық тік
    ған ген қан кен атын етін йтын йтін
    ады еді йды йді ды ді ты ті
    """.split(),
    key=len, reverse=True,
)
MIN_STEM = 3


def kazakh_stem(word: str) -> str:
    """Strip up to three layers of inflection (case after possessive after plural)."""
    for _ in range(3):
        for suffix in _KK_SUFFIXES:
            if word.endswith(suffix) and len(word) - len(suffix) >= MIN_STEM:
                word = word[: -len(suffix)]
                break
        else:
            break
    return word


_ru = Stemmer.Stemmer("russian")
_en = Stemmer.Stemmer("english")


# Kazakh stems are cut to this many letters: docs/decisions/2026-11-28-kazakh-stemming.md
KK_STEM_CAP = 6


@lru_cache(maxsize=200_000)
def stem(word: str, lang: str = "") -> str:
    """Stem one lowercase word of a text in ``lang`` (kk, ru, en; '' = guess per word)."""
    if word.isdigit():
        return word
    if word.isascii():
        return _en.stemWord(word)
    if lang == "kk" or any(c in _KK_LETTERS for c in word):
        # Kazakh words written with letters Russian shares ("жылы", "мен") must not go
        # through the Russian stemmer: it cuts them wrongly (same record as KK_STEM_CAP).
        return kazakh_stem(word)[:KK_STEM_CAP]
    return _ru.stemWord(word)


STOPWORDS = set(
    """
    и в во не что он на я с со как а то все она так его но да ты к у же вы за бы по только ее
    мне было вот от меня еще нет о из ему теперь когда даже ну вдруг ли если уже или ни быть был
    него до вас нибудь опять уж вам ведь там потом себя ничего ей может они тут где есть надо ней
    для мы тебя их чем была сам чтоб без будто чего раз тоже себе под будет ж тогда кто этот того
    потому этого какой совсем ним здесь этом один почти мой тем чтобы нее сейчас были куда зачем
    всех никогда можно при наконец два об другой хоть после над больше тот через эти нас про всего
    сколько каком каких какие каким какого какую которые который которая которой почему
    них какая много разве три эту моя впрочем хорошо свою этой перед иногда лучше чуть том нельзя
    такой им более всегда конечно всю между это такое такие
    және мен бен пен да де та те ма ме ба бе па пе бұл сол осы ол не деген дегеніміз қандай қай
    қалай неше кім ненің қашан қайда қанша нешінші
    неліктен неге қайсы кімнің кімге кімді үшін бойынша туралы еді екен болып болды болады бар жоқ әр барлық өз
    the a an of to in and or is are was were be what which who how why when where does do did
    """.split()
)


def tokenize(text: str, stopwords: bool = True, lang: str = "") -> list[str]:
    """Normalised stems of ``text``; its language is detected when not given."""
    if not lang:
        lang = detect_language(text)
    return [stem(w, lang) for w in _words(text) if not (stopwords and w in STOPWORDS)]


def stemmed_words(text: str) -> list[str]:
    """The folded words whose stems ``tokenize`` gives, in the same order."""
    return [w for w in _words(text) if w not in STOPWORDS]


_FOLDED_STOPWORDS = frozenset(keyboard_folded(w) for w in STOPWORDS)


def content_words(text: str) -> list[str]:
    """The folded words of a text, stopwords left out (also when typed without the
    Kazakh letters): what ``char_ngrams`` splits (and what the evidence model's
    ``word_unknown_shares`` looks up)."""
    return [w for w in _words(text) if keyboard_folded(w) not in _FOLDED_STOPWORDS]


def char_ngrams(text: str, n: int = 5) -> list[str]:
    """Character n-grams of each word, with word boundaries marked. A second lexical
    view that needs no stemmer: it matches Kazakh stems the suffix stripper misses
    (docs/decisions/2026-12-02-character-ngrams-keyboard-folding.md)."""
    out: list[str] = []
    for w in content_words(text):
        out.extend(word_ngrams(w, n))
    return out


@lru_cache(maxsize=200_000)
def word_ngrams(word: str, n: int) -> tuple[str, ...]:
    """One word's n-grams with its boundaries marked (``_word_``), Kazakh letters folded
    as a Russian keyboard types them (``keyboard_folded``); words recur, so they are
    remembered."""
    w = f"_{keyboard_folded(word)}_"
    return tuple(w[i:i + n] for i in range(max(1, len(w) - n + 1)))


# Restoring the Kazakh letters of a question typed on a Russian keyboard. Folding them away
# (above) makes the character view match; the stems, the language detector and e5 need the
# letters back. A word's endings are read as Kazakh suffixes typed without the letters
# ("нын" is "ның", "ган" is "ған"). When the corpus does not know its stem as typed, the
# stem takes the spelling with Kazakh letters that the corpus uses more often than the
# typed one ("жумыс" is "жұмыс"), also across the alternation of a final к/қ/п with г/ғ/б
# before a vowel ("бирлиги" is "бірлігі"); a stem it knows as typed keeps its letters
# ("энергиянын" is "энергияның"). docs/decisions/2026-12-02-letter-restorer.md
_FOLDED_SUFFIXES = sorted({keyboard_folded(x): x for x in _KK_SUFFIXES}.items(), key=lambda kv: -len(kv[0]))
_FOLDED_STOPWORD_SPELLING = {keyboard_folded(w): w for w in STOPWORDS if not _KK_LETTERS.isdisjoint(w)}
_VOICED = {"г": "к", "б": "п"}  # a typed final voiced consonant -> the stem's own one
_VOICE = {"к": "г", "қ": "ғ", "п": "б"}
_CYRILLIC_WORD = re.compile("[а-яё]{3,}")


def may_lack_kazakh_letters(text: str) -> bool:
    """A cheap first look: a Cyrillic word of three letters or more without a Kazakh
    letter, and no Russian function word ("и", "в", "что"...)."""
    words = [w.lower() for w in _TOKEN.findall(text) if not w.isascii()]
    return (any(_KK_LETTERS.isdisjoint(w) and _CYRILLIC_WORD.fullmatch(w) for w in words)
            and not any(w in RUSSIAN_WORDS for w in words))


# After a vowel Kazakh suffixes take a voiced onset ("қалаға", "қалада", "қаланың"); one
# with a voiceless onset there is part of the stem ("республика" is not "республи-қа").
_VOICELESS_ONSET = set("кқтп")
_VOWELS = set("аәеёиіоөуұүыэюя")


def _kazakh_ending(rest: str, keep: bool = False) -> str:
    """The end of a word typed without Kazakh letters, read as up to three Kazakh suffixes
    from the end ("таннын" -> "танның"); what is left before them takes "і" for "и".
    With ``keep`` (the end of a stem the corpus knows as typed: "энерги|янын") what is left
    stays as typed, and one-letter suffixes are not read ("реакци|и" is not "реакциі")."""
    suffixes: list[str] = []
    for _ in range(3):
        for folded, suffix in _FOLDED_SUFFIXES:
            if (rest.endswith(folded) and not (keep and len(folded) == 1)
                    and not (suffix[0] in _VOICELESS_ONSET and rest[:-len(folded)][-1:] in _VOWELS)):
                rest, suffixes = rest[: -len(folded)], [suffix] + suffixes
                break
        else:
            break
    return (rest if keep else rest.replace("и", "і")) + "".join(suffixes)


class LetterRestorer:
    """Kazakh letters back into the words of a question typed without them, from the
    vocabulary of a stem BM25 index (``LexicalIndex``)."""

    def __init__(self, lexical) -> None:
        terms, df = lexical.vocabulary()
        best: dict[str, tuple[int, str]] = {}
        for term, n in zip(terms, df.tolist()):
            if n and len(term) >= MIN_STEM and not _KK_LETTERS.isdisjoint(term):
                folded = keyboard_folded(term)
                if n > best.get(folded, (0, ""))[0]:
                    best[folded] = (n, term)
        self.doc_freq = lexical.doc_freq
        self.stems = {f: term for f, (n, term) in best.items() if n > self.doc_freq(f)}

    def _known(self, term: str) -> bool:
        return self.doc_freq(term) > 0

    def _stem(self, typed: str, shortest: int = MIN_STEM) -> str | None:
        """The word with its stem (the longest prefix the map holds, of at least
        ``shortest`` letters) spelt as the corpus spells it, its ending read as Kazakh
        suffixes; None when no prefix is in the map."""
        for n in range(min(KK_STEM_CAP, len(typed)), shortest - 1, -1):
            prefix, rest = typed[:n], typed[n:]
            if prefix in self.stems:
                return self.stems[prefix] + _kazakh_ending(rest)
            last = prefix[-1]
            if last in _VOICED and (prefix[:-1] + _VOICED[last]) in self.stems:
                spelt = self.stems[prefix[:-1] + _VOICED[last]]
                return spelt[:-1] + _VOICE.get(spelt[-1], spelt[-1]) + _kazakh_ending(rest)
        return None

    def word(self, word: str, mixed: bool = False) -> str:
        """One lowercase word without Kazakh letters, with them where the corpus says so.
        In ``mixed`` text (other words have their Kazakh letters, so this one may well be
        a loanword that has none: "баскетбол", "торттар") only question and function
        words are restored ("кандай", "бул"), and words the corpus never spells as typed
        but does with Kazakh letters ("шылаудын турі": a student who found "і" may still
        skip "ң")."""
        if word in _FOLDED_STOPWORD_SPELLING:
            return _FOLDED_STOPWORD_SPELLING[word]
        if word in STOPWORDS:
            return word
        typed = self.doc_freq(stem(word, "kk"))
        if mixed and (typed or self._known(stem(word, "ru"))):
            return word
        spelt = self._stem(word)
        if spelt is not None and self.doc_freq(stem(spelt, "kk")) > typed:
            return spelt  # the corpus holds this spelling more often than the typed one
        if typed:  # a stem spelt the same in both ("энергия"): only its endings ("нын")
            base = stem(word, "kk")
            return base + _kazakh_ending(word[len(base):], keep=True) if word.startswith(base) else word
        if self._known(stem(word, "ru")):
            return word
        for n in range(len(word) - 1, MIN_STEM - 1, -1):  # a known stem, Kazakh endings: "аталган"
            if self._known(word[:n]):
                return word[:n] + _kazakh_ending(word[n:])
        return word

    def restore(self, text: str) -> str:
        """``text`` with the Kazakh letters restored in its Cyrillic words that lack them,
        when it reads as Kazakh typed without them; otherwise ``text`` unchanged (a Russian
        question is never touched). Names (capitalised, not first) are left alone."""
        if not may_lack_kazakh_letters(text):
            return text
        words = [w.lower() for w in _TOKEN.findall(text) if not w.isascii()]
        if not self._kazakh_without_letters(words):
            return text
        mixed = any(not _KK_LETTERS.isdisjoint(w) for w in words)
        first = True

        def one(m: re.Match) -> str:
            nonlocal first
            w, was_first, first = m.group(0), first, False
            low = w.lower()
            if (not _KK_LETTERS.isdisjoint(low) or not _CYRILLIC_WORD.fullmatch(low)
                    or (w[0].isupper() and not was_first)):
                return w
            new = self.word(low, mixed)
            if new == low:
                return w
            return new[0].upper() + new[1:] if w[0].isupper() else new

        restored = _TOKEN.sub(one, text)
        return restored if restored != text and detect_language(restored) == "kk" else text

    def _kazakh_without_letters(self, words: list[str]) -> bool:
        """Whether words that lack Kazakh letters still read as Kazakh: a Kazakh word among
        them (a question word typed without its letters, "кандай"; a word with one) or a
        third of them stems of four letters or more that the corpus spells with Kazakh
        letters."""

        if any(w in KAZAKH_WORDS or w in _FOLDED_STOPWORD_SPELLING or not _KK_LETTERS.isdisjoint(w)
               for w in words):
            return True
        return sum(self._stem(w, shortest=4) is not None for w in words) >= max(1, len(words) / 3)
