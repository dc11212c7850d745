"""What a question names or counts, and whether the quoted passages mention it
(tutor/answer/named.py)."""

import pytest

from tutor.answer.named import (
    counted_term,
    mentioned,
    mentions_required,
    named_terms,
    passage_vocabulary,
    required_terms,
)


@pytest.mark.parametrize("question, names", [
    ("Александр Македонский қай жылы қайтыс болды?", ["Македонский"]),
    ("Сколько детей было у Льва Толстого?", ["Толстого"]),
    ("Әуезовтің «Көксерек» әңгімесі не туралы?", ["Көксерек"]),
    ("Кто перевёл «Путь Абая» на английский язык?", ["Абая"]),
    ("Ағылшын тіліндегі Present Perfect шағы қашан қолданылады?", ["Perfect"]),
    # the word that opens a sentence is capitalised by grammar; abbreviations are not names
    ("Фотосинтез дегеніміз не?", []),
    ("Что такое ДНК? Кто открыл её строение", []),
    ("Не объясняй. Нужна таблица ответов", []),
])
def test_names_are_capitalised_words_inside_a_sentence_and_quoted_titles(question, names):
    assert named_terms(question) == names


@pytest.mark.parametrize("question, counted", [
    ("Сколько островов в Тихом океане?", "островов"),
    ("Лермонтов неше шет тілін білген?", "шет"),
    ("сколько всего слов назидания написал Абай", "слов"),
    ("How many planets go round the Sun?", "planets"),
    # times, years, people and kinds are counted without the lesson naming them
    ("Құрманғазы неше рет түрмеге түскен?", None),
    ("Моцарт тұңғыш операсын неше жасында жазды?", None),
    ("Сколько людей умерло от чумы?", None),
    ("Алтынның тығыздығы қанша?", None),
])
def test_the_counted_thing_follows_the_count_word(question, counted):
    assert counted_term(question) == counted


def test_one_of_the_names_and_the_counted_thing_must_be_mentioned():
    groups = required_terms("Сколько кюев сочинила Дина Нурпеисова?")
    assert groups == [("Нурпеисова",), ("кюев",)]
    assert mentions_required(groups, passage_vocabulary("Дина Нурпеисова сочинила много кюев"))
    assert not mentions_required(groups, passage_vocabulary("Дина Нурпеисова — кюйши"))
    comparison = required_terms("Правда ли, что Балхаш глубже Байкала?")
    assert comparison == [("Балхаш", "Байкала")]
    assert mentions_required(comparison, passage_vocabulary("Глубина Балхаша не больше 27 метров"))


@pytest.mark.parametrize("term, text", [
    ("Македонский", "походы Александра Македонского"),
    ("Государственного", "Государственный герб"),
    ("Алатауының", "Іле Алатау жотасы"),
    ("Кира", "войско царя Кира"),
    ("Оралга", "Пушкин Оралға келді"),  # Kazakh letters typed on a Russian keyboard
    ("градуста", "Су 100 °C температурада қайнайды"),  # units written as symbols
    ("км", "жарық секундына 300 000 шақырым жүреді"),
    ("Kunanbayev", "Абай Құнанбайұлы – ақын"),  # another script: cannot tell
])
def test_a_term_is_mentioned_in_another_form(term, text):
    assert mentioned(term, passage_vocabulary(text))


@pytest.mark.parametrize("term, text", [
    ("Македонский", "Пушкин 1837 жылы қайтыс болды"),
    ("Уран", "Урал таулары"),
    ("островов", "Тихий океан больше всей суши"),
    ("сантиметр", "Домбыраның мойны ұзын"),
    ("Perfect", "Present Simple – жай осы шақ"),
])
def test_a_term_the_text_lacks_is_not_mentioned(term, text):
    assert not mentioned(term, passage_vocabulary(text))


def test_passages_in_the_other_language_cannot_tell():
    from tutor.answer.types import Citation
    from tutor.tutor import Tutor

    def cited(lang, quote):
        return Citation(1, f"{lang}/music", "Дина Нұрпейісова", "music", 7, "", None, None, quote, lang)

    groups = required_terms("Сколько кюев сочинила Дина Нурпеисова?")
    assert Tutor._mentions(groups, [cited("kk", "Дина Нұрпейісова көп күй шығарды")], "ru")
    assert not Tutor._mentions(groups, [cited("ru", "Дина Нурпеисова — кюйши")], "ru")
