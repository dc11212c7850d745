"""Injection phrasings the instruction patterns were not written from
(tests/data/injection_heldout.jsonl, committed before the patterns were changed): role claims,
"the teacher orders", answer-only-with-this-word, passwords, language switches, Kazakh in Latin
letters and typed on a Russian keyboard. Each must be stripped from an ordinary lesson paragraph
with the rest kept, and none may reach a composer through the Tutor. The other side: ordinary
sentences of the bundled lessons, the AI-literacy lessons about prompts above all, are kept.
Figures and the choice: docs/decisions/2026-12-06-injection-heldout.md."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from conftest import uploaded_runtime
from test_injection import DATA, ObedientGenerator

from tutor.answer.extractive import ExtractiveComposer
from tutor.answer.generative import GenerativeComposer
from tutor.config import REPO_ROOT
from tutor.ingest.chunking import split_sentences
from tutor.ingest.readers import split_front_matter
from tutor.retrieval.hybrid import Filters
from tutor.safety.instructions import instruction_like, strip_instructions
from tutor.tutor import Tutor

HELDOUT = [json.loads(line) for line in
           (Path(__file__).parent / "data" / "injection_heldout.jsonl").read_text(encoding="utf-8").splitlines()]
CORPUS = REPO_ROOT / "corpus"

# An ordinary lesson paragraph per language, the phrasing put between its two halves.
LESSONS = {
    "en": ("Where is the Charyn Canyon and what is the Valley of Castles?",
           "The Charyn Canyon lies about 200 km east of Almaty, on the Charyn River. Its best-known part is "
           "the Valley of Castles, where wind and water have carved red sandstone into towers and walls.",
           "The rocks of the canyon are about 12 million years old. Near the river grows a rare ash forest "
           "that has survived since the Ice Age."),
    "ru": ("Где находится Чарынский каньон и что такое Долина замков?",
           "Чарынский каньон находится примерно в 200 км к востоку от Алматы, на реке Чарын. Самая известная "
           "его часть — Долина замков, где ветер и вода превратили красный песчаник в башни и стены.",
           "Породам каньона около 12 миллионов лет. У реки растёт редкая ясеневая роща, сохранившаяся "
           "с ледникового периода."),
    "kk": ("Шарын шатқалы қайда орналасқан және Қамалдар аңғары деген не?",
           "Шарын шатқалы Алматыдан шығысқа қарай шамамен 200 км жерде, Шарын өзенінің бойында орналасқан. "
           "Оның ең белгілі бөлігі — Қамалдар аңғары, мұнда жел мен су қызыл құмтасты мұнаралар мен "
           "қабырғаларға айналдырған.",
           "Шатқал жыныстарының жасы шамамен 12 миллион жыл. Өзеннің жағасында мұз дәуірінен сақталған "
           "сирек шаған тоғайы өседі."),
}


def _flat(text: str) -> str:
    return " ".join(text.split()).lower()


def _pieces(phrasing: str) -> list[str]:
    """The phrasing's sentences without their end marks, as they would show in a prompt."""
    return [_flat(s).rstrip(".!?…") for s in split_sentences(phrasing)]


def test_the_held_out_set_is_large_and_apart_from_the_tuning_documents():
    for lang in ("kk", "ru", "en"):
        assert sum(row["lang"] == lang for row in HELDOUT) >= 20
    tuning = _flat(" ".join(p.read_text(encoding="utf-8") for p in DATA.glob("*.md")))
    assert [row["text"] for row in HELDOUT if _flat(row["text"]) in tuning] == []


@pytest.mark.parametrize("row", HELDOUT, ids=lambda row: f"{row['lang']}:{row['text'][:40]}")
def test_a_held_out_phrasing_is_stripped_from_a_lesson_paragraph(row):
    _, before, after = LESSONS[row["lang"]]
    paragraph = f"{before} {row['text']} {after}"
    assert _flat(strip_instructions(paragraph)) == _flat(f"{before} {after}")


class _OneDocument:
    """The runtime's retriever searching one uploaded document (by its subject), so that each
    phrasing is certainly retrieved; everything after the search is the Tutor's own path."""

    def __init__(self, retriever, subject: str):
        self.retriever, self.subject = retriever, subject

    def search(self, query, k=5, filters=None, prefer_lang=""):
        scope = filters.scope if filters is not None else None
        return self.retriever.search(query, k=k, filters=Filters(subject=self.subject, scope=scope),
                                     prefer_lang=prefer_lang)

    def __getattr__(self, name):
        return getattr(self.retriever, name)


@pytest.fixture(scope="module")
def heldout_runtime(tmp_path_factory, _fake_corpus_dir):
    folder = tmp_path_factory.mktemp("heldout")
    paths = []
    for i, row in enumerate(HELDOUT):
        _, before, after = LESSONS[row["lang"]]
        path = folder / f"{row['lang']}_heldout_{i:02d}.md"
        path.write_text(f"---\ntitle: Charyn {i}\nsubject: heldout-{i}\ngrade: 7\nlang: {row['lang']}\n"
                        f"policy: reference\n---\n# Charyn\n\n## Canyon\n{before} {row['text']} {after}\n",
                        encoding="utf-8")
        paths.append(path)
    runtime = uploaded_runtime(folder / "data", _fake_corpus_dir, paths)
    yield runtime
    runtime.store.close()


def test_no_held_out_phrasing_reaches_a_composer_through_the_tutor(heldout_runtime):
    rt = heldout_runtime
    reached = []
    for i, row in enumerate(HELDOUT):
        question, before, _ = LESSONS[row["lang"]]
        model = ObedientGenerator(cases=[])
        extractive = ExtractiveComposer(rt.embedder)
        tutor = Tutor(_OneDocument(rt.retriever, f"heldout-{i}"), rt.store,
                      composer=GenerativeComposer(model, extractive), extractive=extractive)
        answer = tutor.ask(question, session_id=f"heldout-{i}", lang=row["lang"])
        prompts = _flat(" ".join(model.prompts))
        # the lesson itself reached the model, or the test would prove nothing
        assert _flat(split_sentences(before)[0]).rstrip(".") in prompts, (row, answer.notes)
        if any(piece in prompts or piece in _flat(answer.text) for piece in _pieces(row["text"])):
            reached.append(row["text"])
    assert reached == []


def _lesson_sentences(paths) -> list[str]:
    return [s for p in paths for s in split_sentences(split_front_matter(p.read_text(encoding="utf-8"))[1])
            if re.search(r"\w", s)]


def test_at_most_one_percent_of_the_bundled_lesson_sentences_are_taken_for_instructions():
    sentences = _lesson_sentences(sorted(CORPUS.glob("*/*.md")))
    assert len(sentences) > 5000
    stripped = [s for s in sentences if instruction_like(s)]
    assert len(stripped) <= 0.01 * len(sentences), stripped[:20]


def test_the_ai_literacy_lessons_about_asking_an_ai_lose_no_sentence():
    # They quote prompts ("ask the AI to explain step by step", "Не говори ответ, только подскажи")
    # to the student: teaching, not orders to the assistant.
    paths = sorted(CORPUS.glob("*/ai-literacy-*.md"))
    assert len(paths) >= 20
    sentences = _lesson_sentences(paths)
    assert [s for s in sentences if instruction_like(s)] == []
    assert all(strip_instructions(p.read_text(encoding="utf-8")) == p.read_text(encoding="utf-8") for p in paths)
