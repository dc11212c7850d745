"""Ingesting teachers' files: every format keeps its positions, bad files are refused with
one clear sentence and change nothing, re-uploads are deduplicated, edits and deletions
reach the search index. Every fixture file is built here at run time."""

from __future__ import annotations

import io
import random
import re
import zipfile
from pathlib import Path

import numpy as np
import pytest

from tutor.config import Settings
from tutor.ingest import IngestError, Ingestor
from tutor.retrieval.embedders import HashingEmbedder
from tutor.retrieval.hybrid import Filters, FusionParams, Retriever
from tutor.retrieval.indexes import DenseIndex, SearchIndex
from tutor.runtime import build_runtime
from tutor.store import Store

DENSE = FusionParams(mode="dense")
LEXICAL = FusionParams(mode="lexical")


# ------------------------------------------------------------------ fixture files
def make_pdf(pages: list[list[str] | None], title: str = "") -> bytes:
    """A minimal valid PDF: one page per item, each line drawn in Helvetica (a page given
    as None is drawn with a grey square and no text, like a scan)."""
    objects: list[bytes] = [b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica "
                            b"/Encoding /WinAnsiEncoding >>", b""]  # 1: font, 2: page tree
    kids = []
    for lines in pages:
        if lines is None:
            stream = b"0.5 g 72 72 200 200 re f"
        else:
            ops = [b"BT /F1 12 Tf 14 TL 72 720 Td"]
            for line in lines:
                escaped = line.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
                ops.append(b"(" + escaped.encode("cp1252") + b") Tj T*")
            stream = b"\n".join([*ops, b"ET"])
        objects.append(b"<< /Length %d >>\nstream\n%s\nendstream" % (len(stream), stream))
        objects.append(b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources "
                       b"<< /Font << /F1 1 0 R >> >> /Contents %d 0 R >>" % (len(objects)))
        kids.append(len(objects))
    objects[1] = b"<< /Type /Pages /Kids [%s] /Count %d >>" % (
        b" ".join(b"%d 0 R" % k for k in kids), len(kids))
    objects.append(b"<< /Type /Catalog /Pages 2 0 R >>")
    root = len(objects)
    trailer = b"/Size %d /Root %d 0 R" % (len(objects) + 2, root)
    objects.append(b"<< /Title (" + title.encode("cp1252") + b") >>")
    trailer += b" /Info %d 0 R" % len(objects)
    return pdf_file(objects, trailer)


def pdf_file(objects: list[bytes], trailer: bytes) -> bytes:
    """PDF objects (numbered from 1 in order) with their cross-reference table and trailer."""
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % off for off in offsets)
    out += b"trailer\n<< %s >>\nstartxref\n%d\n%%%%EOF\n" % (trailer, xref)
    return bytes(out)


LAMPS_PDF = [
    ["Incandescent lamps", "A tungsten filament glows white when an electric current heats it.",
     "Tungsten melts only above three thousand degrees."],
    ["The filament sits in a glass bulb filled with argon gas.",
     "Argon is inert, so the hot tungsten does not burn away."],
]


def make_docx() -> bytes:
    import docx

    d = docx.Document()
    d.add_paragraph("Bees and pollination", style="Title")
    d.add_heading("Honey bees", level=1)
    d.add_paragraph("A colony of honey bees lives in a hive with one queen.")
    d.add_heading("Waggle dance", level=2)
    d.add_paragraph("A forager performs the waggle dance to show other bees where the nectar is.")
    table = d.add_table(rows=2, cols=2)
    for (r, c), text in {(0, 0): "Caste", (0, 1): "Role", (1, 0): "Drone", (1, 1): "mates with the queen"}.items():
        table.cell(r, c).text = text
    d.add_heading("Bumblebees", level=1)
    d.add_heading("Buzz pollination", level=2)
    d.add_paragraph("Bumblebees vibrate their flight muscles to shake pollen out of tomato flowers.")
    buf = io.BytesIO()
    d.save(buf)
    return buf.getvalue()


def make_pptx() -> bytes:
    from pptx import Presentation

    pres = Presentation()
    slides = [("Volcanoes", "A volcano is an opening in the crust where magma reaches the surface."),
              ("Magma chambers", "Molten rock collects in a magma chamber deep below the volcano."),
              ("Geysers", "A geyser throws hot water and steam into the air at intervals.")]
    for title, body in slides:
        slide = pres.slides.add_slide(pres.slide_layouts[1])
        slide.shapes.title.text = title
        slide.placeholders[1].text = body
    buf = io.BytesIO()
    pres.save(buf)
    return buf.getvalue()


CHESS_HTML = """<!doctype html>
<html><head><title>Chess openings</title>
<style>p { color: red } .SECRET_STYLE {}</style>
<script>document.write("INJECTED_SCRIPT_TEXT"); var chess = "INJECTED_SCRIPT_TEXT";</script>
</head><body>
<h1>Chess openings</h1>
<p>An opening is the first phase of a chess game.</p>
<h2>Sicilian Defence</h2>
<p>Black answers the king's pawn with the c-pawn and fights for the centre from the side.</p>
<h2>Queen's Gambit</h2>
<p>White offers a pawn on c4 to gain control of the centre squares.</p>
<script>alert("INJECTED_SCRIPT_TEXT")</script>
</body></html>
"""

