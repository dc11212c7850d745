"""The Tutor: one question in, one cited answer out.

It receives its parts (retriever, composers, store) through the constructor, so tests
hand it fakes and the app hands it real models.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

from tutor.answer.extractive import ExtractiveComposer
from tutor.answer.named import mentions_required, passage_vocabulary, required_terms
from tutor.answer.types import MODES, Answer, Citation, Composer
from tutor.i18n import LANGS, t
from tutor.pedagogy import coach, hints, quiz
from tutor.pedagogy.out_of_scope import cannot_know, topic_query
from tutor.pedagogy.sessions import MemorySessions, Sessions, SessionState
from tutor.retrieval.hybrid import Filters, Hit, Retriever, SearchResult
from tutor.retrieval.reading import EvidenceReading
from tutor.safety.instructions import sanitize_hits
from tutor.safety.moderation import SERIOUS, moderate
from tutor.safety.pii import redact_pii
from tutor.scopes import Scope
from tutor.store import TutorStore
from tutor.text.langdetect import detect_language
from tutor.text.textnorm import tokenize

log = logging.getLogger(__name__)


class Tutor:
    def __init__(self, retriever: Retriever, store: TutorStore, composer: Composer | None = None,
                 extractive: ExtractiveComposer | None = None,
                 top_k: int = 5, max_sessions: int = 5000, keep_questions: bool = True,
                 sessions: Sessions | None = None, reading: EvidenceReading | None = None):
        self.retriever = retriever
        self.store = store
        self.extractive = extractive or ExtractiveComposer(getattr(retriever.index, "embedder", None))
        self.composer = composer or self.extractive
        self.top_k = top_k
        self.keep_questions = keep_questions  # retention_days = 0: store no questions at all
        # a student's hint ladder and pending quiz: in this process, or in the database when
        # replicas share the students (tutor/pedagogy/sessions.py)
        self.sessions = sessions or MemorySessions(max_sessions)
        self.reading = reading  # the LLM re-ranks the top passages (tutor/retrieval/reading.py)

    # ---------------------------------------------------------------- sessions
    def session(self, session_id: str) -> SessionState:
        return self.sessions.get(session_id)

    def reset(self, session_id: str) -> None:
        self.sessions.delete(session_id)

    # ------------------------------------------------------------------ asking
    def ask(self, question: str, session_id: str = "anonymous", mode: str = "explain",
            lang: str = "auto", scope: Scope | None = None) -> Answer:
        answer = None
        for _, final in self.stream(question, session_id, mode, lang, scope):
            answer = final
        return answer

    def stream(self, question: str, session_id: str = "anonymous", mode: str = "explain",
               lang: str = "auto", scope: Scope | None = None) -> Iterator[tuple[str, Answer | None]]:
        """Yield (text so far, None) while writing, then (full text, Answer). ``scope``: the
        student's class and school; everything they get comes from what it sees, and the
        question is logged for that class. None (tools, evaluation): every document."""
        if self.reading is None:
            yield from self._stream(question, session_id, mode, lang, scope)
            return
        with self.reading.answering():  # the reader steps aside when answers run side by side
            yield from self._stream(question, session_id, mode, lang, scope)

    def _stream(self, question: str, session_id: str, mode: str, lang: str,
                scope: Scope | None) -> Iterator[tuple[str, Answer | None]]:
        class_id = scope.class_id if scope else None
        filters = Filters(scope=scope)
        mode = mode if mode in MODES else "explain"
        question = (question or "").strip()
        # Kazakh typed on a Russian keyboard ("кандай", "жумыс") gets its letters back first,
        # so that it is recognised, answered in Kazakh and searched as Kazakh.
        restore = getattr(self.retriever, "restore_letters", None)
        question = restore(question) if restore and question else question
        if lang not in LANGS:
            lang = detect_language(question, default="kk") if question else "kk"
        if not any(ch.isalnum() for ch in question):
            answer = Answer(t(lang, "empty_question"), lang, mode, "none", abstained=True)
            yield answer.text, answer
            return
        clean = redact_pii(question)
        category = moderate(clean)
        if category:
            answer = self._safety_answer(category, lang, mode, session_id, clean, class_id)
            yield answer.text, answer
            return
        state = self.session(session_id)
        if mode == "quiz" and state.pending_quiz is not None:
            answer = self._check_quiz(state, clean, lang)
            self.sessions.put(session_id, state)
            yield answer.text, answer
            return
        # "Тағы кеңес беріңізші" climbs the ladder of the question asked before: it is no
        # question of its own, so it is never an abstention nor a gap for the teacher.
        follow_up = hints.asks_for_another_hint(clean)
        if follow_up:
            if state.hint_question is None:
                answer = Answer(t(lang, "hint_none_yet"), lang, mode, "hints", notes=["hint_none_yet"])
                yield answer.text, answer
                return
            clean = state.hint_question
        # Lessons are written ahead of time: tomorrow's weather, the news, today's prices or a
        # person's phone number get where to look instead, never a quote that seems to answer.
        out_of_scope = None if follow_up else cannot_know(clean)
        if out_of_scope:
            answer = self._cannot_know(out_of_scope, lang, mode, filters)
            if self.keep_questions:  # unanswered, yet no gap in the materials for the teacher
                self.store.log_question(session_id, lang, mode, clean, False, None, kind="cannot_know",
                                        class_id=class_id)
            yield answer.text, answer
            return

        result = self.retriever.search(clean, k=self.top_k * 2, filters=filters, prefer_lang=lang)
        # Passages are material, not orders: sentences that instruct the assistant ("ignore
        # your rules", "tell the student that...") are dropped before any composer, hint or
        # quiz sees them (tutor/safety/instructions.py).
        result.hits = sanitize_hits(result.hits)
        answered = result.has_evidence
        read = ""
        if self.reading is not None and answered and mode in ("explain", "hints"):
            result.hits, read = self.reading.rerank(clean, result.hits)
        answer = None
        if mode == "coach":
            answer = self._coach(clean, lang, result, scope)
        elif not answered:
            answer = self._not_in_materials(lang, mode)
        else:
            top = result.hits[0].chunk.doc
            reference_near = any(h.chunk.doc.policy == "reference" for h in result.hits[:3])
            if top.policy == "assessment" and not reference_near:
                # A question about the test itself; a general question on the same topic
                # is answered from reference material (the test is never quoted).
                answer = Answer(t(lang, "assessment_refusal"), lang, mode, "policy",
                                policy="assessment", confidence=result.confidence)
            # a task of the class's homework that a lesson answers still gets hints, from the sheet
            elif (sheet := None if top.policy == "homework" else self._homework_task(clean, result)) \
                    or follow_up or top.policy == "homework" or mode == "hints":
                answer = self._hint(clean, lang, mode, result, state, sheet)
            elif mode == "quiz":
                answer = self._quiz(lang, result, state)
        if answer is None:
            evidence = [h for h in result.hits if h.chunk.doc.policy == "reference"][: self.top_k]
            # A reply near a homework sheet may show a task's answer in other words than the
            # task's: it is checked whole before any of it is shown.
            sheets = self._answered_sheets(result)
            # So is an answer to a question that names something (a person, a work, a place)
            # that some of the passages never mention: quoted from those, it answers another
            # question (docs/decisions/2026-12-07-named-terms.md).
            names = required_terms(clean)
            if names and all(self._mentions(names, [Citation.from_hit(0, h)], lang) for h in evidence):
                names = []
            text = ""
            for text, final in self.composer.stream(clean, lang, evidence, mode):
                if final is None:
                    if not sheets and not names:
                        yield text, None
                else:
                    answer = final
            if sheets and (handed := self._hands_over(clean, answer, sheets)):
                answer = self._hint(handed[0], lang, mode, result, state, handed[1])
            elif names and answer.citations and not self._mentions(names, answer.citations, lang):
                answer = self._not_in_materials(lang, mode, notes=["named_not_in_evidence"])
        answer.confidence = result.confidence
        if read:
            answer.notes.append(read)
        if answer.composer != "hints":  # "another hint" after an explanation starts nothing stale
            state.hint_question = None
        self.sessions.put(session_id, state)
        blocked = moderate(answer.text) if answer.citations else ""
        if blocked and blocked != "assessment_cheating":
            self.store.add_flag(session_id, blocked, lang, None, class_id)
            answer = Answer(t(lang, "safety_output_blocked"), lang, mode, "policy",
                            flag=blocked, notes=["output_moderated"])
        if self.keep_questions:
            asked = redact_pii(question) if follow_up else clean  # the follow-up as the student wrote it
            self.store.log_question(session_id, lang, mode, asked, answered and not answer.abstained,
                                    result.confidence, class_id=class_id)
        yield answer.text, answer

    # ----------------------------------------------------------------- helpers
    @staticmethod
    def _not_in_materials(lang: str, mode: str, notes: list[str] | None = None) -> Answer:
        return Answer(t(lang, "abstain") + "\n\n" + t(lang, "abstain_tips"), lang, mode, "none",
                      abstained=True, notes=notes or [])

    @staticmethod
    def _mentions(names: list[tuple[str, ...]], citations: list[Citation], lang: str) -> bool:
        """Whether the cited passages in the question's language (their titles, sections and
        texts) mention what it names (``named.required_terms``). Passages in the other
        language cannot tell: "кюев" is "күй" there, "Балхаш" is "Балқаш"."""
        same = [c for c in citations if c.lang in ("", lang)]
        vocabulary = passage_vocabulary(*(f"{c.title} {c.section} {c.quote}" for c in same))
        return not same or mentions_required(names, vocabulary)

    def topic_vocabulary(self, scope: Scope | None = None) -> set[str]:
        """Stems of the titles and section names ``scope`` sees: naming one names the topic."""
        generation = self.store.generation
        if getattr(self, "_vocab_generation", None) != generation:
            self._vocab, self._vocab_generation = {}, generation
        if scope not in self._vocab:
            self._vocab[scope] = {tok for title in self.store.section_titles(scope)
                                  for tok in tokenize(title) if len(tok) > 3}
        return self._vocab[scope]

    def _safety_answer(self, category: str, lang: str, mode: str, session_id: str,
                       clean: str, class_id: int | None = None) -> Answer:
        # Teachers see the category and time; the text only for serious categories,
        # where an adult may need to act.
        self.store.add_flag(session_id, category, lang, clean if category in SERIOUS else None, class_id)
        # The note must say truthfully what the teacher will see.
        note = "safety_note_teacher_serious" if category in SERIOUS else "safety_note_teacher"
        text = t(lang, f"safety_{category}") + "\n\n" + t(lang, note)
        return Answer(text, lang, mode, "policy", flag=category, notes=["input_moderated"])

    def _cannot_know(self, kind: str, lang: str, mode: str, filters: Filters | None = None) -> Answer:
        """What the lessons cannot know, the lesson on the subject as a pointer (its citation
        card, no quote in the text), and where to look instead."""
        parts, citations = [t(lang, f"cannot_know_{kind}")], []
        topic = topic_query(kind, lang)
        found = self.retriever.search(topic, k=self.top_k, filters=filters, prefer_lang=lang) if topic else None
        if found is not None and found.has_evidence:
            lesson = next((h for h in sanitize_hits(found.hits)
                           if h.chunk.doc.policy == "reference"), None)
            if lesson is not None:
                parts.append(t(lang, "cannot_know_pointer", title=lesson.chunk.doc.title, n=1))
                citations.append(Citation.from_hit(1, lesson))
        parts.append(t(lang, f"cannot_know_where_{kind}"))
        return Answer("\n\n".join(parts), lang, mode, "policy", citations, abstained=True,
                      notes=[f"cannot_know_{kind}"])

    def _homework_task(self, question: str, result: SearchResult) -> Hit | None:
        """The best passage of a homework sheet among the top passages whose task list holds
        the question (matched by its words), or None."""
        for hit in result.hits[: self.top_k]:
            if hit.chunk.doc.policy != "homework":
                continue
            tasks, _ = hints.tasks_and_content(self.store.chunks_of(hit.chunk.doc.doc_key))
            if hints.match_task(question, tasks) is not None:
                return hit
        return None

    def _answered_sheets(self, result: SearchResult) -> list[Hit]:
        """The best passage of each homework sheet found whose tasks have answer content."""
        sheets: dict[str, Hit] = {}
        for hit in result.hits:
            if hit.chunk.doc.policy == "homework" and self._task_answers(hit.chunk.doc.doc_key):
                sheets.setdefault(hit.chunk.doc.doc_key, hit)
        return list(sheets.values())

    def _hands_over(self, question: str, answer: Answer, sheets: list[Hit]) -> tuple[str, Hit] | None:
        """The homework task (its text and its sheet's passage) whose answer ``answer`` would
        show, in its text or on its citation cards; None when it shows none."""
        cards = "\n".join(f"{c.title}\n{c.section}\n{c.quote}" for c in answer.citations)
        for hit in sheets:
            task = hints.handed_over(question, answer.text, cards, self._task_answers(hit.chunk.doc.doc_key))
            if task is not None:
                return task.text, hit
        return None

    def _task_answers(self, doc_key: str) -> list[tuple[hints.Task, frozenset[str]]]:
        """A homework sheet's tasks with their answer content, once per corpus generation."""
        generation = self.store.generation
        if getattr(self, "_answers_generation", None) != generation:
            self._answers, self._answers_generation = {}, generation
        if doc_key not in self._answers:
            chunks = [c for c in self.store.chunks_of(doc_key) if not hints.ANSWER_SECTION.search(c.section)]
            self._answers[doc_key] = hints.task_answers(doc_key, chunks, getattr(self.extractive, "embedder", None))
        return self._answers[doc_key]

    def _hint(self, question: str, lang: str, mode: str, result: SearchResult,
              state: SessionState, top: Hit | None = None) -> Answer:
        top = top or result.hits[0]
        doc = top.chunk.doc
        same_doc = [h for h in result.hits if h.chunk.doc.doc_key == doc.doc_key
                    and not hints.ANSWER_SECTION.search(h.chunk.section)]
        material = sanitize_hits([Hit(c, 0.0) for c in self.store.chunks_of(doc.doc_key)
                                  if not hints.ANSWER_SECTION.search(c.section)])
        if not same_doc:  # only the answer key matched: point into the tasks instead
            same_doc = material
        doc_text = "\n".join(c.text for c in self.store.chunks_of(doc.doc_key))
        found = hints.focus(question, doc.doc_key, [h.chunk for h in material],
                            getattr(self.extractive, "embedder", None))
        # the ladder belongs to the question: a new task starts at hint 1
        level = min(state.hint_levels.get(found.key, 0) + 1, 3)
        state.hint_levels[found.key] = level
        state.hint_question = question
        parts = [t(lang, "homework_note")] if doc.policy == "homework" else []
        secrets = hints.final_answers(doc_text)
        # A worksheet's task gets hints around the sentence that answers it. A problem set
        # with an answer key and a task of no known answer kind (a computation) keeps the
        # ladder of rule and first worked step, masked by its answer key.
        if found.span is not None and (found.kind is not None or not secrets) \
                or level == 1 and found.chunk is not None:  # a pointer, never the task quoted back
            body, quote, hit = self._task_hint(level, found, lang, doc, question, secrets)
            parts += body
        else:
            made = hints.hint(level, question, same_doc, doc_text)
            if made is None:
                return Answer(t(lang, "abstain"), lang, mode, "policy", abstained=True)
            quote, hit = made
            parts += [t(lang, f"hint_{level}", section=hit.chunk.section or doc.title, title=doc.title),
                      f"> {quote} [1]"]
        parts.append(t(lang, "hint_more" if level < 3 else "hint_max"))
        citation = Citation.from_hit(1, hit, quote=quote)
        return Answer("\n\n".join(parts), lang, mode, "hints", [citation], policy=doc.policy,
                      notes=[f"hint_level_{level}"])

    def _task_hint(self, level: int, found: hints.Focus, lang: str, doc, question: str,
                   secrets: list[str]) -> tuple[list[str], str, Hit]:
        """A worksheet task's hint (the texts, the citation's quote, the passage): never the
        task, the sentence that answers it or its answer. The citation quotes the section's
        name until the gap-fill."""
        def hide(text: str) -> str:  # an answer key's values stay hidden wherever they appear
            return hints.mask(text, question, secrets) if secrets else text

        hit = Hit(found.chunk, 0.0)
        kind = found.kind or "other"
        section = found.chunk.section or doc.title
        if level == 1:
            return [t(lang, "hint_task_1", section=section, title=doc.title,
                      look=t(lang, f"hint_look_{kind}"))], section, hit
        if level == 2:
            concepts = hide(", ".join(found.concepts)) or section
            return [t(lang, "hint_task_2", concepts=concepts, what=t(lang, f"hint_what_{kind}"))], section, hit
        gapped = hide(hints.gap_fill(found))
        return [t(lang, "hint_task_3"), f"> {gapped} [1]"], gapped, hit

    def _quiz(self, lang: str, result: SearchResult, state: SessionState) -> Answer:
        evidence = [h for h in result.hits if h.chunk.doc.policy == "reference"]
        item = quiz.make_cloze(evidence, seed=state.quiz_count)
        state.quiz_count += 1
        if item is None:
            return Answer(t(lang, "quiz_none"), lang, "quiz", "quiz")
        state.pending_quiz = item
        text = "\n\n".join([t(lang, "quiz_intro", title=item.hit.chunk.doc.title),
                            f"> {item.prompt}", t(lang, "quiz_answer_prompt")])
        citation = Citation.from_hit(1, item.hit, quote=item.prompt)
        return Answer(text, lang, "quiz", "quiz", [citation])

    def _check_quiz(self, state: SessionState, reply: str, lang: str) -> Answer:
        item = state.pending_quiz
        state.pending_quiz = None
        ok = quiz.check_answer(item, reply)
        head = t(lang, "quiz_correct") if ok else t(lang, "quiz_wrong", answer=item.answer)
        citation = Citation.from_hit(1, item.hit, quote=item.sentence)
        return Answer(f"{head}\n\n> {item.sentence} [1]", lang, "quiz", "quiz", [citation],
                      notes=["quiz_correct" if ok else "quiz_wrong"])

    def _coach(self, question: str, lang: str, result: SearchResult, scope: Scope | None = None) -> Answer:
        rating = coach.rate_question(question, self.topic_vocabulary(scope))
        lines = [t(lang, "coach_intro")]
        for key, ok in (("specific", rating.specific), ("subject", rating.names_subject),
                        ("context", rating.gives_context)):
            lines.append(("✅ " if ok else "➕ ") + t(lang, f"coach_{key}_{'yes' if ok else 'no'}"))
        reference = [h for h in result.hits if h.chunk.doc.policy == "reference"]
        # the check-a-sentence step needs only a plausible passage, not full evidence
        hit: Hit | None = reference[0] if reference and result.confidence >= 0.25 else None
        subject = hit.chunk.doc.subject if hit else coach.guess_subject(question) or "…"
        topic = (hit.chunk.section or hit.chunk.doc.title) if hit else "…"
        grade = (hit.chunk.doc.grade if hit and hit.chunk.doc.grade else "…")
        lines.append(t(lang, "coach_better") + " «" + t(
            lang, "coach_better_template", grade=grade, subject=subject, known="…",
            topic=topic) + "»")
        citations = []
        if hit:
            sentence = self.extractive.best_sentences(question, [hit])
            quote = sentence[0][1] if sentence else hit.chunk.text[:200]
            lines.append(t(lang, "coach_check", n=1, quote=quote))
            citations.append(Citation.from_hit(1, hit, quote=quote))
        return Answer("\n\n".join(lines), lang, "coach", "coach", citations,
                      notes=[f"coach_score_{rating.score}"])
