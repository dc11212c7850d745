"""The homework task: worksheets a teacher uploads with policy ``homework`` (a content part
and numbered tasks, ``eval/data/homework``), each task asked directly, in other words and as
"tell me about ...", each in a fresh session followed by "another hint" in the same session.

A reply leaks when the task's answer fact shows anywhere the student sees it: the reply text
or a citation card (title, section, quote). A hint points when it names the section that
holds the answer or a concept word of the answering sentence. A follow-up continues when it
is the next rung of the same sheet's hint ladder, neither an abstention nor a logged gap."""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import replace
from pathlib import Path

from tqdm import tqdm

from tutor.answer.extractive import ExtractiveComposer
from tutor.config import REPO_ROOT
from tutor.evaluation.datasets import read_jsonl
from tutor.evaluation.pools import PoolDoc, bundled_docs
from tutor.evaluation.tasks.answers import aggregate_by_lang
from tutor.evaluation.tasks.base import EvalContext, Task
from tutor.ingest.chunking import split_sentences
from tutor.text.answers import contains_answer, normalize_answer
from tutor.tutor import Tutor

HOMEWORK = REPO_ROOT / "eval" / "data" / "homework"
FIELDS = ("sheet", "lang", "task", "answer", "section", "paraphrase", "about")
WAYS = {"task": "direct", "paraphrase": "paraphrase", "about": "about"}
ANOTHER_HINT = {"kk": "Тағы кеңес беріңізші", "ru": "Ещё подсказку, пожалуйста"}
TASK_LIST = re.compile(r"^(тапсырмалар|сұрақтар|задания|вопросы)$", re.IGNORECASE)


def worksheet_docs(folder: Path = HOMEWORK) -> list[PoolDoc]:
    """The worksheets as a teacher uploads them: policy homework, whatever their front matter says."""
    return [replace(d, key="homework/" + d.key, policy="homework")
            for d in bundled_docs(folder / "sheets")]


def visible_text(answer) -> str:
    """Everything the student reads: the reply and each citation card (title, where, quote)."""
    cards = [f"{c.title}\n{c.location()}\n{c.quote}" for c in answer.citations]
    return "\n".join([answer.text, *cards])


def _stem(word: str) -> str:
    return word[: max(4, len(word) - 3)]


def answering_sentence(section_text: str, item: dict) -> str:
    tolerant = item["lang"] == "kk"
    return next((s for s in split_sentences(section_text)
                 if contains_answer(s, [item["answer"]], tolerant)), section_text)


def points_to_section(answer, item: dict, sentence: str, question: str) -> bool:
    """The reply names the section, or a concept word of the answering sentence that is
    neither the answer nor a word the student already typed."""
    if answer.abstained:
        return False
    shown = normalize_answer(visible_text(answer))
    if normalize_answer(item["section"]) in shown:
        return True
    known = {_stem(w) for w in normalize_answer(question + " " + item["answer"]).split()}
    concepts = {_stem(w) for w in normalize_answer(sentence).split() if len(w) >= 5} - known
    words = shown.split()
    return any(w.startswith(c) for c in concepts for w in words)


def _hint_level(answer, sheet_key: str) -> int:
    """The hint rung of a reply drawn from the sheet itself (0: not such a hint)."""
    if not any(c.doc_key == sheet_key for c in answer.citations):
        return 0
    return next((int(n.rsplit("_", 1)[1]) for n in answer.notes if n.startswith("hint_level_")), 0)


def _logged_as_gap(store, session_id: str) -> bool:
    rows = store.query("SELECT answered, kind FROM questions WHERE session=? ORDER BY id DESC LIMIT 1",
                       (session_id,))
    return bool(rows) and not rows[0]["answered"] and not rows[0]["kind"]


class Homework(Task):
    name = "homework"
    suite = "pedagogy"
    primary = "leak_rate"
    direction = "min"
    folder: Path = HOMEWORK

    def run(self, ctx: EvalContext) -> dict:
        items = ctx.cap(read_jsonl(self.folder / "tasks.jsonl", FIELDS))
        pool = ctx.pool(worksheet_docs(self.folder))
        tutor = Tutor(pool.retriever, pool.store, extractive=ExtractiveComposer(ctx.embedder))
        rows: dict[str, list[dict]] = defaultdict(list)
        try:
            for i, item in enumerate(tqdm(items, desc="homework", disable=not ctx.progress, leave=False)):
                key = "homework/" + item["sheet"].removesuffix(".md")
                section = "\n".join(c.text for c in pool.store.chunks_of(key) if c.section == item["section"])
                sentence = answering_sentence(section, item)
                tolerant = item["lang"] == "kk"
                for field, way in WAYS.items():
                    session = f"hw-{i}-{way}"
                    first = tutor.ask(item[field], session_id=session)
                    level = _hint_level(first, key)
                    follow = tutor.ask(ANOTHER_HINT[item["lang"]], session_id=session)
                    leaked = [contains_answer(visible_text(a), [item["answer"]], tolerant) for a in (first, follow)]
                    continued = None
                    if level:  # a ladder was started: the follow-up must climb it
                        continued = float(_hint_level(follow, key) == min(level + 1, 3)
                                          and not follow.abstained and not _logged_as_gap(pool.store, session))
                    row = {
                        # per reply: the first reply and the follow-up weigh the same
                        "leak_rate": sum(leaked) / 2,
                        "leak_rate_first": leaked[0],
                        "leak_rate_followup": leaked[1],
                        "hint_points_to_section": float(points_to_section(first, item, sentence, item[field])),
                        "followup_continued": continued,
                        "homework_mode": float(level > 0),
                        "leak_rate_in_sheet_hints": leaked[0] if level else None,
                        # a hint drawn from the task list points at the question, not at the content
                        "hint_from_task_list": (float(any(TASK_LIST.match(c.section.strip())
                                                          for c in first.citations)) if level else None),
                    }
                    row.update({f"leak_rate_{w}": (leaked[0] if w == way else None) for w in WAYS.values()})
                    rows[item["lang"]].append(row)
        finally:
            pool.close()
        result = aggregate_by_lang(rows)
        result["extra"] = {"tasks": len(items), "sheets": len({i["sheet"] for i in items}),
                           "replies": 2 * result["n"]}
        return result


HOMEWORK_TASKS = {Homework.name: Homework}
