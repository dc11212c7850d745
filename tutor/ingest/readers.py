"""One reader per file format. Each turns bytes into a title, front-matter metadata
and a list of blocks that keep their position (heading path, page, slide)."""

from __future__ import annotations

import io
import re
import zipfile
from dataclasses import dataclass, field
from functools import cache

from tutor.ingest.encoding import NotText, decode_bytes

MAX_UNZIPPED = 200 * 1024 * 1024  # office files larger than this once unpacked are refused
MAX_RATIO = 100  # compression ratio beyond which an office file is treated as a zip bomb


class ReadError(ValueError):
    """A file cannot be read; the message is meant for a teacher."""


@dataclass
class Block:
    text: str
    headings: list[str] = field(default_factory=list)
    page: int | None = None
    slide: int | None = None
    ocr_confidence: float | None = None  # mean word confidence (0-1) of an OCR'd page


@dataclass
class Parsed:
    title: str
    blocks: list[Block]
    meta: dict = field(default_factory=dict)
    fmt: str = ""
    encoding: str = ""
    # how the text was obtained, for the teacher: ocr_pages, ocr_confidence (lowest),
    # repaired_pages, unread_pages ({page: reason})
    stats: dict = field(default_factory=dict)


FORMATS = {
    ".md": "markdown", ".markdown": "markdown", ".txt": "text", ".text": "text",
    ".pdf": "pdf", ".docx": "docx", ".pptx": "pptx", ".html": "html", ".htm": "html",
    ".jpg": "image", ".jpeg": "image", ".png": "image", ".tif": "image", ".tiff": "image",
    ".webp": "image", ".heic": "image", ".heif": "image",
}


def read_file(name: str, data: bytes, ocr=None) -> Parsed:
    """``ocr``: the OCR engine for scans and photos (tesseract when None)."""
    suffix = "." + name.rsplit(".", 1)[-1].lower() if "." in name else ""
    fmt = FORMATS.get(suffix)
    if fmt is None:
        known = ", ".join(sorted({s for s in FORMATS}))
        raise ReadError(f"unsupported file type '{suffix or name}' (supported: {known})")
    if not data.strip():
        raise ReadError("the file is empty")
    parsed = READERS[fmt](data, ocr=ocr) if fmt in ("pdf", "image") else READERS[fmt](data)
    parsed.fmt = fmt
    if not any(b.text.strip() for b in parsed.blocks):
        raise ReadError("no text found in the file")
    if not parsed.title:
        parsed.title = re.sub(r"[_-]+", " ", name.rsplit("/", 1)[-1].rsplit(".", 1)[0]).strip()
    return parsed


# ---------------------------------------------------------------- text formats
def _decode(data: bytes) -> tuple[str, str]:
    try:
        return decode_bytes(data)
    except NotText as exc:
        raise ReadError(f"this is not a text file ({exc})") from None


def split_front_matter(text: str) -> tuple[dict, str]:
    if not text.startswith("---"):
        return {}, text
    end = text.find("\n---", 3)
    if end < 0:
        return {}, text
    meta = {}
    for line in text[3:end].strip().splitlines():
        if ":" in line:
            key, value = line.split(":", 1)
            meta[key.strip().lower()] = value.strip().strip("'\"")
    return meta, text[end + 4:].lstrip("\n")


_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")


def read_markdown(data: bytes) -> Parsed:
    text, enc = _decode(data)
    meta, body = split_front_matter(text)
    title = meta.get("title", "")
    path: list[str] = []
    blocks: list[Block] = []
    buf: list[str] = []
    in_code = False

    def flush():
        chunk = "\n".join(buf).strip()
        if chunk:
            blocks.append(Block(chunk, list(path)))
        buf.clear()

    for line in body.splitlines():
        if line.strip().startswith("```"):
            in_code = not in_code
            buf.append(line)
            continue
        m = None if in_code else _HEADING.match(line)
        if m:
            flush()
            level, heading = len(m.group(1)), m.group(2).strip()
            if level == 1:
                title = title or heading
                path = []
                continue
            path = path[: level - 2] + [heading]
        elif not line.strip() and not in_code:
            flush()
        else:
            buf.append(line)
    flush()
    return Parsed(title, blocks, meta, encoding=enc)


