"""The extractive composer picks the sentence that answers, not the one that repeats."""

from __future__ import annotations

import pytest

from tutor.answer.extractive import ExtractiveComposer
from tutor.answer.question_kind import has_answer_type, question_type
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
    ("ЖИ ойдан шығарған жауап қалай аталады?", "name"),
    ("Как называется прибор для измерения давления?", "name"),
    ("Су неден тұрады?", "parts"),
    ("Из чего состоит атом?", "parts"),
    ("Неге аспан көк?", "why"),
    ("Почему небо голубое?", "why"),
    ("Как зовут героя «Шинели»?", "who"),  # a name, not the term "как называется" asks for
    ("Жуан дауыстылар қайсы?", "list"),
    ("Какие гласные в казахском мягкие?", "list"),
    ("Расскажи про атом", None),
    ("Абай Құнанбаев кім?", "person"),  # a person to describe, not one to name
    ("Кто такой Абай?", "person"),
    ("Who was Abay Kunanbayev?", "person"),
    ("Жапыраққа жасыл түс беретін пигменттің аты кім?", "who"),
    ("Кто такой Ахмет Байтурсынов и что он сделал для казахской письменности?", "who"),
])
def test_question_type(question, kind):
    assert question_type(question) == kind


def test_an_answer_type_the_question_already_holds_does_not_count():
    question = "1916 жылы көтеріліс қашан басталды?"
    assert not has_answer_type("when", "1916 жылы көтеріліс басталды.", question)
    assert has_answer_type("when", "Көтеріліс 1916 жылы 4 шілдеде басталды.", question)
    assert has_answer_type("who", "Романды жазған Мұхтар Әуезов.", "Романды кім жазды?")
    assert not has_answer_type("who", "Романды жазған ақын.", "Романды кім жазды?")


@pytest.mark.parametrize("kind, question, answers, repeats", [
    ("parts", "Из чего состоит атом?",
     "В центре атома находится ядро, а ядро состоит из протонов и нейтронов.",
     "Атом в целом электрически нейтрален."),
    ("name", "Как называется такой ответ нейросети?",
     "Такой ответ называется галлюцинацией.", "Нейросеть иногда даёт ответ уверенно."),
    ("why", "Неге жапырақ жасыл?", "Жапырақ жасыл, өйткені онда хлорофилл бар.",
     "Жапырақ өсімдіктің мүшесі."),
    ("list", "Какие гласные в казахском мягкие?", "Мягкие гласные казахского языка: ә, е, ө, ү, і.",
     "Твёрдые гласные произносятся с участием задней части языка, а мягкие — передней."),
])
def test_a_sentence_that_says_what_kind_of_answer_is_asked_for_gets_the_cue(kind, question, answers,
                                                                            repeats):
    assert question_type(question) == kind
    assert has_answer_type(kind, answers, question)
    assert not has_answer_type(kind, repeats, question)


def test_who_someone_is_gets_the_sentence_that_describes_them_not_another_name():
    question = "Абай Құнанбаев кім?"
    assert has_answer_type("person", "Абай Құнанбайұлы (1845–1904) – қазақтың ұлы ақыны.", question)
    assert not has_answer_type("person", "Абайдың анасы Ұлжан – Құнанбайдың екінші әйелі.", question)
    assert not has_answer_type("person", "Абай жазба әдебиеттің негізін қалады.", question)
    passage = ("Абайдың анасы Ұлжан – Құнанбайдың екінші әйелі. Абай Құнанбайұлы (1845–1904) – қазақтың "
               "ұлы ақыны, ойшылы және ағартушысы.")
    (_, sentence, _), = ExtractiveComposer(embedder=None, max_sentences=1).best_sentences(
        question, [_hit(passage, "kk")])
    assert sentence.startswith("Абай Құнанбайұлы (1845–1904)")


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


def test_the_sentence_after_the_one_that_repeats_the_question_comes_next():
    # no embedder: scores are word overlap, plus the neighbour lift, plus the passage's score
    question = "Фотосинтез жүретін жасушалардағы хлоропласт пен хлорофилл қандай рөл атқарады?"
    passage = ("Фотосинтез жасушалардағы хлоропласт пен хлорофилл арқылы жүреді. "  # repeats
               "Олар күн жарығының энергиясын қантқа айналдырады. "  # answers, no shared word
               "Өсімдік тамыры суды топырақтан алады. "
               "Жасушалардағы хлоропласт жасыл түсті болады.")  # half the words, far away
    picked = ExtractiveComposer(embedder=None, max_sentences=2).best_sentences(
        question, [_hit(passage, "kk")])
    assert [s for _, s, _ in picked] == [
        "Фотосинтез жасушалардағы хлоропласт пен хлорофилл арқылы жүреді.",
        "Олар күн жарығының энергиясын қантқа айналдырады."]
    # alone (no neighbour to lift it) the answering sentence loses to the far half match
    alone = passage.split(". ", 1)[1]
    picked = ExtractiveComposer(embedder=None, max_sentences=1).best_sentences(
        question, [_hit(alone, "kk")])
    assert picked[0][1] == "Жасушалардағы хлоропласт жасыл түсті болады."


