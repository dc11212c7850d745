"""``tutor bench generation``: time to first token and decoding speed of the generator
on a grounded prompt (about 1,000 tokens of evidence), for the naive transformers
pipeline, our ``TransformersGenerator`` path and the speed-ups tried on it, llama.cpp
when it is installed, and the ceiling memory bandwidth allows."""

from __future__ import annotations

import gc
import json
import logging
import subprocess
import sys
import threading
import time
from pathlib import Path
from types import SimpleNamespace

from tutor.answer.generative import build_messages
from tutor.answer.shortlist import ShortlistHead
from tutor.bench.measure import machine_info, memory_bandwidth, ratio, threads_of, timed
from tutor.bench.report import Report
from tutor.bench.synthetic import corpus_docs
from tutor.generation.generators import LlamaCppGenerator, TransformersGenerator, plain_prompt
from tutor.generation.loading import weight_bytes_in_memory
from tutor.models import GEMMA_GGUF_NAME, GEMMA_NAME, apply_offline, resolve_generator

log = logging.getLogger(__name__)

COMPILE_LIMIT_S = 300
NAIVE = "a. transformers pipeline, float32 (naive)"
OURS = "b. ours: TransformersGenerator as shipped"  # + ", <precision> + prompt cache"
LLAMA_CPP = "c. llama.cpp (llama-cpp-python, GGUF Q4_K_M from the package)"
LLAMA_CPP_REFERENCE_TOK_S = 94  # measured elsewhere: 64 new tokens, 2 threads (issue 9)
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


def compile_static(gen: TransformersGenerator) -> None:
    """Static KV cache plus torch.compile of the decoding step, which transformers only
    switches on by itself on GPUs."""
    from transformers import CompileConfig

    config = CompileConfig(mode="default", fullgraph=False, dynamic=False)
    config._compile_all_devices = True
    gen.model.generation_config.cache_implementation = "static"
    gen.model.generation_config.compile_config = config


def compiled_in_child(path: str, threads: int, messages: list[dict], n_new: int, repeats: int,
                      limit_s: int) -> dict:
    """torch.compile in a child process: compiling can take minutes on two cores, and a
    child can be stopped when it takes longer than ``limit_s``."""
    job = json.dumps({"path": path, "threads": threads, "messages": messages, "n_new": n_new,
                      "repeats": repeats})
    try:
        done = subprocess.run([sys.executable, "-m", "tutor.bench.generation"], input=job,
                              capture_output=True, text=True, timeout=limit_s)
    except subprocess.TimeoutExpired:
        raise RuntimeError(f"compiling and measuring took longer than {limit_s} s; stopped") from None
    if done.returncode:
        raise RuntimeError(done.stderr.strip().splitlines()[-1] if done.stderr.strip() else "child failed")
    return json.loads(done.stdout.strip().splitlines()[-1])


def llama_cpp_gguf(settings, spec: str) -> tuple[str | None, str]:
    """(GGUF of the benched generator, or None and why): the package's GGUF is the same
    model only for the embedded Gemma, and llama.cpp is an optional extra."""
    import importlib.util

    if importlib.util.find_spec("llama_cpp") is None:
        return None, "not installed (pip install 'ustaz[llamacpp]')"
    if spec != GEMMA_NAME:
        return None, f"no GGUF known for {spec!r} (only the embedded Gemma has one)"
    return resolve_generator(settings.replace(generator=GEMMA_GGUF_NAME)).location, ""


def generator_weight_bytes(gen: TransformersGenerator) -> int:
    """Bytes of weights a generator keeps in memory: with the shortlist output layer, its
    16-bit table instead of the float32 one, which stays memory-mapped (a few rows read
    a token)."""
    total = weight_bytes_in_memory(gen.model)
    if gen.head is not None:
        total += gen.head.resident_bytes() - gen.head.weight.numel() * gen.head.weight.element_size()
    return total


