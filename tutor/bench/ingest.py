"""``tutor bench ingest``: a teacher uploads a 300-page textbook PDF. Pages and chunks
per second through ``Ingestor.ingest_bytes`` (read, chunk, embed, store, index), against
a bare ``SentenceTransformer.encode`` of the same chunk texts in the same run; a school's
textbook folder, text and scanned (OCR), through background jobs; students' answer latency
during a text and a scanned PDF's background job."""

from __future__ import annotations

import logging
import time
from pathlib import Path

from tutor.bench.jobs import answers_during_ingest, library_run, textbooks
from tutor.bench.measure import RssSampler, latency, machine_info, threads_of, timed
from tutor.bench.report import Report
from tutor.bench.synthetic import corpus_docs, make_pdf, text_pages
from tutor.evaluation.datasets import bundled_items
from tutor.ingest import Ingestor
from tutor.ingest.chunking import chunk_blocks
from tutor.ingest.readers import read_file
from tutor.models import apply_offline
from tutor.retrieval.cache import CachedEmbedder
from tutor.retrieval.indexes import SearchIndex
from tutor.runtime import load_embedder
from tutor.store import Store

log = logging.getLogger(__name__)


def encoder_variants(model, texts: list[str], queries: list[str], rounds: int = 2) -> dict[str, dict]:
    """Bare encode speed of the embedder in float32 (as shipped), bfloat16 and int8
    dynamic quantisation on the same texts, with the cosine of each vector to float32,
    and the latency of embedding one question."""
    import copy

    import numpy as np
    import torch

    variants = {"float32 (as shipped)": model,
                "bfloat16": copy.deepcopy(model).to(torch.bfloat16),
                "int8 dynamic quantisation": torch.ao.quantization.quantize_dynamic(
                    copy.deepcopy(model), {torch.nn.Linear}, dtype=torch.qint8)}

    def encode(m):
        out = m.encode(texts, batch_size=32, normalize_embeddings=True, convert_to_tensor=True,
                       show_progress_bar=False)
        out = out.float().numpy()  # normalised again in float32: a bfloat16 norm is off by ~1e-3
        return out / np.linalg.norm(out, axis=1, keepdims=True)

    reference = encode(model)
    times: dict[str, list[float]] = {name: [] for name in variants}
    query_times: dict[str, list[float]] = {name: [] for name in variants}
    vectors = {}
    for _ in range(rounds):  # interleaved, so the machine's load hits all alike
        for name, m in variants.items():
            t, vectors[name] = timed(encode, m)
            times[name].append(t)
            query_times[name] += [timed(m.encode, [q])[0] for q in queries]
    out = {}
    for name, ts in times.items():
        cos = np.sum(vectors[name] * reference, axis=1)
        out[name] = {"chunks_s": len(texts) / min(ts), "min_cosine_to_float32": float(cos.min()),
                     "mean_cosine_to_float32": float(cos.mean()),
                     "query_p50_ms": latency(query_times[name])["p50_ms"]}
    return out


PAGES, LIBRARY_PAGES, SCANNED_PAGES = 300, 50, 6
QUICK_PAGES, QUICK_LIBRARY_PAGES, QUICK_SCANNED_PAGES = 2, 6, 2  # a PDF of one page is no job