HONEYCOMB_MD = """---
title: Пчелиные соты
subject: biology
grade: 7
lang: ru
policy: homework
author: Айгуль Серикова
---
# Соты

Пчёлы строят соты из воска, который выделяют их железы.

## Строение сот

Каждая сота состоит из тысяч ячеек.

### Шестиугольные ячейки

Шестиугольная ячейка вмещает больше мёда при том же расходе воска.
"""

CAVES_TEXT = ("Карстовые пещеры\n\n"
              "Сталактиты растут с потолка пещеры, а сталагмиты поднимаются им навстречу с пола.\n\n"
              "Капли воды приносят растворённый известняк, и он оседает слой за слоем. Ёмкие залы "
              "образуются там, где подземная река размыла известняк.\n")


# ----------------------------------------------------------------------- helpers
@pytest.fixture
def small_runtime(tmp_path):
    """A runtime without the bundled corpus, holding one teacher's document."""
    s = Settings.load(env={}, data_dir=str(tmp_path / "data"), model_cache=str(tmp_path / "m"))
    rt = build_runtime(s, embedder=HashingEmbedder(), load_corpus=False)
    rt.ingestor.ingest_bytes("rivers.md", b"# Rivers\n\nThe Irtysh river flows north to the Ob.\n")
    yield rt
    rt.store.close()


def corpus_state(rt) -> dict:
    """Everything an upload may change: rows, generation and the index files."""
    files = rt.settings.index_path
    return {"documents": len(rt.store.documents()), "chunks": len(rt.store.chunk_ids()),
            "generation": rt.store.generation, "dense": rt.index.dense.size,
            "versions": rt.store.query("SELECT COUNT(*) FROM versions")[0][0],
            "dense_file": (files / "dense.faiss").read_bytes(),
            "meta_file": (files / "index.json").read_bytes()}


def top_doc(rt, query: str, params: FusionParams | None = None) -> tuple[str, object]:
    result = rt.retriever.search(query, params=params)
    assert result.hits, f"nothing found for {query!r}"
    return result.hits[0].chunk.doc.doc_key, result.hits[0]


def assert_index_matches_store(store, index) -> None:
    """The dense index holds exactly the live chunks, each with the vector of its current text."""
    assert index.dense.ids() == store.chunk_ids()
    rows = store.query("SELECT id, search_text FROM chunks ORDER BY id")
    expected = index.embedder.encode_passages([r["search_text"] for r in rows])
    for row, vector in zip(rows, expected):
        np.testing.assert_allclose(index.dense.index.reconstruct(int(row["id"])), vector, atol=1e-5)


# ------------------------------------------------------------- one file per format
def test_pdf_chunks_keep_page_numbers_and_are_found(fake_runtime):
    r = fake_runtime.ingestor.ingest_bytes("lamps.pdf", make_pdf(LAMPS_PDF, title="Electric lamps"))
    assert (r.status, r.title, r.lang) == ("added", "Electric lamps", "en")
    chunks = fake_runtime.store.chunks_of(r.doc_key)
    assert {c.page for c in chunks} == {1, 2}
    for c in chunks:
        assert ("argon" in c.text) == (c.page == 2), (c.page, c.text)
    assert "tungsten filament glows white" in " ".join(c.text for c in chunks if c.page == 1)
    assert chunks[0].doc.source_format == "pdf"

    key, hit = top_doc(fake_runtime, "Why is the lamp bulb filled with argon gas?")
    assert key == r.doc_key
    assert hit.chunk.page == 2 and "p. 2" in hit.chunk.location()


def test_docx_chunks_carry_heading_path(fake_runtime):
    r = fake_runtime.ingestor.ingest_bytes("bees.docx", make_docx())
    assert (r.status, r.title) == ("added", "Bees and pollination")
    sections = {c.text: c.section for c in fake_runtime.store.chunks_of(r.doc_key)}
    by_phrase = {phrase: next(s for t, s in sections.items() if phrase in t)
                 for phrase in ("one queen", "waggle dance", "Drone | mates", "tomato flowers")}
    assert by_phrase == {
        "one queen": "Honey bees",
        "waggle dance": "Honey bees › Waggle dance",
        # the table sits under "Waggle dance", not at the end of the document
        "Drone | mates": "Honey bees › Waggle dance",
        "tomato flowers": "Bumblebees › Buzz pollination",
    }
    key, hit = top_doc(fake_runtime, "Which bees vibrate to shake pollen from tomato flowers?")
    assert key == r.doc_key
    assert hit.chunk.section == "Bumblebees › Buzz pollination"


def test_pptx_chunks_carry_slide_numbers_and_titles(fake_runtime):
    r = fake_runtime.ingestor.ingest_bytes("volcanoes.pptx", make_pptx())
    assert (r.status, r.title) == ("added", "Volcanoes")
    chunks = fake_runtime.store.chunks_of(r.doc_key)
    assert [(c.slide, c.section) for c in chunks] == [
        (1, "Volcanoes"), (2, "Magma chambers"), (3, "Geysers")]
    assert "steam" in chunks[2].text
    key, hit = top_doc(fake_runtime, "geyser hot water and steam")
    assert key == r.doc_key
    assert hit.chunk.slide == 3 and "slide 3" in hit.chunk.location()


def test_html_keeps_headings_and_drops_scripts(fake_runtime):
    r = fake_runtime.ingestor.ingest_bytes("chess.html", CHESS_HTML.encode())
    assert (r.status, r.title) == ("added", "Chess openings")
    chunks = fake_runtime.store.chunks_of(r.doc_key)
    for c in chunks:
        assert "INJECTED" not in c.text and "INJECTED" not in c.search_text
        assert "SECRET_STYLE" not in c.search_text and "document.write" not in c.search_text
    sections = {c.section for c in chunks if "c-pawn" in c.text or "pawn on c4" in c.text}
    assert sections == {"Sicilian Defence", "Queen's Gambit"}
    key, hit = top_doc(fake_runtime, "Queen's Gambit pawn c4 centre")
    assert key == r.doc_key
    assert hit.chunk.section == "Queen's Gambit"


