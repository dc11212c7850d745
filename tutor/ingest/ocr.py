"""OCR of page images: a small engine interface, tesseract behind it, and the image clean-up
a phone photo of a page needs first (EXIF rotation, uneven light, contrast, skew).

The engine choice and the measured error rates are in docs/decisions/2026-12-07-ocr-engine.md.
"""

from __future__ import annotations

import io
import os
import re
import shutil
import subprocess
import warnings
from dataclasses import dataclass
from typing import Protocol

from PIL import Image, ImageFilter, ImageOps

from tutor.text.letters import KK_LETTERS_ANY_CASE

LANGS = "kaz+rus+eng"
MAX_PIXELS = 60_000_000  # a page photographed at 300 dpi is 9 MP; 100 MP is refused unread
INSTALL_HINT = ("OCR needs tesseract with its Kazakh, Russian and English models: install the Debian "
                "packages tesseract-ocr tesseract-ocr-kaz tesseract-ocr-rus tesseract-ocr-eng "
                "(scripts/install_ocr.sh does it)")


class OcrError(RuntimeError):
    """A page could not be read by OCR; the message says why."""


class OcrUnavailable(OcrError):
    """The OCR engine is not installed; the message says what to install."""


@dataclass
class OcrText:
    """What OCR read on one page: paragraphs in reading order and the mean confidence of its
    words (0-1; 0 when nothing was read)."""
    paragraphs: list[str]
    confidence: float
    words: int
    langs: str = ""

    @property
    def text(self) -> str:
        return "\n\n".join(self.paragraphs)


class OcrEngine(Protocol):
    name: str

    def check(self) -> None:
        """Raise ``OcrUnavailable`` (saying what to install) when the engine cannot run."""

    def recognise(self, image: Image.Image, dpi: int | None = None) -> OcrText: ...


class TesseractEngine:
    """Debian's tesseract command, one process per page, its word table (TSV) read back.

    ``langs="auto"`` reads the page with all three models, then again with Kazakh or Russian
    alone, as its Kazakh letters decide."""

    name = "tesseract"

    def __init__(self, langs: str = LANGS, timeout: float = 180.0, command: str = "tesseract"):
        self.langs = langs
        self.timeout = timeout
        self.command = command
        self._checked = False

    def check(self) -> None:
        if self._checked:
            return
        if shutil.which(self.command) is None:
            raise OcrUnavailable(INSTALL_HINT)
        listed = subprocess.run([self.command, "--list-langs"], capture_output=True, text=True, timeout=60)
        have = set(listed.stdout.split())
        missing = [lang for lang in LANGS.split("+") if lang not in have]
        if missing:
            raise OcrUnavailable(f"{INSTALL_HINT} (missing models: {', '.join(missing)})")
        self._checked = True

    def recognise(self, image: Image.Image, dpi: int | None = None) -> OcrText:
        self.check()
        langs = LANGS if self.langs == "auto" else self.langs
        result = self._run(image, langs, dpi)
        if self.langs == "auto" and result.words:
            text = result.text
            letters = sum(ch.isalpha() for ch in text) or 1
            kazakh = sum(ch in KK_LETTERS_ANY_CASE for ch in text) / letters
            result = self._run(image, "kaz+eng" if kazakh > 0.01 else "rus+eng", dpi)
        return result

    def _run(self, image: Image.Image, langs: str, dpi: int | None) -> OcrText:
        buf = io.BytesIO()
        image.save(buf, "PNG", compress_level=1)
        args = [self.command, "stdin", "stdout", "-l", langs, "--psm", "3"]
        args += ["--dpi", str(dpi)] if dpi else []
        # One thread: tesseract's OpenMP threads spin against each other on a busy machine
        # (a page took 44 s with two threads instead of 4 s with one, two cores shared).
        env = {**os.environ, "OMP_THREAD_LIMIT": "1"}
        try:
            done = subprocess.run([*args, "tsv"], input=buf.getvalue(), capture_output=True,
                                  timeout=self.timeout, env=env)
        except subprocess.TimeoutExpired:
            raise OcrError(f"OCR of the page took longer than {self.timeout:.0f} s") from None
        except OSError as exc:
            raise OcrUnavailable(f"{INSTALL_HINT} ({exc.strerror})") from None
        if done.returncode != 0:
            reason = done.stderr.decode("utf-8", "replace").strip().splitlines()[-1:] or ["no message"]
            raise OcrError(f"tesseract failed on the page ({reason[0][:120]})")
        return paragraphs_from_tsv(done.stdout.decode("utf-8", "replace"), langs)


def paragraphs_from_tsv(tsv: str, langs: str = "") -> OcrText:
    """tesseract's word table as paragraphs of lines, with the mean word confidence; rows
    with confidence -1 are layout (page, block, line), not words."""
    paragraphs: dict[tuple, dict[tuple, list[str]]] = {}
    confs: list[float] = []
    for row in tsv.splitlines()[1:]:
        cols = row.split("\t")
        if len(cols) < 12 or not cols[11].strip():
            continue
        conf = float(cols[10])
        if conf < 0:
            continue
        confs.append(conf)
        par = (int(cols[1]), int(cols[2]), int(cols[3]))
        paragraphs.setdefault(par, {}).setdefault(par + (int(cols[4]),), []).append(cols[11].strip())
    out = []
    for lines in paragraphs.values():
        text = "\n".join(" ".join(words) for words in lines.values())
        text = re.sub(r"-\n(?=\w)", "", text)  # words hyphenated at a line end
        out.append(re.sub(r"\s*\n\s*", " ", text).strip())
    confidence = sum(confs) / len(confs) / 100 if confs else 0.0
    return OcrText(join_broken_paragraphs([p for p in out if p]), round(confidence, 3), len(confs), langs)


