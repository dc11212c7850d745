"""Bundled lessons as a teacher's printed pages: Markdown to HTML, printed to PDF by Debian's
Chromium, rasterised at 300 dpi as ingest does. The OCR bench and the ``retrieval_ocr`` task
read them back."""

from __future__ import annotations

import html
import shutil
import subprocess
from pathlib import Path

from PIL import Image

from tutor.config import REPO_ROOT
from tutor.ingest.readers import PDF_DPI, split_front_matter

CHROMIUM = ("chromium", "chromium-browser", "google-chrome")
_PAGE_CSS = """@page { size: A4; margin: 20mm 18mm; }
body { font-family: 'DejaVu Serif', serif; font-size: 12pt; line-height: 1.35; }
h1 { font-size: 17pt; } h2 { font-size: 14pt; } h3 { font-size: 12.5pt; }
.lesson + .lesson { break-before: page; }"""


def lessons(lang: str, n: int) -> list[Path]:
    """``n`` bundled lessons of ``lang`` spread over the subjects (every k-th of the sorted folder)."""
    files = sorted((REPO_ROOT / "corpus" / lang).glob("*.md"))
    step = max(1, len(files) // n)
    return files[::step][:n]


def lesson_html(paths: list[Path]) -> str:
    from markdown_it import MarkdownIt

    md = MarkdownIt("commonmark").enable("table")
    parts = []
    for path in paths:
        _, body = split_front_matter(path.read_text(encoding="utf-8"))
        parts.append(f"<section class='lesson'>{md.render(body)}</section>")
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(paths[0].stem)}</title>"
            f"<style>{_PAGE_CSS}</style></head><body>{''.join(parts)}</body></html>")


def chromium() -> str:
    for name in CHROMIUM:
        found = shutil.which(name)
        if found:
            return found
    raise RuntimeError("printing lessons to PDF needs Chromium: install it (scripts/install_browser.sh)")


def print_pdf(page: str, folder: Path, name: str) -> bytes:
    src, out = folder / f"{name}.html", folder / f"{name}.pdf"
    src.write_text(page, encoding="utf-8")
    subprocess.run([chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--no-pdf-header-footer",
                    f"--user-data-dir={folder / 'chromium-profile'}", f"--print-to-pdf={out}",
                    src.as_uri()], check=True, capture_output=True, timeout=120)
    return out.read_bytes()


def rasterised(pdf: bytes, dpi: int = PDF_DPI) -> list[tuple[Image.Image, str]]:
    """Each page as a grey image at ``dpi``, with the text of its own text layer."""
    import pypdfium2 as pdfium

    document = pdfium.PdfDocument(pdf)
    try:
        pages = []
        for page in document:
            text = page.get_textpage().get_text_range()
            pages.append((page.render(scale=dpi / 72, grayscale=True).to_pil(), text))
        return pages
    finally:
        document.close()