def test_markdown_front_matter_sets_metadata_and_heading_path(fake_runtime):
    r = fake_runtime.ingestor.ingest_bytes("соты.md", HONEYCOMB_MD.encode())
    assert r.status == "added"
    doc = fake_runtime.store.get_document(r.doc_key)
    assert (doc.title, doc.subject, doc.grade, doc.lang, doc.policy, doc.author) == (
        "Пчелиные соты", "biology", 7, "ru", "homework", "Айгуль Серикова")
    chunks = fake_runtime.store.chunks_of(r.doc_key)
    assert not any("policy:" in c.text or "---" in c.text for c in chunks)
    hexagon = next(c for c in chunks if "Шестиугольная" in c.text)
    assert hexagon.section == "Строение сот › Шестиугольные ячейки"
    key, _ = top_doc(fake_runtime, "Почему ячейки сот шестиугольные?")
    assert key == r.doc_key


@pytest.mark.parametrize("encoding", ["cp1251", "koi8_r", "utf-16", "utf-16-le"])
def test_legacy_cyrillic_encodings_are_decoded(fake_runtime, encoding):
    data = CAVES_TEXT.replace("\n", "\r\n").encode(encoding)
    r = fake_runtime.ingestor.ingest_bytes(f"пещеры-{encoding}.txt", data)
    assert (r.status, r.title, r.lang) == ("added", "Карстовые пещеры", "ru")
    text = " ".join(c.text for c in fake_runtime.store.chunks_of(r.doc_key))
    assert "Сталактиты растут с потолка пещеры, а сталагмиты поднимаются" in text
    assert "Ёмкие залы" in text and "растворённый известняк" in text
    key, _ = top_doc(fake_runtime, "Как растут сталактиты и сталагмиты в пещере?")
    assert key == r.doc_key


# ---------------------------------------------------------------------- bad files
def _zip(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


def _docx_bomb() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        zf.writestr("[Content_Types].xml", "<Types/>")
        with zf.open("word/document.xml", "w") as member:
            block = b"\0" * (1024 * 1024)
            for _ in range(16):  # 16 MB of zeros packs into ~16 KB
                member.write(block)
    return buf.getvalue()


def _encrypted_pdf() -> bytes:
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(make_pdf(LAMPS_PDF))))
    writer.encrypt(user_password="secret", owner_password="owner")
    buf = io.BytesIO()
    writer.write(buf)
    data = buf.getvalue()
    # the file is a readable PDF for whoever knows the password: only the password is missing
    reader = PdfReader(io.BytesIO(data))
    assert reader.is_encrypted and reader.decrypt("secret")
    assert "tungsten" in reader.pages[0].extract_text()
    return data


def _pdf_with_a_reference_loop() -> bytes:
    # a damaged stream end plus a broken /Root makes pypdf rebuild the file and hit a
    # self-referencing object (LimitReachedError, not a PdfReadError)
    pdf = make_pdf(LAMPS_PDF)
    pdf = pdf.replace(b"endstream", b"endst\x0feam", 1)
    return re.sub(rb"/Root (\d+) 0 R", lambda m: b"/Root " + m[1] + b"\x950 R", pdf)


def _noise(n: int, seed: int) -> bytes:
    return random.Random(seed).randbytes(n)


BAD_FILES = {
    "corrupt.pdf": (lambda: b"%PDF-1.4\n" + _noise(4000, 1), "damaged"),
    "truncated.pdf": (lambda: make_pdf(LAMPS_PDF)[:300], "damaged"),
    "loop.pdf": (_pdf_with_a_reference_loop, "damaged"),
    "locked.pdf": (_encrypted_pdf, "password"),
    "scan.pdf": (lambda: make_pdf([None, None]), "OCR"),
    "bomb.docx": (_docx_bomb, "zip bomb"),
    "broken.docx": (lambda: b"PK\x03\x04 this is not really a zip", "damaged"),
    "broken.pptx": (lambda: _zip({"ppt/presentation.xml": b"<nope"}), "damaged"),
    "empty.md": (lambda: b"", "empty"),
    "blank.txt": (lambda: b"  \r\n\r\n \t ", "empty"),
    "empty.pdf": (lambda: b"", "empty"),
    "only-front-matter.md": (lambda: b"---\ntitle: x\n---\n", "no text"),
    "setup.exe": (lambda: b"MZ\x90\x00" + _noise(2000, 2), "unsupported file type"),
    "marks.xlsx": (lambda: _zip({"xl/workbook.xml": b"<workbook/>"}), "unsupported file type"),
    "photo.txt": (lambda: b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + _noise(3000, 3), "not a text file"),
    "archive.txt": (lambda: _zip({"a.xml": b"<a/>" * 200}), "not a text file"),
    "random.md": (lambda: _noise(3000, 4), "not a text file"),
}


