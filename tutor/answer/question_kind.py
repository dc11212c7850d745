"""Question-type cues for the extractive composer: what kind of answer a question asks
for (a date, a number, a person, a place) and whether a sentence holds one that the
question does not already contain."""

from __future__ import annotations

import re

from tutor.text.textnorm import tokenize

# Each pattern is matched against the lowercased question. Kazakh interrogatives come
# first: the UNT questions are written with them (қашан, қай жылы, нешінші жылы; қанша,
# неше; кім, кімнің; қайда, қай жерде).
_QUESTION_TYPES: list[tuple[str, re.Pattern]] = [
    ("when", re.compile(
        r"\bқашан\b|\bқай\s+(?:жыл|ғасыр|кез|уақыт|мезгіл|күн)\w*|\bнешінші\s+(?:жыл|ғасыр)\w*"
        r"|\bкогда\b|\bв\s+как(?:ом|ие|ой)\s+(?:году|годы|веке|период|эпоху)"
        r"|\bкакого\s+(?:года|числа|века)|\bwhen\b|\b(?:what|which)\s+(?:year|century)\b")),
    ("count", re.compile(
        r"\bқанша\b|\bнеше\w{0,3}\b|\bсколько\b|\bhow\s+(?:many|much)\b")),
    # "как зовут героя": a person's (or a horse's) name, not the term a "как называется" gives
    ("who", re.compile(
        r"\bкім\w{0,5}\b|\b(?:кто|кого|кому|кем|чей|чья|чьё|чье|чьи)\b|\bwho(?:m|se)?\b"
        r"|\bкак\s+зову\w*")),
    ("where", re.compile(
        r"\bқайда\w*|\bқай\s+жер\w*|\bқай\s+(?:қала|өлке|облыс|өзен|көл|тау|аймақ|мемлекет)\w*"
        r"|\b(?:где|куда|откуда)\b|\bв\s+как(?:ом|ой)\s+(?:городе|стране|месте|регионе|области)"
        r"|\bwhere\b")),
    # "what is X called": the answer is the name the sentence gives
    ("name", re.compile(
        r"\bқалай\s+атал\w*|\bне\s+деп\s+ата\w*|\bқалай\s+ата\w*"
        r"|\bкак\s+(?:называ\w*|именну\w*)|\bwhat\s+(?:is|are|do\s+\w+\s+call)\b.*\bcall")),
    ("parts", re.compile(
        r"\bнеден\s+тұра\w*|\bнелерден\s+тұра\w*|\bқандай\s+бөлік\w*"
        r"|\bиз\s+чего\s+(?:состо|сдела)\w*|\bиз\s+каких\s+част\w*|\bmade\s+of\b|\bconsist\w*\s+of\b")),
    ("why", re.compile(
        r"\bнеге\b|\bне\s+үшін\b|\bнеліктен\b|\bне\s+себепт\w*"
        r"|\b(?:почему|зачем|отчего)\b|\bwhy\b")),
    # "which are ...": a lesson answers with a list after a colon ("Жуан дауыстылар: а, о, ұ, ы.")
    ("list", re.compile(r"\bқайсы\w*|\bкакие\b|\bперечисл\w*|\bwhich\b")),
]

_YEAR = re.compile(r"\b(?:1\d{3}|20\d{2})\b|\b[IVXLC]+\s*(?:ғ\b|ғасыр|в\b|в\.|век|century)")
_MONTH = re.compile(
    r"\b(?:қаңтар|ақпан|наурыз|сәуір|мамыр|маусым|шілде|тамыз|қыркүйек|қазан|қараша|желтоқсан"
    r"|январ|феврал|март|апрел|ма[йя]|июн|июл|август|сентябр|октябр|ноябр|декабр"
    r"|january|february|march|april|may|june|july|august|september|october|november|december)\w*",
    re.IGNORECASE)
_NUMBER_WORD = re.compile(
    r"\b(?:екі|үш|төрт|бес|алты|жеті|сегіз|тоғыз|жиырма|отыз|қырық|елу|алпыс|жетпіс|сексен"
    r"|тоқсан|мың|миллион|миллиард"
    r"|два|две|двух|двум|двумя|три|трёх|трех|тремя|четыре|четырёх|четырех|четырьмя|пять|пяти"
    r"|шесть|шести|семь|семи|восемь|восьми|девять|девяти|десять|десяти|сотни|тысяч\w*"
    r"|миллион\w*|миллиард\w*|two|three|four|five|six|seven|eight|nine|ten|hundred|thousand"
    r"|million)\b", re.IGNORECASE)
