"""Schools and classes: a student's question searches their class, their school and the region
library, never another class or school, in everything they get back."""

import time
from pathlib import Path

import pytest

from tutor.migrate import new_class_code
from tutor.retrieval.hybrid import Filters, FusionParams
from tutor.scopes import Place, Scope

# an invented lake per class and per school: a word no bundled lesson holds
CLASS_WORDS = ["Зорват", "Кирамбол", "Тешмира", "Ульдавар", "Пескарин", "Мирандол",
               "Гелистан", "Ормахал", "Шуравей"]
SCHOOL_WORDS = ["Арвенол", "Бектурим", "Сельмадар"]


def lake(word: str, depth: int) -> bytes:
    return (f"# Озеро {word}\n\nОзеро {word} лежит высоко в горах и питается ледником. "
            f"Глубина озера {word} достигает {depth} метров, поэтому вода в нём холодная даже летом.\n"
            ).encode()


def add_school(store, name: str) -> int:
    if name == "default":
        return store.default_place().school_id
    with store.transaction() as db:
        return db.execute("INSERT INTO schools (name, created) VALUES (?, ?)", (name, time.time())).lastrowid


def add_class(store, school_id: int, name: str) -> int:
    with store.transaction() as db:
        return db.execute("INSERT INTO classes (school_id, name, code, created) VALUES (?,?,?,?)",
                          (school_id, name, new_class_code(), time.time())).lastrowid


@pytest.fixture
def region(fake_runtime):
    """3 schools x 3 classes over the bundled library; each class and each school holds a lake
    of its own (its depth is the fact only its students may get)."""
    store, ingestor = fake_runtime.store, fake_runtime.ingestor
    classes, schools = [], []
    for s, school_name in enumerate(["default", "school-2", "school-3"]):
        school_id = add_school(store, school_name)
        word = SCHOOL_WORDS[s]
        ingestor.ingest_bytes(f"{word}.md", lake(word, 500 + s), refresh=False, lang="ru",
                              place=Place("school", school_id, None, f"school{school_id}/"))
        schools.append((school_id, word, 500 + s))
        for c in range(3):
            class_id = add_class(store, school_id, f"{c + 7}A")
            n = 3 * s + c
            word = CLASS_WORDS[n]
            ingestor.ingest_bytes(f"{word}.md", lake(word, 100 + 7 * n), refresh=False, lang="ru",
                                  place=Place("class", school_id, class_id, f"class{class_id}/"))
            classes.append((Scope(school_id, class_id), word, 100 + 7 * n))
    fake_runtime.index.refresh()
    return fake_runtime, classes, schools


def seen_text(answer) -> str:
    return answer.text + " ".join(c.quote + c.title + c.doc_key for c in answer.citations)


def test_a_class_gets_its_own_facts_and_never_another_classes(region, fake_tutor):
    runtime, classes, schools = region
    for scope, word, depth in classes:
        own = fake_tutor.ask(f"Какая глубина озера {word}?", session_id="own", scope=scope)
        assert not own.abstained and str(depth) in own.text
        assert own.citations[0].doc_key.endswith(f"{word}.md")
        for other_scope, other_word, other_depth in classes + [(None, w, d) for _, w, d in schools]:
            school_of_other = next((s for s, w, _ in schools if w == other_word), None)
            if other_scope == scope or school_of_other == scope.school_id:
                continue
            for mode in ("explain", "hints", "quiz", "coach"):
                answer = fake_tutor.ask(f"Какая глубина озера {other_word}?", session_id=f"s{mode}",
                                        mode=mode, scope=scope)
                shown = seen_text(answer)
                assert str(other_depth) not in shown and other_word not in shown.replace(
                    f"озера {other_word}?", ""), (scope, other_word, mode, shown)
            hits = runtime.retriever.search(f"озеро {other_word}", k=20, filters=Filters(scope=scope)).hits
            assert all(scope.sees(h.chunk.doc) for h in hits)
            assert not any(other_word in h.chunk.text for h in hits)


def test_a_class_sees_its_school_and_the_region_library(region, fake_tutor):
    _, classes, schools = region
    for scope, _, _ in classes:
        school_id, word, depth = next(s for s in schools if s[0] == scope.school_id)
        answer = fake_tutor.ask(f"Какая глубина озера {word}?", scope=scope)
        assert str(depth) in answer.text
        lesson = fake_tutor.ask("Что такое фотосинтез?", scope=scope)
        assert not lesson.abstained and lesson.citations[0].doc_key.startswith("ru/")


