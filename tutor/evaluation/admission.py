"""The admission check: a generator may write answers for the ``auto`` composer only after it
has beaten the extractive composer on answer F1 over a sample of the bundled QA set, in Kazakh
and in Russian, without losing faithfulness (``tutor models --admit``)."""

from __future__ import annotations

import json
import time
from pathlib import Path

from tutor.answer.admission import record_path
from tutor.answer.checks import CITE
from tutor.text.answers import token_f1


def _body(text: str) -> str:
    lines = [ln[2:] if ln.startswith("> ") else ln for ln in text.split("\n\n")]
    quoted = [ln for ln in text.split("\n\n") if ln.startswith("> ")]
    body = "\n".join(q[2:] for q in quoted) if quoted else "\n".join(lines)
    return CITE.sub(" ", body)


def run_admission(generative, extractive, retriever, items: list[dict], data_dir: Path,
                  generator_spec: str, per_lang: int = 10) -> dict:
    sample = []
    for lang in ("kk", "ru"):
        sample += [i for i in items if i["lang"] == lang and i["type"] == "answerable"][:per_lang]
    scores = {"extractive": [], "generative": []}
    faithful = {"extractive": 0, "generative": 0}
    started = time.perf_counter()
    for item in sample:
        result = retriever.search(item["question"], k=5, prefer_lang=item["lang"])
        hits = [h for h in result.hits if h.chunk.doc.policy == "reference"][:5]
        for name, composer in (("extractive", extractive), ("generative", generative)):
            answer = composer.compose(item["question"], item["lang"], hits)
            used_generator = answer.composer == "generative"
            body = _body(answer.text)
            scores[name].append(token_f1(body, [item["answer"]]) if (
                name == "extractive" or used_generator) else 0.0)
            faithful[name] += int(name == "extractive" or used_generator)
    n = len(sample) or 1
    result = {
        "generator": generator_spec,
        "n": len(sample),
        "f1_extractive": sum(scores["extractive"]) / n,
        "f1_generative": sum(scores["generative"]) / n,
        "faithful_generative": faithful["generative"] / n,
        "seconds": round(time.perf_counter() - started, 1),
        "at": time.strftime("%Y-%m-%dT%H:%M:%S"),
    }
    result["passed"] = bool(result["f1_generative"] > result["f1_extractive"]
                            and result["faithful_generative"] >= 0.9)
    path = record_path(data_dir, generator_spec)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=2))
    return result
