"""Synthetic benchmark data made from the bundled corpus: chunks that mix a document's
sentences in a new order, a text PDF of any number of pages (written by hand: no
PDF library is a dependency, and pypdf reads it back like any text PDF), and the same
pages as a scanned, image-only PDF (Pillow draws and writes it)."""

from __future__ import annotations

import io
import random
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from tutor.ingest.chunking import chunk_blocks, split_sentences
from tutor.ingest.readers import FORMATS, read_file


@dataclass
class SourceDoc:
    key: str  # e.g. "kk/biology-photosynthesis"
    lang: str
    title: str
    chunks: list[str]  # search texts, as ingestion makes them
    sentences: list[str]


def corpus_docs(corpus_dir: str | Path) -> list[SourceDoc]:
    """The bundled corpus, read and chunked the way ingestion does it."""
    folder = Path(corpus_dir)
    docs = []
    for path in sorted(p for p in folder.rglob("*") if p.suffix.lower() in FORMATS):
        parsed = read_file(path.name, path.read_bytes())
        chunks = chunk_blocks(parsed.title, parsed.blocks)
        sentences = [s for c in chunks for s in split_sentences(c.text) if len(s.split()) >= 4]
        key = path.relative_to(folder).with_suffix("").as_posix()
        docs.append(SourceDoc(key, key.split("/")[0], parsed.title,
                              [c.search_text for c in chunks], sentences))
    return [d for d in docs if d.sentences]


SCAN_FONT = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")  # it has every Kazakh letter


def sentence_mix(doc: SourceDoc, rng: random.Random, words: int = 110) -> str:
    """A chunk-like text: the document's title and its sentences drawn in a new order."""
    out, n = [], 0
    while n < words:
        sentence = rng.choice(doc.sentences)
        out.append(sentence)
        n += len(sentence.split())
    return f"{doc.title}\n" + " ".join(out)


# ------------------------------------------------------------------------ PDF
def _wrap(text: str, width: int) -> list[str]:
    lines, line = [], ""
    for word in text.split():
        if line and len(line) + 1 + len(word) > width:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}" if line else word
    if line:
        lines.append(line)
    return lines


def text_pages(docs: list[SourceDoc], n_pages: int, seed: int = 0, lines_per_page: int = 46,
               width: int = 95) -> list[list[str]]:
    """Pages of wrapped text: paragraphs of shuffled sentences, a heading now and then."""
    rng = random.Random(seed)
    pages: list[list[str]] = []
    page: list[str] = []
    while len(pages) < n_pages:
        doc = rng.choice(docs)
        block = [doc.title.upper()] + _wrap(sentence_mix(doc, rng, 90).split("\n", 1)[1], width)
        for line in block:
            page.append(line)
            if len(page) == lines_per_page:
                pages.append(page)
                page = []
                if len(pages) == n_pages:
                    break
    return pages


def make_pdf(pages: list[list[str]], title: str = "") -> bytes:
    """A PDF with one text line per entry. Helvetica with a custom encoding: the 127
    most frequent non-ASCII characters get codes 128-254 and ``uniXXXX`` glyph names,
    which is what text extraction needs (rarer characters become '?')."""
    counts = Counter(c for page in pages for line in page for c in line if ord(c) > 126)
    chars = [c for c, _ in counts.most_common(127)]
    code = {c: 128 + i for i, c in enumerate(chars)}
    differences = "[128 " + " ".join(f"/uni{ord(c):04X}" for c in chars) + "]"

    def encode(line: str) -> bytes:
        out = bytearray()
        for c in line:
            if c in "()\\":
                out += b"\\" + c.encode()
            elif 32 <= ord(c) < 127:
                out += c.encode()
            else:
                out.append(code.get(c, ord("?")))
        return bytes(out)

    objects: list[bytes] = []

    def add(body: bytes) -> int:
        objects.append(body)
        return len(objects)

    font = add(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding << /Type /Encoding "
               b"/BaseEncoding /WinAnsiEncoding /Differences " + differences.encode() + b" >> >>")
    pages_id = add(b"")  # filled in once the pages are known
    kids = []
    for lines in pages:
        stream = b"BT /F1 10 Tf 14 TL 50 800 Td\n" + b"".join(
            b"(" + encode(line) + b") '\n" for line in lines) + b"ET"
        content = add(b"<< /Length %d >>\nstream\n%s\nendstream" % (len(stream), stream))
        kids.append(add(b"<< /Type /Page /Parent %d 0 R /MediaBox [0 0 595 842] /Resources "
                        b"<< /Font << /F1 %d 0 R >> >> /Contents %d 0 R >>" % (pages_id, font, content)))
    objects[pages_id - 1] = (b"<< /Type /Pages /Kids [" + b" ".join(b"%d 0 R" % k for k in kids)
                             + b"] /Count %d >>" % len(kids))
    info = add(b"<< /Title <FEFF" + title.encode("utf-16-be").hex().upper().encode() + b"> >>")
    catalog = add(b"<< /Type /Catalog /Pages %d 0 R >>" % pages_id)
    out = io.BytesIO()
    out.write(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n%s\nendobj\n" % (number, body))
    xref = out.tell()
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1))
    out.write(b"".join(b"%010d 00000 n \n" % o for o in offsets))
    out.write(b"trailer\n<< /Size %d /Root %d 0 R /Info %d 0 R >>\nstartxref\n%d\n%%%%EOF\n"
              % (len(objects) + 1, catalog, info, xref))
    return out.getvalue()


def scanned_pdf(pages: list[list[str]], title: str = "", dpi: int = 150, seed: int = 0) -> bytes:
    """An image-only PDF of A4 pages, as a school scanner makes one: each page printed in
    DejaVu Sans 10 pt, turned up to 1.5 degrees, one greyscale JPEG per page, no text layer."""
    rng = random.Random(seed)
    size = (round(8.27 * dpi), round(11.69 * dpi))
    font = ImageFont.truetype(str(SCAN_FONT), round(10 / 72 * dpi))
    step = round(14 / 72 * dpi)  # the text PDF's 14 pt leading
    images = []
    for lines in pages:
        image = Image.new("L", size, 255)
        draw = ImageDraw.Draw(image)
        for i, line in enumerate(lines):
            draw.text((round(0.6 * dpi), round(0.6 * dpi) + i * step), line, font=font, fill=0)
        images.append(image.rotate(rng.uniform(-1.5, 1.5), resample=Image.BICUBIC, fillcolor=255))
    out = io.BytesIO()
    images[0].save(out, "PDF", save_all=True, append_images=images[1:], resolution=dpi, title=title, quality=85)
    return out.getvalue()