def run(settings, folder: Path, quick: bool = False, pages: int | None = None, library_pages: int | None = None,
        scanned_pages: int | None = None) -> Report:
    """``pages``: the text textbook (also the answers' background job); ``library_pages``:
    each of the folder's four text PDFs; ``scanned_pages``: each of its two scanned PDFs."""
    import torch

    apply_offline(settings)
    threads = threads_of(settings)
    torch.set_num_threads(threads)
    n_pages = pages or (QUICK_PAGES if quick else PAGES)
    library_pages = library_pages or (QUICK_LIBRARY_PAGES if quick else LIBRARY_PAGES)
    scanned_pages = scanned_pages or (QUICK_SCANNED_PAGES if quick else SCANNED_PAGES)
    report = Report("ingest", quick, machine_info(threads))
    docs = [d for d in corpus_docs(settings.corpus_dir) if d.lang == "kk"]
    make_s, pdf = timed(lambda: make_pdf(text_pages(docs, n_pages), "Синтетикалық оқулық"))
    (folder / "textbook.pdf").write_bytes(pdf)

    inner = load_embedder(settings).inner
    # Parse and chunk once on their own, to split ingestion time into its steps
    # and to give the bare encoder exactly the texts ingestion embeds.
    parse_s, parsed = timed(read_file, "textbook.pdf", pdf)
    chunk_s, chunks = timed(chunk_blocks, parsed.title, parsed.blocks)
    texts = [inner.passage_prefix + c.search_text for c in chunks]
    inner.model.encode(texts[:8], batch_size=8)  # warm-up
    bare_s, _ = timed(inner.model.encode, texts, batch_size=32, normalize_embeddings=True,
                      convert_to_numpy=True, show_progress_bar=False)

    store = Store(folder / "data" / "ingest.sqlite3")
    embedder = CachedEmbedder(inner, folder / "data" / "embedding-cache.sqlite3")  # empty cache
    index = SearchIndex(store, embedder, folder / "data" / "index")
    index.open()
    ingestor = Ingestor(store, index, max_bytes=settings.max_upload_mb * 1024 * 1024)
    t0 = time.perf_counter()
    with RssSampler() as memory:
        result = ingestor.ingest_bytes("textbook.pdf", pdf, lang="kk", subject="biology")
    ours_s = time.perf_counter() - t0
    store.close()

    n = result.chunks
    bare_rate, ours_rate = len(texts) / bare_s, n / ours_s
    table = report.table(f"{n_pages}-page text PDF ({len(pdf) / 1e6:.1f} MB, Kazakh), {n} chunks",
                         ["path", "seconds", "pages/s", "chunks/s", "ratio to bare encode"])
    table.add("bare SentenceTransformer.encode (chunk texts only)", bare_s, n_pages / bare_s, bare_rate, 1.0)
    table.add("ours: Ingestor.ingest_bytes (read, chunk, embed, store, index)", ours_s, n_pages / ours_s,
              ours_rate, ours_rate / bare_rate)
    steps = report.table("Where ingestion time goes", ["step", "seconds", "share of ours"])
    rest = ours_s - parse_s - chunk_s
    steps.add("read PDF (pypdf text extraction)", parse_s, parse_s / ours_s)
    steps.add("chunking", chunk_s, chunk_s / ours_s)
    steps.add("embedding + store + index (the rest)", rest, rest / ours_s)
    # Before the number-format copies of the model: those leave freed heap the process keeps,
    # which would read as the jobs' memory.
    library = _library(report, settings, folder, inner, quick, library_pages, scanned_pages)
    answers = _answers(report, settings, folder, quick, pages, scanned_pages)
    sample = texts[:: max(1, len(texts) // (8 if quick else 64))][: 8 if quick else 64]
    questions = [inner.query_prefix + r["question"] for r in bundled_items("answerable")[:10]]
    variants = encoder_variants(inner.model, sample, questions)
    base = variants["float32 (as shipped)"]["chunks_s"]
    enc = report.table(f"Tried: the embedder in other number formats (bare encode of {len(sample)} of these chunks)",
                       ["embedder weights", "chunks/s", "vs float32", "min cosine to float32",
                        "mean cosine to float32", "one question p50 ms"])
    for name, v in variants.items():
        enc.add(name, v["chunks_s"], v["chunks_s"] / base, f"{v['min_cosine_to_float32']:.4f}",
                f"{v['mean_cosine_to_float32']:.4f}", v["query_p50_ms"])
    report.notes += [
        f"The PDF is generated in a temporary folder from the bundled Kazakh corpus ({make_s:.1f} s); "
        "46 lines of about 95 characters per page, one text layer, Helvetica with a Cyrillic encoding.",
        "The split of ingestion time reads and chunks the same PDF once more on its own.",
        f"Peak RSS while ingesting: {memory.peak / 1e6:.0f} MB ({(memory.peak - memory.start) / 1e6:.0f} MB above "
        "the start).",
    ]
    report.results = {"pages": n_pages, "pdf_bytes": len(pdf), "chunks": n, "status": result.status,
                      "bare_encode_s": bare_s, "ours_s": ours_s, "bare_chunks_s": bare_rate,
                      "ours_chunks_s": ours_rate, "ours_pages_s": n_pages / ours_s,
                      "ratio": ours_rate / bare_rate, "parse_s": parse_s, "chunk_s": chunk_s,
                      "peak_rss_bytes": memory.peak, "encoder_variants": variants,
                      "library": library, "answers_during_ingest": answers}
    return report


def _library(report: Report, settings, folder: Path, inner, quick: bool, pages: int, scanned_pages: int) -> list[dict]:
    count, scanned_count = (2 if quick else 4), 2
    paths = textbooks(settings.corpus_dir, folder / "library", count, pages)
    scans = textbooks(settings.corpus_dir, folder / "scans", scanned_count, scanned_pages, scanned=True)
    runs = [library_run(inner, paths, folder / f"library-{w}", w, settings.job_batch_pages) for w in (1, 2)]
    ocr_runs = [{**library_run(inner, scans, folder / f"scans-{w}", w, settings.job_batch_pages), "scanned": True}
                for w in (1, 2)]
    table = report.table(f"A school's textbook folder as background jobs (tutor ingest --jobs N): {count} text "
                         f"PDFs of {pages} pages, then {scanned_count} scanned (image-only) PDFs of "
                         f"{scanned_pages} pages, kk and ru",
                         ["PDFs", "workers (--jobs)", "pages", "chunks", "seconds", "pages/s text",
                          "pages/s OCR", "pages/min OCR", "peak RSS MB", "RSS above start MB"])
    for r in runs + ocr_runs:
        ocr = r.get("scanned", False)
        table.add("scanned" if ocr else "text", r["workers"], r["pages"], r["chunks"], r["seconds"],
                  None if ocr else r["pages_s"], r["pages_s"] if ocr else None, r["pages_s"] * 60 if ocr else None,
                  r["peak_rss_bytes"] / 1e6, (r["peak_rss_bytes"] - r["rss_start_bytes"]) / 1e6)
    if ocr_runs:
        report.notes.append(
            "Scanned PDFs: the text pages drawn in DejaVu Sans 10 pt at 150 dpi, turned up to 1.5°, one "
            "greyscale JPEG a page; each page rasterised at 300 dpi and read by tesseract (kaz+rus+eng, one "
            "thread a process). Peak RSS is the bench process's; each tesseract process's own memory "
            "is not in it.")
    return runs + ocr_runs


def _answers(report: Report, settings, folder: Path, quick: bool, pages: int | None, scanned_pages: int) -> dict:
    pages, n = (pages or 12, 6) if quick else (pages or PAGES, 40)
    # one scanned job as long as the folder's two scanned PDFs together
    out = answers_during_ingest(settings, folder / "answers", pages, n, scanned_pages=2 * scanned_pages)
    idle = out["idle"]["p95_ms"]
    table = report.table(f"Students' answers (Tutor.ask, one at a time) idle and while a {pages}-page text PDF "
                         f"or a {2 * scanned_pages}-page scanned PDF is ingested in the background",
                         ["when", "answers", "p50 ms", "p95 ms", "max ms", "p95 / idle", "ingest pages/s"])
    for name, r in out.items():
        table.add(name, r["n"], r["p50_ms"], r["p95_ms"], r["max_ms"],
                  (r["p95_ms"] / idle) if idle and r["p95_ms"] else None, r.get("pages_s"))
    return out
