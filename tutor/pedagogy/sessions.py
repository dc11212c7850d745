"""A student's place in the conversation: the hint ladder's levels, the question "another
hint" continues, the quiz question waiting for an answer. Keyed by the browser's
pseudonymous session id.

``MemorySessions`` keeps them in the process (the CLI, tests, one school PC). ``StoreSessions``
keeps them in the store's ``student_sessions`` table as JSON, so that with several app
replicas behind a load balancer the next question may land on any of them
(docs/decisions/2026-12-07-replicas.md).
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections import OrderedDict
from dataclasses import asdict, dataclass, field, fields
from typing import Protocol

from tutor.pedagogy.quiz import QuizItem
from tutor.retrieval.hybrid import Hit
from tutor.store import Chunk, Document

# a school day: a ladder left overnight starts again at hint 1
SESSION_TTL_S = 12 * 3600


@dataclass
class SessionState:
    # the hint ladder's level per question (a worksheet's task, or the question's words), and
    # the question that "another hint" continues
    hint_levels: dict[str, int] = field(default_factory=dict)
    hint_question: str | None = None
    pending_quiz: QuizItem | None = None
    quiz_count: int = 0

    def to_json(self) -> str:
        quiz = None
        if self.pending_quiz is not None:
            item = self.pending_quiz
            # the passage is carried whole, so the answer is checked against the passage the
            # question was made from even if a teacher changes the document meanwhile
            chunk = {f.name: getattr(item.hit.chunk, f.name) for f in fields(Chunk) if f.name != "doc"}
            quiz = {"prompt": item.prompt, "answer": item.answer, "sentence": item.sentence,
                    "score": item.hit.score, "chunk": chunk, "doc": asdict(item.hit.chunk.doc)}
        return json.dumps({"hint_levels": self.hint_levels, "hint_question": self.hint_question,
                           "quiz_count": self.quiz_count, "pending_quiz": quiz}, ensure_ascii=False)

    @classmethod
    def from_json(cls, text: str) -> SessionState:
        data = json.loads(text)
        quiz = data.get("pending_quiz")
        item = None
        if quiz:
            chunk = Chunk(**quiz["chunk"], doc=Document(**quiz["doc"]))
            item = QuizItem(quiz["prompt"], quiz["answer"], quiz["sentence"], Hit(chunk, quiz["score"]))
        return cls({k: int(v) for k, v in data.get("hint_levels", {}).items()}, data.get("hint_question"),
                   item, int(data.get("quiz_count", 0)))


def browser_session(session_hash: str | None, fallback: str) -> str:
    """The Tutor's session id of a browser tab: derived from the tab's Gradio session hash,
    which the browser sends to whichever replica serves it (a ``gr.State`` lives in one
    replica's memory and would start afresh on another). Hashed, so the id has the
    pseudonymous uuid form the question log keeps. ``fallback`` where there is no hash."""
    if not session_hash:
        return fallback
    return hashlib.sha256(f"ustaz-session:{session_hash}".encode()).hexdigest()[:32]


class Sessions(Protocol):
    def get(self, session_id: str) -> SessionState: ...

    def put(self, session_id: str, state: SessionState) -> None: ...

    def delete(self, session_id: str) -> None: ...


class MemorySessions:
    """The most recently used ``max_sessions`` states of this process."""

    def __init__(self, max_sessions: int = 5000):
        self._states: OrderedDict[str, SessionState] = OrderedDict()
        self._max = max_sessions
        self._lock = threading.Lock()

    def get(self, session_id: str) -> SessionState:
        with self._lock:
            state = self._states.pop(session_id, None) or SessionState()
            self._states[session_id] = state
            while len(self._states) > self._max:
                self._states.popitem(last=False)
            return state

    def put(self, session_id: str, state: SessionState) -> None:
        with self._lock:
            self._states[session_id] = state

    def delete(self, session_id: str) -> None:
        with self._lock:
            self._states.pop(session_id, None)


class StoreSessions:
    """Session states in the database, shared by every replica on it. Each write is one
    upsert outside the store's writer lock (a student's state is theirs alone); an empty
    state is not written; states untouched for ``ttl_s`` are ignored and, every
    ``purge_every`` writes, deleted."""

    def __init__(self, store, ttl_s: float = SESSION_TTL_S, purge_every: int = 200):
        self.store = store
        self.ttl_s = ttl_s
        self._purge_every = purge_every
        self._writes = 0

    def get(self, session_id: str) -> SessionState:
        rows = self.store.query("SELECT state FROM student_sessions WHERE session_id=? AND updated>?",
                                (session_id, time.time() - self.ttl_s))
        state = SessionState.from_json(rows[0]["state"]) if rows else SessionState()
        state.stored = bool(rows)  # (not a field: compared and serialised states ignore it)
        return state

    def put(self, session_id: str, state: SessionState) -> None:
        if not getattr(state, "stored", True) and state == SessionState():
            return  # most answers are explanations: no row for a student who never took a hint
        self.store.query("INSERT OR REPLACE INTO student_sessions (session_id, state, updated) VALUES (?,?,?)",
                         (session_id, state.to_json(), time.time()))
        self._writes += 1
        if self._writes % self._purge_every == 0:
            self.store.query("DELETE FROM student_sessions WHERE updated<?", (time.time() - self.ttl_s,))

    def delete(self, session_id: str) -> None:
        self.store.query("DELETE FROM student_sessions WHERE session_id=?", (session_id,))