@pytest.mark.parametrize("name", sorted(BAD_FILES))
def test_bad_file_is_refused_with_one_clear_message_and_changes_nothing(small_runtime, name):
    make, expected = BAD_FILES[name]
    before = corpus_state(small_runtime)
    with pytest.raises(IngestError) as info:
        small_runtime.ingestor.ingest_bytes(name, make())
    message = str(info.value)
    assert message.startswith(f"{name}: ")
    assert expected.lower() in info.value.problem.lower()
    assert "\n" not in message and "Traceback" not in message and len(message) < 300
    assert corpus_state(small_runtime) == before


def test_zip_bomb_is_refused_without_unpacking(small_runtime):
    bomb = _docx_bomb()
    assert len(bomb) < 100_000  # small on disk, 16 MB once unpacked
    with pytest.raises(IngestError, match="16 MB"):
        small_runtime.ingestor.ingest_bytes("bomb.docx", bomb)


def test_file_over_the_size_limit_is_refused(small_runtime, tmp_path):
    ingestor = Ingestor(small_runtime.store, small_runtime.index, max_bytes=2000)
    data = ("# Big\n\n" + "word " * 1000).encode()  # 5007 bytes
    path = tmp_path / "big.md"
    path.write_bytes(data)
    before = corpus_state(small_runtime)
    for attempt in (lambda: ingestor.ingest_bytes("big.md", data), lambda: ingestor.ingest_path(path)):
        with pytest.raises(IngestError) as info:
            attempt()
        # sizes a teacher can compare, not "0 MB, more than the limit of 0 MB"
        assert info.value.problem == "the file is 4.9 KB, more than the limit of 2.0 KB"
    assert corpus_state(small_runtime) == before
    assert ingestor.ingest_bytes("small.md", b"# Small\n\nA short note.").status == "added"


@pytest.mark.parametrize("name", ["../../etc/passwd.md", "..\\..\\Windows\\win.ini.md",
                                  "/etc/passwd.md", "notes/../../../passwd.md"])
def test_path_traversal_name_is_stored_under_a_safe_name(small_runtime, tmp_path, name):
    data = small_runtime.settings.data_path

    def outside_files():
        return {p for p in tmp_path.rglob("*") if data not in (p, *p.parents)}

    files_before = outside_files()
    r = small_runtime.ingestor.ingest_bytes(name, b"# Passwords\n\nNever share a password.\n")
    assert r.status == "added"
    doc = small_runtime.store.get_document(r.doc_key)
    stem = name.replace("\\", "/").rsplit("/", 1)[-1]
    assert r.doc_key == "upload/" + stem and doc.source_name == stem
    assert ".." not in r.doc_key and "/" not in doc.source_name and "\\" not in doc.source_name
    assert outside_files() == files_before and not Path("/etc/passwd.md").exists()


# --------------------------------------------------------------------------- dedup
def test_same_file_twice_is_unchanged_and_same_content_elsewhere_is_duplicate(small_runtime):
    ing = small_runtime.ingestor
    data = make_pdf(LAMPS_PDF)
    first = ing.ingest_bytes("lamps.pdf", data)
    before = corpus_state(small_runtime)
    again = ing.ingest_bytes("lamps.pdf", data)
    assert (again.status, again.chunks, again.doc_key) == ("unchanged", 0, first.doc_key)
    copy = ing.ingest_bytes("lamps-copy.pdf", data)
    assert (copy.status, copy.doc_key) == ("duplicate", first.doc_key)
    assert first.doc_key in copy.message
    assert corpus_state(small_runtime) == before
    assert small_runtime.store.get_document("upload/lamps-copy.pdf") is None


def test_editing_a_file_replaces_only_its_chunks(small_runtime):
    ing, store = small_runtime.ingestor, small_runtime.store
    ing.ingest_bytes("bees.docx", make_docx())
    others = {d.doc_key: [c.id for c in store.chunks_of(d.doc_key)] for d in store.documents()}
    # the edited document is the newest: its chunks hold the highest ids
    v1 = ing.ingest_bytes("cells.md", b"# Cells\n\nMitochondria release energy from glucose.\n")
    assert store.get_document(v1.doc_key).version == 1
    old_ids = {c.id for c in store.chunks_of(v1.doc_key)}

    for version, text in ((2, "Ribosomes assemble proteins from amino acids."),
                          (3, "Chloroplasts capture sunlight in plant cells.")):
        r = ing.ingest_bytes("cells.md", f"# Cells\n\n{text}\n".encode())
        assert (r.status, r.doc_key) == ("replaced", v1.doc_key)
        doc = store.get_document(v1.doc_key)
        assert doc.version == version
        chunks = store.chunks_of(v1.doc_key)
        assert [c.text for c in chunks] == [text]
        assert not {c.id for c in chunks} & old_ids
        old_ids |= {c.id for c in chunks}
        assert {d.doc_key: [c.id for c in store.chunks_of(d.doc_key)]
                for d in store.documents() if d.doc_key != v1.doc_key} == others
        assert_index_matches_store(store, small_runtime.index)

    # the new text is found by meaning, the old one no longer
    key, hit = top_doc(small_runtime, "chloroplasts sunlight plant cells", DENSE)
    assert key == v1.doc_key and hit.dense > 0.5
    found = small_runtime.retriever.search("mitochondria glucose energy", params=DENSE).hits
    assert all(h.dense < 0.3 for h in found if h.chunk.doc.doc_key == v1.doc_key)
    history = store.query("SELECT version, action FROM versions WHERE doc_key=? ORDER BY id", (v1.doc_key,))
    assert [(r["version"], r["action"]) for r in history] == [(1, "add"), (2, "replace"), (3, "replace")]


