"""The LLM as a reader of evidence: how likely the question is, given a passage.

A small model that cannot write Kazakh still reads it well enough to tell which passage a
question was asked about: the mean log-probability of the question's tokens after the
passage (query likelihood, as in UPR: Sachan et al., 2022) ranks passages without a single
generated word. ``TransformersReader`` runs any causal LM in-process; ``OpenAIReader`` asks a
server that returns the log-probabilities of a prompt's own tokens (vLLM, and
``tutor.generation.llm_server``). Choices and figures: docs/decisions/2026-12-07-evidence-reader.md.
"""

from __future__ import annotations

import threading
import time
from abc import ABC, abstractmethod

import httpx

# The question comes after the passage, so its tokens are read in the passage's light; the
# instruction is English because the embedded model follows English best.
TEMPLATE = "Passage: {passage}\nA student read this passage and asked:"
PASSAGE_CHARS = 600  # about 150 tokens: the start of a passage holds its topic


class ReaderError(RuntimeError):
    """The reader could not score (server down, no log-probabilities); callers go on without it."""


class Reader(ABC):
    name: str = "reader"

    @abstractmethod
    def likelihoods(self, question: str, passages: list[str], deadline: float | None = None) -> list[float]:
        """Mean log-probability per question token after each passage. ``deadline`` is a
        ``time.monotonic()`` value: reading stops there and raises ``TimeoutError``."""


def prompt_of(passage: str) -> str:
    return TEMPLATE.format(passage=" ".join(passage.split())[:PASSAGE_CHARS])


class TransformersReader(Reader):
    """Any causal LM in-process, a few passages per forward pass. Only the question's
    positions go through the output layer: Gemma's 262k-word row per token would otherwise
    cost more than the rest of the model."""

    def __init__(self, model, tokenizer, batch: int = 2, name: str = ""):
        self.model = model
        self.tokenizer = tokenizer
        self.batch = batch
        self.name = name or getattr(model, "name_or_path", "reader")
        self._lock = threading.Lock()  # one forward pass at a time on a CPU

    @classmethod
    def load(cls, path: str, threads: int = 0, precision: str = "auto") -> TransformersReader:
        import torch
        from transformers import AutoTokenizer

        from tutor.generation.loading import load_causal_lm, pick_precision

        if threads:
            torch.set_num_threads(threads)
        return cls(load_causal_lm(path, pick_precision(precision)), AutoTokenizer.from_pretrained(path),
                   name=path)

    def likelihoods(self, question: str, passages: list[str], deadline: float | None = None) -> list[float]:
        import torch

        question_ids = self.tokenizer(" " + question.strip(), add_special_tokens=False)["input_ids"]
        if not question_ids or not passages:
            return [0.0] * len(passages)
        bos = [self.tokenizer.bos_token_id] if self.tokenizer.bos_token_id is not None else []
        rows = [bos + self.tokenizer(prompt_of(p), add_special_tokens=False)["input_ids"] for p in passages]
        body = self.model.get_decoder() if hasattr(self.model, "get_decoder") else self.model
        head = self.model.get_output_embeddings()
        softcap = getattr(self.model.config, "final_logit_softcapping", None)
        pad = self.tokenizer.pad_token_id or 0
        q = torch.tensor(question_ids)
        scores: list[float] = []
        with self._lock, torch.no_grad():
            for start in range(0, len(rows), self.batch):
                if deadline is not None and time.monotonic() > deadline:
                    raise TimeoutError("the reader ran out of time")
                part = rows[start:start + self.batch]
                width = max(len(r) for r in part) + len(question_ids)
                ids = torch.full((len(part), width), pad, dtype=torch.long)
                mask = torch.zeros((len(part), width), dtype=torch.long)
                for i, r in enumerate(part):  # right padding: each row's question right after its passage
                    ids[i, :len(r) + len(q)] = torch.tensor(r + question_ids)
                    mask[i, :len(r) + len(q)] = 1
                hidden = body(input_ids=ids, attention_mask=mask).last_hidden_state
                for i, r in enumerate(part):
                    # the state before each question token predicts it
                    at = hidden[i, len(r) - 1:len(r) - 1 + len(q)]
                    logits = head(at).float()
                    if softcap:
                        logits = torch.tanh(logits / softcap) * softcap
                    logp = torch.log_softmax(logits, dim=-1).gather(1, q[:, None])
                    scores.append(float(logp.mean()))
        return scores

    def token_logprobs(self, text: str) -> dict:
        """Each token of ``text`` with its log-probability given those before it (None for the
        first) and its character offset, then the most likely next token: what an
        OpenAI-compatible server returns for ``echo`` with ``logprobs`` and one token to write."""
        import torch

        encoded = self.tokenizer(text, return_offsets_mapping=True)
        ids, offsets = encoded["input_ids"], [start for start, _ in encoded["offset_mapping"]]
        body = self.model.get_decoder() if hasattr(self.model, "get_decoder") else self.model
        head = self.model.get_output_embeddings()
        softcap = getattr(self.model.config, "final_logit_softcapping", None)
        values: list[float | None] = [None]
        with self._lock, torch.no_grad():
            hidden = body(input_ids=torch.tensor([ids])).last_hidden_state[0]
            for start in range(0, len(ids), 64):  # a 262k-word row per position: a few at a time
                logits = head(hidden[start:start + 64]).float()
                if softcap:
                    logits = torch.tanh(logits / softcap) * softcap
                logp = torch.log_softmax(logits, dim=-1)
                for j in range(logp.shape[0]):
                    if start + j + 1 < len(ids):
                        values.append(float(logp[j, ids[start + j + 1]]))
                    else:
                        following, value = int(logp[j].argmax()), float(logp[j].max())
        word = self.tokenizer.decode([following])
        return {"tokens": [self.tokenizer.decode([i]) for i in ids] + [word],
                "token_logprobs": values + [value], "text_offset": offsets + [len(text)], "next": word}