def read_text(data: bytes) -> Parsed:
    text, enc = _decode(data)
    paragraphs = [p.strip() for p in re.split(r"\n\s*\n", text) if p.strip()]
    title = ""
    if paragraphs and len(paragraphs[0]) < 120 and "\n" not in paragraphs[0]:
        title = paragraphs[0]
    return Parsed(title, [Block(p) for p in paragraphs], encoding=enc)


def read_html(data: bytes) -> Parsed:
    from bs4 import BeautifulSoup

    text, enc = _decode(data)
    soup = BeautifulSoup(text, "html.parser")
    for bad in soup(["script", "style", "noscript", "iframe", "object", "embed", "template"]):
        bad.decompose()
    title = soup.title.get_text(" ", strip=True) if soup.title else ""
    blocks: list[Block] = []
    path: list[str] = []
    for el in soup.find_all(["h1", "h2", "h3", "h4", "p", "li", "td", "pre", "blockquote"]):
        content = el.get_text(" ", strip=True)
        if not content:
            continue
        if el.name in ("h1", "h2", "h3", "h4"):
            level = int(el.name[1])
            if level == 1:
                title = title or content
                path = []
            else:
                path = path[: level - 2] + [content]
            continue
        if el.find_parent(["li", "td", "blockquote"]) is not None and el.name == "p":
            continue
        blocks.append(Block(content, list(path)))
    return Parsed(title, blocks, encoding=enc)


# --------------------------------------------------------------- binary formats
PDF_DPI = 300  # tesseract reads 10-12 pt print best at 300 dpi
MIN_LAYER_LETTERS = 20  # a page that draws an image and has fewer letters in its text layer is a scan
MIN_OCR_CONFIDENCE = 0.45  # below this mean word confidence an image holds no readable text


def _open_pdf(data: bytes):
    from pypdf import PdfReader

    reader = PdfReader(io.BytesIO(data))
    if reader.is_encrypted:
        try:
            ok = reader.decrypt("")
        except Exception:  # noqa: BLE001 - unsupported encryption schemes
            ok = 0
        if not ok:
            raise ReadError("the PDF is password-protected: save it without a password and "
                            "upload it again")
    return reader


def _damaged(exc: Exception) -> ReadError:
    return ReadError(f"the PDF is damaged and cannot be read ({type(exc).__name__})")


def pdf_page_count(data: bytes) -> int:
    try:
        return len(_open_pdf(data).pages)
    except ReadError:
        raise
    except Exception as exc:  # noqa: BLE001 - damaged files also raise LimitReachedError, RecursionError...
        raise _damaged(exc) from None


def _layer_blocks(text: str, number: int) -> list[Block]:
    blocks = []
    for para in re.split(r"\n\s*\n", text):
        para = re.sub(r"-\n(?=\w)", "", para)
        para = re.sub(r"\s*\n\s*", " ", para).strip()
        if para:
            blocks.append(Block(para, page=number))
    return blocks