# -------------------------------------------------------------------------- delete
def _never_returned(retriever, doc_key: str, query: str) -> None:
    for params in (None, DENSE, LEXICAL):
        hits = retriever.search(query, k=50, params=params).hits
        assert all(h.chunk.doc.doc_key != doc_key for h in hits), params


def test_deleted_document_is_never_returned_again(fake_runtime):
    rt = fake_runtime
    r = rt.ingestor.ingest_bytes("volcanoes.pptx", make_pptx())
    ids = {c.id for c in rt.store.chunks_of(r.doc_key)}
    query = "magma chamber molten rock volcano"
    assert top_doc(rt, query)[0] == r.doc_key
    size = rt.index.dense.size

    assert rt.ingestor.delete(r.doc_key) is True
    assert rt.index.dense.size == size - len(ids)
    assert not ids & rt.index.dense.ids()
    _never_returned(rt.retriever, r.doc_key, query)
    assert rt.store.get_document(r.doc_key) is None
    assert rt.ingestor.delete(r.doc_key) is False

    # and after reopening the index from disk
    rt.store.close()
    store = Store(rt.settings.db_path)
    index = SearchIndex(store, HashingEmbedder(), rt.settings.index_path)
    assert index.open() == "loaded"
    assert index.dense.size == size - len(ids)
    assert_index_matches_store(store, index)
    _never_returned(Retriever(index), r.doc_key, query)
    store.close()


def test_candidates_whose_chunks_are_all_gone_give_no_hits(fake_runtime):
    # the index can name chunks the store no longer has (deleted in another process)
    store = fake_runtime.store
    assert store.documents_of_chunks([10 ** 9, 10 ** 9 + 1]) == {}
    some = next(iter(store.chunk_ids()))
    assert store.documents_of_chunks([some, 10 ** 9]).keys() == {some}


def test_index_names_each_candidates_document_as_the_store_does(fake_runtime):
    """Fusion takes documents from the index's memory while the index matches the store;
    once another process changes the corpus (not yet refreshed) it asks the store."""
    rt = fake_runtime
    index, store = rt.index, rt.store
    ids = sorted(store.chunk_ids())
    asked = ids[::7] + [10 ** 9]
    assert {c: d.doc_key for c, d in index.documents_of_chunks(asked).items()} == \
        {c: d.doc_key for c, d in store.documents_of_chunks(asked).items()}
    victim = index.documents_of_chunks(ids[:1])[ids[0]]
    gone = {c.id for c in store.chunks_of(victim.doc_key)}
    other = Store(rt.settings.db_path)  # another process deletes a document
    other.delete_document(victim.doc_key)
    other.close()
    assert not gone & index.documents_of_chunks(ids).keys()
    index.refresh()
    assert not gone & index.documents_of_chunks(ids).keys()
    assert index.documents_of_chunks(ids).keys() == store.chunk_ids()


def test_delete_committed_before_a_crash_is_repaired_at_start(small_runtime):
    rt = small_runtime
    r = rt.ingestor.ingest_bytes("volcanoes.pptx", make_pptx())
    ids = {c.id for c in rt.store.chunks_of(r.doc_key)}
    rt.store.delete_document(r.doc_key)  # the process dies before the index is refreshed
    assert ids <= DenseIndex.load(rt.settings.index_path / "dense.faiss", rt.embedder.dim).ids()
    rt.store.close()
    store = Store(rt.settings.db_path)
    index = SearchIndex(store, HashingEmbedder(), rt.settings.index_path)
    assert index.open() == "repaired"
    assert not ids & index.dense.ids()
    assert_index_matches_store(store, index)
    _never_returned(Retriever(index), r.doc_key, "magma chamber molten rock volcano")
    store.close()


# ------------------------------------------------------------ embedder replacement
class OtherEmbedder(HashingEmbedder):
    """Another model with the same dimension: its vectors live in another space."""

    name = "other-model"

    def _vec(self, text: str) -> np.ndarray:
        return super()._vec(" ".join(w[::-1] for w in text.split()))


def test_a_new_embedder_of_the_same_dimension_reembeds_every_chunk(small_runtime):
    rt = small_runtime
    r = rt.ingestor.ingest_bytes("lamps.pdf", make_pdf(LAMPS_PDF))
    rt.store.close()
    store = Store(rt.settings.db_path)
    index = SearchIndex(store, OtherEmbedder(), rt.settings.index_path)
    assert index.open() == "rebuilt (embedder changed)"
    assert_index_matches_store(store, index)
    stored = store.query("SELECT search_text, embedding FROM chunks")
    for row in stored:
        np.testing.assert_allclose(np.frombuffer(row["embedding"], "<f4"),
                                   OtherEmbedder().encode_passages([row["search_text"]])[0], atol=1e-6)
    hits = Retriever(index).search("argon gas in the bulb", params=DENSE).hits
    assert hits[0].chunk.doc.doc_key == r.doc_key and hits[0].dense > 0.3
    store.close()


def test_other_language_passages_are_ranked_by_meaning_not_shared_names(fake_runtime):
    """A Kazakh question over Russian passages: the words the languages share are mostly
    names and numbers, so with ``cross_lexical`` 0 the ranking is the dense one."""
    from dataclasses import replace

    rt = fake_runtime
    query = "Абай Құнанбайұлы қай жылы дүниеге келді және қандай кітап жазды?"
    russian = Filters(lang="ru")

    def ranking(params):
        return [h.chunk.id for h in rt.retriever.search(query, k=8, filters=russian, params=params).hits]

    hybrid = FusionParams()
    dense = ranking(replace(hybrid, mode="dense"))
    assert ranking(replace(hybrid, cross_lexical=1.0)) != dense  # the lexical lists do move it
    assert ranking(replace(hybrid, cross_lexical=0.0)) == dense


