"""Abbreviations and the words they stand for meet in retrieval (tutor/retrieval/synonyms.toml)."""

from __future__ import annotations

import pytest

from tutor.retrieval.hybrid import Filters, FusionParams
from tutor.retrieval.lexical import LexicalIndex
from tutor.retrieval.synonyms import SynonymTable, bundled_table
from tutor.text.textnorm import char_ngrams, tokenize

ASKING = "ai-literacy-asking-good-questions"
WHAT_IS_AI = "ai-literacy-what-is-ai"
KK_QUESTION = "Жасанды интеллектке жақсы сұрақты қалай қою керек?"
RU_QUESTION = "Как задать хороший вопрос искусственному интеллекту?"


def test_the_bundled_table_loads_with_groups_of_two_forms_or_more():
    table = bundled_table()
    assert set(table.groups) == {"kk", "ru", "en"}
    for lang, groups in table.groups.items():
        owner: dict[tuple[str, ...], int] = {}
        for i, forms in enumerate(groups):
            assert len(forms) >= 2, (lang, forms)
            for form in forms:
                stems = tuple(tokenize(form, lang=lang))
                assert stems, (lang, form)  # not swallowed as a stopword
                assert owner.setdefault(stems, i) == i, f"{form!r} stands in two {lang} groups"


@pytest.mark.parametrize("question, form", [
    ("ЖИ-мен қалай сөйлесу керек?", "ЖИ"),
    ("Жасанды интеллектке сұрақ қою", "жасанды интеллект"),
    ("ҰБТ-ға қалай дайындаламын?", "ҰБТ"),
    ("Что такое ДНК?", "ДНК"),
    ("Когда распался Советский Союз?", "СССР"),
    ("What is artificial intelligence?", "AI"),
])
def test_a_question_names_the_group_of_its_term(question, form):
    named = bundled_table().named(question)
    assert len(named) == 1 and form in named[0][1]


@pytest.mark.parametrize("question", ["Мен жиі қателесемін", "Жиі қойылатын сұрақтар", "Сиқырлы ертегі"])
def test_a_word_holding_an_abbreviations_letters_names_no_group(question):
    assert bundled_table().named(question) == []


PASSAGES = {
    1: "ЖИ көмекшісі оқушыға көмектеседі.",
    2: "Жасанды интеллект деректерден үйренеді.",
    3: "Оқушылар жиі қате жібереді.",
    4: "Күн жүйесінде сегіз планета бар.",
    5: "ДНК хранит наследственную информацию.",
    6: "Дезоксирибонуклеиновая кислота состоит из нуклеотидов.",
}


@pytest.mark.parametrize("tokenizer", [tokenize, char_ngrams], ids=["stems", "char-ngrams"])
def test_an_abbreviation_meets_its_words_both_ways(tokenizer):
    index = LexicalIndex(list(PASSAGES), list(PASSAGES.values()), tokenizer)
    table = bundled_table()

    def found(question: str, synonyms: bool = True) -> set[int]:
        return set(index.search(question, 5, table.named(question) if synonyms else ())[1].tolist())

    # the question spells it out, the passage abbreviates it, and the other way round
    assert found("Жасанды интеллект дегеніміз не?", synonyms=False) == {2}
    assert found("Жасанды интеллект дегеніміз не?") == {1, 2}
    assert found("ЖИ дегеніміз не?", synonyms=False) == {1}
    assert found("ЖИ дегеніміз не?") == {1, 2}
    assert found("Что такое ДНК?", synonyms=False) == {5}
    assert found("Что такое ДНК?") == {5, 6}
    assert found("Дезоксирибонуклеиновая кислота - это что?") == {5, 6}
    # "жиі" (often) is not "ЖИ": the passage about mistakes stays out, and the other way round
    assert found("Жиі қате") == {3}


def test_a_passage_holding_both_forms_gains_nothing_over_one_holding_either():
    texts = ["ЖИ туралы сабақ", "Жасанды интеллект туралы сабақ", "ЖИ жасанды интеллект туралы сабақ"]
    index = LexicalIndex([1, 2, 3], texts, tokenize)
    question = "ЖИ туралы"
    scores, ids = index.search(question, 3, bundled_table().named(question))
    by_id = dict(zip(ids.tolist(), scores.tolist()))
    assert by_id[3] <= max(by_id[1], by_id[2]) + 1e-6


def _lessons(retriever, question: str, lang: str, mode: str) -> list[str]:
    hits = retriever.search(question, k=10, params=FusionParams(mode=mode), filters=Filters(lang=lang)).hits
    return list(dict.fromkeys(h.chunk.doc.doc_key.split("/")[-1] for h in hits))


@pytest.mark.parametrize("question, lang", [(KK_QUESTION, "kk"), (RU_QUESTION, "ru")])
def test_asking_ai_a_good_question_finds_the_lesson_that_says_the_abbreviation(fake_runtime, question, lang):
    """The lesson on asking good questions says "ЖИ"/"ИИ" where the student writes the words."""
    retriever = fake_runtime.retriever
    assert _lessons(retriever, question, lang, "hybrid")[0] == ASKING
    lexical = _lessons(retriever, question, lang, "lexical")
    assert ASKING in lexical and (WHAT_IS_AI not in lexical or lexical.index(ASKING) < lexical.index(WHAT_IS_AI))
    retriever.synonyms = SynonymTable({})  # without the table, the kk question found "what is AI" first
    if lang == "kk":
        assert _lessons(retriever, question, lang, "hybrid")[0] == WHAT_IS_AI