class OpenAIReader(Reader):
    """A server's completions endpoint with ``echo`` and ``logprobs``: the log-probability of
    each prompt token comes back without generating (vLLM does this; Ollama does not)."""

    def __init__(self, base_url: str, model: str = "default", api_key: str = "", timeout: float = 10.0):
        self.base_url = base_url.rstrip("/")
        self.model = model
        self.name = f"openai:{self.base_url} ({model})"
        self._headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._client = httpx.Client(timeout=httpx.Timeout(timeout, connect=min(5.0, timeout)))

    def likelihoods(self, question: str, passages: list[str], deadline: float | None = None) -> list[float]:
        if not passages:
            return []
        prompts = [prompt_of(p) for p in passages]
        body = {"model": self.model, "prompt": [p + " " + question.strip() for p in prompts],
                "max_tokens": 1, "temperature": 0, "echo": True, "logprobs": 0}
        timeout = None if deadline is None else max(0.05, deadline - time.monotonic())
        try:
            response = self._client.post(f"{self.base_url}/completions", json=body, headers=self._headers,
                                         **({"timeout": timeout} if timeout is not None else {}))
        except httpx.TimeoutException:
            raise TimeoutError("the reader server ran out of time") from None
        except httpx.HTTPError as exc:
            raise ReaderError(f"the reader server at {self.base_url} is not answering ({exc})") from None
        if response.status_code >= 400:
            raise ReaderError(f"the reader server at {self.base_url} answered HTTP {response.status_code}")
        try:
            choices = sorted(response.json()["choices"], key=lambda c: c.get("index", 0))
            return [_question_mean(c["logprobs"], len(p)) for c, p in zip(choices, prompts, strict=True)]
        except (ValueError, KeyError, TypeError, IndexError) as exc:
            raise ReaderError(f"the reader server returned no prompt log-probabilities ({exc})") from None


def _question_mean(logprobs: dict, question_from: int) -> float:
    """Mean log-probability of the echoed tokens that start at or after character
    ``question_from`` of the prompt (the question); the generated token is left out."""
    offsets, values = logprobs["text_offset"][:-1], logprobs["token_logprobs"][:-1]
    picked = [v for o, v in zip(offsets, values) if o >= question_from and v is not None]
    if not picked:
        raise ValueError("no question tokens among the echoed ones")
    return sum(picked) / len(picked)


def make_reader(resolved, settings) -> Reader | None:
    """The reader for the configured generator's model: in-process for a transformers model
    (bfloat16 unless ``generator_precision`` says float32: twice as fast on two cores, the
    same order; the embedded model from a bfloat16 copy made once), over HTTP for a server;
    llama.cpp in-process has none."""
    if resolved.kind == "transformers":
        if settings.generator_precision == "float32":
            return TransformersReader.load(resolved.location, settings.threads, "float32")
        from tutor.models import bfloat16_copy

        return TransformersReader.load(bfloat16_copy(settings, resolved.location), settings.threads, "bfloat16")
    if resolved.kind == "openai":
        return OpenAIReader(resolved.location, settings.openai_model, settings.openai_api_key,
                            settings.generator_timeout)
    return None
