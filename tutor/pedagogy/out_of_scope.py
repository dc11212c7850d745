"""Questions the school materials cannot know: tomorrow's weather, the time, the news, today's
exchange rate or prices, last night's score, a person's phone number or address.

Lessons are written ahead of time and hold no live facts, so quoting them as an answer ("What
will the weather be in Almaty tomorrow?" answered with sentences about Kazakhstan's climate)
misleads. A transparent pattern list (``out_of_scope.toml`` beside this module, kk/ru/en,
folded like the safety patterns so Kazakh typed on a Russian keyboard matches too) names the
kind; the Tutor then says kindly where to look instead.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from tutor.safety.patterns import compile_patterns, normalize

_DATA = tomllib.loads((Path(__file__).with_suffix(".toml")).read_text(encoding="utf-8"))
KINDS = tuple(_DATA["kinds"])
_NEVER = re.compile(r"(?!x)x")


def _compiled(patterns: list[str]) -> re.Pattern:
    return compile_patterns(patterns, parts={}) if patterns else _NEVER


_WHEN = _compiled(_DATA["when"])
_UNLESS = _compiled(_DATA["unless"])
_RULES = {kind: (_compiled(rules.get("alone", [])), _compiled(rules.get("with_when", [])),
                 _compiled(rules.get("unless", [])))
          for kind, rules in _DATA["kinds"].items()}


def cannot_know(question: str) -> str:
    """The kind of live or private fact the question asks for (``weather``, ``time``, ``news``,
    ``exchange_rate``, ``prices``, ``sports``, ``private``), or '' for a question to look up."""
    norm = normalize(question)
    if _UNLESS.search(norm):
        return ""
    has_when = bool(_WHEN.search(norm))
    for kind, (alone, with_when, unless) in _RULES.items():
        if (alone.search(norm) or (has_when and with_when.search(norm))) and not unless.search(norm):
            return kind
    return ""


def topic_query(kind: str, lang: str) -> str:
    """What to search for to point at the lesson on the subject ('' when the kind has none)."""
    return _DATA["kinds"].get(kind, {}).get("topic", {}).get(lang, "")
