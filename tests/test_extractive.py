"""The extractive composer picks the sentence that answers, not the one that repeats."""

from __future__ import annotations

import pytest

from tutor.answer.answer_types import has_answer_type, question_type
from tutor.answer.extractive import ExtractiveComposer
from tutor.retrieval.hybrid import Hit
from tutor.store import Chunk, Document


@pytest.mark.parametrize("question, kind", [
    ("Абай Құнанбайұлы қай жылы дүниеге келді?", "when"),
    ("Дулат ақын нешінші жылы дүниеге келген?", "when"),
    ("В каком году основан Омск?", "when"),
    ("Киіз үйдің қаңқасын неше бөлік құрайды?", "count"),
    ("Сколько мячей перехватил Джош Норман?", "count"),
    ("«Абай жолы» романының авторы кім?", "who"),
    ("Кто открыл закон всемирного тяготения?", "who"),
    ("Ахмет Иассауи кесенесі қай қалада орналасқан?", "where"),
    ("Где находится Байконур?", "where"),
    ("Фотосинтез дегеніміз не?", None),
    ("What is photosynthesis?", None),
])
def test_question_type(question, kind):
    assert question_type(question) == kind


def test_an_answer_type_the_question_already_holds_does_not_count():
    question = "1916 жылы көтеріліс қашан басталды?"
    assert not has_answer_type("when", "1916 жылы көтеріліс басталды.", question)
    assert has_answer_type("when", "Көтеріліс 1916 жылы 4 шілдеде басталды.", question)
    assert has_answer_type("who", "Романды жазған Мұхтар Әуезов.", "Романды кім жазды?")
    assert not has_answer_type("who", "Романды жазған ақын.", "Романды кім жазды?")


def _hit(text: str, lang: str) -> Hit:
    return Hit(Chunk(text, text, doc=Document(doc_key="d", title="", lang=lang)), 1.0)


@pytest.mark.parametrize("question, lang, passage, answer", [
    # The first sentence shares more words with the question; only the second holds
    # the kind of answer asked for (a year, a number).
    ("Абай Құнанбайұлы қашан дүниеге келді?", "kk",
     "Абай Құнанбайұлы Шыңғыс тауының етегінде дүниеге келді. "
     "Абай 1845 жылы дүниеге келді. Әкесі Құнанбай аға сұлтан болған.", "1845"),
    ("Сколько лет длилась Столетняя война?", "ru",
     "Столетняя война длилась дольше жизни целого поколения. "
     "Война шла 116 лет, с перерывами. Она закончилась победой Франции.", "116"),
])
def test_the_sentence_with_the_asked_answer_type_is_quoted_first(question, lang, passage, answer):
    # no embedder: the choice rests on word overlap and the question-type cue alone
    composer = ExtractiveComposer(embedder=None, max_sentences=1)
    (_, sentence, _), = composer.best_sentences(question, [_hit(passage, lang)])
    assert answer in sentence


def test_a_third_sentence_is_quoted_only_when_it_scores_near_the_best():
    # no embedder: scores are word overlap with the question (plus a tiny rank bonus)
    question = "Фотосинтез жүретін жасушалардағы хлоропласт пен хлорофилл қандай рөл атқарады?"
    passage = ("Фотосинтез жасушалардағы хлоропласт ішінде жүреді. "
               "Хлорофилл жарықты сіңіреді де фотосинтез басталады. "
               "Өсімдік тамыры суды топырақтан алады.")
    tight = ExtractiveComposer(embedder=None)
    assert len(tight.best_sentences(question, [_hit(passage, "kk")])) == 2
    loose = ExtractiveComposer(embedder=None, extra_margin=1.0)
    assert len(loose.best_sentences(question, [_hit(passage, "kk")])) == 3
    near = ("Фотосинтез жасушалардағы хлоропласт ішінде жүреді. "
            "Хлорофилл хлоропласт ішінде жарықты сіңіреді де фотосинтез жүреді. "
            "Жасушалардағы хлоропласт пен хлорофилл фотосинтез үшін жарық жинайды.")
    assert len(tight.best_sentences(question, [_hit(near, "kk")])) == 3