def read_pdf_pages(data: bytes, first: int = 0, stop: int | None = None, *, ocr=None) -> Parsed:
    """Pages ``first`` to ``stop`` (0-based, ``stop`` excluded) of a PDF; ``Block.page`` is
    the 1-based page number. A page keeps its text layer when the layer is plausible Kazakh,
    Russian or English, or becomes so once look-alike letters are repaired; other pages
    (scans, broken fonts) are read by OCR."""
    from tutor.ingest.textlayer import plausible, repair

    try:
        reader = _open_pdf(data)
        pages = reader.pages[first:stop]
        blocks: list[Block] = []
        scanned: list[int] = []
        repaired = 0
        for number, page in enumerate(pages, start=first + 1):
            text = page.extract_text() or ""
            if sum(ch.isalpha() for ch in text) < MIN_LAYER_LETTERS:
                if _has_image(page):
                    scanned.append(number)
                elif text.strip():
                    blocks.extend(_layer_blocks(text, number))
                continue  # a blank page (or one drawn only in lines) has nothing to read
            if not plausible(text):
                fixed = repair(text)
                if not plausible(fixed):
                    scanned.append(number)
                    continue
                text, repaired = fixed, repaired + 1
            blocks.extend(_layer_blocks(text, number))
        title = (reader.metadata.title if reader.metadata else None) or ""
    except Exception as exc:  # noqa: BLE001 - damaged files also raise LimitReachedError, RecursionError...
        raise _damaged(exc) from None
    stats: dict = {}
    if scanned:
        ocr_blocks, confidences, unread = _ocr_pdf_pages(data, scanned, ocr, have_text=bool(blocks))
        blocks = sorted(blocks + ocr_blocks, key=lambda b: b.page or 0)
        stats["ocr_pages"] = len(scanned) - len(unread)
        if confidences:
            stats["ocr_confidence"] = round(min(confidences), 3)
        if unread:
            stats["unread_pages"] = unread
    if repaired:
        stats["repaired_pages"] = repaired
    if not blocks:
        raise ReadError("the PDF has no text layer and OCR found no readable text in it")
    return Parsed(str(title), blocks, stats=stats)


def _has_image(page) -> bool:
    """Whether the page draws an image (a scan), directly or inside a form one level down."""
    def images(resources, depth: int) -> bool:
        xobjects = (resources or {}).get("/XObject") or {}
        for ref in xobjects.values():
            obj = ref.get_object()
            if obj.get("/Subtype") == "/Image":
                return True
            if depth and obj.get("/Subtype") == "/Form" and images(obj.get("/Resources"), depth - 1):
                return True
        return False

    return images(page.get("/Resources"), 1)


def _ocr_pdf_pages(data: bytes, numbers: list[int], ocr,
                   have_text: bool) -> tuple[list[Block], list[float], dict[int, str]]:
    """OCR'd blocks of the pages ``numbers`` (1-based), their confidences, and the pages that
    could not be read with the reason. A page that fails is reported, not fatal; without an
    OCR engine a PDF that has text on other pages keeps that text."""
    import pypdfium2 as pdfium

    from tutor.ingest.ocr import MAX_PIXELS, OcrError, OcrUnavailable, TesseractEngine, prepare_page

    engine = ocr or TesseractEngine()
    try:
        engine.check()
    except OcrUnavailable as exc:
        if not have_text:
            raise ReadError(f"the PDF is a scan without a text layer; {exc}") from None
        return [], [], {n: str(exc) for n in numbers}

    blocks: list[Block] = []
    confidences: list[float] = []
    unread: dict[int, str] = {}
    try:
        document = pdfium.PdfDocument(data)
    except Exception as exc:  # noqa: BLE001 - pdfium.PdfiumError and friends
        raise _damaged(exc) from None
    try:
        for number in numbers:
            page = document[number - 1]
            width, height = page.get_size()
            # a poster-sized page is rendered at a lower resolution, never past the pixel limit
            scale = min(PDF_DPI / 72, (MAX_PIXELS / max(width * height, 1)) ** 0.5)
            image = page.render(scale=scale, grayscale=True).to_pil()
            try:
                result = engine.recognise(prepare_page(image), dpi=round(scale * 72))
            except OcrError as exc:
                unread[number] = str(exc)
                continue
            if result.words and result.confidence >= MIN_OCR_CONFIDENCE:
                confidences.append(result.confidence)
                blocks.extend(Block(p, page=number, ocr_confidence=result.confidence)
                              for p in result.paragraphs)
    finally:
        document.close()
    return blocks, confidences, unread


def read_pdf(data: bytes, *, ocr=None) -> Parsed:
    return read_pdf_pages(data, ocr=ocr)


