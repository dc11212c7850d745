"""What a question names, and whether a passage mentions it.

A question about something the lessons mention only nearby ("Who sculpted Abay's monument
in Almaty?" beside a lesson on the Golden Man monument) passes the evidence model: its
words are the lesson's words. What gives it away is a name the question holds, or the
thing it counts, that the quoted passages never mention. Names here are what the student
wrote with a capital letter inside a sentence, or put in quotes: cheap to find in any of
the three languages, and what a wrong passage lacks.
Figures: docs/decisions/2026-12-07-named-terms.md."""

from __future__ import annotations

import os
import re

from tutor.text.textnorm import STOPWORDS, keyboard_folded, stem

_WORD = re.compile(r"[^\W\d_]+")
_TOKEN = re.compile(r"«[^»]*»|\"[^\"]*\"|“[^”]*”|[^\W\d_]+")
_SENTENCE_END = re.compile(r"(?<=[.!?:])\s+")


def named_terms(question: str) -> list[str]:
    """One word per name the question holds: the last word of each run of capitalised
    words that do not open a sentence ("Александр Македонский" -> "Македонский", the
    surname; "Льва Толстого" -> "Толстого", which does not change as "Лев" does), and the
    last word of each quoted title. All-capital abbreviations ("ЖИ", "ДНК") are left to
    the synonym table, which knows their spelled-out forms."""
    out: list[str] = []
    for sentence in _SENTENCE_END.split(question):
        run: list[str] = []
        for i, m in enumerate(_TOKEN.finditer(sentence)):
            word = m.group(0)
            if word[0] in "«\"“":
                inner = [w for w in _WORD.findall(word) if len(w) >= 3]
                out.extend(run[-1:] + inner[-1:])
                run = []
            elif i > 0 and word[0].isupper() and len(word) >= 3 and not word.isupper():
                run.append(word)
            else:
                out.extend(run[-1:])
                run = []
        out.extend(run[-1:])
    return list(dict.fromkeys(out))


# "How many X": the word after these is what is counted. A lesson that never mentions X in
# the quoted passages gives some other count ("сколько островов" beside the number of oceans).
_COUNT_WORDS = frozenset({"сколько", "неше", "қанша", "канша"})
_FILLERS = STOPWORDS | {"всего", "было", "будет", "же", "есть", "примерно", "приблизительно",
                        "около", "шамамен", "жуық", "барлығы"}
# Counts of times, years, people or kinds: the lesson states the number without the word
# ("в 1466 году умерло 40 000", "12 жасында"), so they say nothing about the passage.
_GENERIC = frozenset({"рет", "раз", "раза", "times", "лет", "года", "год", "жыл", "жас", "жасында",
                      "людей", "человек", "адам", "people", "түрі", "түрге", "түріне", "видов"})
# Units are written as words in questions and as symbols in lessons ("неше градус" / "100 °C").
_UNITS = {"градус": "°", "километр": "км", "шақырым": "км", "миллиметр": "мм", "сантиметр": "см",
          "килограмм": "кг"}


def counted_term(question: str) -> str | None:
    """The thing a "how many" question counts ("Сколько островов...?" -> "островов"), or None."""
    words = [w.lower() for w in _WORD.findall(question)]
    for i, word in enumerate(words):
        if word in _COUNT_WORDS or (word == "many" and i > 0 and words[i - 1] == "how"):
            rest = [w for w in words[i + 1:] if w not in _FILLERS]
            if rest and rest[0] not in _GENERIC and len(rest[0]) >= 2:
                return rest[0]
            return None
    return None


def required_terms(question: str) -> list[tuple[str, ...]]:
    """What the quoted passages must mention for their answer to be about this question, as
    groups of which each needs one word mentioned: one of its names ("Правда ли, что Балхаш
    глубже Байкала?" is answered by a lesson on Balkhash alone), and the thing it counts."""
    names, counted = tuple(named_terms(question)), counted_term(question)
    return [group for group in (names, (counted,) if counted else ()) if group]


def mentions_required(groups: list[tuple[str, ...]], vocabulary: set[str]) -> bool:
    return all(any(mentioned(word, vocabulary) for word in group) for group in groups)


def _fold(word: str) -> str:
    return keyboard_folded(word.lower())


def mentioned(term: str, vocabulary: set[str]) -> bool:
    """Whether ``term`` is among the (folded) words of a text in some form: a common
    start that leaves room for an ending (three letters from seven letters up, as in
    "Государственного" / "Государственный", two below). Folding forgives Kazakh letters
    typed on a Russian keyboard. A text without a word in the term's script (Latin or not)
    cannot tell, and counts as mentioning it: "Abai" asked in English of a Kazakh lesson."""
    t = _fold(term)
    if not any(w.isascii() == t.isascii() for w in vocabulary):
        return True  # a Latin name beside Cyrillic passages, or back: no way to tell
    unit = next((u for w, u in _UNITS.items() if t.startswith(_fold(w)) or t == u), None)
    if unit and unit in vocabulary:
        return True
    if len(t) <= 4:  # whole, or what it ends a form of ("Кира" / "Кир", but not "Уран" / "Урал")
        return any(w.startswith(t) or (len(w) >= 3 and t.startswith(w)) for w in vocabulary)
    # or the stem, where a Kazakh ending is longer ("Алатауының" / "Алатау")
    need = min(len(t) - (2 if len(t) < 7 else 3), max(4, len(_fold(stem(term.lower())))))
    return any(len(os.path.commonprefix((t, w))) >= need for w in vocabulary)


def passage_vocabulary(*texts: str) -> set[str]:
    """The folded words of ``texts``, and the units they write as symbols ("°", "км")."""
    words = {_fold(w) for text in texts for w in _WORD.findall(text)}
    if any("°" in text for text in texts):
        words.add("°")
    return words | {u for w, u in _UNITS.items() if u in words or any(x.startswith(_fold(w)) for x in words)}
