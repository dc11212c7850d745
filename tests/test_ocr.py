"""Scans and photos of pages: OCR in Kazakh, Russian and English, broken Kazakh text layers
repaired or OCR'd, page numbers, file names and low OCR confidence on the source card, and
every bad image refused with one clear sentence. Every page image and PDF is drawn here."""

from __future__ import annotations

import io
import random
import shutil
import struct
import zlib
from pathlib import Path

import pytest
from PIL import Image, ImageDraw, ImageFilter, ImageFont
from test_ingest import corpus_state, pdf_file, small_runtime  # noqa: F401

from tutor.answer.types import Citation
from tutor.ingest import IngestError
from tutor.ingest.ocr import OcrText, TesseractEngine, skew_angle
from tutor.ingest.readers import ReadError, pdf_page_count, read_file, read_pdf, read_pdf_pages
from tutor.ingest.textlayer import plausible, repair
from tutor.retrieval.hybrid import FusionParams
from tutor.ui.render import citation_cards

FONT = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")
needs_tesseract = pytest.mark.skipif(shutil.which("tesseract") is None,
                                     reason="tesseract is not installed (scripts/install_ocr.sh)")
needs_font = pytest.mark.skipif(not FONT.exists(), reason="DejaVu Sans is not installed")

KK_LINES = ["Фотосинтез — өсімдіктердің күн сәулесінің энергиясын",
            "пайдаланып, көмірқышқыл газы мен судан органикалық",
            "заттар түзуі. Бұл үдеріс жапырақтағы хлоропластарда жүреді.",
            "Оның нәтижесінде ауаға оттегі бөлінеді."]
RU_LINES = ["Вулкан — это геологическое образование на поверхности",
            "земной коры, где магма выходит на поверхность,",
            "образуя лаву, вулканические газы и камни."]


# ------------------------------------------------------------------ fixture files
def page_image(lines: list[str], size: int = 40, width: int = 2000) -> Image.Image:
    """A white page with ``lines`` printed in DejaVu Sans (it has every Kazakh letter)."""
    font = ImageFont.truetype(str(FONT), size)
    image = Image.new("L", (width, 200 + len(lines) * size * 2), 255)
    draw = ImageDraw.Draw(image)
    for i, line in enumerate(lines):
        draw.text((100, 100 + i * size * 2), line, font=font, fill=0)
    return image


def as_photo(image: Image.Image, angle: float = 3.0) -> Image.Image:
    """A phone photo of the page: turned a few degrees, blurred, unevenly lit."""
    photo = image.rotate(angle, resample=Image.BICUBIC, expand=True, fillcolor=255).filter(
        ImageFilter.GaussianBlur(1.2))
    shade = Image.linear_gradient("L").resize(photo.size).point(lambda v: 255 - v * 0.45)
    return Image.composite(photo, shade, photo.point(lambda v: 255 - v)).convert("RGB")


def encoded(image: Image.Image, fmt: str = "JPEG", **kwargs) -> bytes:
    buf = io.BytesIO()
    image.save(buf, fmt, **kwargs)
    return buf.getvalue()


