"""Loading an in-process causal LM for a CPU, and the KV cache of a fixed prompt prefix.

``float32`` (the default) keeps the model's own tokens; ``bfloat16`` halves the memory and is
the faster choice on a CPU that computes in bfloat16. The fixed system part of a prompt is run
through the model once; every answer starts from a copy of its KV cache (``PrefixCache``).
Fast decoding is the job of llama.cpp or an OpenAI-compatible server (README).
"""

from __future__ import annotations

import copy
import gc
import threading

import torch

from tutor.config import GENERATOR_PRECISIONS

PRECISIONS = GENERATOR_PRECISIONS  # the generator_precision setting


def pick_precision(precision: str) -> str:
    """The precision a ``generator_precision`` value loads (``auto`` is float32)."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision {precision!r} is not one of {', '.join(PRECISIONS)}")
    return "float32" if precision == "auto" else precision


def load_causal_lm(path: str, precision: str):
    """The model at ``path`` in ``precision`` (not ``auto``), in eval mode."""
    from transformers import AutoConfig, AutoModelForCausalLM

    # A float32 checkpoint is loaded as float32, which maps the file instead of reading it,
    # then converted a parameter at a time: loading it straight in bfloat16 reads the whole
    # file in. A checkpoint stored in bfloat16 is mapped as it is.
    stored = str(getattr(AutoConfig.from_pretrained(path), "dtype", "") or "")
    first = torch.bfloat16 if precision == "bfloat16" and stored.endswith("bfloat16") else torch.float32
    model = AutoModelForCausalLM.from_pretrained(path, dtype=first)
    model.eval()
    if precision == "bfloat16" and first is torch.float32:
        to_bfloat16(model)
    return model


def to_bfloat16(model) -> None:
    """Parameters only: buffers (rotary frequencies, Gemma's embedding scale) stay float32, as
    ``from_pretrained(dtype=bfloat16)`` keeps them; rounded, they change the answers."""
    for param in model.parameters():
        if param.dtype == torch.float32:
            param.data = param.data.to(torch.bfloat16)
    gc.collect()


def weight_bytes_in_memory(model) -> int:
    """Bytes the model's weights and buffers take (a tied table counted once)."""
    seen: set[int] = set()
    total = 0
    for t in list(model.parameters()) + list(model.buffers()):
        if t.data_ptr() not in seen:
            seen.add(t.data_ptr())
            total += t.numel() * t.element_size()
    return total


class PrefixCache:
    """KV caches of fixed prompt prefixes (the system part: one per answer language),
    computed once. ``start(input_ids)`` returns a private copy of the cache of the
    longest known prefix of ``input_ids``, or ``None``."""

    def __init__(self, model, limit: int = 4):
        self.model = model
        self.limit = limit
        self._caches: dict[tuple[int, ...], object] = {}
        self._lock = threading.Lock()

    def add(self, prefix_ids: list[int]) -> None:
        key = tuple(prefix_ids)
        if not key or key in self._caches:
            return
        # The decoder alone: the model's output layer would compute (and the process keep)
        # a 262k-word row of logits for every token of the prefix, 1 MB each.
        body = self.model.get_decoder() if hasattr(self.model, "get_decoder") else self.model
        with torch.no_grad():
            out = body(input_ids=torch.tensor([prefix_ids]), use_cache=True)
        cache = getattr(out, "cache", None) or out.past_key_values
        with self._lock:
            if len(self._caches) >= self.limit:
                self._caches.pop(next(iter(self._caches)))
            self._caches[key] = cache

    def start(self, input_ids: list[int]):
        with self._lock:
            best = max((k for k in self._caches if len(k) < len(input_ids)
                        and tuple(input_ids[:len(k)]) == k), key=len, default=None)
            return None if best is None else copy.deepcopy(self._caches[best])


def shared_prefix(full_ids: list[int], part_ids: list[int]) -> list[int]:
    """The tokens ``full_ids`` and ``part_ids`` share at the start, less the last one:
    the last shared token may merge differently with what follows it."""
    n = 0
    while n < min(len(full_ids), len(part_ids)) and full_ids[n] == part_ids[n]:
        n += 1
    return list(full_ids[:max(0, n - 1)])
