"""Greedy decoding with a certified shortlist output layer.

On Gemma-3-270M the output layer (262,144 x 640, tied to the embedding table) is 63 % of
the weights read per token: in float32 it takes 43 ms of a 76 ms decode step on two
cores. Here it is first computed from a low-precision copy of the table (half the bytes):
bfloat16 through oneDNN on a CPU that multiplies bfloat16 itself, else float16 through
torch's kernel, which reads it about 5x faster than float32 (``table_dtype``). The 128
best rows are then recomputed exactly in float32 from the model's own table.

The result is the float32 model's token, not an approximation: every row gets an upper
bound on its low-precision error (rounding of the weights, of the hidden state and of the
output, and float32 summation; ``self_check`` tests the CPU's kernel against it at load).
A token outside the shortlist can win only if its approximate score plus its bound reaches
the best exact score (after the repetition penalty, which only lowers scores). When it
could, that step widens the shortlist and then falls back to the full float32 output
layer; ``fallbacks`` counts those steps. (One caveat: the 128 rows are summed in float32
in another order than a product over the whole table, so two tokens whose scores tie to
the last bit or two could be ordered either way; tests compare with ``model.generate``.)

Used by ``TransformersGenerator`` for greedy answers when the model allows it
(``supports``); anything else goes through ``model.generate`` as before.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

import torch

from tutor.answer.fastgen import dequantise, onednn_linear_available

log = logging.getLogger(__name__)

SHORTLIST = 128  # rows recomputed exactly; 64 certified 92 % of steps on real text, 128 99.7 %
WIDER = 2048  # when 128 rows do not settle a step, this many before the full layer
_BLOCK = 16384  # rows read from the checkpoint at a time
_PACK_ROWS = 32768  # rows per oneDNN-packed block of a bfloat16 table (packing copies a block)
# unit roundoff and the magnitude below which a value loses up to half of that step
_ROUNDOFF = {"float16": 2.0 ** -11, "bfloat16": 2.0 ** -8}
_TINY = {"float16": 2.0 ** -24, "bfloat16": 2.0 ** -133}


def table_dtype() -> str:
    """The low-precision table this CPU reads fastest. bfloat16 through oneDNN where the
    CPU multiplies bfloat16 itself (AVX512-BF16, AMX): its product costs the same for 1 to 5
    positions (8.3-8.9 ms for the 262k x 640 table on two EPYC cores), so a pass's drafted
    positions come at once, where torch's float16 product costs 8 ms per position. float16
    elsewhere (bfloat16 would be emulated)."""
    native = torch.cpu._is_avx512_bf16_supported() or torch.cpu._is_amx_tile_supported()
    return "bfloat16" if native and onednn_linear_available() else "float16"


def error_bound(l1: torch.Tensor, l2: torch.Tensor, h: torch.Tensor, approx: torch.Tensor,
                roundoff: float = _ROUNDOFF["float16"], tiny: float = _TINY["float16"]) -> torch.Tensor:
    """Per row, an upper bound on |float32 product - low-precision product| for a row with
    L1 norm ``l1`` and L2 norm ``l2``: relative rounding of both factors (2u + u^2) and the
    worst case of float32 summation over ``len(h)`` terms (n * 2^-24, a float32 roundoff per
    addition), both times sum |w_i| |h_i|, which is at most l1 * max |h| and at most
    l2 * ||h|| (Cauchy-Schwarz; far smaller when a few of h's dimensions are large, as in
    Gemma's hidden states: max |h| 143, ||h|| 192); then the absolute rounding of values
    too small for the format (``tiny``) and the output's own rounding."""
    u = roundoff
    eps = 2 * u + u * u + h.numel() * 2.0 ** -24
    h_abs = h.abs()
    terms = torch.minimum(l1 * h_abs.max(), l2 * h.norm())
    return terms * eps + l1 * tiny + h_abs.sum() * tiny + approx.abs() * eps + 1e-4


# generation_config fields that add logits processors this loop does not implement
_UNSUPPORTED = ("no_repeat_ngram_size", "bad_words_ids", "suppress_tokens", "begin_suppress_tokens",
                "forced_bos_token_id", "forced_eos_token_id", "sequence_bias", "encoder_repetition_penalty")


class ShortlistHead:
    """The output layer of ``model`` as a low-precision shortlist plus exact float32
    rescoring. ``dtype`` is the table's, float16 or bfloat16 (default: ``table_dtype``)."""

    def __init__(self, model, rows=None, shortlist: int = SHORTLIST, dtype: str | None = None,
                 exact=None):
        # Session 5 tried bfloat16 with the L1 bound alone: 8x wider than float16's, it did
        # not settle 127 of 151 steps. With the Cauchy-Schwarz term, bfloat16's bound leaves
        # a median of 1 and at most 13 rows to rescore on 96 real steps (float16's: 1 and 2).
        output = model.get_output_embeddings()
        self.weight = output.weight  # float32; only shortlisted rows are read per step
        n_rows = self.weight.shape[0]
        # ``exact``: the table as int8 values and group scales that give back its float32
        # values exactly (fastgen.exact_int8_groups), read instead of the float32 table.
        # Else built a block of rows at a time from ``rows`` (the checkpoint file): reading
        # the model's memory-mapped table whole would make all of it resident (and every
        # row the shortlist reads from that map stays resident: 183 MB after five questions).
        self.exact = exact
        if exact is not None:
            def rows(a: int, b: int) -> torch.Tensor:
                return dequantise(exact[0][a:b], exact[1][a:b])
        self.rows = rows or (lambda a, b: self.weight[a:b])
        self.dtype = dtype or table_dtype()
        self.roundoff, self.tiny = _ROUNDOFF[self.dtype], _TINY[self.dtype]
        # bfloat16: all positions of a pass in one product (``approximate``); float16: one
        # position at a time, and only up to the first rejected draft
        self.batched = self.dtype == "bfloat16"
        self.l1 = torch.empty(n_rows)
        self.l2 = torch.empty(n_rows)
        self.half = torch.empty(self.weight.shape, dtype=torch.float16) if not self.batched else None
        self.blocks: list[torch.Tensor] = []  # oneDNN-packed bfloat16 row blocks
        for start in range(0, n_rows, _PACK_ROWS):
            stop = min(n_rows, start + _PACK_ROWS)
            low = []
            for a in range(start, stop, _BLOCK):
                block = self.rows(a, min(stop, a + _BLOCK)).detach().float()
                self.l1[a:a + len(block)] = block.abs().sum(1)
                self.l2[a:a + len(block)] = block.norm(dim=1)
                if self.batched:
                    low.append(block.bfloat16())
                else:
                    self.half[a:a + len(block)] = block.half()
            if self.batched:
                self.blocks.append(torch.ops.mkldnn._reorder_linear_weight(torch.cat(low), 1))
        self.shortlist = min(shortlist, n_rows)
        self.softcap = getattr(model.config, "final_logit_softcapping", None)
        self.fallbacks = 0
        self.steps = 0
        self.drafted = self.accepted = 0  # prompt-lookup tokens checked and kept (greedy_tokens)

    def resident_bytes(self) -> int:
        """Memory of the low-precision table and the row norms."""
        tables = [self.half] if self.half is not None else self.blocks
        return sum(t.numel() * t.element_size() for t in tables + [self.l1, self.l2])

    def exact_rows(self, ids: torch.Tensor) -> torch.Tensor:
        """The float32 rows ``ids`` of the output layer."""
        if self.exact is None:
            return self.weight[ids]
        return dequantise(self.exact[0][ids], self.exact[1][ids])

    def approximate(self, hs: torch.Tensor) -> torch.Tensor:
        """Low-precision scores of every row for each hidden state in ``hs`` (P x d), as
        float32 (P x rows)."""
        if not self.batched:
            return torch.stack([(self.half @ h.half()).float() for h in hs])
        x = hs.bfloat16()
        return torch.cat([torch.ops.mkldnn._linear_pointwise(x, block, None, "none", [], "")
                          for block in self.blocks], dim=1).float()

    def _cap(self, x: torch.Tensor) -> torch.Tensor:
        return torch.tanh(x / self.softcap) * self.softcap if self.softcap else x

    def full(self, h: torch.Tensor) -> torch.Tensor:
        """Exact float32 logits of the hidden state ``h`` (1-D), through ``rows`` a block at
        a time: one product with the model's memory-mapped table would leave all 670 MB
        of it resident for good."""
        n = self.weight.shape[0]
        return self._cap(torch.cat([self.rows(a, min(n, a + _BLOCK)).float() @ h for a in range(0, n, _BLOCK)]))

    def next_token(self, h: torch.Tensor, seen: torch.Tensor | None, penalty: float,
                   banned: torch.Tensor | None = None, approx: torch.Tensor | None = None) -> int:
        """The greedy token after ``h``, with HF's repetition penalty on the ``seen`` ids and
        ``banned`` ids (e.g. end of text before ``min_new_tokens``) never chosen; ``approx``
        is ``approximate``'s row for ``h`` when the caller has it (it is changed here)."""
        self.steps += 1
        approx = self.approximate(h[None])[0] if approx is None else approx
        upper = approx + error_bound(self.l1, self.l2, h, approx, self.roundoff, self.tiny)
        if banned is not None:
            upper[banned] = float("-inf")
            approx[banned] = float("-inf")
        for size in (self.shortlist, max(self.shortlist, min(WIDER, len(approx)))):
            top = torch.topk(approx, size).indices
            exact = self._cap(self.exact_rows(top) @ h)
            if seen is not None and penalty != 1.0:
                hit = torch.isin(top, seen)
                exact = torch.where(hit & (exact > 0), exact / penalty, torch.where(hit, exact * penalty, exact))
            best = exact.max()
            rest = upper.clone()
            rest[top] = float("-inf")
            if best > self._cap(rest.max()):
                return int(top[exact == best].min())  # on a tie, the lowest id, as argmax does
            if size >= len(approx):
                break
        # a row outside the shortlist might still win: this step in full float32
        self.fallbacks += 1
        logits = self.full(h)
        if seen is not None and penalty != 1.0:
            vals = logits[seen]
            logits[seen] = torch.where(vals > 0, vals / penalty, vals * penalty)
        if banned is not None:
            logits[banned] = float("-inf")
        return int(torch.argmax(logits))

    def self_check(self, probes: int = 4, n_rows: int = 8192) -> float:
        """Largest low-precision error over its bound, on random hidden states (half of
        them with a few large dimensions, as real ones have) and ``n_rows`` rows of the
        table (read through ``rows``, like the constructor, so that the check does not
        make the whole memory-mapped table resident). Below 1 means the bound holds on this
        CPU's kernels (they accumulate in float32)."""
        n_rows = min(n_rows, self.l1.shape[0])
        exact = self.rows(0, n_rows).detach().float()
        gen = torch.Generator().manual_seed(0)
        hs = torch.randn(probes, exact.shape[1], generator=gen) * 3
        hs[probes // 2:, :4] *= 50  # outliers: the Cauchy-Schwarz side of the bound
        with torch.no_grad():
            approx = self.approximate(hs)[:, :n_rows]
            worst = 0.0
            for h, a in zip(hs, approx):
                bound = error_bound(self.l1[:n_rows], self.l2[:n_rows], h, a, self.roundoff, self.tiny)
                worst = max(worst, float(((exact @ h - a).abs() / bound).max()))
        return worst


def supports(model, config) -> str:
    """Why the shortlist loop cannot serve ``model`` ('' when it can)."""
    output = model.get_output_embeddings()
    if not isinstance(output, torch.nn.Linear) or output.bias is not None:
        return "the output layer is not a plain Linear layer"
    if output.weight.dtype != torch.float32:
        return f"the output layer is {output.weight.dtype}, not float32"
    if getattr(model.config, "is_encoder_decoder", False):
        return "encoder-decoder model"
    for name in _UNSUPPORTED:
        if getattr(config, name, None):
            return f"generation_config sets {name}"
    return ""


def draft(tokens: list[int], length: int, ngram: int = 2) -> list[int]:
    """Prompt lookup: the tokens that followed the last earlier occurrence of the sequence's
    final ``ngram`` tokens (a grounded answer quotes its passages, so what followed a
    phrase in the prompt often follows it again), up to ``length`` of them. (Falling back
    to 3- and 1-token phrases was measured: no gain.)"""
    if length <= 0 or len(tokens) <= ngram:
        return []
    tail = tokens[-ngram:]
    for start in range(len(tokens) - ngram - 1, -1, -1):
        if tokens[start:start + ngram] == tail:
            return tokens[start + ngram:start + ngram + length]
    return []


def greedy_tokens(model, head: ShortlistHead, input_ids: torch.Tensor, cache, max_new_tokens: int,
                  eos_ids: set[int], penalty: float = 1.0, min_new_tokens: int = 0,
                  lookahead: int = 0) -> Iterator[int]:
    """Token ids of a greedy continuation of ``input_ids`` (1 x n), starting from ``cache``
    (the KV cache of a prefix of ``input_ids``, or ``None``), as ``model.generate`` would
    with ``do_sample=False`` and ``repetition_penalty=penalty``.

    ``lookahead`` > 0 drafts up to that many tokens by prompt lookup (``draft``) and checks
    them in the same forward pass as the next token: each drafted token is kept only while
    it is the token greedy decoding picks at its position, so the output does not change;
    a step that accepts j drafted tokens yields j + 1 tokens for one pass over the weights."""
    from transformers import DynamicCache

    decoder = model.get_decoder()
    cache = cache if cache is not None else DynamicCache(config=model.config)
    if lookahead:
        cache.activate_past_recording()  # rejected draft positions are cropped off again
    done = cache.get_seq_length()
    tokens = input_ids[0].tolist()
    seen = torch.unique(input_ids[0])
    banned = torch.tensor(sorted(eos_ids), dtype=torch.long) if eos_ids else None
    step_ids = input_ids[:, done:]
    made = 0
    with torch.no_grad():
        while made < max_new_tokens:
            guess = draft(tokens, min(lookahead, max_new_tokens - made - 1))
            feed = torch.cat([step_ids, torch.tensor([guess], dtype=torch.long)], dim=1) if guess else step_ids
            out = decoder(input_ids=feed, cache=cache, use_cache=True)
            cache = getattr(out, "cache", None) or out.past_key_values
            hs = out.last_hidden_state[0, -(len(guess) + 1):]
            seens, seen_i = [], seen
            for i in range(len(guess) + 1):  # position i has seen the first i drafted tokens
                seens.append(seen_i)
                if i < len(guess) and not bool((seen_i == guess[i]).any()):
                    seen_i = torch.cat([seen_i, torch.tensor([guess[i]])])
            bans = [banned if made + i < min_new_tokens else None for i in range(len(guess) + 1)]
            # Position by position, stopping at the first miss. A bfloat16 table scores all
            # positions in one product (as fast as one); with float16 each position is a
            # pass over the table, so one after the first miss is not computed.
            approx = head.approximate(hs) if head.batched and len(hs) > 1 else None
            picked: list[int] = []
            for i in range(len(guess) + 1):
                picked.append(head.next_token(hs[i], seens[i], penalty, bans[i],
                                              None if approx is None else approx[i]))
                if i == len(guess) or picked[i] != guess[i]:
                    break
            kept = len(picked) - 1
            head.drafted += len(guess)
            head.accepted += kept
            if lookahead:
                cache.crop(-(len(guess) - kept) if kept < len(guess) else 0)
            for token in picked[:kept + 1]:
                yield token
                made += 1
                if token in eos_ids or made >= max_new_tokens:
                    return
                tokens.append(token)
                if not bool((seen == token).any()):
                    seen = torch.cat([seen, torch.tensor([token])])
            step_ids = torch.tensor([[picked[kept]]])
