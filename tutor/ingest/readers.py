"""One reader per file format. Each turns bytes into a title, front-matter metadata
and a list of blocks that keep their position (heading path, page, slide)."""

from __future__ import annotations

import io
import re
import zipfile
from dataclasses import dataclass, field

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


@dataclass
class Parsed:
    title: str
    blocks: list[Block]
    meta: dict = field(default_factory=dict)
    fmt: str = ""
    encoding: str = ""


FORMATS = {
    ".md": "markdown", ".markdown": "markdown", ".txt": "text", ".text": "text",
    ".pdf": "pdf", ".docx": "docx", ".pptx": "pptx", ".html": "html", ".htm": "html",
}


def read_file(name: str, data: bytes) -> Parsed:
    suffix = "." + name.rsplit(".", 1)[-1].lower() if "." in name else ""
    fmt = FORMATS.get(suffix)
    if fmt is None:
        known = ", ".join(sorted({s for s in FORMATS}))
        raise ReadError(f"unsupported file type '{suffix or name}' (supported: {known})")
    if not data.strip():
        raise ReadError("the file is empty")
    parsed = READERS[fmt](data)
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
def _open_pdf(data: bytes):
    from pypdf import PdfReader

    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted:
            try:
                ok = reader.decrypt("")
            except Exception:  # noqa: BLE001 - unsupported encryption schemes
                ok = 0
            if not ok:
                raise ReadError("the PDF is password-protected: save it without a password and "
                                "upload it again")
        len(reader.pages)  # a broken page tree fails here, not halfway through a job
    except ReadError:
        raise
    except Exception as exc:  # noqa: BLE001 - damaged files also raise LimitReachedError, RecursionError...
        raise ReadError(f"the PDF is damaged and cannot be read ({type(exc).__name__})") from None
    return reader


def pdf_page_count(data: bytes) -> int:
    return len(_open_pdf(data).pages)


def read_pdf_pages(data: bytes, first: int = 0, stop: int | None = None) -> Parsed:
    """Pages ``first`` to ``stop`` (0-based, ``stop`` excluded); blocks keep 1-based page numbers."""
    reader = _open_pdf(data)
    try:
        pages = reader.pages[first:stop]
        blocks = []
        for number, page in enumerate(pages, start=first + 1):
            text = page.extract_text() or ""
            for para in re.split(r"\n\s*\n", text):
                para = re.sub(r"-\n(?=\w)", "", para)
                para = re.sub(r"\s*\n\s*", " ", para).strip()
                if para:
                    blocks.append(Block(para, page=number))
        title = (reader.metadata.title if reader.metadata else None) or ""
    except Exception as exc:  # noqa: BLE001 - damaged files also raise LimitReachedError, RecursionError...
        raise ReadError(f"the PDF is damaged and cannot be read ({type(exc).__name__})") from None
    if not blocks:
        raise ReadError("the PDF has no text layer (a scanned document?): it needs OCR first")
    return Parsed(str(title), blocks)


def read_pdf(data: bytes) -> Parsed:
    return read_pdf_pages(data)


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
}
