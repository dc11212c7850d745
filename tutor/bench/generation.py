"""``tutor bench generation``: time to first token and decoding speed of the generator on a
grounded prompt (about 1,000 tokens of evidence), for the naive transformers pipeline, our
``TransformersGenerator`` in each precision, llama.cpp when it is installed, and the ceiling
memory bandwidth allows."""

from __future__ import annotations

import gc
import logging
import threading
import time
from pathlib import Path
from types import SimpleNamespace

from tutor.answer.generative import build_messages
from tutor.bench.measure import machine_info, memory_bandwidth, ratio, threads_of, timed
from tutor.bench.report import Report
from tutor.bench.synthetic import corpus_docs
from tutor.generation.generators import LlamaCppGenerator, TransformersGenerator, plain_prompt
from tutor.generation.loading import weight_bytes_in_memory
from tutor.models import GEMMA_GGUF_NAME, GEMMA_NAME, apply_offline, resolve_generator

log = logging.getLogger(__name__)

NAIVE = "a. transformers pipeline, float32 (naive)"
OURS = "b. ours: TransformersGenerator as shipped"  # + ", <precision> + prompt cache"
LLAMA_CPP = "c. llama.cpp (llama-cpp-python, GGUF Q4_K_M from the package)"
QUESTION = "Фотосинтез кезінде өсімдік қандай заттарды пайдаланады және не түзеді?"


def grounded_messages(settings, tokenizer, target_tokens: int,
                      words_per_passage: int | None = None) -> tuple[list[dict], int]:
    """The composer's real prompt with Kazakh passages added until ``target_tokens``."""
    docs = [d for d in corpus_docs(settings.corpus_dir) if d.lang == "kk"]
    docs.sort(key=lambda d: "photosynthesis" not in d.key)  # the relevant one first
    hits = []
    for doc in docs:
        for search_text in doc.chunks:
            head, _, text = search_text.partition("\n")
            if words_per_passage:
                text = " ".join(text.split()[:words_per_passage])
            section = head.split(" — ", 1)[1] if " — " in head else ""
            hits.append(SimpleNamespace(chunk=SimpleNamespace(
                text=text, section=section, doc=SimpleNamespace(title=doc.title))))
    def count(n):
        messages = build_messages(QUESTION, "kk", hits[:n], max_chars=10 ** 9)
        return messages, len(tokenizer(plain_prompt(messages))["input_ids"])

    n = 1
    messages, n_tokens = count(n)
    while n_tokens < target_tokens and n < len(hits):
        n += 1
        messages, n_tokens = count(n)
    last = hits[n - 1].chunk
    while n_tokens > target_tokens * 1.05 and len(last.text.split()) > 10:
        last.text = " ".join(last.text.split()[: int(len(last.text.split()) * 0.9)])
        messages, n_tokens = count(n)
    return messages, n_tokens


def _clock(start_stream, n_new: int) -> dict:
    """Run a generation that yields text pieces; time the first piece and the end."""
    t0 = time.perf_counter()
    first = None
    text = ""
    for piece in start_stream():
        if piece and first is None:
            first = time.perf_counter() - t0
        text += piece
    total = time.perf_counter() - t0
    first = first if first is not None else total
    return {"ttft_s": first, "total_s": total, "new_tokens": n_new,
            "decode_tok_s": (n_new - 1) / (total - first) if total > first else None,
            "overall_tok_s": n_new / total, "text": text[:200]}


def _threaded(generate, tokenizer, **kwargs):
    """Start ``generate(streamer=...)`` in a thread and return its text pieces."""
    from transformers import TextIteratorStreamer

    streamer = TextIteratorStreamer(tokenizer, skip_prompt=True, skip_special_tokens=True)
    errors = []

    def work():
        try:
            generate(streamer=streamer, **kwargs)
        except BaseException as exc:  # noqa: BLE001 - re-raised in the caller's thread
            errors.append(exc)
            streamer.end()

    worker = threading.Thread(target=work, daemon=True)
    worker.start()
    yield from streamer
    worker.join()
    if errors:
        raise errors[0]


# ------------------------------------------------------------------ variants
# Each factory loads what its variant needs and returns ``run(n_new) -> timings``. The
# runs are interleaved round by round, so that a change in the machine's load (other
# programs) hits every variant alike instead of the one that happens to run then.
def naive_pipeline(path: str, prompt: str):
    import torch
    from transformers import pipeline

    pipe = pipeline("text-generation", model=path, dtype=torch.float32, device="cpu")

    def run(n):
        pieces = _threaded(pipe, pipe.tokenizer, text_inputs=prompt, max_new_tokens=n,
                           min_new_tokens=n, do_sample=False, return_full_text=False)
        return _clock(lambda: pieces, n)

    return run