def test_of_two_equal_sentences_the_better_passage_is_quoted_first():
    question = "Какую роль играет хлоропласт в клетке?"
    weak = _hit("Хлоропласт находится в клетке растения.", "ru")
    strong = _hit("Хлоропласт работает в клетке растения.", "ru")
    weak.score, strong.score = 0.4, 0.9
    # listed weak first, so that a tie would keep it first
    picked = ExtractiveComposer(embedder=None).best_sentences(question, [weak, strong])
    assert [i for i, _, _ in picked] == [1, 0]
    assert len(picked) == 2  # up to three sentences; the two passages hold two


def test_a_hard_wrapped_sentence_is_quoted_whole():
    # Text files, Markdown and pasted PDF text are often wrapped at a fixed width; a
    # wrapped line is not a sentence of its own, but lists, labels and code stay apart.
    from tutor.ingest.chunking import split_sentences

    text = ("Дальтонизм — көздің көру қабілетінің\nбұзылуы нәтижесінде түсті ажырата алмау.\n"
            "Мысалы:\nқызыл мен жасыл.\n- бірінші пункт\n- екінші пункт\n"
            "```python\nx = 1\nprint(x)\n```")
    assert split_sentences(text) == [
        "Дальтонизм — көздің көру қабілетінің бұзылуы нәтижесінде түсті ажырата алмау.",
        "Мысалы:", "қызыл мен жасыл.", "- бірінші пункт", "- екінші пункт",
        "```python", "x = 1", "print(x)", "```"]


def test_the_answer_in_a_long_passage_s_fifteenth_sentence_is_found():
    # A lesson section of short sentences or list items easily holds more than a dozen;
    # every one up to the twentieth is a candidate.
    filler = " ".join(f"Бұл {i}-сөйлем басқа тақырып туралы айтады." for i in range(1, 15))
    passage = filler + " Абай 1845 жылы дүниеге келді."
    (_, sentence, _), = ExtractiveComposer(embedder=None, max_sentences=1).best_sentences(
        "Абай қашан дүниеге келді?", [_hit(passage, "kk")])
    assert sentence == "Абай 1845 жылы дүниеге келді."


def test_short_sentences_are_topped_up_to_the_word_budget_and_long_ones_are_not():
    # Three list items say less than three encyclopedia sentences: short sentences are
    # added, best first, while the quote stays within the word budget; three long ones
    # are quoted as before, and a fourth long one would pass the budget.
    from tutor.answer.extractive import SENTENCES, WORD_BUDGET

    question = "Жасушада қандай органоидтар бар?"
    short = " ".join(f"Жасушада {name} органоид бар." for name in
                     ("митохондрия", "рибосома", "лизосома", "вакуоль", "хлоропласт", "ядро"))
    picked = ExtractiveComposer(embedder=None).best_sentences(question, [_hit(short, "kk")])
    assert len(picked) == 6 and sum(len(s.split()) for _, s, _ in picked) <= WORD_BUDGET
    long = " ".join(f"Жасушада {name} органоид бар, ол өте маңызды жұмыс атқарады{', өте маңызды жұмыс' * 4}."
                    for name in ("митохондрия", "рибосома", "лизосома", "вакуоль"))  # 21 words each
    picked = ExtractiveComposer(embedder=None).best_sentences(question, [_hit(long, "kk")])
    assert len(picked) == SENTENCES


def test_a_lead_in_or_a_weak_sentence_does_not_top_up(monkeypatch):
    # The budget has room, but a lead-in ending with a colon promises a list that is not
    # quoted, and a sentence far below the best says little about the question. (Without
    # an embedder scores are word overlap only, a smaller scale than e5's cosines, so the
    # margin is set here to that scale.)
    from tutor.answer import extractive

    question = "Фотосинтез қайда жүреді?"
    passage = ("Фотосинтез жапырақта жүреді. Фотосинтез жасыл өсімдіктерде жүреді. "
               "Фотосинтез хлоропластарда жүреді. Фотосинтезді былай жазуға болады:\n"
               "Мысыр пирамидалары ежелгі патшалардың зираты.")

    def quoted():
        picked = ExtractiveComposer(embedder=None).best_sentences(question, [_hit(passage, "kk")])
        return [s for _, s, _ in picked]

    monkeypatch.setattr(extractive, "TOP_UP_MARGIN", 1.0)
    assert len(quoted()) == 4 and "пирамида" in quoted()[-1]  # the lead-in is left out
    monkeypatch.setattr(extractive, "TOP_UP_MARGIN", 0.1)
    assert len(quoted()) == 3 and not any(s.endswith(":") for s in quoted())