def read_image(data: bytes, *, ocr=None) -> Parsed:
    """A photo or scan of a page (JPG, PNG, TIFF, WebP, HEIC), read by OCR; the pages of a
    multi-page TIFF keep their numbers."""
    from tutor.ingest.ocr import OcrError, TesseractEngine, open_image, prepare_page

    engine = ocr or TesseractEngine()
    _register_heif()
    try:
        images = open_image(data)
    except ValueError as exc:
        raise ReadError(str(exc)) from None
    blocks: list[Block] = []
    confidences: list[float] = []
    for number, image in enumerate(images, start=1):
        try:
            result = engine.recognise(prepare_page(image))
        except OcrError as exc:
            raise ReadError(str(exc) if len(images) == 1 else f"page {number}: {exc}") from None
        if result.words and result.confidence >= MIN_OCR_CONFIDENCE:
            confidences.append(result.confidence)
            page = number if len(images) > 1 else None
            blocks += [Block(p, page=page, ocr_confidence=result.confidence) for p in result.paragraphs]
    if not blocks:
        raise ReadError("no readable text found in the image: upload a sharp, well-lit photo or scan "
                        "of a page")
    return Parsed("", blocks, stats={"ocr_pages": len(images), "ocr_confidence": min(confidences)})


@cache
def _register_heif() -> None:
    try:
        from pillow_heif import register_heif_opener
    except ImportError:
        return  # HEIC stays unknown to Pillow: open_image says the image cannot be read
    register_heif_opener()


def _check_zip(data: bytes, kind: str) -> None:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            total = sum(info.file_size for info in zf.infolist())
            packed = sum(info.compress_size for info in zf.infolist()) or 1
    except zipfile.BadZipFile:
        raise ReadError(f"the {kind} file is damaged (not a valid Office file)") from None
    if total > MAX_UNZIPPED or total / packed > MAX_RATIO and total > 10 * 1024 * 1024:
        raise ReadError(f"the {kind} file unpacks to {total // (1024 * 1024)} MB: refused as "
                        "unsafe (a zip bomb?)")


def read_docx(data: bytes) -> Parsed:
    _check_zip(data, "DOCX")
    import docx
    from docx.table import Table

    try:
        document = docx.Document(io.BytesIO(data))
    except Exception as exc:  # noqa: BLE001 - python-docx raises many kinds
        raise ReadError(f"the DOCX file is damaged and cannot be read ({type(exc).__name__})") from None
    title = document.core_properties.title or ""
    path: list[str] = []
    blocks = []
    # Paragraphs and tables in document order, so a table keeps the heading path it sits under.
    for item in document.iter_inner_content():
        if isinstance(item, Table):
            for row in item.rows:
                cells = " | ".join(c.text.strip() for c in row.cells if c.text.strip())
                if cells:
                    blocks.append(Block(cells, list(path)))
            continue
        para = item
        content = para.text.strip()
        if not content:
            continue
        style = (para.style.name or "").lower() if para.style is not None else ""
        if style == "title":
            title = title or content
            continue
        m = re.match(r"heading (\d)", style)
        if m:
            level = int(m.group(1))
            if level == 1 and not title:
                title = content
                path = []
            else:
                path = path[: max(level - 1, 0)] + [content]
            continue
        blocks.append(Block(content, list(path)))
    return Parsed(title, blocks)


def read_pptx(data: bytes) -> Parsed:
    _check_zip(data, "PPTX")
    from pptx import Presentation

    try:
        pres = Presentation(io.BytesIO(data))
    except Exception as exc:  # noqa: BLE001
        raise ReadError(f"the PPTX file is damaged and cannot be read ({type(exc).__name__})") from None
    blocks = []
    title = pres.core_properties.title or ""
    for number, slide in enumerate(pres.slides, start=1):
        heading = ""
        texts = []
        for shape in slide.shapes:
            if not shape.has_text_frame:
                continue
            content = shape.text_frame.text.strip()
            if not content:
                continue
            if shape == getattr(slide.shapes, "title", None) or (
                    shape.is_placeholder and "title" in str(shape.placeholder_format.type).lower()):
                heading = content
            else:
                texts.append(content)
        if number == 1 and heading and not title:
            title = heading
        if texts:
            blocks.append(Block("\n".join(texts), [heading] if heading else [], slide=number))
    return Parsed(title, blocks)


READERS = {
    "markdown": read_markdown, "text": read_text, "html": read_html, "pdf": read_pdf,
    "docx": read_docx, "pptx": read_pptx,
    "image": read_image,
}
