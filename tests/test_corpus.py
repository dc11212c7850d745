"""The bundled curriculum meets the counts the corpus issues ask for, from front matter, and its
topic map (corpus/topics.toml) names every lesson."""

import statistics
from collections import Counter

from tutor.config import REPO_ROOT
from tutor.docs import read_topics, topics_page
from tutor.ingest.pipeline import SUBJECTS as INGEST_SUBJECTS
from tutor.ingest.readers import split_front_matter

CORPUS = REPO_ROOT / "corpus"
REQUIRED = ("title", "subject", "grade", "lang", "policy", "author", "licence")
SUBJECTS = {"ai-literacy", "biology", "geography", "history", "world-history", "physics", "chemistry",
            "mathematics", "informatics", "kazakh-language", "russian-language", "english",
            "kazakh-literature", "russian-literature", "arts"}


def documents():
    out = []
    for path in sorted(CORPUS.rglob("*.md")):
        meta, body = split_front_matter(path.read_text(encoding="utf-8"))
        out.append((path, meta, body))
    return out


def test_front_matter_is_complete_and_valid():
    for path, meta, _ in documents():
        missing = [k for k in REQUIRED if not meta.get(k)]
        assert not missing, f"{path}: missing {missing}"
        assert meta["lang"] in ("kk", "ru", "en"), path
        assert meta["policy"] in ("reference", "homework", "assessment"), path
        assert 5 <= int(meta["grade"]) <= 11, path
        assert meta["subject"] in SUBJECTS, path
        assert path.parent.name == meta["lang"], path
    assert SUBJECTS <= set(INGEST_SUBJECTS)  # a teacher can tag an upload with each of them


def test_counts_lengths_and_coverage():
    docs = documents()
    assert len(docs) >= 200
    langs = Counter(m["lang"] for _, m, _ in docs)
    assert langs["kk"] >= 95 and langs["ru"] >= 95 and langs["en"] >= 1
    assert statistics.median(len(b.split()) for _, _, b in docs) >= 600
    for lang in ("kk", "ru"):
        ai = [1 for _, m, _ in docs if m["lang"] == lang and m["subject"] == "ai-literacy"]
        assert len(ai) >= 10
        assert {m["subject"] for _, m, _ in docs if m["lang"] == lang} == SUBJECTS
    assert len(SUBJECTS) >= 12
    assert {m["policy"] for _, m, _ in docs} == {"reference", "homework", "assessment"}


def test_every_topic_exists_in_kazakh_and_russian():
    names = {lang: {p.stem for p, m, _ in documents() if m["lang"] == lang} for lang in ("kk", "ru", "en")}
    assert names["kk"] == names["ru"]
    assert names["en"] <= names["kk"]


def test_translation_pairs_point_to_existing_lessons():
    keys = {p.relative_to(CORPUS).with_suffix("").as_posix() for p, _, _ in documents()}
    pairs = [(p, m["translation_of"]) for p, m, _ in documents() if m.get("translation_of")]
    assert pairs
    for path, target in pairs:
        assert target in keys, f"{path}: translation_of {target} does not exist"


def test_topic_map_names_every_lesson_once_and_is_rendered():
    topics = read_topics()
    named = [d for t in topics for d in t["docs"]]
    assert len(named) == len(set(named))
    lessons = {p.stem for p, _, _ in documents()}
    assert set(named) == lessons
    for t in topics:
        assert t["subject"] in SUBJECTS and 5 <= t["grade"] <= 11 and t["kk"] and t["ru"] and t["en"], t
    assert any(not t["docs"] for t in topics)  # the map also says what is not bundled
    page = (REPO_ROOT / "docs" / "topics.md").read_text(encoding="utf-8")
    assert page == topics_page(topics), "docs/topics.md is stale: run python -m tutor.docs"


def test_every_document_has_sections():
    for path, _, body in documents():
        assert body.count("\n## ") >= 3, path
