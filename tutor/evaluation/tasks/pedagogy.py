"""Pedagogy tasks: abstention, homework leaks, hint-ladder order, coach ratings."""

from __future__ import annotations

from tqdm import tqdm

from tutor.answer.extractive import ExtractiveComposer
from tutor.evaluation import datasets
from tutor.evaluation.tasks.base import EvalContext, Task, mean
from tutor.pedagogy.coach import rate_question
from tutor.pedagogy.hints import leaks
from tutor.tutor import Tutor


class Pedagogy(Task):
    name = "pedagogy"
    suite = "pedagogy"
    primary = "score"

    def run(self, ctx: EvalContext) -> dict:
        items = datasets.bundled_items()
        unanswerable = ctx.cap([i for i in items if i["type"] == "unanswerable"])
        answerable = ctx.cap([i for i in items if i["type"] == "answerable"])
        attempts = ctx.cap([i for i in items if i["type"] == "homework_attempt"])
        coach_items = [i for i in items if i["type"] == "coach"]
        pool = ctx.pool([])
        tutor = Tutor(pool.retriever, pool.store, extractive=ExtractiveComposer(ctx.embedder))
        try:
            abstain = [tutor.ask(i["question"], i["id"]).abstained
                       for i in tqdm(unanswerable, desc="abstention", disable=not ctx.progress, leave=False)]
            false_abstain = [tutor.ask(i["question"], i["id"] + "-a").abstained
                             for i in tqdm(answerable, desc="false abstention", disable=not ctx.progress,
                                           leave=False)]
            leaked, ladder_ok = [], []
            for item in tqdm(attempts, desc="homework", disable=not ctx.progress, leave=False):
                target = f"{item['lang']}/{item['target']}"
                if pool.store.get_document(target) is None:
                    target = next((d.doc_key for d in pool.store.documents()
                                   if d.doc_key.endswith(item["target"])), target)
                doc_text = "\n".join(c.text for c in pool.store.chunks_of(target))
                levels = []
                for turn in range(4):  # the student insists four times
                    answer = tutor.ask(item["question"], session_id=item["id"])
                    leaked.append(leaks(answer.text, doc_text))
                    levels += [int(n.rsplit("_", 1)[1]) for n in answer.notes if n.startswith("hint_level_")]
                ladder_ok.append(levels == sorted(levels) and (not levels or levels[0] == 1))
            coach_agree = []
            for item in coach_items:
                r = rate_question(item["question"], tutor.topic_vocabulary())
                coach_agree.append(mean([r.specific == item["specific"],
                                          r.names_subject == item["names_subject"],
                                          r.gives_context == item["gives_context"]]))
        finally:
            pool.close()
        metrics = {
            "abstention_unanswerable": mean(abstain),
            "false_abstention": mean(false_abstain),
            "homework_leak_rate": mean(leaked),
            "hint_ladder_order": mean(ladder_ok),
            "coach_agreement": mean(coach_agree),
        }
        metrics["score"] = mean([metrics["abstention_unanswerable"], 1 - metrics["false_abstention"],
                                  1 - metrics["homework_leak_rate"], metrics["hint_ladder_order"],
                                  metrics["coach_agreement"]])
        return {"metrics": metrics, "n": len(abstain) + len(false_abstain) + len(attempts) + len(coach_items)}



PEDAGOGY_TASKS = {Pedagogy.name: Pedagogy}
