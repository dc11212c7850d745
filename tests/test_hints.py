"""Homework hints that teach without giving the answer: worksheets in Kazakh and Russian
(a text to read and a task list) uploaded as homework, asked about through the Tutor."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from conftest import uploaded_runtime

from tutor.answer.extractive import ExtractiveComposer
from tutor.i18n import t
from tutor.pedagogy.hints import GAP, asks_for_another_hint, focus, gap_fill
from tutor.store import Chunk
from tutor.tutor import Tutor

DATA = Path(__file__).parent / "data" / "hints"

# (worksheet, task as the student types it, the answer span, the sentence that answers it)
TASKS = [
    ("kk", "Көкжиек мұражайы қай жылы ашылды?", "1987", "Көкжиек мұражайы 1987 жылы ашылды."),
    ("kk", "Мұражайдың ғимаратын кім жобалады?", "Арман Жұмабаев",
     "Мұражайдың ғимаратын сәулетші Арман Жұмабаев жобалады."),
    ("kk", "Мұражай қорында неше экспонат сақталады?", "340", "Бүгін мұражай қорында 340 экспонат сақталады."),
    ("ru", "В каком году открылся музей «Горизонт»?", "1987", "Музей «Горизонт» открылся в 1987 году."),
    ("ru", "Кто спроектировал здание музея?", "Ерлан Сейтказиев",
     "Здание музея спроектировал архитектор Ерлан Сейтказиев."),
    ("ru", "Сколько экспонатов хранится в фондах музея?", "340", "Сегодня в фондах музея хранится 340 экспонатов."),
]
MORE = {"kk": "Тағы кеңес беріңізші", "ru": "Ещё подсказку, пожалуйста"}


@pytest.fixture(scope="module")
def worksheets(tmp_path_factory, _fake_corpus_dir):
    runtime = uploaded_runtime(tmp_path_factory.mktemp("hints") / "data", _fake_corpus_dir,
                               sorted(DATA.glob("*.md")))
    yield runtime
    runtime.store.close()


@pytest.fixture
def tutor(worksheets):
    return Tutor(worksheets.retriever, worksheets.store, extractive=ExtractiveComposer(worksheets.embedder))


def _level(answer) -> int:
    return next(int(n[-1]) for n in answer.notes if n.startswith("hint_level_"))


def _shown(answer) -> str:
    return answer.text + " " + " ".join(c.quote for c in answer.citations)


@pytest.mark.parametrize("lang, task, span, sentence", TASKS)
def test_no_hint_gives_the_answer_the_answering_sentence_or_the_task(tutor, lang, task, span, sentence):
    session = f"s-{task}"
    answers = [tutor.ask(task, session_id=session)] + [tutor.ask(MORE[lang], session_id=session)
                                                        for _ in range(3)]
    assert [_level(a) for a in answers] == [1, 2, 3, 3]
    for answer in answers:
        shown = _shown(answer)
        assert answer.policy == "homework" and answer.lang == lang
        assert answer.citations[0].doc_key == f"upload/{lang}_hw_museum.md"
        assert span not in shown, shown
        assert sentence not in shown and task not in shown, shown
        assert not answer.abstained
    # hint 1 names the section to read; hint 2 asks a question of its own
    assert answers[0].citations[0].section in answers[0].text
    second = answers[1].text
    assert "?" in second and "«" in second


@pytest.mark.parametrize("lang, task, span, sentence", TASKS)
def test_the_last_hint_blanks_the_answer_span_and_nothing_else(tutor, lang, task, span, sentence):
    session = f"g-{task}"
    for _ in range(2):
        tutor.ask(task, session_id=session)
    last = tutor.ask(MORE[lang], session_id=session)
    assert _level(last) == 3
    assert f"> {sentence.replace(span, GAP)} [1]" in last.text
    assert t(lang, "hint_max") in last.text  # the quiz mode to check one's own answer
    assert t(lang, "mode_quiz") in last.text


def test_a_new_question_starts_at_hint_one(tutor):
    first, second = TASKS[0][1], TASKS[1][1]
    assert _level(tutor.ask(first, session_id="n")) == 1
    assert _level(tutor.ask(MORE["kk"], session_id="n")) == 2
    assert _level(tutor.ask(MORE["kk"], session_id="n")) == 3
    assert _level(tutor.ask(second, session_id="n")) == 1
    assert _level(tutor.ask(MORE["kk"], session_id="n")) == 2
    # the same task asked again in other words goes on with its own ladder
    assert _level(tutor.ask("Көкжиек мұражайы нешінші жылы ашылды?", session_id="n")) == 3


def test_another_hint_continues_and_is_no_gap_for_the_teacher(tutor, worksheets):
    tutor.ask(TASKS[0][1], session_id="m")
    for follow_up in ("Тағы кеңес беріңізші", "тагы бир кенес"):  # the second on a Russian keyboard
        answer = tutor.ask(follow_up, session_id="m")
        assert not answer.abstained and answer.policy == "homework"
        assert t("kk", "abstain") not in answer.text
    asked = [r["question"] for r in worksheets.store.query("SELECT question FROM questions")]
    assert "Тағы кеңес беріңізші" in asked
    gaps = [row["q"].lower() for row in worksheets.store.unanswered()]
    assert not any("кеңес" in q or "кенес" in q for q in gaps), gaps


def test_another_hint_before_any_question_asks_for_the_task(tutor):
    answer = tutor.ask("ещё подсказку", session_id="fresh")
    assert answer.text == t("ru", "hint_none_yet") and not answer.citations


@pytest.mark.parametrize("text, more", [
    ("Тағы кеңес беріңізші", True), ("тағы бір кеңес", True), ("тагы кенес", True),
    ("ещё подсказку", True), ("Еще подсказка", True), ("another hint please", True),
    ("More hints", True), ("Көкжиек мұражайы қай жылы ашылды?", False),
    ("Кеңес Одағы қашан құрылды?", False), ("Сколько подсказок в задании?", False),
])
def test_another_hint_is_recognised_in_three_languages(text, more):
    assert asks_for_another_hint(text) is more


def test_the_worksheet_task_list_is_found(worksheets):
    from tutor.pedagogy.hints import tasks_and_content

    for lang in ("kk", "ru"):
        tasks, content = tasks_and_content(worksheets.store.chunks_of(f"upload/{lang}_hw_museum.md"))
        assert [task.number for task in tasks] == [1, 2, 3]
        assert not any(re.search(r"\?$", s) for _, sentences in content for s in sentences)


def test_another_hint_after_an_explanation_continues_no_old_ladder(tutor):
    tutor.ask(TASKS[3][1], session_id="x")
    explained = tutor.ask("Что такое фотосинтез?", session_id="x")
    assert explained.composer != "hints" and not explained.abstained
    assert tutor.ask("ещё подсказку", session_id="x").text == t("ru", "hint_none_yet")


def test_a_problem_set_task_is_not_quoted_back_as_the_first_hint(fake_tutor):
    # the bundled Ohm's law problems: a task list with worked solutions and an answer key
    answer = fake_tutor.ask("Найди силу тока в задаче 1 на закон Ома", session_id="p")
    assert answer.policy == "homework" and answer.notes == ["hint_level_1"]
    assert "К резистору" not in answer.text and "Задача 1" not in answer.text
    assert "«Что нужно помнить»" in answer.text  # the section with the rule to apply


def _sheet_beside(tmp_path_factory, corpus_dir, lesson: str):
    runtime = uploaded_runtime(tmp_path_factory.mktemp("hints_lesson") / "data", corpus_dir,
                               [DATA / "ru_hw_museum.md", DATA.parent / "hints_lesson" / lesson])
    yield runtime
    runtime.store.close()


@pytest.fixture(scope="module")
def sheet_and_lesson(tmp_path_factory, _fake_corpus_dir):
    """The Russian worksheet beside a lesson that states the same facts."""
    yield from _sheet_beside(tmp_path_factory, _fake_corpus_dir, "ru_museum_lesson.md")


@pytest.mark.parametrize("lang, task, span, sentence", TASKS[4:])
def test_a_homework_task_that_a_lesson_answers_still_gets_hints(sheet_and_lesson, lang, task, span,
                                                               sentence):
    # the lesson, whose headings repeat the tasks, is the best passage for them
    top = sheet_and_lesson.retriever.search(task, k=4).hits[0]
    assert top.chunk.doc.doc_key == "upload/ru_museum_lesson.md"
    tutor = Tutor(sheet_and_lesson.retriever, sheet_and_lesson.store,
                  extractive=ExtractiveComposer(sheet_and_lesson.embedder))
    first = tutor.ask(task, session_id=task)
    follow = tutor.ask(MORE[lang], session_id=task)
    assert [_level(first), _level(follow)] == [1, 2]
    for answer in (first, follow):
        assert answer.citations[0].doc_key == "upload/ru_hw_museum.md"
        assert span not in _shown(answer), _shown(answer)


def test_a_question_no_task_asks_is_answered_from_the_lesson(sheet_and_lesson):
    tutor = Tutor(sheet_and_lesson.retriever, sheet_and_lesson.store,
                  extractive=ExtractiveComposer(sheet_and_lesson.embedder))
    answer = tutor.ask("Что нужно узнать перед походом в музей?", session_id="rules")
    assert answer.composer == "extractive" and not answer.abstained
    assert answer.citations[0].doc_key == "upload/ru_museum_lesson.md"


@pytest.fixture(scope="module")
def sheet_and_other_words(tmp_path_factory, _fake_corpus_dir):
    """The Russian worksheet beside a lesson that states one of its answers in other words."""
    yield from _sheet_beside(tmp_path_factory, _fake_corpus_dir, "ru_architect_lesson.md")


def test_a_lesson_that_would_hand_over_a_task_answer_gives_that_tasks_hints(sheet_and_other_words):
    # the question shares one word with the task «Кто спроектировал здание музея?», so no task
    # matches it; the lesson's sentence still answers that task
    tutor = Tutor(sheet_and_other_words.retriever, sheet_and_other_words.store,
                  extractive=ExtractiveComposer(sheet_and_other_words.embedder))
    question = "Кто автор проекта музея «Горизонт»?"
    first = tutor.ask(question, session_id="architect")
    follow = tutor.ask(MORE["ru"], session_id="architect")
    for answer in (first, follow):
        assert "Сейтказиев" not in _shown(answer), _shown(answer)
        assert answer.citations[0].doc_key == "upload/ru_hw_museum.md"
    assert [_level(first), _level(follow)] == [1, 2]


def test_a_question_that_names_the_answer_itself_is_answered_from_the_lesson(sheet_and_other_words):
    tutor = Tutor(sheet_and_other_words.retriever, sheet_and_other_words.store,
                  extractive=ExtractiveComposer(sheet_and_other_words.embedder))
    answer = tutor.ask("Что построил архитектор Ерлан Сейтказиев?", session_id="named")
    assert answer.composer == "extractive" and "вокзал" in answer.text
    assert answer.citations[0].doc_key == "upload/ru_architect_lesson.md"


def _sheet(*sections: tuple[str, str]) -> list[Chunk]:
    return [Chunk(text, text, section=name) for name, text in sections]


def test_an_answer_as_short_as_the_words_asked_is_still_the_gap():
    # every longer word of the answering sentence is in the task: the short one is the answer
    chunks = _sheet(("Крупные озёра", "В Балхаш впадает река Или. Озеро Балхаш лежит на востоке страны."),
                    ("Задания", "1. Какая река впадает в Балхаш?"))
    assert gap_fill(focus("Какая река впадает в Балхаш?", "lakes", chunks)) == f"В Балхаш впадает река {GAP}."


def test_a_question_naming_a_sections_heading_is_pointed_to_that_section():
    chunks = _sheet(("Атмосферное давление", "Атмосферное давление измеряют барометром."),
                    ("Единица давления", "Давление измеряется в паскалях."),
                    ("Задания", "1. Каким прибором измеряют атмосферное давление?"))
    assert focus("Расскажи про единицу давления", "pressure", chunks).chunk.section == "Единица давления"
