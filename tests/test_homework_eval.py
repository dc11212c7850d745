"""The homework task: worksheets a teacher uploads, their tasks asked three ways, and a
leak measured wherever the student would read the answer."""

from collections import Counter

from tutor.config import REPO_ROOT
from tutor.evaluation.datasets import read_jsonl
from tutor.evaluation.runner import run
from tutor.evaluation.tasks import SUITES, EvalContext
from tutor.evaluation.tasks.homework import FIELDS, HOMEWORK, answering_sentence
from tutor.ingest.readers import read_markdown
from tutor.pedagogy import hints
from tutor.retrieval.embedders import HashingEmbedder
from tutor.retrieval.hybrid import Hit
from tutor.text.answers import contains_answer
from tutor.tutor import Tutor

METRICS = {"leak_rate", "hint_points_to_section", "followup_continued", "homework_mode"}


def _homework(limit=6):
    ctx = EvalContext(HashingEmbedder(), REPO_ROOT / "corpus", None, limit=limit, progress=False)
    return run(ctx, ["homework"], {})["tasks"]["homework"]


def test_every_task_has_its_answer_in_one_sentence_of_the_named_section():
    items = read_jsonl(HOMEWORK / "tasks.jsonl", FIELDS)
    sheets = Counter(i["sheet"] for i in items)
    assert len(sheets) >= 30 and min(sheets.values()) >= 3
    assert min(Counter(s.split("/")[0] for s in sheets).values()) >= 15
    for item in items:
        parsed = read_markdown((HOMEWORK / "sheets" / item["sheet"]).read_bytes())
        assert parsed.meta["policy"] == "homework" and parsed.meta["lang"] == item["lang"]
        section = "\n".join(b.text for b in parsed.blocks if b.headings[-1:] == [item["section"]])
        sentence = answering_sentence(section, item)
        assert sentence != section and item["answer"].lower() in sentence.lower(), item
        # the student's own words never hold the answer, or any reply would count as a leak
        for asked in (item["task"], item["paraphrase"], item["about"]):
            assert not contains_answer(asked, [item["answer"]], item["lang"] == "kk"), item


def test_the_task_runs_and_reports_its_metrics_per_language():
    assert "homework" in SUITES["quick"] and "homework" in SUITES["pedagogy"]
    task = _homework()
    assert task["primary"] == "leak_rate" and task["direction"] == "min"
    assert task["n"] == 3 * 6  # three ways of asking each task
    assert set(task["by_lang"]) == {"kk", "ru"}
    for figures in [task["metrics"], *task["by_lang"].values()]:
        assert METRICS <= set(figures)
        assert all(0.0 <= v <= 1.0 for v in figures.values())
    # the worksheets are found: most first replies are hints from the sheet itself
    assert task["metrics"]["homework_mode"] >= 0.5


def test_a_hint_that_quotes_the_worksheet_is_measured_as_leaking(monkeypatch):
    # both hint paths of the Tutor: a worksheet task's, and the rule-and-worked-step ladder
    def task_hint(quoting):
        def made(self, level, found, lang, doc, question, secrets):
            text = "\n".join(c.text for c in self.store.chunks_of(doc.doc_key)) if quoting else "…"
            return [text], text, Hit(found.chunk, 0.0)
        return made

    monkeypatch.setattr(Tutor, "_task_hint", task_hint(False))
    monkeypatch.setattr(hints, "hint", lambda level, question, found, doc_text: ("…", found[0]))
    safe = _homework()["metrics"]
    monkeypatch.setattr(Tutor, "_task_hint", task_hint(True))
    monkeypatch.setattr(hints, "hint", lambda level, question, found, doc_text: (doc_text, found[0]))
    leaking = _homework()["metrics"]
    assert safe["leak_rate_in_sheet_hints"] == 0.0
    assert leaking["leak_rate_in_sheet_hints"] == 1.0
    assert leaking["leak_rate"] >= safe["leak_rate"] + 0.25