def test_unknown_share_counts_words_the_corpus_never_uses_and_forgives_a_typo():
    """The evidence model's fourth and fifth features: a question naming things no passage mentions
    (a topic the materials lack) scores near 1, a question in the materials' words 0, and
    one swapped pair of letters in a long word leaves it mostly known."""
    from tutor.retrieval.hybrid import word_unknown_shares
    from tutor.retrieval.indexes import LexicalIndex
    from tutor.text.textnorm import char_ngrams

    def unknown_share(question, chars):  # the fourth feature, as evidence_features takes it
        shares = word_unknown_shares(question, chars)
        return sum(shares) / len(shares) if shares else 0.0

    texts = ["Фотосинтез жасыл өсімдіктердің жапырағында жүреді.",
             "Хлорофилл күн жарығын сіңіреді, хлоропласт оны энергияға айналдырады."]
    chars = LexicalIndex([1, 2], texts, char_ngrams)
    assert unknown_share("Фотосинтез қайда жүреді?", chars) == 0.0
    assert unknown_share("Юпитер мен Сатурн", chars) == 1.0
    typo = unknown_share("Фотосинеткз қайда жүреді?", chars)
    assert 0.0 < typo < 0.4
    half = unknown_share("Фотосинтез Юпитерде жүре ме?", chars)
    assert 0.3 < half < 0.7
    assert unknown_share("?!", chars) == 0.0
    assert unknown_share("Фотосинтез", LexicalIndex([], [], char_ngrams)) == 0.0
    # the fifth feature: the least known word of an otherwise ordinary question
    shares = word_unknown_shares("Архимед фотосинтез жапырағында жүреді ме?", chars)
    assert max(shares) == 1.0 and sum(shares) / len(shares) < 0.4


@pytest.mark.parametrize("text, lang", [
    ("Абай кім?", "kk"),
    ("Абай неше жаста болды?", "kk"),  # no Kazakh letter, a Kazakh question word
    ("Тест жазып отырып ЖИ-ден жауап сұрау не болып саналады?", "kk"),  # one Kazakh letter
    ("Сколько бит в одном байте?", "ru"),
    ("What is photosynthesis?", "en"),
    ("Qazaqstannyñ astanasy qai qala?", "kk"),
    # Kazakh typed on a Russian keyboard (no Kazakh letter at all): still Kazakh
    ("фотосинтез дегенимиз не", "kk"),
    ("Абай кашан туылды?", "kk"),
    # a question about English terms is in the language of its question words
    ("present continuous калай жасалады?", "kk"),
    ("Что такое present perfect continuous?", "ru"),
    ("What does the word қалай mean?", "en"),
    ("Казакстаннын астанасы кандай кала?", "kk"),
    ("Виктор Ким и Кай Ли написали книгу о Казахстане.", "ru"),
    # Russian answers that quote Kazakh names or a Kazakh sentence stay Russian
    ("Младший жуз (Кіші жүз) жил на западе, в степях между Аральским и Каспийским морями. "
     "Старший жуз (Ұлы жүз) занимал Жетысу и юг Казахстана.", "ru"),
    ("Вот что говорится в учебных материалах: Касым-хан ввёл свод правил, который назвали «Светлый путь Касым-хана» "
     "(по-казахски «Қасым ханның қасқа жолы»).", "ru"),
    ("Вот что говорится в учебных материалах: 30 августа 1995 года была принята Конституция. "
     "1995 жылы 30 тамызда жаңа Конституция қабылданды. Откройте источник и проверьте, что "
     "там написано то же самое.", "ru"),
])
def test_language_detection(text, lang):
    from tutor.text.langdetect import detect_language

    assert detect_language(text) == lang


def test_bm25_indexes_are_saved_and_loaded_only_while_they_match(fake_runtime, monkeypatch, caplog):
    """A start whose chunks are unchanged loads both BM25 indexes instead of tokenising every
    passage again (minutes at 100k chunks); any change of the chunks, or a damaged file,
    means a rebuild, and the loaded indexes search exactly as the rebuilt ones."""
    from tutor.retrieval import indexes

    rt = fake_runtime
    queries = ["фотосинтез жарық", "Что такое фотосинтез?", "volcano magma", "Абай Құнанбайұлы"]

    from tutor.text.textnorm import tokenize

    def results(index):
        return [(index.lexical.search(q, 20)[1].tolist(), index.chars.search(q, 20)[1].tolist(),
                 index.lexical.idf(tokenize(q)[0]),
                 [h.chunk.id for h in Retriever(index).search(q, k=5).hits]) for q in queries]

    built = results(rt.index)
    assert rt.index.files.lexical.exists()
    rt.store.close()
    built_here = []  # the passages each BM25 index tokenised
    original = indexes.LexicalIndex.add

    def counting_add(self, ids, texts, hashes=None):
        if len(ids):
            built_here.append(len(ids))
        original(self, ids, texts, hashes)

    monkeypatch.setattr(indexes.LexicalIndex, "add", counting_add)

    def reopen():
        built_here.clear()
        store = Store(rt.settings.db_path)
        index = SearchIndex(store, HashingEmbedder(), rt.settings.index_path)
        index.open()
        return store, index

    store, index = reopen()
    assert built_here == []  # both loaded, not a passage tokenised
    assert results(index) == built and sum(bool(r[0]) and bool(r[3]) for r in built) >= 3
    some = next(iter(store.chunk_ids()))
    doc = store.documents_of_chunks([some])[some]
    store.delete_document(doc.doc_key)
    store.close()
    store, index = reopen()
    assert max(built_here) == len(store.chunk_ids())  # the corpus changed: rebuilt
    store.close()
    index.files.lexical.write_bytes(b"PK\x03\x04 not a zip")
    with caplog.at_level("WARNING"):
        store, index = reopen()
    assert "damaged" in caplog.text and max(built_here) == len(store.chunk_ids())
    assert results(index)[0][0]
    store.close()


