"""``retrieval_ocr``: the bundled retrieval questions against scanned copies of their lessons.
Each lesson a question points to is printed to PDF by Chromium, rasterised at 300 dpi and read
back by OCR (as a teacher's scan would be); the pool holds those copies in place of the
originals. The score sits next to the same questions over the original lessons: the target is
to stay within 0.03 MRR@10 of them."""

from __future__ import annotations

import hashlib
import json
import shutil
import tempfile
from pathlib import Path

from tqdm import tqdm

from tutor.evaluation import datasets
from tutor.evaluation.metrics import retrieval_metrics
from tutor.evaluation.pools import Pool
from tutor.evaluation.printed import lesson_html, print_pdf, rasterised
from tutor.evaluation.tasks.base import EvalContext, SkipTask, Task
from tutor.ingest.ocr import LANGS, OcrUnavailable, TesseractEngine, prepare_page
from tutor.ingest.readers import PDF_DPI, Block


def ocr_copy(path: Path, engine, folder: Path, cache: Path) -> list[Block]:
    """The lesson at ``path`` printed, rasterised and OCR'd, one block per paragraph with its
    page; kept in ``cache`` by the lesson's content, so a second run reads no page again."""
    key = hashlib.sha1(path.read_bytes() + f"{LANGS}/{PDF_DPI}".encode()).hexdigest()[:16]
    saved = cache / f"{key}.json"
    if saved.exists():
        return [Block(t, page=p, ocr_confidence=c) for p, t, c in json.loads(saved.read_text("utf-8"))]
    rows = []
    for number, (image, _) in enumerate(rasterised(print_pdf(lesson_html([path]), folder, key)), start=1):
        result = engine.recognise(prepare_page(image), dpi=PDF_DPI)
        rows += [(number, p, result.confidence) for p in result.paragraphs]
    cache.mkdir(parents=True, exist_ok=True)
    saved.write_text(json.dumps(rows, ensure_ascii=False), encoding="utf-8")
    return [Block(t, page=p, ocr_confidence=c) for p, t, c in rows]


class OcrRetrieval(Task):
    name = "retrieval_ocr"
    suite = "ocr"
    primary = "mrr@10"
    on_request = True  # prints and OCRs a few hundred pages the first time (cached after)

    def run(self, ctx: EvalContext) -> dict:
        engine = TesseractEngine()
        try:
            engine.check()
        except OcrUnavailable as exc:
            raise SkipTask(str(exc)) from None
        if shutil.which("chromium") is None:
            raise SkipTask("Chromium is not installed (scripts/install_browser.sh)")
        items = ctx.cap([i for i in datasets.bundled_items("answerable") if i["lang"] in ("kk", "ru")])
        keys = sorted({i["doc"] for i in items})
        data_dir = Path(ctx.settings.data_dir) if ctx.settings is not None else Path(tempfile.gettempdir())
        cache = data_dir / "eval-cache" / "ocr-copies"
        copies = {}
        with tempfile.TemporaryDirectory(prefix="ustaz-ocr-") as tmp:
            for key in tqdm(keys, desc="printing and OCR of lessons", disable=not ctx.progress, leave=False):
                copies[key] = ocr_copy(ctx.corpus_dir / f"{key}.md", engine, Path(tmp), cache)
        docs = [d if d.key not in copies else _with_blocks(d, copies[d.key]) for d in ctx.bundled()]
        queries = [i["question"] for i in items]
        relevant = [{i["doc"]} for i in items]
        original = ctx.pool([])
        scanned = Pool(docs, ctx.embedder, progress=ctx.progress, params=ctx.fusion)
        try:
            ranked = {"original": [original.ranked_docs(q, 10) for q in queries],
                      "ocr": [scanned.ranked_docs(q, 10) for q in queries]}
        finally:
            original.close()
            scanned.close()
        base = retrieval_metrics(ranked["original"], relevant)
        ocr = retrieval_metrics(ranked["ocr"], relevant)
        by_lang = {}
        for lang in ("kk", "ru"):
            picked = [n for n, i in enumerate(items) if i["lang"] == lang]
            if picked:
                by_lang[lang] = {**retrieval_metrics([ranked["ocr"][n] for n in picked], [relevant[n] for n in picked]),
                                 "original_mrr@10": retrieval_metrics([ranked["original"][n] for n in picked],
                                                                      [relevant[n] for n in picked])["mrr@10"]}
        return {"metrics": {**ocr, "original_mrr@10": base["mrr@10"],
                            "mrr@10_drop": round(base["mrr@10"] - ocr["mrr@10"], 4)},
                "n": len(items), "by_lang": by_lang, "baselines": {"original lessons": base},
                "extra": {"lessons_read_by_ocr": len(copies)}}


def _with_blocks(doc, blocks: list[Block]):
    from dataclasses import replace

    return replace(doc, blocks=blocks)


OCR_TASKS = {OcrRetrieval.name: OcrRetrieval}
