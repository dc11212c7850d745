"""The bundled curriculum meets the counts the corpus issue asks for, from front matter."""

import statistics
from collections import Counter

from tutor.config import REPO_ROOT
from tutor.ingest.readers import split_front_matter

CORPUS = REPO_ROOT / "corpus"
REQUIRED = ("title", "subject", "grade", "lang", "policy", "author", "licence")
SUBJECTS = {"ai-literacy", "biology", "geography", "history", "physics", "chemistry", "mathematics",
            "informatics"}


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


def test_counts_lengths_and_coverage():
    docs = documents()
    langs = Counter(m["lang"] for _, m, _ in docs)
    assert langs["kk"] >= 40 and langs["ru"] >= 40 and langs["en"] >= 1
    assert statistics.median(len(b.split()) for _, _, b in docs) >= 600
    for lang in ("kk", "ru"):
        ai = [1 for _, m, _ in docs if m["lang"] == lang and m["subject"] == "ai-literacy"]
        assert len(ai) >= 10
        assert {m["subject"] for _, m, _ in docs if m["lang"] == lang} == SUBJECTS
    assert {m["policy"] for _, m, _ in docs} == {"reference", "homework", "assessment"}


def test_translation_pairs_point_to_existing_lessons():
    docs = documents()
    keys = {p.relative_to(CORPUS).with_suffix("").as_posix() for p, _, _ in docs}
    pairs = [(p, m["translation_of"]) for p, m, _ in docs if m.get("translation_of")]
    assert pairs
    for path, target in pairs:
        assert target in keys, f"{path}: translation_of {target} does not exist"
    in_pairs = {t for _, t in pairs} | {p.relative_to(CORPUS).with_suffix("").as_posix() for p, _ in pairs}
    assert len(in_pairs) >= len(docs) // 5  # about a quarter of the corpus


def test_every_document_has_sections():
    for path, _, body in documents():
        assert body.count("\n## ") >= 3, path