def test_an_upload_tokenises_only_its_own_chunks_and_a_delete_none(fake_runtime, monkeypatch):
    """A corpus change updates both BM25 indexes in place (the whole corpus is not
    tokenised again under the index lock): an upload tokenises its own chunks only, a
    delete nothing, a deleted document never comes back, and the file saved after each
    is the index in memory, which a restart loads as it is."""
    from tutor.retrieval import indexes

    rt = fake_runtime
    index = rt.index
    stems, chars = index.lexical, index.chars
    tokenised = []
    for lex in (stems, chars):
        lex.tokenizer = lambda text, inner=lex.tokenizer: tokenised.append(text) or inner(text)

    def reopened():
        """The index a restart opens, checked to be the one in memory."""
        added = []
        original = indexes.LexicalIndex.add

        def counting_add(self, ids, texts, hashes=None):
            added.extend(ids)
            original(self, ids, texts, hashes)

        with monkeypatch.context() as m:
            m.setattr(indexes.LexicalIndex, "add", counting_add)
            store = Store(rt.settings.db_path)
            other = SearchIndex(store, HashingEmbedder(), rt.settings.index_path)
            assert other.open() == "loaded" and added == []  # loaded: not a passage tokenised
        for mine, theirs in ((index.lexical, other.lexical), (index.chars, other.chars)):
            a, b = mine.state(""), theirs.state("")
            assert a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a)
        return store, other

    old = set(stems.ids.tolist())
    r = rt.ingestor.ingest_bytes("volcanoes.pptx", make_pptx())
    new = rt.store.chunks_of(r.doc_key)
    assert sorted(tokenised) == sorted(2 * [c.search_text for c in new])  # once per index
    assert index.lexical is stems and index.chars is chars and stems.segments > 1
    assert set(stems.ids.tolist()) == set(chars.ids.tolist()) == old | {c.id for c in new} == rt.store.chunk_ids()
    query = "magma chamber molten rock volcano"
    assert top_doc(rt, query, LEXICAL)[0] == r.doc_key
    store, other = reopened()
    assert Retriever(other).search(query, params=LEXICAL).hits[0].chunk.doc.doc_key == r.doc_key
    store.close()

    tokenised.clear()
    assert rt.ingestor.delete(r.doc_key) is True
    assert tokenised == [] and index.lexical is stems and index.chars is chars
    assert set(stems.ids.tolist()) == set(chars.ids.tolist()) == old == rt.store.chunk_ids()
    _never_returned(rt.retriever, r.doc_key, query)
    store, other = reopened()
    _never_returned(Retriever(other), r.doc_key, query)
    store.close()


def test_searches_do_not_wait_for_the_index_files_after_an_upload(fake_runtime, monkeypatch):
    """refresh() holds the search lock while it changes the indexes in memory, not while
    it writes them to disk (a second or more at 100k chunks): a search meanwhile already
    finds the new document."""
    import threading

    rt = fake_runtime
    writing, written = threading.Event(), threading.Event()
    save = SearchIndex._save

    def slow_save(self):
        writing.set()
        written.wait(30)
        save(self)

    monkeypatch.setattr(SearchIndex, "_save", slow_save)
    upload, found = {}, {}
    uploading = threading.Thread(
        target=lambda: upload.update(r=rt.ingestor.ingest_bytes("volcanoes.pptx", make_pptx())))
    uploading.start()
    assert writing.wait(30)
    searching = threading.Thread(target=lambda: found.update(
        hits=rt.retriever.search("magma chamber molten rock volcano", params=LEXICAL).hits))
    searching.start()
    searching.join(15)
    searched_while_writing = not searching.is_alive()
    written.set()
    uploading.join(30)
    searching.join(30)
    assert searched_while_writing
    assert found["hits"][0].chunk.doc.doc_key == upload["r"].doc_key == "upload/volcanoes.pptx"


def test_roman_numerals_typed_in_cyrillic_meet_latin_ones():
    """"ХІХ ғасыр" (Cyrillic Ha, Kazakh I) and "XІX" (mixed) are the same century as
    "XIX"; initials and units that happen to use those letters stay words."""
    from tutor.text.textnorm import char_ngrams, tokenize

    latin = tokenize("XIX ғасырдың басы", lang="kk")
    assert tokenize("ХІХ ғасырдың басы", lang="kk") == latin
    assert tokenize("XІX ғасырдың басы", lang="kk") == latin
    assert char_ngrams("ХVІІ ғасыр") == char_ngrams("XVII ғасыр")
    assert tokenize("С. Сейфуллин 5 см, 3 мм, Х ғ.", lang="kk") == ["сейфул", "5", "см", "3", "мм", "х", "ғ"]
    assert tokenize("Хасен Ісмағұлов", lang="kk") == ["хасе", "ісмағұ"]