def weight_format(variant: str) -> str:
    """Which weights a variant reads per token, by its name."""
    if "llama.cpp" in variant:
        return "gguf"
    if "int8" in variant:
        return "int8_linear"
    if "shortlist" in variant:
        return "fp32_shortlist"
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
    return {"params": params, "embedding_params": embed, "fp32": params * 4, "bf16": params * 2,
            "int8_linear": params,  # int8 Linear layers, the output layer too; a lookup reads one row
            # float32 layers and the 16-bit table of the shortlist output layer (128 float32 rows)
            "fp32_shortlist": (params - embed) * 4 + embed * 2}


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

    def prepare(name, factory, *args):
        try:
            runners[name] = factory(*args)
        except Exception as exc:  # noqa: BLE001 - a variant that fails is reported, not fatal
            problems[name] = f"{type(exc).__name__}: {str(exc)[:300]}"
            log.warning("%s failed: %s", name, problems[name])

    memory: dict[str, int] = {}  # bytes of weights each variant holds in memory
    gen = TransformersGenerator(path, threads=threads)  # exactly as the app loads it
    steps_of_ours = (f" + shortlist output layer ({gen.head.dtype} table) + prompt lookup ({gen.lookahead})"
                     if gen.head else "")
    ours_name = f"{OURS}, {gen.precision}{steps_of_ours} + prompt cache"
    messages, prompt_tokens = grounded_messages(settings, gen.tokenizer, target,
                                                words_per_passage=20 if quick else None)
    sizes = weight_bytes(path)
    prepare(NAIVE, naive_pipeline, path, plain_prompt(messages))
    memory[NAIVE] = sizes["fp32"]
    prepare(ours_name, ours, gen, messages, None, True)
    memory[ours_name] = generator_weight_bytes(gen)
    gguf, why_not = llama_cpp_gguf(settings, resolved.spec)
    if gguf:
        prepare(LLAMA_CPP, llama_cpp, gguf, threads, messages)
        memory[LLAMA_CPP] = sizes["gguf"] = Path(gguf).stat().st_size
    else:
        problems[LLAMA_CPP] = why_not
    if not quick:
        # the steps that led there, each on its own
        steps = {"float32": "b. ours, float32 + shortlist output layer + prompt lookup, no prompt cache",
                 "bfloat16": "b. ours, bfloat16 (the default before on bfloat16 CPUs)",
                 "int8": "b. ours, int8 dynamic quantisation"}
        loaded = {gen.precision: gen}
        for precision in ("float32", "bfloat16", "int8"):
            other = loaded.get(precision) or TransformersGenerator(path, threads=threads, precision=precision)
            loaded[precision] = other
            prepare(steps[precision], ours, other, messages)
            memory[steps[precision]] = generator_weight_bytes(other)
        if gen.head is not None and gen.head.dtype != "float16":
            name = "b. ours, float32 + shortlist with the float16 table (one position at a time), no prompt cache"

            f16 = TransformersGenerator(path, threads=threads, precision="float32")
            f16.head = ShortlistHead(f16.model, f16.head.rows, dtype="float16", exact=f16.head.exact)
            prepare(name, ours, f16, messages)
            memory[name] = generator_weight_bytes(f16)
        name = "b. ours, float32 + shortlist + prompt lookup, MKL layers (before oneDNN), no prompt cache"
        mkl = TransformersGenerator(path, threads=threads, precision="float32", packed=False)
        prepare(name, ours, mkl, messages)
        memory[name] = generator_weight_bytes(mkl)
        name = "b. ours, float32 + shortlist, no prompt lookup"
        plain = TransformersGenerator(path, threads=threads, precision="float32", lookahead=0)
        prepare(name, ours, plain, messages, None, True)
        memory[name] = generator_weight_bytes(plain)
        name = "b. ours, float32, full output layer (model.generate; the default before elsewhere)"
        full = TransformersGenerator(path, threads=threads, precision="float32", shortlist=False)
        prepare(name, ours, full, messages)
        memory[name] = generator_weight_bytes(full)
        for precision in ("bfloat16", "int8"):
            name = f"{steps[precision]} + static KV cache"
            prepare(name, ours, loaded[precision], messages, "static")
            memory[name] = memory[steps[precision]]
        name = f"{steps['bfloat16']} + prompt cache"
        prepare(name, ours, loaded["bfloat16"], messages, None, True)
        memory[name] = memory[steps["bfloat16"]]
    rows = interleaved(runners, n_new, repeats)
    if not quick:
        del runners, gen, other, loaded, full, plain, mkl
        f16 = None
        gc.collect()
        name = "b. ours, bfloat16 + static KV cache + torch.compile (own process, after the others)"
        try:
            rows[name] = compiled_in_child(path, threads, messages, n_new, repeats, COMPILE_LIMIT_S)
            memory[name] = sizes["bf16"]
        except Exception as exc:  # noqa: BLE001
            problems[name] = f"{type(exc).__name__}: {str(exc)[:300]}"

    bandwidth = memory_bandwidth(64 if quick else 512)
    ceiling = {k: bandwidth / v for k, v in sizes.items()
               if k in ("fp32", "fp32_shortlist", "bf16", "int8_linear", "gguf")}
    naive = rows.get(NAIVE, {})
    cpp = rows.get(LLAMA_CPP, {})
    table = report.table(
        f"Gemma-3-270M, prompt {prompt_tokens} tokens, {n_new} new tokens, {threads} threads",
        ["variant", "time to first token s", "decode tok/s", "overall tok/s", "decode vs naive",
         "overall vs naive", "TTFT vs naive", "decode vs llama.cpp", "weights in memory MB",
         "median decode tok/s", "warm-up s"])
    for name, r in rows.items():
        r["weights_in_memory_bytes"] = memory.get(name)
        table.add(name, r["ttft_s"], r["decode_tok_s"], r["overall_tok_s"],
                  ratio(r["decode_tok_s"], naive.get("decode_tok_s")),
                  ratio(r["overall_tok_s"], naive.get("overall_tok_s")),
                  ratio(r["ttft_s"], naive.get("ttft_s")),
                  ratio(r["decode_tok_s"], cpp.get("decode_tok_s")),
                  memory[name] / 1e6 if memory.get(name) else None,
                  r.get("median_decode_tok_s"), r.get("warmup_s"))
    for name, why in problems.items():
        table.add(name, why, *[None] * 10)
    phys = report.table("Physical reference: memory bandwidth / bytes of weights read per token",
                        ["weights", "bytes per token", "ceiling tok/s", "best measured decode tok/s",
                         "share of ceiling"])
    for key, label in (("fp32", "float32"), ("fp32_shortlist", "float32 layers + 16-bit shortlist table"),
                       ("bf16", "bfloat16"), ("int8_linear", "int8 (all weights)"),
                       ("gguf", "GGUF Q4_K_M (llama.cpp; whole file)")):
        if key not in sizes:
            continue
        measured = [r["decode_tok_s"] for n, r in rows.items() if r["decode_tok_s"] and weight_format(n) == key]
        top = max(measured) if measured else None
        phys.add(label, sizes[key], ceiling[key], top, ratio(top, ceiling[key]))
    report.notes += [
        f"Memory bandwidth measured with a numpy copy: {bandwidth / 1e9:.1f} GB/s (read + write).",
        f"Weights: {sizes['params'] / 1e6:.0f} M parameters, of which {sizes['embedding_params'] / 1e6:.0f} M "
        "are the embedding table, read in full every token as the tied output layer.",
        "Every run is forced to the same number of new tokens (min_new_tokens); greedy decoding.",
        "Decode tok/s = (new tokens - 1) / (total time - time to first token). "
        f"Best of {repeats} run(s) after one warm-up; the runs of all variants are interleaved round by "
        "round, so a change in the machine's load hits all of them alike.",
    ]
    ours_decode = rows.get(ours_name, {}).get("decode_tok_s")
    if cpp:
        report.notes.append(
            f"llama.cpp, same prompt (its GGUF chat template), same run: ours as shipped decodes at "
            f"{ratio(ours_decode, cpp.get('decode_tok_s')) or 0:.2f}x its speed. The llama.cpp "
            "backend is offered as the generator 'builtin:gemma-3-270m-gguf' (extra 'llamacpp').")
    else:
        report.notes.append(
            f"llama.cpp is not installed here. Measured elsewhere: ~{LLAMA_CPP_REFERENCE_TOK_S} tok/s "
            f"(64 new tokens, 2 threads); ours as shipped decodes at "
            f"{ratio(ours_decode, LLAMA_CPP_REFERENCE_TOK_S) or 0:.2f}x that figure, on a different machine.")
    report.results = {
        "prompt_tokens": prompt_tokens, "new_tokens": n_new, "threads": threads,
        "variants": {n: {k: v for k, v in r.items() if k != "text"} for n, r in rows.items()},
        "not_run": problems, "memory_bandwidth_gb_s": bandwidth / 1e9, "weights": sizes,
        "ceiling_tok_s": ceiling, "sample_output": {n: r["text"] for n, r in rows.items()},
        "ours": ours_name, "llama_cpp_reference_tok_s": LLAMA_CPP_REFERENCE_TOK_S,
    }
    return report


if __name__ == "__main__":  # the torch.compile variant, run by compiled_in_child
    import torch

    job = json.loads(sys.stdin.read())
    torch.set_num_threads(job["threads"])
    child = TransformersGenerator(job["path"], threads=job["threads"], precision="bfloat16")
    compile_static(child)
    result = interleaved({"compiled": ours(child, job["messages"], "static")}, job["n_new"], job["repeats"])
    print(json.dumps(result["compiled"], ensure_ascii=False))