def ours(gen: TransformersGenerator, messages: list[dict], cache: str | None = None,
         reuse_prefix: bool = False):
    """Through ``TransformersGenerator.stream`` itself; ``min_new_tokens`` in the model's
    generation config makes every run produce exactly ``n`` tokens. ``cache`` picks a KV
    cache implementation (e.g. "static") and ``reuse_prefix`` the prompt cache of the
    system part, for this variant only (variants share a loaded model)."""
    config = gen.model.generation_config

    def run(n):
        config.min_new_tokens, config.cache_implementation = n, cache
        gen.reuse_prefix = reuse_prefix
        try:
            return _clock(lambda: gen.stream(messages, n), n)
        finally:
            config.cache_implementation, gen.reuse_prefix = None, True

    return run


def llama_cpp(path: str, threads: int, messages: list[dict]):
    """Through ``LlamaCppGenerator.stream`` on the GGUF the transformers copy was made
    from; the end-of-text tokens are banned so that every run produces exactly ``n``.
    llama-cpp-python keeps the previous prompt's KV cache and would skip the whole prompt
    of a repeated run, so it is reset before each: the prompt is always evaluated in full."""
    gen = LlamaCppGenerator(path, threads=threads)
    banned = {gen.llm.token_eos(): -1e9}
    for word in ("<end_of_turn>", "<eos>"):
        ids = gen.llm.tokenize(word.encode(), add_bos=False, special=True)
        if len(ids) == 1:
            banned[ids[0]] = -1e9

    def run(n):
        gen.llm.reset()
        return _clock(lambda: gen.stream(messages, n, logit_bias=banned), n)

    return run


def interleaved(runners: dict, n_new: int, repeats: int) -> dict[str, dict]:
    """One short warm-up per variant, then ``repeats`` rounds over all variants; the best
    run (least total time) of each, with the median decode speed alongside."""
    import statistics

    runs: dict[str, list[dict]] = {name: [] for name in runners}
    warmup: dict[str, float] = {}
    for name, run in runners.items():
        warmup[name], _ = timed(run, min(4, n_new))
    for _ in range(repeats):
        for name, run in runners.items():
            log.info("generation bench: %s", name)
            runs[name].append(run(n_new))
    out = {}
    for name, rs in runs.items():
        best = dict(min(rs, key=lambda r: r["total_s"]))
        best["warmup_s"] = warmup[name]
        best["median_decode_tok_s"] = statistics.median(r["decode_tok_s"] or 0 for r in rs)
        best["runs_total_s"] = [r["total_s"] for r in rs]
        out[name] = best
    return out


def llama_cpp_gguf(settings, spec: str) -> tuple[str | None, str]:
    """(GGUF of the benched generator, or None and why): the package's GGUF is the same
    model only for the embedded Gemma, and llama.cpp is an optional extra."""
    import importlib.util

    if importlib.util.find_spec("llama_cpp") is None:
        return None, "not installed (pip install 'ustaz[llamacpp]')"
    if spec != GEMMA_NAME:
        return None, f"no GGUF known for {spec!r} (only the embedded Gemma has one)"
    return resolve_generator(settings.replace(generator=GEMMA_GGUF_NAME)).location, ""


def weight_format(variant: str) -> str:
    """Which weights a variant reads per token, by its name."""
    if "llama.cpp" in variant:
        return "gguf"
    return "fp32" if "float32" in variant else "bf16"


def weight_bytes(path: str) -> dict:
    """Bytes of weights one decoded token reads: every layer, and the whole embedding
    table once more as the tied output layer (262k x 640 logits each token). Counted on
    an empty (meta) copy of the model, which costs no memory."""
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM

    with torch.device("meta"):
        model = AutoModelForCausalLM.from_config(AutoConfig.from_pretrained(path))
    params = sum(p.numel() for p in model.parameters())
    embed = model.get_input_embeddings().weight.numel()
    return {"params": params, "embedding_params": embed, "fp32": params * 4, "bf16": params * 2}