_DIGITS = re.compile(r"\d+")
# Sentences that give what a "name", "parts", "why" or "list" question asks for say so
# with these words; unlike a year or a name they need not be new to the question.
_CUES: dict[str, re.Pattern] = {
    "name": re.compile(r"атал\w*|атай\w*|называ\w*|зову\w*|\bcalled\b|\bnamed?\b", re.IGNORECASE),
    "parts": re.compile(r"тұра\w*|құрал\w*|состо\w*|\bconsist\w*|made\s+(?:of|up)|\bcontains?\b",
                        re.IGNORECASE),
    "list": re.compile(r":\s*[^:]+,"),
    "why": re.compile(r"себеб\w*|өйткені|сондықтан|үшін|себепті|потому|поэтому|так\s+как|из-за"
                      r"|\bчтобы\b|\bbecause\b|\bso\s+that\b|\bsince\b|\btherefore\b", re.IGNORECASE),
}
# a capitalised word inside the sentence: after a word or a comma, not after a quote or
# a full stop, where any word is capitalised
_NAME = re.compile(r"(?<=[\w,] )[A-ZА-ЯЁӘҒҚҢӨҰҮҺІ][^\W\d_]+")


# "Абай кім?", "Кто такой Абай?", "Who was Abay?": a person named in the question, to be
# described, not a person to be named.
_PERSON = re.compile(
    r"^(?:кто\s+(?:так(?:ой|ая|ие)|был[аи]?)\s+(?P<ru>.+?)|(?P<kk>.+?)\s+кім(?:\s+(?:еді|болған))?"
    r"|who\s+(?:is|was)\s+(?P<en>.+?))\s*\?*\s*$", re.IGNORECASE)
_DEFINES = re.compile(r"\s(?:[–—]|является|это)\s")
_WORD_CAPITALISED = re.compile(r"[A-ZА-ЯЁӘҒҚҢӨҰҮҺІ][^\W\d_]+")
_CAPITALISED = re.compile(r"^[A-ZА-ЯЁӘҒҚҢӨҰҮҺІ][^\W\d_]*(?:-[^\W\d_]+)?$")


def _asks_who_is(question: str) -> bool:
    m = _PERSON.match(question.strip())
    if m is None:
        return False
    words = (m.group("ru") or m.group("kk") or m.group("en")).split()
    return 0 < len(words) <= 3 and all(_CAPITALISED.match(w) for w in words)


def question_type(question: str) -> str | None:
    """'person', 'when', 'count', 'who', 'where', 'name', 'parts', 'why', 'list' or None for
    the kind of answer asked for."""
    if _asks_who_is(question):
        return "person"
    q = question.lower().replace("ё", "е")
    for kind, pattern in _QUESTION_TYPES:
        if pattern.search(q):
            return kind
    return None


def _new(found: list[str], question: str) -> bool:
    """Whether any of ``found`` is not already in the question (compared as stems)."""
    q_stems = set(tokenize(question, stopwords=False))
    return any(not (set(tokenize(f, stopwords=False)) <= q_stems) for f in found)


def has_answer_type(kind: str | None, sentence: str, question: str) -> bool:
    """Whether ``sentence`` holds an answer of ``kind`` the question does not contain."""
    if kind == "when":
        found = [m.group(0) for m in _YEAR.finditer(sentence)]
        found += [m.group(0) for m in _MONTH.finditer(sentence)]
    elif kind == "count":
        found = _DIGITS.findall(sentence) + [m.group(0) for m in _NUMBER_WORD.finditer(sentence)]
    elif kind in ("who", "where"):
        found = _NAME.findall(sentence)
    elif kind == "person":
        return _describes(sentence, question)
    elif kind in _CUES:
        return bool(_CUES[kind].search(sentence))
    else:
        return False
    return bool(found) and _new(found, question)


def _describes(sentence: str, question: str) -> bool:
    """Whether ``sentence`` says who the person asked about is: "Абай Құнанбайұлы (1845–1904) –
    қазақтың ұлы ақыны...". What stands before the dash names no one the question does not
    ("Абайдың анасы Ұлжан – ..." describes Ұлжан)."""
    m = _DEFINES.search(sentence)
    if m is None or len(sentence[:m.start()].split()) > 6:
        return False
    named = _WORD_CAPITALISED.findall(sentence[:m.start()])
    return bool(named) and set(tokenize(" ".join(named), stopwords=False)) <= set(tokenize(question, stopwords=False))


def answer_spans(kind: str | None, sentence: str, question: str) -> list[tuple[int, int]]:
    """Where in ``sentence`` the answer of ``kind`` sits (character spans), leaving out
    what the question already says; neighbouring name words make one span ("Арман
    Жұмабаев")."""
    if kind == "when":
        found = list(_YEAR.finditer(sentence)) + list(_MONTH.finditer(sentence))
    elif kind == "count":
        found = list(_DIGITS.finditer(sentence)) + list(_NUMBER_WORD.finditer(sentence))
    elif kind in ("who", "where"):
        found = list(_NAME.finditer(sentence))
    else:
        return []
    spans = sorted((m.start(), m.end()) for m in found if _new([m.group(0)], question))
    merged: list[tuple[int, int]] = []
    for start, end in spans:
        if merged and not sentence[merged[-1][1]:start].strip():
            merged[-1] = (merged[-1][0], end)
        else:
            merged.append((start, end))
    return merged


CUE_KINDS = frozenset(_CUES)
# kinds whose answer is a span of the sentence (a year, a number, a name, a place)
SPAN_KINDS = frozenset({"when", "count", "who", "where"})
