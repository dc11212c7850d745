"""Text generators behind one interface: ``stream(messages, max_new_tokens)`` yields
pieces of text. ``transformers`` runs any causal LM in-process; ``llamacpp`` runs a GGUF
file in-process with llama.cpp (optional extra); ``openai`` talks to any
OpenAI-compatible server (vLLM, Ollama, llama.cpp), the way many classrooms share one
GPU machine."""

from __future__ import annotations

import json
import logging
import threading
from abc import ABC, abstractmethod
from collections.abc import Iterator

import httpx

from tutor.generation.loading import PrefixCache, load_causal_lm, pick_precision, shared_prefix
from tutor.models import ModelError

log = logging.getLogger(__name__)

class GeneratorError(RuntimeError):
    """The generator failed (server down, timeout...); callers fall back."""


class Generator(ABC):
    name: str = "generator"

    @abstractmethod
    def stream(self, messages: list[dict], max_new_tokens: int = 256) -> Iterator[str]: ...

    def generate(self, messages: list[dict], max_new_tokens: int = 256) -> str:
        return "".join(self.stream(messages, max_new_tokens))


def plain_prompt(messages: list[dict]) -> str:
    """A prompt for base models without a chat template."""
    parts = []
    for m in messages:
        if m["role"] == "system":
            parts.append(m["content"].strip())
        elif m["role"] == "user":
            parts.append(m["content"].strip())
        else:
            parts.append(m["content"].strip())
    return "\n\n".join(parts) + "\n\nAnswer:"


class TransformersGenerator(Generator):
    """Any causal LM in-process. ``precision`` is a ``generator_precision`` value; the KV cache
    of the system part of the prompt is computed once and reused (``reuse_prefix``)."""

    def __init__(self, path: str, threads: int = 0, precision: str = "auto", reuse_prefix: bool = True):
        import torch
        from transformers import AutoTokenizer

        if threads:
            torch.set_num_threads(threads)
        self.name = path
        self.precision = pick_precision(precision)
        self.tokenizer = AutoTokenizer.from_pretrained(path)
        self.model = load_causal_lm(path, self.precision)
        self.has_chat_template = bool(getattr(self.tokenizer, "chat_template", None))
        self.reuse_prefix = reuse_prefix
        self.prefix_cache = PrefixCache(self.model)
        self._lock = threading.Lock()  # one generation at a time on a laptop CPU

    def _inputs(self, messages: list[dict]):
        if self.has_chat_template:
            return self.tokenizer.apply_chat_template(messages, add_generation_prompt=True,
                                                      return_tensors="pt", return_dict=True)
        return self.tokenizer(plain_prompt(messages), return_tensors="pt")

    def _start_cache(self, messages: list[dict], input_ids: list[int]):
        """A copy of the KV cache of the prompt's system part, computed on first use."""
        cache = self.prefix_cache.start(input_ids)
        if cache is None and messages and messages[0]["role"] == "system":
            system_ids = self._inputs(messages[:1])["input_ids"][0].tolist()
            prefix = shared_prefix(input_ids, system_ids)
            if len(prefix) >= 8:  # shorter is not worth a cache
                self.prefix_cache.add(prefix)
                cache = self.prefix_cache.start(input_ids)
        return cache

    def stream(self, messages: list[dict], max_new_tokens: int = 256) -> Iterator[str]:
        from transformers import TextIteratorStreamer

        inputs = self._inputs(messages)
        streamer = TextIteratorStreamer(self.tokenizer, skip_prompt=True, skip_special_tokens=True)
        kwargs = dict(**inputs, max_new_tokens=max_new_tokens, do_sample=False,
                      repetition_penalty=1.1, streamer=streamer)
        errors: list[BaseException] = []

        def run():
            try:
                if self.reuse_prefix and not self.model.generation_config.cache_implementation:
                    kwargs["cache"] = self._start_cache(messages, inputs["input_ids"][0].tolist())
                self.model.generate(**kwargs)
            except BaseException as exc:  # noqa: BLE001 - reported to the caller below
                errors.append(exc)
                streamer.end()

        with self._lock:
            worker = threading.Thread(target=run, daemon=True)
            worker.start()
            for piece in streamer:
                if piece:
                    yield piece
            worker.join()
        if errors:
            raise GeneratorError(f"generation failed: {errors[0]}")


