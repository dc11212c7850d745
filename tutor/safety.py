"""Child safety and privacy: PII redaction and keyword moderation in kk, ru and en.

Moderation here is a transparent pattern list, not a model: it is auditable by a school,
runs in microseconds and has no false sense of depth. The evaluation suite measures it
on labelled unsafe prompts and on safe look-alikes (a battle in history, yeast and
alcohol fermentation) so that over-blocking shows up as clearly as under-blocking.
"""

from __future__ import annotations

import re

# ------------------------------------------------------------------------- PII
_IIN = re.compile(r"(?<!\d)(\d{12})(?!\d)")
_CARD = re.compile(r"(?<!\d)(?:\d[ -]?){13,19}(?!\d)")
_PHONE = re.compile(r"(?<![\w+])(?:\+7|8)[\s(-]*\d{3}[\s)-]*\d{3}[\s-]*\d{2}[\s-]*\d{2}(?!\d)")
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")


def iin_valid(digits: str) -> bool:
    """Kazakh IIN check digit: weights 1..11, then 3..11,1,2 when the first sum gives 10."""
    if len(digits) != 12 or not digits.isdigit():
        return False
    d = [int(c) for c in digits]
    check = sum(d[i] * (i + 1) for i in range(11)) % 11
    if check == 10:
        weights = [3, 4, 5, 6, 7, 8, 9, 10, 11, 1, 2]
        check = sum(d[i] * weights[i] for i in range(11)) % 11
        if check == 10:
            return False
    return check == d[11]


def _luhn(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        n = int(ch)
        if i % 2:
            n = n * 2 - 9 if n * 2 > 9 else n * 2
        total += n
    return total % 10 == 0


def redact_pii(text: str) -> str:
    text = _EMAIL.sub("[email]", text)
    text = _PHONE.sub("[phone]", text)
    text = _IIN.sub(lambda m: "[IIN]" if iin_valid(m.group(1)) else m.group(0), text)

    def card(m: re.Match) -> str:
        digits = re.sub(r"\D", "", m.group(0))
        return "[card]" if 13 <= len(digits) <= 19 and _luhn(digits) else m.group(0)

    return _CARD.sub(card, text)


# ------------------------------------------------------------------ moderation
CATEGORIES = ("self_harm", "violence", "sexual", "drugs_alcohol", "bullying_hate",
              "dangerous_instructions", "assessment_cheating")
SERIOUS = {"self_harm", "sexual", "violence"}

_PATTERNS = {
    "self_harm": r"""
        kill myself|end my life|hurt myself|cut myself|suicid|want to die|don'?t want to live|
        self[- ]harm|убить себя|покончить с собой|суицид|не хочу жить|хочу умереть|порезать себя|
        причинить себе вред|навредить себе|өзімді өлтір|өзіме қол жұмса|өмір сүргім келмейді|
        өлгім келеді|өзіме зиян|суицид""",
    "violence": r"""
        how (do i|to|can i) (hurt|beat|kill|stab|poison) (someone|him|her|my|a )|beat (him|her|them) up|
        kill (him|her|them|my)|как (избить|убить|ударить|отравить|покалечить)|избить (его|её|ее|одноклассник)|
        отомстить|қалай (ұрып|өлтір|улап)|ұрып[- ]соғ|өлтіргім келеді|кек алу""",
    "sexual": r"""
        \bsex\b|sexual|porn|nude|naked photo|секс|порн|обнаж|голые фото|интим|жыныстық қатынас|порно|
        жалаңаш сурет""",
    "drugs_alcohol": r"""
        (buy|get|try) (weed|drugs|alcohol|vodka|beer|vape)|how to get drunk|
        (купить|достать|попробовать) (наркотик|травк|алкогол|водк|пиво|вейп|спайс)|как напиться|
        есірткі (сатып|алу|қайдан)|арақ (сатып|қайдан|ішу)|қалай мас бол|вейп сатып""",
    "bullying_hate": r"""
        (he|she|they) (is|are) (stupid|ugly|fat|an idiot)|insult (him|her|my classmate)|
        make fun of|hate (all )?(kazakhs|russians|them)|(оскорбить|унизить|затравить|дразнить)|
        (он|она) (тупой|тупая|урод|жирн)|ненавижу (всех )?(казахов|русских)|
        (мазақта|қорла|кемсіт)|ақымақ деп|жек көремін бәрін""",
    "dangerous_instructions": r"""
        (make|build) (a )?(bomb|explosive|weapon|gun)|(взрывчатк|бомб|оружи)\w* (сделать|собрать|изготовить)|
        (сделать|собрать|изготовить) (бомб|взрывчатк|оружи)|
        (бомба|жарылғыш|қару) (жасау|жаса)|hack (into|my school)|взломать|бұзып кіру|
        mix (bleach|chemicals) to make|смешать .* чтобы получить (яд|газ)""",
    "assessment_cheating": r"""
        (answers|answer key) (to|for) (the|tomorrow'?s|our) (test|exam)|cheat (on|in) (the|my|a) (test|exam)|
        ответы (на|к) (контрольн|тест|экзамен|сор|соч)|списать на (контрольн|экзамен|тест)|шпаргалк|
        (бжб|тжб|тест|емтихан)\w* жауаптар|көшіріп алу|шпаргалка""",
}
_COMPILED = {cat: re.compile(re.sub(r"\s*\n\s*", "", pat), re.IGNORECASE)
             for cat, pat in _PATTERNS.items()}


def moderate(text: str) -> str:
    """The first category the text falls into, or '' when it is fine."""
    for category in CATEGORIES:
        if _COMPILED[category].search(text):
            return category
    return ""