def test_filtering_happens_inside_the_search_so_a_class_keeps_its_top_k(region):
    """Another class's passages that match the question better do not crowd a class's own
    passage out of the candidates (a filter after the search would return nothing here)."""
    runtime, classes, _ = region
    (scope_a, word_a, _), (scope_b, _, _) = classes[0], classes[1]
    for i in range(12):
        runtime.ingestor.ingest_bytes(f"decoy{i}.md", f"# Озеро {word_a} {i}\n\nОзеро {word_a}, озеро {word_a}: "
                                      f"глубина озера {word_a} {i}.\n".encode(), refresh=False, lang="ru",
                                      place=Place("class", scope_b.school_id, scope_b.class_id, f"d{i}/"))
    runtime.index.refresh()
    narrow = FusionParams(candidates=3)
    unscoped = runtime.retriever.search(f"глубина озера {word_a}", k=3, params=narrow)
    assert all(h.chunk.doc.class_id == scope_b.class_id for h in unscoped.hits)
    scoped = runtime.retriever.search(f"глубина озера {word_a}", k=3, params=narrow,
                                      filters=Filters(scope=scope_a))
    assert scoped.hits and scoped.hits[0].chunk.doc.class_id == scope_a.class_id
    assert all(scope_a.sees(h.chunk.doc) for h in scoped.hits)


def test_the_gap_list_feedback_and_flags_of_a_class_hold_only_its_own(region, fake_tutor):
    runtime, classes, _ = region
    (scope_a, _, _), (scope_b, _, _) = classes[0], classes[4]
    fake_tutor.ask("Кто выиграл чемпионат мира по футболу в 2018 году?", scope=scope_a)
    fake_tutor.ask("Сколько лун у планеты Тралфамадор?", scope=scope_b)
    store = runtime.store
    store.add_feedback("s", -1, "непонятно", [], "", "вопрос А", class_id=scope_a.class_id)
    mine = [g["q"] for g in store.unanswered(class_ids=[scope_a.class_id])]
    assert any("чемпионат" in q for q in mine) and not any("Тралфамадор" in q for q in mine)
    assert [f["comment"] for f in store.feedback_items(class_ids=[scope_a.class_id])] == ["непонятно"]
    assert store.feedback_items(class_ids=[scope_b.class_id]) == []


def test_the_same_file_in_two_classes_is_two_documents(region):
    runtime, classes, _ = region
    (a, _, _), (b, _, _) = classes[0], classes[1]
    data = lake("Одинаковое", 42)
    one = runtime.ingestor.ingest_bytes("same.md", data, lang="ru",
                                        place=Place("class", a.school_id, a.class_id, f"class{a.class_id}/"))
    two = runtime.ingestor.ingest_bytes("same.md", data, lang="ru",
                                        place=Place("class", b.school_id, b.class_id, f"class{b.class_id}/"))
    assert one.status == two.status == "added" and one.doc_key != two.doc_key
    # in the region library, the same content is a duplicate for every class of the region
    region_copy = runtime.ingestor.ingest_bytes("lake.md", lake("Общее", 7), lang="ru", place=Place("region"))
    again = runtime.ingestor.ingest_bytes("lake.md", lake("Общее", 7), lang="ru",
                                          place=Place("class", a.school_id, a.class_id, f"class{a.class_id}/"))
    assert region_copy.status == "added" and again.status == "duplicate"


def test_a_data_folder_of_the_previous_release_is_upgraded_after_a_backup(tmp_path):
    """tests/data/release-schema1.sqlite3 was written by the release before schools existed:
    a bundled lesson, an uploaded worksheet, questions, a rating, a flag and a queued job."""
    import shutil
    import sqlite3

    from tutor.store import Store

    path = tmp_path / "data" / "ustaz.sqlite3"
    path.parent.mkdir()
    shutil.copy(Path(__file__).parent / "data" / "release-schema1.sqlite3", path)
    before = {t: sqlite3.connect(path).execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0]
              for t in ("documents", "chunks", "questions", "feedback", "flags", "jobs")}
    store = Store(path)
    assert store.migrated == [2, 3] and store.get_state("schema_version") == "3"
    backups = list((tmp_path / "data" / "backups").glob("ustaz-schema1-*.sqlite3"))
    assert len(backups) == 1
    assert sqlite3.connect(backups[0]).execute("SELECT COUNT(*) FROM questions").fetchone()[0] == 2
    after = {t: store.query(f"SELECT COUNT(*) FROM {t}")[0][0] for t in before}
    assert after == before
    school = store.default_place().school_id
    lesson, sheet = store.get_document("kk/lesson.md"), store.get_document("upload/worksheet.md")
    assert (lesson.school_id, lesson.class_id) == (None, None)  # the region library
    assert (sheet.school_id, sheet.class_id) == (school, None)  # the school's, as before
    default_class = store.query("SELECT id FROM classes WHERE is_default=1")[0][0]
    assert len(store.unanswered(class_ids=[default_class])) == 1
    assert store.feedback_items(class_ids=[default_class])[0]["comment"] == "түсініксіз"
    assert store.query("SELECT school_id FROM jobs")[0][0] == school
    store.close()
    # a second start changes nothing and copies nothing
    assert Store(path).migrated == []
    assert len(list((tmp_path / "data" / "backups").iterdir())) == 1
