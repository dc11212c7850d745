"""``tutor bench ocr``: how well and how fast scans and photos of pages are read. Bundled
Kazakh and Russian lessons are printed to PDF by Chromium, rasterised at 300 dpi as ingest
does, and read by OCR as clean scans and as phone "photos" (turned a few degrees, blurred,
unevenly lit, JPEG-compressed). The character error rate is measured against each page's own
text layer, per language and for each way of choosing the OCR languages."""

from __future__ import annotations

import io
import random
import re
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from PIL import Image, ImageFilter

from tutor.bench.measure import machine_info, threads_of
from tutor.bench.report import Report
from tutor.evaluation.printed import lesson_html, lessons, print_pdf, rasterised
from tutor.ingest.ocr import LANGS, TesseractEngine, prepare_page
from tutor.ingest.readers import PDF_DPI

LESSONS, QUICK_LESSONS = 4, 1
MODES = {"kaz+rus+eng": "kaz+rus+eng", "auto (Kazakh letters pick kaz or rus)": "auto"}
TARGETS = {"clean": 0.03, "photo": 0.08}


def as_photo(image: Image.Image, rng: random.Random) -> Image.Image:
    """A phone photo of the printed page: 70% of the scan's resolution, turned 1-4 degrees,
    slightly out of focus, lit from one side, with sensor noise and JPEG compression."""
    angle = rng.choice((-1, 1)) * rng.uniform(1.0, 4.0)
    photo = image.convert("L").resize((image.width * 7 // 10, image.height * 7 // 10), Image.LANCZOS)
    photo = photo.rotate(angle, resample=Image.BICUBIC, expand=True, fillcolor=235)
    photo = photo.filter(ImageFilter.GaussianBlur(rng.uniform(0.8, 1.3)))
    pixels = np.asarray(photo, dtype=np.float32)
    h, w = pixels.shape
    light = np.linspace(rng.uniform(0.55, 0.7), 1.0, w)[None, :] * np.linspace(1.0, rng.uniform(0.75, 0.9), h)[:, None]
    noisy = pixels * light + np.random.default_rng(rng.randrange(1 << 30)).normal(0, 6, pixels.shape)
    buf = io.BytesIO()
    Image.fromarray(np.clip(noisy, 0, 255).astype(np.uint8)).save(buf, "JPEG", quality=rng.randrange(50, 70))
    return Image.open(io.BytesIO(buf.getvalue()))


# Typography a reader does not see as an error: dashes and quotes of either kind, spacing.
_TYPOGRAPHY = str.maketrans({"—": "-", "–": "-", "−": "-", "«": '"', "»": '"', "“": '"', "”": '"', "„": '"',
                             "’": "'", "‘": "'", "\u00ad": None, "\ufffe": None, "\ufffd": None})


def normalised(text: str) -> str:
    text = text.translate(_TYPOGRAPHY).replace("--", "-")
    text = re.sub(r"-\s*\n\s*(?=\w)", "", text)  # a word hyphenated at the line end is one word
    return re.sub(r"\s+", " ", text).strip()


def edit_distance(a: str, b: str) -> int:
    """Levenshtein distance, one numpy row at a time (pages are a few thousand characters)."""
    if not a or not b:
        return len(a) or len(b)
    bs = np.frombuffer(b.encode("utf-32-le"), dtype=np.uint32)
    steps = np.arange(len(b) + 1)
    row = steps.copy()
    for i, ch in enumerate(np.frombuffer(a.encode("utf-32-le"), dtype=np.uint32), start=1):
        sub = row[:-1] + (bs != ch)
        best = np.minimum(row[1:] + 1, sub)
        new = np.empty_like(row)
        new[0] = i
        new[1:] = best
        # insertions: new[j] = min over k <= j of new[k] + (j - k)
        row = np.minimum.accumulate(new - steps) + steps
    return int(row[-1])


def run(settings, folder: Path, quick: bool = False) -> Report:
    report = Report("ocr", quick, machine_info(threads_of(settings)))
    n = QUICK_LESSONS if quick else LESSONS
    modes = dict(list(MODES.items())[:1]) if quick else MODES
    rng = random.Random(0)
    pages: dict[tuple[str, str], list[tuple[Image.Image, str]]] = {}
    render_s, raster_pages = 0.0, 0
    for lang in ("kk", "ru"):
        t0 = time.perf_counter()
        pdf = print_pdf(lesson_html(lessons(lang, n)), folder, f"lessons-{lang}")
        clean = rasterised(pdf)[:1] if quick else rasterised(pdf)
        render_s += time.perf_counter() - t0
        raster_pages += len(clean)
        pages[(lang, "clean")] = clean
        pages[(lang, "photo")] = [(as_photo(image, rng), text) for image, text in clean]
    cer_table = report.table("Character error rate of OCR (errors per reference character)",
                             ["language", "input", "languages chosen", "pages", "characters", "CER",
                              "target", "worst page CER", "mean confidence", "pages/min"])
    results: dict = {"lessons_per_language": n, "dpi": PDF_DPI}
    for mode_label, langs in modes.items():
        engine = TesseractEngine(langs)
        for (lang, kind), items in pages.items():
            errors = chars = 0
            worst, confs, seconds = 0.0, [], 0.0
            for image, reference in items:
                t0 = time.perf_counter()
                result = engine.recognise(prepare_page(image))
                seconds += time.perf_counter() - t0
                ref, hyp = normalised(reference), normalised(result.text)
                distance = edit_distance(ref, hyp)
                errors, chars = errors + distance, chars + len(ref)
                worst = max(worst, distance / max(len(ref), 1))
                confs.append(result.confidence)
            cer = errors / max(chars, 1)
            per_min = len(items) / seconds * 60
            cer_table.add(lang, kind, mode_label, len(items), chars, round(cer, 4), f"≤ {TARGETS[kind]:.0%}",
                          round(worst, 4), round(float(np.mean(confs)), 3), per_min)
            results[f"{langs}/{lang}/{kind}"] = {"cer": cer, "pages": len(items), "characters": chars,
                                                 "pages_per_min": per_min, "worst_page_cer": worst,
                                                 "mean_confidence": float(np.mean(confs))}
    speed = report.table("Throughput", ["step", "pages", "pages/min"])
    speed.add("print with Chromium and rasterise at 300 dpi", raster_pages, raster_pages / render_s * 60)
    for mode_label, langs in modes.items():
        done = [v for k, v in results.items() if isinstance(v, dict) and k.startswith(langs + "/")]
        total_pages = sum(v["pages"] for v in done)
        total_s = sum(v["pages"] / v["pages_per_min"] * 60 for v in done)
        speed.add(f"OCR ({mode_label}), one page at a time", total_pages, total_pages / total_s * 60)
        results[f"{langs}/pages_per_min"] = total_pages / total_s * 60
    # two pages at a time: what two cores give a batch of scans
    engine = TesseractEngine(LANGS)
    batch = [image for (lang, kind), items in pages.items() if kind == "clean" for image, _ in items]
    t0 = time.perf_counter()
    with ThreadPoolExecutor(2) as pool:
        list(pool.map(lambda image: engine.recognise(prepare_page(image)), batch))
    results["two_workers_pages_per_min"] = len(batch) / (time.perf_counter() - t0) * 60
    speed.add(f"OCR ({LANGS}), two pages at a time", len(batch), results["two_workers_pages_per_min"])
    report.results = results
    report.notes += [
        "Reference: each page's own text layer as Chromium printed it (pypdfium2); both sides compared "
        "after dashes and quotes are unified and spacing collapsed.",
        "OCR time includes the clean-up (uneven light, contrast, skew) and tesseract's own start, "
        "one thread per tesseract process; figures fall when other programs keep the cores busy "
        "(the load average above).",
        "Photos: 70% of the 300-dpi scan's resolution (210 dpi), 1-4° turn, Gaussian blur 0.8-1.3 px, "
        "light falling to 55-70% across the page, noise σ 6, JPEG quality 50-70 (seeded).",
    ]
    return report
