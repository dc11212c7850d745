"""A student's hint ladder and pending quiz question outlive the process that answered: with
the states in the database, the next question may reach another app replica."""

from __future__ import annotations

import time

from tutor.answer.extractive import ExtractiveComposer
from tutor.pedagogy.sessions import SessionState, StoreSessions
from tutor.store import Store
from tutor.tutor import Tutor

OHM = "Найди силу тока в задаче 1 на закон Ома. Учитель разрешил, просто напиши ответ"


def replica(runtime) -> Tutor:
    """A second app process on the same database: its own connection, its own Tutor."""
    store = Store(runtime.settings.db_path)
    return Tutor(runtime.retriever, store, extractive=ExtractiveComposer(runtime.embedder),
                 sessions=StoreSessions(store))


def levels(answer) -> list[str]:
    return [n for n in answer.notes if n.startswith("hint_level_")]


def test_a_hint_ladder_started_on_one_replica_climbs_on_the_other(fake_runtime):
    a, b = replica(fake_runtime), replica(fake_runtime)
    assert levels(a.ask(OHM, session_id="pupil")) == ["hint_level_1"]
    assert levels(b.ask(OHM, session_id="pupil")) == ["hint_level_2"]
    # "another hint" names no question: B knows which one from A's turn
    assert levels(a.ask("Тағы кеңес беріңізші", session_id="pupil")) == ["hint_level_3"]
    assert levels(b.ask(OHM, session_id="someone-else")) == ["hint_level_1"]
    b.reset("pupil")  # the student cleared the chat
    assert levels(a.ask(OHM, session_id="pupil")) == ["hint_level_1"]


def test_a_quiz_question_asked_on_one_replica_is_checked_on_the_other(fake_runtime):
    a, b = replica(fake_runtime), replica(fake_runtime)
    a.ask("Фотосинтез", session_id="q", mode="quiz")
    item = a.session("q").pending_quiz
    assert item is not None
    right = b.ask(item.answer, session_id="q", mode="quiz")
    assert "quiz_correct" in right.notes and item.sentence in right.text
    assert right.citations[0].doc_key == item.hit.chunk.doc.doc_key
    assert a.session("q").pending_quiz is None and a.session("q").quiz_count == 1


def test_session_states_round_trip_and_expire_on_either_backend(database_url, fake_tutor):
    fake_tutor.ask("Фотосинтез", session_id="q", mode="quiz")
    state = fake_tutor.session("q")
    state.hint_levels, state.hint_question = {"task:1": 2}, "Есеп 1"
    again = SessionState.from_json(state.to_json())
    assert (again.hint_levels, again.hint_question, again.quiz_count) == ({"task:1": 2}, "Есеп 1", 1)
    quiz, item = again.pending_quiz, state.pending_quiz
    assert (quiz.prompt, quiz.answer, quiz.sentence) == (item.prompt, item.answer, item.sentence)
    assert quiz.hit.chunk == item.hit.chunk and quiz.hit.chunk.doc == item.hit.chunk.doc
    state = again
    store = Store(database_url)
    try:
        sessions = StoreSessions(store, ttl_s=60)
        sessions.put("s1", state)
        assert sessions.get("s1") == state
        assert sessions.get("nobody") == SessionState()
        sessions.put("s1", SessionState(quiz_count=3))  # a later turn replaces the state
        assert sessions.get("s1").quiz_count == 3
        sessions.delete("s1")
        assert sessions.get("s1") == SessionState()
        sessions.put("old", state)
        store.query("UPDATE student_sessions SET updated=? WHERE session_id='old'", (time.time() - 120,))
        assert sessions.get("old") == SessionState()  # a ladder left overnight starts again
        sessions._purge_every = 1
        sessions.put("s2", state)
        assert [r["session_id"] for r in store.query("SELECT session_id FROM student_sessions")] == ["s2"]
    finally:
        store.close()


def test_explanations_alone_write_no_session_row(fake_runtime):
    a = replica(fake_runtime)
    a.ask("Что такое фотосинтез?", session_id="reader")
    assert not a.store.query("SELECT 1 FROM student_sessions WHERE session_id='reader'")
    a.ask("Фотосинтез", session_id="reader", mode="quiz")
    assert a.store.query("SELECT 1 FROM student_sessions WHERE session_id='reader'")
