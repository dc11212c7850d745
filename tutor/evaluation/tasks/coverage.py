"""The curriculum coverage task: typical student questions on the bundled topics, written
before the lessons, with the fact an answer must hold (``eval/data/coverage``). A question
counts as covered when the answer quotes that fact, cites validly and speaks the student's
language; the near-topic questions beside them must get "the materials do not say"."""

from __future__ import annotations

from collections import defaultdict

from tqdm import tqdm

from tutor.answer.extractive import ExtractiveComposer
from tutor.config import REPO_ROOT
from tutor.evaluation import datasets
from tutor.evaluation.tasks.answers import aggregate_by_lang, citation_valid, shown_text
from tutor.evaluation.tasks.base import EvalContext, Task, mean
from tutor.text.answers import contains_answer
from tutor.text.langdetect import detect_language
from tutor.tutor import Tutor

COVERAGE_QA = REPO_ROOT / "eval" / "data" / "coverage"


class Coverage(Task):
    name = "coverage"
    suite = "answers"
    primary = "answered_with_facts"

    def run(self, ctx: EvalContext) -> dict:
        items = ctx.cap(datasets.bundled_items(folder=COVERAGE_QA))
        pool = ctx.pool([])
        tutor = Tutor(pool.retriever, pool.store, extractive=ExtractiveComposer(ctx.embedder),
                      keep_questions=False)
        rows: dict[str, list[dict]] = defaultdict(list)
        unanswerable: dict[str, list[float]] = defaultdict(list)
        try:
            for item in tqdm(items, desc="coverage", disable=not ctx.progress, leave=False):
                answer = tutor.ask(item["question"], session_id=item["id"])
                if item["type"] == "unanswerable":
                    unanswerable[item["lang"]].append(float(answer.abstained))
                    continue
                has_fact = contains_answer(shown_text(answer), [item["answer"]], item["lang"] == "kk")
                language = answer.lang == item["lang"] and detect_language(answer.text) == item["lang"]
                valid = citation_valid(answer) and not answer.abstained
                rows[item["lang"]].append({
                    "answered_with_facts": float(bool(has_fact) and language and valid),
                    "contains_answer": has_fact,
                    "citation_valid": float(citation_valid(answer)),
                    "language_match": float(language),
                    "false_abstention": float(answer.abstained),
                    "gold_doc_cited": float(any(c.doc_key == item["doc"] for c in answer.citations)),
                })
        finally:
            pool.close()
        result = aggregate_by_lang(rows)
        result["metrics"]["abstention"] = mean([x for xs in unanswerable.values() for x in xs])
        for lang, figures in result["by_lang"].items():
            figures["abstention"] = mean(unanswerable.get(lang, []))
        result["n"] += sum(map(len, unanswerable.values()))
        return result


COVERAGE_TASKS = {"coverage": Coverage}