# ----------------------------------------------------------------------- run
def run(settings, folder, quick: bool = False) -> Report:
    import torch

    apply_offline(settings)
    threads = threads_of(settings)
    torch.set_num_threads(threads)
    resolved = resolve_generator(settings)
    if resolved.kind != "transformers":
        raise RuntimeError(f"the generator {resolved.spec!r} is not an in-process transformers model")
    path = resolved.location
    target, n_new, repeats = (120, 8, 1) if quick else (1000, 64, 3)
    report = Report("generation", quick, machine_info(threads))
    runners: dict = {}
    problems: dict[str, str] = {}
    memory: dict[str, int] = {}  # bytes of weights each variant holds in memory

    def prepare(name, factory, *args, weights=None):
        try:
            runners[name] = factory(*args)
            memory[name] = weights
        except Exception as exc:  # noqa: BLE001 - a variant that fails is reported, not fatal
            problems[name] = f"{type(exc).__name__}: {str(exc)[:300]}"
            log.warning("%s failed: %s", name, problems[name])

    gen = TransformersGenerator(path, threads=threads)  # exactly as the app loads it
    ours_name = f"{OURS}, {gen.precision} + prompt cache"
    messages, prompt_tokens = grounded_messages(settings, gen.tokenizer, target,
                                                words_per_passage=20 if quick else None)
    sizes = weight_bytes(path)
    prepare(NAIVE, naive_pipeline, path, plain_prompt(messages), weights=sizes["fp32"])
    prepare(ours_name, ours, gen, messages, None, True, weights=weight_bytes_in_memory(gen.model))
    if not quick:
        bf16 = TransformersGenerator(path, threads=threads, precision="bfloat16")
        prepare("b. ours, bfloat16 + prompt cache", ours, bf16, messages, None, True,
                weights=weight_bytes_in_memory(bf16.model))
    gguf, why_not = llama_cpp_gguf(settings, resolved.spec)
    if gguf:
        sizes["gguf"] = Path(gguf).stat().st_size
        prepare(LLAMA_CPP, llama_cpp, gguf, threads, messages, weights=sizes["gguf"])
    else:
        problems[LLAMA_CPP] = why_not
    rows = interleaved(runners, n_new, repeats)
    runners.clear()
    gc.collect()
    bandwidth = memory_bandwidth(64 if quick else 512)
    ceiling = {k: bandwidth / v for k, v in sizes.items() if k in ("fp32", "bf16", "gguf")}
    _tables(report, rows, problems, memory, sizes, ceiling, prompt_tokens, n_new, threads)
    report.notes += [
        f"Memory bandwidth measured with a numpy copy: {bandwidth / 1e9:.1f} GB/s (read + write).",
        f"Weights: {sizes['params'] / 1e6:.0f} M parameters, of which {sizes['embedding_params'] / 1e6:.0f} M "
        "are the embedding table, read in full every token as the tied output layer.",
        "Every run is forced to the same number of new tokens (min_new_tokens); greedy decoding. "
        f"Best of {repeats} run(s) after one warm-up, the variants interleaved round by round.",
    ]
    report.results = {
        "prompt_tokens": prompt_tokens, "new_tokens": n_new, "threads": threads,
        "variants": {n: {k: v for k, v in r.items() if k != "text"} for n, r in rows.items()},
        "not_run": problems, "memory_bandwidth_gb_s": bandwidth / 1e9, "weights": sizes,
        "ceiling_tok_s": ceiling, "sample_output": {n: r["text"] for n, r in rows.items()}, "ours": ours_name,
    }
    return report


def _tables(report, rows, problems, memory, sizes, ceiling, prompt_tokens, n_new, threads) -> None:
    naive, cpp = rows.get(NAIVE, {}), rows.get(LLAMA_CPP, {})
    table = report.table(
        f"Gemma-3-270M, prompt {prompt_tokens} tokens, {n_new} new tokens, {threads} threads",
        ["variant", "time to first token s", "decode tok/s", "overall tok/s", "decode vs naive",
         "TTFT vs naive", "decode vs llama.cpp", "weights in memory MB", "median decode tok/s"])
    for name, r in rows.items():
        r["weights_in_memory_bytes"] = memory.get(name)
        table.add(name, r["ttft_s"], r["decode_tok_s"], r["overall_tok_s"],
                  ratio(r["decode_tok_s"], naive.get("decode_tok_s")), ratio(r["ttft_s"], naive.get("ttft_s")),
                  ratio(r["decode_tok_s"], cpp.get("decode_tok_s")),
                  memory[name] / 1e6 if memory.get(name) else None, r.get("median_decode_tok_s"))
    for name, why in problems.items():
        table.add(name, why, *[None] * 8)
    phys = report.table("Physical reference: memory bandwidth / bytes of weights read per token",
                        ["weights", "bytes per token", "ceiling tok/s", "best measured decode tok/s",
                         "share of ceiling"])
    for key, label in (("fp32", "float32"), ("bf16", "bfloat16"), ("gguf", "GGUF Q4_K_M (llama.cpp; whole file)")):
        if key in sizes:
            measured = [r["decode_tok_s"] for n, r in rows.items() if r["decode_tok_s"] and weight_format(n) == key]
            top = max(measured) if measured else None
            phys.add(label, sizes[key], ceiling[key], top, ratio(top, ceiling[key]))
