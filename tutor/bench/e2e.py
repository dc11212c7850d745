"""``tutor bench e2e``: what a student waits for. Cold and warm start of the runtime,
then, warm, the time from question to the first streamed piece and to the full answer
through ``Tutor.stream``, for the extractive composer and (without --quick) the
generative one with the default generator; peak memory of the serving process. The warm
part runs in a fresh child process, as a school's server starts: the cold start's
conversions leave hundreds of MB of freed heap that a process does not give back."""

from __future__ import annotations

import dataclasses
import json
import logging
import random
import shutil
import subprocess
import sys
import time
from pathlib import Path

from tutor.bench.measure import (
    latency,
    machine_info,
    peak_rss_bytes,
    rss_bytes,
    threads_of,
    timed,
)
from tutor.bench.report import Report
from tutor.config import Settings
from tutor.evaluation.datasets import bundled_items
from tutor.runtime import build_runtime, build_tutor

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
    cold_peak = peak_rss_bytes()  # includes converting the models once

    docs = {p.relative_to(corpus).with_suffix("").as_posix() for p in corpus.rglob("*.md")}
    items = [r for r in bundled_items("answerable") if r.get("doc") in docs and r["lang"] in ("kk", "ru")]
    items = random.Random(0).sample(items, min(3 if quick else 12, len(items)))
    job = {"settings": dataclasses.asdict(work), "items": items, "generative": not quick, "reader": not quick}
    done = subprocess.run([sys.executable, "-m", "tutor.bench.e2e"], input=json.dumps(job),
                          capture_output=True, text=True)
    if done.returncode:
        tail = done.stderr.strip().splitlines()[-1] if done.stderr.strip() else "no message"
        raise RuntimeError(f"the warm serving process failed: {tail}")
    served = json.loads(done.stdout.strip().splitlines()[-1])
    warm_s, warm_parts, results = served["warm_s"], served["warm_parts"], served["results"]
    generator_load, peak = served["generator_load_s"], served["peak_rss_bytes"]
    extractive_peak = served["extractive_peak_rss_bytes"]

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
    report.notes += [
        f"Peak RSS of the serving process (a fresh process: warm start, then the answers): "
        f"{extractive_peak / 1e6:.0f} MB after the extractive answers"
        + (f", {peak / 1e6:.0f} MB after also loading the generator and answering with it. " if not quick else ". ")
        + "Weights are memory-mapped: the pages read so far count, so it grows a little with use. "
        f"The cold start, which converts the models, peaked at {cold_peak / 1e6:.0f} MB in this process "
        f"(RSS before it {rss0 / 1e6:.0f} MB).",
        "Questions are real kk/ru questions of eval/data/qa about documents in the corpus; one "
        "warm-up question first. 'answered by' is the composer of the final answer: the generative "
        "one falls back to extractive when its checks fail.",
    ]
    if generator_load is not None:
        report.notes.append(f"Loading the generator for the generative composer took {generator_load:.1f} s.")
    if served.get("reader_load_s") is not None:
        report.notes.append(
            f"'extractive + reader': the evidence reader (reader=on, {work.reader_passages} passages, "
            f"deadline {work.reader_deadline_s} s) re-ranks before the extractive composer; loading it "
            f"took {served['reader_load_s']:.1f} s, peak RSS after its answers "
            f"{served['reader_peak_rss_bytes'] / 1e6:.0f} MB.")
    report.results = {"chunks": chunks, "cold_start_s": cold_s, "warm_start_s": warm_s,
                      "cold_parts": cold_parts, "warm_parts": warm_parts, "answers": results,
                      "generator_load_s": generator_load, "cold_start_peak_rss_bytes": cold_peak,
                      "serving_peak_rss_bytes": peak, "extractive_serving_peak_rss_bytes": extractive_peak,
                      "reader_load_s": served.get("reader_load_s"),
                      "reader_serving_peak_rss_bytes": served.get("reader_peak_rss_bytes")}
    return report


def serve(job: dict) -> dict:
    """The warm part, run in a fresh process by ``run``: start on the data folder the
    cold start made, answer ``items`` with each composer, report times and peak RSS."""
    import torch

    work = Settings(**job["settings"])
    torch.set_num_threads(threads_of(work))
    warm_s, runtime = timed(build_runtime, work)
    warm_parts = dict(runtime.timings)
    _, tutor, _ = build_tutor(work, runtime)
    items = job["items"]
    tutor.ask(items[0]["question"], session_id="warm-up", lang=items[0]["lang"])
    results = {"extractive": time_answers(tutor, items, "extractive")}
    extractive_peak = peak_rss_bytes()  # the default composer (auto gives extractive here)
    generator_load = reader_load = reader_peak = None
    if job.get("reader"):
        reader_load, (_, read_tutor, _) = timed(build_tutor, work.replace(reader="on"), runtime)
        read_tutor.ask(items[0]["question"], session_id="warm-up-reader", lang=items[0]["lang"])
        results["extractive + reader"] = time_answers(read_tutor, items, "reader")
        reader_peak = peak_rss_bytes()
        del read_tutor
    if job["generative"]:
        generator_load, (_, gen_tutor, _) = timed(build_tutor, work.replace(composer="generative"), runtime)
        results["generative"] = time_answers(gen_tutor, items[:3], "generative")
    runtime.store.close()
    return {"warm_s": warm_s, "warm_parts": warm_parts, "results": results,
            "generator_load_s": generator_load, "peak_rss_bytes": peak_rss_bytes(),
            "extractive_peak_rss_bytes": extractive_peak, "reader_load_s": reader_load,
            "reader_peak_rss_bytes": reader_peak}


if __name__ == "__main__":  # the serving process of ``run``
    print(json.dumps(serve(json.loads(sys.stdin.read())), ensure_ascii=False))