def layered_pdf(pages: list[tuple[str | None, Image.Image | None]]) -> bytes:
    """A PDF whose pages each show an image (a scan) and/or carry a text layer: the layer
    is drawn invisibly (as OCR'd and old-font PDFs carry it), and its code points are exactly
    the given string, whatever the glyphs look like, through a ToUnicode map."""
    chars = sorted({ch for text, _ in pages if text for ch in text if ch != " "})
    assert len(chars) < 200
    codes = {ch: 0x21 + i for i, ch in enumerate(chars)} | {" ": 0x20}
    entries = [f"<{code:02X}> <{ord(ch):04X}>" for ch, code in codes.items()]
    cmap = ["/CIDInit /ProcSet findresource begin 12 dict begin begincmap",
            "/CIDSystemInfo << /Registry (Adobe) /Ordering (UCS) /Supplement 0 >> def",
            "/CMapName /Adobe-Identity-UCS def /CMapType 2 def",
            "1 begincodespacerange <00> <FF> endcodespacerange"]
    for start in range(0, len(entries), 100):
        part = entries[start:start + 100]
        cmap += [f"{len(part)} beginbfchar", *part, "endbfchar"]
    cmap += ["endcmap CMapName currentdict /CIDInit /ProcSet findresource pop end end"]
    objects: list[bytes] = [b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /ToUnicode 3 0 R >>",
                            b"", _stream("\n".join(cmap).encode())]
    kids = []
    for text, image in pages:
        ops, xobjects = [], b""
        if image is not None:
            jpeg = encoded(image.convert("L"), quality=90)
            objects.append(b"<< /Type /XObject /Subtype /Image /Width %d /Height %d /ColorSpace /DeviceGray "
                           b"/BitsPerComponent 8 /Filter /DCTDecode /Length %d >>\nstream\n%s\nendstream"
                           % (image.width, image.height, len(jpeg), jpeg))
            xobjects = b"/XObject << /Im1 %d 0 R >>" % len(objects)
            ops.append(b"q 612 0 0 %d 0 %d cm /Im1 Do Q" % (612 * image.height // image.width,
                                                            792 - 612 * image.height // image.width))
        if text is not None:
            ops.append(b"BT 3 Tr /F1 11 Tf 13 TL 40 760 Td")
            for line in text.split("\n"):
                ops.append(b"<" + bytes(codes[ch] for ch in line).hex().encode() + b"> Tj T*")
            ops.append(b"ET")
        objects.append(_stream(b"\n".join(ops)))
        objects.append(b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources "
                       b"<< /Font << /F1 1 0 R >> %s >> /Contents %d 0 R >>" % (xobjects, len(objects)))
        kids.append(len(objects))
    objects[1] = b"<< /Type /Pages /Kids [%s] /Count %d >>" % (b" ".join(b"%d 0 R" % k for k in kids), len(kids))
    objects.append(b"<< /Type /Catalog /Pages 2 0 R >>")
    return pdf_file(objects, b"/Size %d /Root %d 0 R" % (len(objects) + 1, len(objects)))


def _stream(data: bytes) -> bytes:
    return b"<< /Length %d >>\nstream\n%s\nendstream" % (len(data), data)


def png_header(width: int, height: int) -> bytes:
    """The first bytes of a PNG that claims ``width`` × ``height`` pixels (nothing to decode)."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    chunk = b"IHDR" + ihdr
    idat = zlib.compress(b"\x00" * 1000)
    return (b"\x89PNG\r\n\x1a\n" + struct.pack(">I", len(ihdr)) + chunk + struct.pack(">I", zlib.crc32(chunk))
            + struct.pack(">I", len(idat)) + b"IDAT" + idat + struct.pack(">I", zlib.crc32(b"IDAT" + idat)))


def cat_photo() -> bytes:
    """A photo that shows no page: soft coloured shapes, fur-like noise, no letters."""
    rng = random.Random(7)
    image = Image.new("RGB", (1200, 900), (180, 150, 120))
    draw = ImageDraw.Draw(image)
    for _ in range(40):
        x, y, r = rng.randrange(1200), rng.randrange(900), rng.randrange(30, 200)
        draw.ellipse((x - r, y - r, x + r, y + r), fill=tuple(rng.randrange(40, 230) for _ in range(3)))
    noise = Image.effect_noise((1200, 900), 40).convert("RGB")
    return encoded(Image.blend(image.filter(ImageFilter.GaussianBlur(6)), noise, 0.25))


def words(text: str) -> set[str]:
    return {w.strip(".,—:;").lower() for w in text.split()}


class NoOcr:
    """An engine that fails the test if a page is sent to OCR."""
    name = "none"

    def check(self) -> None:
        pass

    def recognise(self, image, dpi=None) -> OcrText:
        raise AssertionError("this page has a usable text layer and must not be OCR'd")


# ------------------------------------------------------------------ photos and scans
@needs_tesseract
@needs_font
def test_a_phone_photo_of_a_kazakh_page_is_read_straightened_and_evenly_lit():
    photo = as_photo(page_image(KK_LINES), angle=3.0)
    parsed = read_file("IMG_2041.jpg", encoded(photo, quality=70))
    text = " ".join(b.text for b in parsed.blocks)
    expected = words(" ".join(KK_LINES))
    assert len(expected & words(text)) >= 0.85 * len(expected), text
    assert {"өсімдіктердің", "хлоропластарда", "бөлінеді"} <= words(text)
    assert parsed.fmt == "image" and parsed.title == "IMG 2041"
    assert all(b.page is None and 0.6 < b.ocr_confidence <= 1 for b in parsed.blocks)


@needs_tesseract
@needs_font
@pytest.mark.parametrize("fmt,suffix", [("PNG", "png"), ("TIFF", "tiff"), ("WEBP", "webp")])
def test_each_image_format_is_accepted(fmt, suffix):
    data = encoded(page_image(RU_LINES).convert("RGB"), fmt)
    text = " ".join(b.text for b in read_file(f"page.{suffix}", data).blocks)
    assert {"вулкан", "геологическое", "магма"} <= words(text)


@needs_tesseract
@needs_font
def test_the_pages_of_a_scanners_multi_page_tiff_keep_their_numbers():
    first, second = page_image(RU_LINES), page_image(KK_LINES)
    buf = io.BytesIO()
    first.save(buf, "TIFF", save_all=True, append_images=[second], compression="tiff_lzw")
    parsed = read_file("worksheet.tif", buf.getvalue())
    by_page = {n: words(" ".join(b.text for b in parsed.blocks if b.page == n)) for n in (1, 2)}
    assert {"вулкан", "магма"} <= by_page[1] and {"өсімдіктердің", "бөлінеді"} <= by_page[2]
    assert parsed.stats["ocr_pages"] == 2


@needs_tesseract
@needs_font
def test_an_iphone_heic_photo_is_read():
    pillow_heif = pytest.importorskip("pillow_heif")
    pillow_heif.register_heif_opener()
    data = encoded(page_image(RU_LINES).convert("RGB"), "HEIF", quality=90)
    text = " ".join(b.text for b in read_file("IMG_0001.HEIC", data).blocks)
    assert {"вулкан", "геологическое", "магма"} <= words(text)


@needs_tesseract
@needs_font
def test_exif_rotation_is_applied_before_ocr():
    # a phone stores a portrait photo of the page sideways and says so in EXIF (6: turn 90° right)
    sideways = page_image(RU_LINES).rotate(90, expand=True)
    exif = Image.Exif()
    exif[0x0112] = 6
    text = " ".join(b.text for b in read_file("page.jpg", encoded(sideways, exif=exif)).blocks)
    assert {"вулкан", "геологическое", "магма"} <= words(text)


def test_skew_is_measured_to_a_few_tenths_of_a_degree():
    page = page_image(RU_LINES + KK_LINES) if FONT.exists() else None
    if page is None:
        pytest.skip("DejaVu Sans is not installed")
    for angle in (-4.0, 0.0, 2.5):
        turned = page.rotate(angle, resample=Image.BICUBIC, expand=True, fillcolor=255)
        assert abs(skew_angle(turned) - angle) <= 0.3


@needs_tesseract
@needs_font
def test_scanned_pdf_pages_are_ocrd_and_pages_with_a_text_layer_keep_it():
    layer = "Photosynthesis happens in the chloroplasts of the leaf cells.\nPlants give off oxygen."
    pdf = layered_pdf([(layer, None), (None, page_image(KK_LINES))])
    parsed = read_pdf(pdf)
    first = [b for b in parsed.blocks if b.page == 1]
    second = [b for b in parsed.blocks if b.page == 2]
    assert first and all(b.ocr_confidence is None for b in first)
    assert "chloroplasts" in " ".join(b.text for b in first)
    assert second and all(b.ocr_confidence > 0.6 for b in second)
    assert {"өсімдіктердің", "хлоропластарда"} <= words(" ".join(b.text for b in second))
    assert parsed.stats["ocr_pages"] == 1


@needs_tesseract
@needs_font
def test_a_page_range_reads_only_those_pages_and_keeps_their_numbers():
    pdf = layered_pdf([("First page about rivers and lakes of Kazakhstan.", None),
                       (None, page_image(RU_LINES)),
                       ("Third page about mountains, the Altai and the Tien Shan.", None)])
    assert pdf_page_count(pdf) == 3
    middle = read_pdf_pages(pdf, 1, 2)
    assert {b.page for b in middle.blocks} == {2}
    assert "магма" in words(" ".join(b.text for b in middle.blocks))
    tail = read_pdf_pages(pdf, 2, ocr=NoOcr())
    assert {b.page for b in tail.blocks} == {3}


# ------------------------------------------------------------------ broken text layers
# How an old Kazakh font's text layer spells the Kazakh letters: look-alikes of other alphabets.
OLD_FONT = str.maketrans({"ә": "ə", "Ә": "Ə", "ө": "ɵ", "Ө": "Ɵ", "і": "i", "І": "I", "қ": "ҡ",
                          "Қ": "Ҡ", "ң": "ӊ", "һ": "h"})


def test_a_text_layer_with_look_alike_kazakh_letters_is_repaired_without_ocr():
    original = "\n".join(KK_LINES)
    broken = original.translate(OLD_FONT)
    assert broken != original and not plausible(broken)
    pdf = layered_pdf([(broken, page_image(KK_LINES) if FONT.exists() else None)])
    parsed = read_pdf(pdf, ocr=NoOcr())
    text = " ".join(b.text for b in parsed.blocks)
    assert text.split() == original.split()
    assert parsed.stats["repaired_pages"] == 1 and "ocr_pages" not in parsed.stats


@needs_tesseract
@needs_font
def test_a_text_layer_in_private_use_code_points_is_ocrd_instead():
    # a font that put ә, ө, қ, і at private-use code points no table knows
    secret = str.maketrans({"ә": "\ue001", "ө": "\ue002", "қ": "\ue003", "і": "\ue004"})
    broken = "\n".join(KK_LINES).translate(secret)
    pdf = layered_pdf([(broken, page_image(KK_LINES))])
    parsed = read_pdf(pdf)
    text = " ".join(b.text for b in parsed.blocks)
    assert not any("\ue000" <= ch <= "\uf8ff" for ch in text)
    assert {"өсімдіктердің", "хлоропластарда", "бөлінеді"} <= words(text)
    assert parsed.stats["ocr_pages"] == 1


@pytest.mark.parametrize("text", [
    "Вода (H2O) кипит при 100 °C. Язык Python и библиотека NumPy.",
    "Судың формуласы H2O. Python тілінде print() функциясы бар.",
    "Water boils at one hundred degrees Celsius.",
    "Тығыздық ρ = m/V, ауданы S = πr², күкірт қышқылы H₂SO₄, x₁ мен x₂ түбірлері; 1 м³ = 10⁶ см³.",
    "\n".join(KK_LINES), "\n".join(RU_LINES),
])
def test_sound_text_is_plausible_and_repair_leaves_it_alone(text):
    assert plausible(text)
    assert repair(text) == text


# ------------------------------------------------------------------ citations
def test_the_source_card_names_the_page_the_file_and_a_low_ocr_confidence():
    from tutor.answer.types import Answer

    low = Citation(1, "upload/fizika-8.pdf", "8-сынып физика", "physics", 8, "", 47, None,
                   "Жарық сынуы", "kk", source_name="fizika-8.pdf", source_format="pdf",
                   ocr_confidence=0.62)
    sure = Citation(2, "upload/IMG_2041.jpg", "IMG 2041", "", None, "", None, None, "Вулкан", "ru",
                    source_name="IMG_2041.jpg", source_format="image", ocr_confidence=0.93)
    answer = Answer("…", "kk", citations=[low, sure])
    kk = citation_cards(answer, "kk")
    assert "8-сынып физика — 47-бет" in kk and "fizika-8.pdf" in kk and "IMG_2041.jpg" in kk
    assert "OCR сенімділігі 62%" in kk and "93%" not in kk
    assert "с. 47" in citation_cards(answer, "ru") and "Уверенность OCR 62%" in citation_cards(answer, "ru")
    assert "p. 47" in citation_cards(answer, "en") and "OCR confidence 62%" in citation_cards(answer, "en")


@needs_tesseract
@needs_font
def test_an_uploaded_photo_is_found_and_cited_with_its_file_name_and_confidence(small_runtime):  # noqa: F811
    data = encoded(as_photo(page_image(RU_LINES), angle=-2.0), quality=75)
    result = small_runtime.ingestor.ingest_bytes("IMG_0042.jpg", data)
    assert (result.status, result.lang) == ("added", "ru")
    assert result.message.startswith("1 page(s) read by OCR, lowest confidence ")  # the teacher sees it
    hits = small_runtime.retriever.search("Что такое вулкан и магма?", params=FusionParams(mode="lexical")).hits
    assert hits and hits[0].chunk.doc.doc_key == result.doc_key
    chunk = hits[0].chunk
    assert chunk.doc.source_format == "image" and 0.5 < chunk.ocr_confidence <= 1
    citation = Citation.from_hit(1, hits[0])
    assert citation.source_name == "IMG_0042.jpg" and citation.ocr_confidence == chunk.ocr_confidence


# ------------------------------------------------------------------ bad inputs
def _noise_image() -> bytes:
    return encoded(Image.effect_noise((1000, 800), 120).convert("L"), "PNG")


BAD_IMAGES = {
    "empty.jpg": (lambda: b"", "empty"),
    "huge.png": (lambda: png_header(10_000, 10_000), "megapixels"),
    "broken.jpg": (lambda: b"\xff\xd8\xff\xe0 not really a jpeg" * 20, "damaged"),
    "cat.jpg": (cat_photo, "no readable text"),
    "noise.png": (_noise_image, "no readable text"),
}


@needs_tesseract
@pytest.mark.parametrize("name", sorted(BAD_IMAGES))
def test_a_bad_image_is_refused_with_one_clear_message_and_changes_nothing(small_runtime, name):  # noqa: F811
    make, expected = BAD_IMAGES[name]
    before = corpus_state(small_runtime)
    with pytest.raises(IngestError) as info:
        small_runtime.ingestor.ingest_bytes(name, make())
    assert expected in info.value.problem.lower()
    assert "\n" not in str(info.value) and len(str(info.value)) < 300
    assert corpus_state(small_runtime) == before


@needs_font
def test_without_tesseract_a_scan_says_what_to_install():
    missing = TesseractEngine(command="/nonexistent/tesseract")
    with pytest.raises(ReadError, match="tesseract-ocr-kaz"):
        read_file("page.png", encoded(page_image(RU_LINES), "PNG"), ocr=missing)
    with pytest.raises(ReadError, match="tesseract-ocr-kaz"):
        read_pdf(layered_pdf([(None, page_image(RU_LINES))]), ocr=missing)


@needs_font
def test_without_tesseract_a_textbook_keeps_its_text_pages_and_names_the_scanned_ones(small_runtime):  # noqa: F811
    from tutor.ingest import Ingestor

    pdf = layered_pdf([("Rivers of Kazakhstan: the Irtysh, the Ishim and the Tobol flow north.", None),
                       (None, page_image(RU_LINES)), ("", None)])
    ingestor = Ingestor(small_runtime.store, small_runtime.index, ocr=TesseractEngine(command="/nonexistent/x"))
    result = ingestor.ingest_bytes("rivers.pdf", pdf)
    assert result.status == "added" and "page(s) 2 not read" in result.message
    assert "tesseract-ocr-kaz" in result.message
    assert {c.page for c in small_runtime.store.chunks_of(result.doc_key)} == {1}


def test_a_blank_page_is_not_sent_to_ocr():
    pdf = layered_pdf([("Rivers of Kazakhstan: the Irtysh, the Ishim and the Tobol flow north.", None),
                       ("", None)])
    assert {b.page for b in read_pdf(pdf, ocr=NoOcr()).blocks} == {1}


def test_a_data_folder_from_before_ocr_gains_the_confidence_column(tmp_path):
    import sqlite3

    from tutor.store import Chunk, Document, Store

    path = tmp_path / "tutor.sqlite"
    old = sqlite3.connect(path)
    old.execute("CREATE TABLE chunks (id INTEGER PRIMARY KEY AUTOINCREMENT, doc_id INTEGER NOT NULL, "
                "ord INTEGER NOT NULL, text TEXT NOT NULL, search_text TEXT NOT NULL, section TEXT NOT NULL "
                "DEFAULT '', page INTEGER, slide INTEGER, embedding BLOB)")
    old.commit()
    old.close()
    store = Store(path)
    store.put_document(Document("upload/scan.pdf", "Scan", content_hash="h"),
                       [Chunk("Вулкан", "Вулкан", page=3, ocr_confidence=0.61)])
    (chunk,) = store.chunks_of("upload/scan.pdf")
    assert (chunk.page, chunk.ocr_confidence) == (3, 0.61)
    store.close()


# ------------------------------------------------------------------ the OCR bench
def test_edit_distance_counts_each_changed_inserted_and_dropped_letter():
    from tutor.bench.ocr import edit_distance, normalised

    assert edit_distance("қазақ", "казак") == 2
    assert edit_distance("өсімдік", "өсімдіктер") == 3
    assert edit_distance("", "abc") == 3 and edit_distance("абв", "абв") == 0
    assert normalised("Вулкан — это «гора»,\n  где маг-\nма") == 'Вулкан - это "гора", где магма'


@pytest.mark.integration
@needs_tesseract
@pytest.mark.skipif(shutil.which("chromium") is None, reason="Chromium is not installed (scripts/install_browser.sh)")
def test_bench_ocr_quick_reads_printed_lessons_within_the_targets(tmp_path, capsys):
    import json

    from tutor.cli import main

    out = tmp_path / "out"
    assert main(["bench", "ocr", "--quick", "--out", str(out), "--data-dir", str(tmp_path / "data"),
                 "--log-level", "WARNING"]) == 0
    results = json.loads((out / "ocr.json").read_text(encoding="utf-8"))["results"]
    for lang in ("kk", "ru"):
        assert results[f"kaz+rus+eng/{lang}/clean"]["cer"] <= 0.03
        assert results[f"kaz+rus+eng/{lang}/photo"]["cer"] <= 0.08
    assert results["kaz+rus+eng/pages_per_min"] > 0
    assert "Character error rate" in capsys.readouterr().out


# ------------------------------------------------------------------ retrieval on OCR'd copies
def test_a_run_that_names_no_task_leaves_out_the_ocr_suite():
    from tutor.evaluation.runner import select_tasks

    assert "retrieval_ocr" not in select_tasks(None)
    assert select_tasks(["ocr"]) == ["retrieval_ocr"]


@pytest.mark.integration
@needs_tesseract
@pytest.mark.skipif(shutil.which("chromium") is None, reason="Chromium is not installed (scripts/install_browser.sh)")
def test_retrieval_ocr_reads_each_lesson_once_and_scores_beside_the_originals(settings, monkeypatch):
    from tutor.config import REPO_ROOT
    from tutor.evaluation.tasks import EvalContext
    from tutor.evaluation.tasks.retrieval_ocr import OcrRetrieval
    from tutor.retrieval.embedders import HashingEmbedder

    def context():
        return EvalContext(HashingEmbedder(), REPO_ROOT / "corpus", None, limit=2, progress=False, settings=settings)

    first = OcrRetrieval().run(context())
    assert first["n"] == 2 and first["extra"]["lessons_read_by_ocr"] >= 1
    assert 0 <= first["metrics"]["mrr@10"] <= 1 and "original_mrr@10" in first["metrics"]
    # the OCR'd copies are kept: a second run reads no page again and scores the same
    monkeypatch.setattr(TesseractEngine, "recognise", lambda *a, **k: pytest.fail("a page was read again"))
    assert OcrRetrieval().run(context())["metrics"] == first["metrics"]


def test_a_sentence_that_ocr_split_into_line_paragraphs_is_joined():
    from tutor.ingest.ocr import join_broken_paragraphs

    lines = ["Шарын шатқалы", "Шарын шатқалы Алматы облысында, Шарын өзенінің",
             "бойында орналасқан. Ондағы ең әйгілі бөлігі", "«Қамалдар аңғары» деп аталады.",
             "Жаңа абзац осында басталады."]
    assert join_broken_paragraphs(lines) == [
        "Шарын шатқалы",
        "Шарын шатқалы Алматы облысында, Шарын өзенінің бойында орналасқан. Ондағы ең әйгілі "
        "бөлігі «Қамалдар аңғары» деп аталады.",
        "Жаңа абзац осында басталады."]