def join_broken_paragraphs(paragraphs: list[str]) -> list[str]:
    """On a photo tesseract often makes each line a paragraph of its own, and a sentence
    then breaks in two. A paragraph that ends mid-sentence goes on in the next one, unless it
    is a short heading (three words or fewer) and the next starts with a capital."""
    out: list[str] = []
    for para in paragraphs:
        if out and not re.search(r"[.!?…:;]\W*$", out[-1]) and (
                para[:1].islower() or len(out[-1].split()) > 3):
            out[-1] = out[-1] + " " + para
        else:
            out.append(para)
    return out


# ---------------------------------------------------------------- page images
def open_image(data: bytes, max_pages: int = 500) -> list[Image.Image]:
    """The pages of a photo or scan (a multi-page TIFF has several), each decoded only after
    its header shows a size within ``MAX_PIXELS``; ValueError with a sentence for the teacher
    otherwise."""
    limit = f"more than the limit of {MAX_PIXELS // 1_000_000} megapixels: save it smaller and upload it again"
    try:
        with warnings.catch_warnings():  # the size is checked below, against our own limit
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
    except Image.DecompressionBombError:
        raise ValueError(f"the image is too large to read, {limit}") from None
    except Exception as exc:  # noqa: BLE001 - UnidentifiedImageError, truncated headers...
        raise ValueError(f"the image is damaged or of an unknown kind ({type(exc).__name__})") from None
    # a scanner's multi-page TIFF is a document; other formats' extra frames are animation
    count = min(getattr(image, "n_frames", 1), max_pages) if image.format == "TIFF" else 1
    pages = []
    for number in range(count):
        try:
            image.seek(number)
        except EOFError:
            break
        width, height = image.size
        if width * height > MAX_PIXELS:
            raise ValueError(f"the image is {width}×{height} pixels ({width * height / 1e6:.0f} megapixels), {limit}")
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", Image.DecompressionBombWarning)
                image.load()
                pages.append(ImageOps.exif_transpose(image.copy() if count > 1 else image))
        except Exception as exc:  # noqa: BLE001
            raise ValueError(f"the image is damaged and cannot be read ({type(exc).__name__})") from None
    return pages


def prepare_page(image: Image.Image) -> Image.Image:
    """Grey, evenly lit, contrast stretched and straightened: what tesseract reads best."""
    import numpy as np

    if image.mode in ("RGBA", "LA", "P"):
        image = image.convert("RGBA")
        white = Image.new("RGBA", image.size, "white")
        image = Image.alpha_composite(white, image)
    gray = image.convert("L")
    # Uneven light: divide by the page's background (a blurred max filter removes the ink)
    small = gray.reduce(8) if min(gray.size) >= 400 else gray
    background = small.filter(ImageFilter.MaxFilter(9)).filter(ImageFilter.GaussianBlur(8))
    background = background.resize(gray.size, Image.BILINEAR)
    page = np.asarray(gray, dtype=np.float32)
    light = np.maximum(np.asarray(background, dtype=np.float32), 1.0)
    flat = np.clip(page / light * 255.0, 0, 255).astype(np.uint8)
    # clip only the brightest pixels: a page is mostly paper, and clipping its darkest 1%
    # would turn the anti-aliased edges of sparse print solid black
    image = ImageOps.autocontrast(Image.fromarray(flat), cutoff=(0, 1))
    angle = skew_angle(image)
    if abs(angle) >= 0.3:
        image = image.rotate(-angle, resample=Image.BICUBIC, expand=True, fillcolor=255)
    return image


def skew_angle(image: Image.Image, limit: float = 6.0) -> float:
    """How far the text lines are turned (degrees, counter-clockwise; a few at most): the
    angle at which the rows' ink profile is sharpest. Tesseract's own orientation check
    finds only quarter turns, and a photo is off by a few degrees."""
    import numpy as np

    scale = 1000 / max(image.size)
    small = image.resize((max(1, int(image.width * scale)), max(1, int(image.height * scale))),
                         Image.BILINEAR) if scale < 1 else image
    ink = np.asarray(small, dtype=np.float32) < 128
    if ink.mean() < 0.002:
        return 0.0
    ys, xs = np.nonzero(ink)
    cx, cy = small.width / 2, small.height / 2

    def sharpness(angle: float) -> float:
        theta = np.deg2rad(angle)
        rows = ((ys - cy) * np.cos(theta) - (xs - cx) * np.sin(theta)).astype(np.int64)
        counts = np.bincount(rows - rows.min())
        return float(np.square(counts.astype(np.float64)).sum())

    best = max(np.arange(-limit, limit + 0.01, 0.5), key=sharpness)
    best = max(np.arange(best - 0.5, best + 0.51, 0.1), key=sharpness)
    return -float(round(best, 1))
