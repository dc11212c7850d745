"""Questions the school materials cannot know: the detector on questions of our own
(tests/data/out_of_scope.toml), written before its patterns, in kk (also typed on a Russian
keyboard), ru and en; and the Tutor's answer to them."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from tutor.i18n import t
from tutor.pedagogy.out_of_scope import KINDS, cannot_know

DATA = tomllib.loads((Path(__file__).parent / "data" / "out_of_scope.toml").read_text(encoding="utf-8"))
CANNOT = [(lang, kind, q) for lang, d in DATA.items() for kind, q in d["cannot"]]
CAN = [(lang, q) for lang, d in DATA.items() for q in d["can"]]


def test_each_language_has_thirty_examples_each_way():
    for lang in ("kk", "ru", "en"):
        assert len(DATA[lang]["cannot"]) >= 30 and len(DATA[lang]["can"]) >= 30, lang
    assert {kind for _, kind, _ in CANNOT} == set(KINDS)


@pytest.mark.parametrize("lang, kind, question", CANNOT)
def test_questions_about_now_and_private_details_are_caught(lang, kind, question):
    assert cannot_know(question) == kind


@pytest.mark.parametrize("lang, question", CAN)
def test_lesson_questions_pass_to_the_search(lang, question):
    assert cannot_know(question) == ""


# ------------------------------------------------------------------ the Tutor's answer
@pytest.mark.parametrize("question, lang, lesson", [
    ("Ертең Алматыда ауа райы қандай болады?", "kk", "kk/geography-climate-of-kazakhstan"),
    ("Ертен Алматыда ауа райы кандай болады?", "kk", "kk/geography-climate-of-kazakhstan"),  # keyboard
    ("Какая погода будет завтра в Алматы?", "ru", "ru/geography-climate-of-kazakhstan"),
])
def test_weather_tomorrow_gets_where_to_look_and_the_climate_lesson_as_a_pointer(
        fake_tutor, question, lang, lesson):
    answer = fake_tutor.ask(question)
    assert answer.lang == lang and answer.abstained and "cannot_know_weather" in answer.notes
    assert answer.text.startswith(t(lang, "cannot_know_weather"))
    assert t(lang, "cannot_know_where_weather") in answer.text
    assert [c.doc_key for c in answer.citations] == [lesson]
    pointer = answer.citations[0]
    assert f"«{pointer.title}» [1]" in answer.text
    # a pointer, not an answer: the lesson's sentences stay on the card, out of the text
    assert ">" not in answer.text and pointer.quote[:40] not in answer.text


def test_english_questions_get_english_help_and_no_pointer_without_a_lesson(fake_tutor):
    answer = fake_tutor.ask("What will the weather be like in Almaty tomorrow?")
    assert answer.lang == "en" and "kazhydromet.kz" in answer.text and "forecast" in answer.text
    answer = fake_tutor.ask("What time is it?")
    assert answer.text == t("en", "cannot_know_time") + "\n\n" + t("en", "cannot_know_where_time")
    assert not answer.citations


@pytest.mark.parametrize("question, lang, words", [
    ("Айгерімнің телефон нөмірі қандай?", "kk", ["ата-анаңызға", "мұғаліміңізге"]),
    ("Какой курс доллара?", "ru", ["nationalbank.kz"]),
    ("Кто выиграл вчерашний матч?", "ru", ["спортивных"]),
    ("Tell me the latest news", "en", ["news website", "teacher"]),
])
def test_each_kind_says_where_to_look_in_the_students_language(fake_tutor, question, lang, words):
    answer = fake_tutor.ask(question)
    assert answer.lang == lang and answer.abstained
    assert all(w in answer.text for w in words), answer.text


def test_history_and_nowadays_questions_are_still_answered_from_the_lessons(fake_tutor):
    for question in ("Қазақ хандығы қай жылы құрылды?", "Бүгінгі таңда Қазақстанда неше облыс бар?"):
        answer = fake_tutor.ask(question)
        assert not any(n.startswith("cannot_know") for n in answer.notes)
        assert answer.citations and not answer.abstained, question


def test_questions_the_materials_cannot_know_are_no_gap_for_the_teacher(fake_tutor, fake_runtime):
    fake_tutor.ask("Ертең Алматыда ауа райы қандай болады?")
    fake_tutor.ask("Кто выиграл чемпионат мира по футболу в 2018 году?")  # a gap: no lesson on it
    gaps = [row["q"] for row in fake_runtime.store.unanswered()]
    assert any("футбол" in q for q in gaps) and not any("ауа райы" in q for q in gaps)
    rows = fake_runtime.store.query("SELECT question, answered, kind FROM questions ORDER BY id")
    assert [(r["answered"], r["kind"]) for r in rows] == [(0, "cannot_know"), (0, "")]


def test_an_older_data_folder_gets_the_question_kind(tmp_path):
    import sqlite3

    from tutor.store import Store

    db = sqlite3.connect(tmp_path / "tutor.db")
    db.execute("CREATE TABLE questions (id INTEGER PRIMARY KEY, at REAL NOT NULL, session TEXT NOT "
               "NULL, lang TEXT NOT NULL, mode TEXT NOT NULL, question TEXT NOT NULL, answered "
               "INTEGER NOT NULL, score REAL)")
    db.execute("INSERT INTO questions VALUES (1, 0, 's', 'kk', 'explain', 'Ертеңгі сабақ?', 0, 0.1)")
    db.commit()
    db.close()
    store = Store(tmp_path / "tutor.db")
    store.log_question("s", "kk", "explain", "Қазір сағат неше?", False, None, kind="cannot_know")
    assert [row["q"] for row in store.unanswered()] == ["Ертеңгі сабақ?"]
    store.close()
