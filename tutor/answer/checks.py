"""Checks on a generated answer before a student sees it."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from tutor.safety.moderation import moderate
from tutor.text.langdetect import detect_language
from tutor.text.textnorm import tokenize

CITE = re.compile(r"\[(\d+)\]")


@dataclass
class CheckResult:
    ok: bool
    problems: list[str] = field(default_factory=list)
    support: float = 0.0
    cited: list[int] = field(default_factory=list)


def check_generated(text: str, lang: str, evidence_texts: list[str],
                    min_support: float = 0.6) -> CheckResult:
    problems = []
    cited = sorted({int(n) for n in CITE.findall(text)})
    if not cited:
        problems.append("no citation")
    if any(n < 1 or n > len(evidence_texts) for n in cited):
        problems.append("citation to a passage that was not shown")
    body = CITE.sub(" ", text)
    if len(body.split()) < 2:
        problems.append("empty answer")
    elif detect_language(body, default=lang) != lang:
        problems.append("wrong language")
    # each passage stemmed in its own language: joined, a Kazakh passage made Russian ones Kazakh
    evidence_tokens = set().union(*(tokenize(t) for t in evidence_texts))
    tokens = tokenize(body)
    support = sum(tok in evidence_tokens for tok in tokens) / len(tokens) if tokens else 0.0
    if support < min_support:
        problems.append(f"not supported by the evidence (overlap {support:.2f})")
    if moderate(body):
        problems.append("unsafe content")
    return CheckResult(not problems, problems, support, cited)