class OpenAIGenerator(Generator):
    """Any OpenAI-compatible server (vLLM, Ollama, llama.cpp's server, ``tutor.generation.llm_server``).
    A refused connection is retried by httpx's transport (``retries``); an answer is never
    retried once it has started, so a student never reads a beginning twice."""

    def __init__(self, base_url: str, model: str = "default", api_key: str = "",
                 timeout: float = 60.0, retries: int = 2):
        self.base_url = base_url.rstrip("/")
        self.model = model
        self.api_key = api_key
        self.timeout = timeout
        self.retries = retries
        self.name = f"openai:{self.base_url} ({model})"
        self._client = httpx.Client(transport=httpx.HTTPTransport(retries=retries),
                                    timeout=httpx.Timeout(timeout, connect=min(5.0, timeout)))

    def stream(self, messages: list[dict], max_new_tokens: int = 256) -> Iterator[str]:
        headers = {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}
        body = {"model": self.model, "messages": messages, "max_tokens": max_new_tokens,
                "temperature": 0, "stream": True}
        started = False
        try:
            with self._client.stream("POST", f"{self.base_url}/chat/completions", json=body,
                                     headers=headers) as response:
                if response.status_code >= 400:
                    response.read()
                    raise GeneratorError(f"the generator server at {self.base_url} answered HTTP "
                                         f"{response.status_code}: {response.text[:200]}")
                for piece in _sse_pieces(response.iter_lines()):
                    started = True
                    yield piece
        except httpx.HTTPError as exc:
            if started:
                raise GeneratorError(f"the generator server stopped mid-answer ({exc})") from None
            raise GeneratorError(f"the generator server at {self.base_url} is not answering "
                                 f"({type(exc).__name__}: {exc})") from None


def _sse_pieces(lines: Iterator[str]) -> Iterator[str]:
    """The text pieces of a streamed chat completion (server-sent events), up to [DONE]."""
    for line in lines:
        if not line.startswith("data:"):
            continue
        data = line[5:].strip()
        if data == "[DONE]":
            return
        try:
            delta = json.loads(data)["choices"][0].get("delta", {})
        except (ValueError, KeyError, IndexError, AttributeError):
            continue
        if delta.get("content"):
            yield delta["content"]


class LlamaCppGenerator(Generator):
    """A GGUF model run in-process by llama.cpp (llama-cpp-python, the ``llamacpp``
    extra). On the embedded Gemma-3-270M it decodes faster than the transformers path on
    the same CPU, from 4-bit weights (docs/decisions/2026-11-29-generator-precision-and-llamacpp.md).
    The GGUF's chat template is used when it has one, the plain prompt when not."""

    def __init__(self, path: str, threads: int = 0, context: int = 4096):
        try:
            import llama_cpp
        except ImportError:
            raise ModelError("generator", "the llama.cpp backend needs llama-cpp-python: pip install "
                                          "'ustaz[llamacpp]' (it compiles: 15 minutes on two cores)") from None
        import os

        self.name = f"llama.cpp:{path}"
        self.llm = llama_cpp.Llama(model_path=path, n_ctx=context,
                                   n_threads=threads or os.cpu_count() or 1, verbose=False)
        metadata = getattr(self.llm, "metadata", {}) or {}
        self.has_chat_template = "tokenizer.chat_template" in metadata
        self._lock = threading.Lock()

    def stream(self, messages: list[dict], max_new_tokens: int = 256, **options) -> Iterator[str]:
        """``options`` go to llama-cpp-python as they are (the benchmark passes
        ``logit_bias`` to force a fixed number of tokens)."""
        kwargs = dict(max_tokens=max_new_tokens, temperature=0.0, repeat_penalty=1.1,
                      stream=True, **options)
        with self._lock:
            try:
                if self.has_chat_template:
                    chunks = self.llm.create_chat_completion(messages=messages, **kwargs)
                    for chunk in chunks:
                        piece = chunk["choices"][0].get("delta", {}).get("content") or ""
                        if piece:
                            yield piece
                else:
                    for chunk in self.llm.create_completion(plain_prompt(messages), **kwargs):
                        piece = chunk["choices"][0].get("text") or ""
                        if piece:
                            yield piece
            except (RuntimeError, ValueError) as exc:  # e.g. a prompt longer than the context
                raise GeneratorError(f"llama.cpp failed: {exc}") from None


def make_generator(resolved, settings) -> Generator | None:
    if resolved.kind == "none":
        return None
    if resolved.kind == "llamacpp":
        return LlamaCppGenerator(resolved.location, threads=settings.threads)
    if resolved.kind == "openai":
        return OpenAIGenerator(resolved.location, settings.openai_model, settings.openai_api_key,
                               settings.generator_timeout)
    return TransformersGenerator(resolved.location, threads=settings.threads,
                                 precision=settings.generator_precision)