def test_kazakh_typed_on_a_russian_keyboard_meets_in_the_character_view():
    """"жумыс калай аталады" is "жұмыс қалай аталады" typed without the Kazakh letters:
    the character n-grams (and so the evidence model's unknown-word shares) are the same,
    a stopword stays a stopword, and the stems keep the letters."""
    from tutor.retrieval.hybrid import word_unknown_shares
    from tutor.retrieval.lexical import LexicalIndex
    from tutor.text.textnorm import char_ngrams, content_words, tokenize

    assert char_ngrams("жумыс калай аталады, бир") == char_ngrams("жұмыс қалай аталады, бір")
    assert content_words("кандай калай кашан") == []
    assert tokenize("жұмыс", lang="kk") != tokenize("жумыс", lang="kk")
    chars = LexicalIndex([1], ["Жұмыс пен энергия джоульмен өлшенеді."], char_ngrams)
    assert word_unknown_shares("жумыс олшенеди", chars) == [0.0, 0.0]
    assert word_unknown_shares("Жупитер", chars) == [1.0]


def test_kazakh_letters_are_put_back_as_the_corpus_spells_them():
    """A question typed without the Kazakh letters gets them back from the corpus's own
    stems (with the suffixes they take); Russian questions, and loanwords in properly
    typed Kazakh, are left as they are."""
    from tutor.retrieval.lexical import LexicalIndex
    from tutor.text.letters import russian_keyboard
    from tutor.text.textnorm import LetterRestorer

    texts = ["Жұмыс пен энергияның өлшем бірлігі – джоуль.", "Ол ағылшын ғалымының құрметіне аталған.",
             "Жұмыстың бірлігі Джеймс Джоульдің құрметіне берілген.", "Баскетбол – доппен ойналатын ойын.",
             "Сирия и Египет атаковали Израиль в 1973 году.", "Абай Құнанбайұлы 1845 жылы туған.",
             "Шылаудың үш түрі бар."]
    restorer = LetterRestorer(LexicalIndex(range(len(texts)), texts))
    typed = "Жұмыс пен энергияның өлшем бірлігі кімнің құрметіне аталған?"
    # (a stem spelt the same in both, "энергия", gets back its endings' letters only)
    assert restorer.restore(russian_keyboard(typed)) == typed
    known = LetterRestorer(LexicalIndex([1, 2, 3], ["Химиялық реакция жылу бөледі.", "Реакцияның жылдамдығы.",
                                                    "Республиканың астанасы."]))
    assert known.word("реакциянын") == "реакцияның"
    assert known.word("реакции") == "реакции"  # a one-letter ending is not read as Kazakh
    # after a vowel a Kazakh suffix starts voiced: "-ика" is the stem's, not a dative "-қа"
    assert known.word("республикалары") == "республикалары"
    assert restorer.restore("Абай кашан туган?") == "Абай қашан туған?"
    for text in ("Когда Сирия и Египет неожиданно атаковали Израиль?",
                 "Сколько блокировок записал на свой счет Люк Кикли?",
                 "Баскетбол ойынында доп қалай ойналады?"):  # typed right: nothing to do
        assert restorer.restore(text) == text
    # in properly typed Kazakh a word without Kazakh letters may be a loanword: only the
    # question words typed without their letters are restored
    assert restorer.restore("Баскетбол доппен ойналатын ойын ба, кандай ойын?") == \
        "Баскетбол доппен ойналатын ойын ба, қандай ойын?"
    # ... and words the corpus never spells as typed, only with the letters
    assert restorer.restore("шылаудын неше түрі бар") == "шылаудың неше түрі бар"


def test_chunk_ids_are_read_in_parts_that_sqlite_accepts(fake_runtime, monkeypatch):
    """A repair or a refresh reads the new chunks by id; SQLite caps the parameters of one
    statement (a bulk import of tens of thousands of chunks would pass the cap), so they
    are read in parts, here of two, and every one arrives."""
    from tutor.retrieval import indexes

    monkeypatch.setattr(indexes, "ID_BATCH", 2)
    rt = fake_runtime
    before = len(rt.store.chunk_ids())
    for name, data in (("volcanoes.pptx", make_pptx()), ("lamps.pdf", make_pdf(LAMPS_PDF))):
        rt.ingestor.ingest_bytes(name, data)
    assert len(rt.store.chunk_ids()) - before > 2
    assert_index_matches_store(rt.store, rt.index)
    import sqlite3

    conn = rt.store._conn()  # this thread's connection, now capped at 3 parameters
    conn.setlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER, 3)
    ids = sorted(rt.store.chunk_ids())
    got, vectors = rt.index._vectors(ids)
    assert got.tolist() == ids and len(vectors) == len(ids)


def test_a_first_start_says_how_far_the_bundled_corpus_is(fake_runtime, caplog):
    import logging

    from tutor.config import REPO_ROOT
    from tutor.runtime import ProgressLog

    calls = []
    fake_runtime.ingestor.load_bundled(REPO_ROOT / "corpus", lambda done, total: calls.append((done, total)))
    assert len(calls) >= 200 and calls[-1] == (len(calls), len(calls))
    now = [0.0]
    progress = ProgressLog("bundled corpus", every_s=5, clock=lambda: now[0])
    with caplog.at_level(logging.INFO, logger="tutor.runtime"):
        for done in range(1, 11):
            now[0] += 2  # two seconds a document
            progress(done, 10)
    assert [r.getMessage() for r in caplog.records] == [
        f"bundled corpus: {n} of 10 documents read" for n in (3, 6, 9)]
