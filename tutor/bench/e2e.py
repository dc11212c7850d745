"""``tutor bench e2e``: what a student waits for. Cold and warm start of the runtime,
then, warm, the time from question to the first streamed piece and to the full answer
through ``Tutor.stream``, for the extractive composer and (without --quick) the
generative one with the default generator; peak memory of the process."""

from __future__ import annotations

import gc
import logging
import random
import shutil
import time
from pathlib import Path

from tutor.bench.measure import (
    latency,
    machine_info,
    peak_rss_bytes,
    reset_peak_rss,
    rss_bytes,
    threads_of,
    timed,
)
from tutor.bench.report import Report
from tutor.evaluation.datasets import bundled_items

log = logging.getLogger(__name__)

QUICK_DOCS = ("kk/biology-photosynthesis", "ru/biology-photosynthesis", "kk/physics-newtons-laws")


def cold_model_cache(settings, folder: Path) -> Path:
    """A model cache holding links to the provisioned models and nothing else, so the
    passage-embedding cache starts empty, as on a fresh install."""
    cache = folder / "models"
    cache.mkdir(parents=True, exist_ok=True)
    for model in settings.model_path.iterdir():
        if model.is_dir() and not model.name.startswith("."):
            (cache / model.name).symlink_to(model.resolve(), target_is_directory=True)
    return cache


def small_corpus(settings, folder: Path) -> Path:
    target = folder / "corpus"
    for key in QUICK_DOCS:
        source = Path(settings.corpus_dir) / f"{key}.md"
        (target / key).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(source, target / f"{key}.md")
    return target


def time_answers(tutor, items: list[dict], tag: str) -> dict:
    first, full, composers = [], [], []
    for i, item in enumerate(items):
        t0 = time.perf_counter()
        seen = None
        answer = None
        for _, final in tutor.stream(item["question"], session_id=f"{tag}-{i}", mode="explain",
                                     lang=item["lang"]):
            seen = seen if seen is not None else time.perf_counter() - t0
            answer = final
        full.append(time.perf_counter() - t0)
        first.append(seen)
        composers.append(answer.composer)
    return {"first_piece": latency(first), "full_answer": latency(full), "n": len(items),
            "composers": sorted(set(composers))}


def run(settings, folder: Path, quick: bool = False) -> Report:
    import torch

    from tutor.commands import build_tutor
    from tutor.runtime import build_runtime

    threads = threads_of(settings)
    torch.set_num_threads(threads)
    report = Report("e2e", quick, machine_info(threads))
    corpus = small_corpus(settings, folder) if quick else Path(settings.corpus_dir)
    work = settings.replace(data_dir=str(folder / "data"), corpus_dir=str(corpus),
                            model_cache=str(cold_model_cache(settings, folder)), composer="extractive")
    rss0 = rss_bytes()
    cold_s, runtime = timed(build_runtime, work)
    cold_parts = dict(runtime.timings)
    chunks = runtime.index.dense.size
    runtime.store.close()
    del runtime
    gc.collect()
    cold_peak = peak_rss_bytes()  # includes converting the models once
    serving_rss0 = rss_bytes()
    # What a school's server holds from a warm start on: counted afresh where possible.
    separate = reset_peak_rss()
    warm_s, runtime = timed(build_runtime, work)
    warm_parts = dict(runtime.timings)
    _, tutor, _ = build_tutor(work, runtime)

    docs = {p.relative_to(corpus).with_suffix("").as_posix() for p in corpus.rglob("*.md")}
    items = [r for r in bundled_items("answerable") if r.get("doc") in docs and r["lang"] in ("kk", "ru")]
    items = random.Random(0).sample(items, min(3 if quick else 12, len(items)))
    tutor.ask(items[0]["question"], session_id="warm-up", lang=items[0]["lang"])
    results = {"extractive": time_answers(tutor, items, "extractive")}
    generator_load = None
    if not quick:
        gen_settings = work.replace(composer="generative")
        generator_load, (_, gen_tutor, _) = timed(build_tutor, gen_settings, runtime)
        results["generative"] = time_answers(gen_tutor, items[:3], "generative")

    start = report.table(f"Start of the runtime ({chunks} chunks of bundled corpus)",
                         ["start", "seconds", "embedder load s", "corpus + index s"])
    start.add("cold: empty data folder, empty embedding cache", cold_s, cold_parts.get("embedder_s"),
              cold_parts.get("index_s"))
    start.add("warm: data folder and index exist", warm_s, warm_parts.get("embedder_s"),
              warm_parts.get("index_s"))
    table = report.table("Question to answer through Tutor.stream (warm, seconds)",
                         ["composer", "questions", "first piece p50", "first piece p95", "full answer p50",
                          "full answer p95", "answered by"])
    for name, r in results.items():
        table.add(name, r["n"], r["first_piece"]["p50_ms"] / 1000, r["first_piece"]["p95_ms"] / 1000,
                  r["full_answer"]["p50_ms"] / 1000, r["full_answer"]["p95_ms"] / 1000,
                  ", ".join(r["composers"]))
    peak = peak_rss_bytes()
    report.notes += [
        (f"Peak RSS while serving (warm start, both composers' answers): {peak / 1e6:.0f} MB "
         f"(RSS after the cold start was released: {serving_rss0 / 1e6:.0f} MB); " if separate else
         "Peak RSS of the process (this system cannot restart the count): ")
        + f"including the cold start, which converts the models: {max(peak, cold_peak) / 1e6:.0f} MB "
        f"(RSS before the first start {rss0 / 1e6:.0f} MB).",
        "Questions are real kk/ru questions of eval/data/qa about documents in the corpus; one "
        "warm-up question first. 'answered by' is the composer of the final answer: the generative "
        "one falls back to extractive when its checks fail.",
    ]
    if generator_load is not None:
        report.notes.append(f"Loading the generator for the generative composer took {generator_load:.1f} s.")
    report.results = {"chunks": chunks, "cold_start_s": cold_s, "warm_start_s": warm_s,
                      "cold_parts": cold_parts, "warm_parts": warm_parts, "answers": results,
                      "generator_load_s": generator_load, "peak_rss_bytes": max(peak, cold_peak),
                      "serving_peak_rss_bytes": peak if separate else None}
    runtime.store.close()
    return report
