"""Loading the in-process generator small and fast on a laptop CPU.

Measured on Gemma-3-270M (``tutor bench generation``, docs/performance.md): decoding a
token reads every weight once, so speed follows the bytes of weights. int8 dynamic
quantisation of the Linear layers (the tied 262k x 640 output layer included) reads a
quarter of float32, but changes the model's answers too much to be the default (see
``pick_precision``). bfloat16 halves memory and is converted from the float32 checkpoint
a block at a time, so that loading never holds both copies of the 670 MB table.

The fixed system part of the prompt is run through the model once; every answer starts
from a copy of its KV cache (``PrefixCache``).
"""

from __future__ import annotations

import copy
import gc
import logging
import threading
import warnings

import torch

from tutor.config import GENERATOR_PRECISIONS

log = logging.getLogger(__name__)

PRECISIONS = GENERATOR_PRECISIONS  # the generator_precision setting


def int8_supported() -> bool:
    engines = torch.backends.quantized.supported_engines
    return any(e in engines for e in ("x86", "fbgemm", "qnnpack"))


def pick_precision(precision: str) -> str:
    """``auto`` is float32: its tokens are the model's own, and through the certified
    shortlist output layer (tutor/answer/shortlist.py) and oneDNN layers it decodes
    Gemma-3-270M almost 3x faster than bfloat16 even on a CPU with bfloat16 arithmetic (58.6
    against 19.6 tokens/s on an AVX512-BF16 EPYC, docs/performance.md); on an AVX2 laptop
    bfloat16 is emulated and slower still. bfloat16 saves memory, on request (for a large model on a CPU that
    computes in bfloat16 it is the faster choice). int8
    is faster and smaller but only on request: on Gemma-3-270M, with torch's dynamic int8
    (activations quantised to 7 bits on x86), the next token agrees with float32 at 43 %
    of positions against 97 % for bfloat16 (docs/performance.md); that is a different
    model, not a faster one."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision {precision!r} is not one of {', '.join(PRECISIONS)}")
    if precision == "int8" and not int8_supported():
        raise ValueError("this torch has no int8 kernels for this CPU")
    return "float32" if precision == "auto" else precision


def load_causal_lm(path: str, precision: str, packed: bool = True):
    """The model at ``path`` in ``precision`` (not ``auto``), in eval mode; a float32
    model's Linear layers multiply through oneDNN when ``packed`` (``pack_linear_layers``)."""
    from transformers import AutoModelForCausalLM

    # int8 is quantised from float32: quantize_dynamic only takes float weights, and
    # from float32 (the provisioned checkpoint) nothing is rounded twice.
    # Loaded as float32, which maps the checkpoint file instead of reading it; then
    # converted. Loading straight in bfloat16 reads the whole file in and peaks at 2 GB.
    model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32)
    model.eval()
    if precision == "bfloat16":
        to_bfloat16(model, path)
    if precision == "int8":
        embedding = model.get_input_embeddings()
        shape = tuple(getattr(embedding, "weight", torch.empty(0)).shape)
        del embedding
        quantize_int8(model, checkpoint_rows(path, shape) if len(shape) == 2 else None)
    if precision == "float32" and packed:
        pack_linear_layers(model, path)
    return model


def onednn_linear_available() -> bool:
    return torch.backends.mkldnn.is_available() and hasattr(torch.ops.mkldnn, "_linear_pointwise") \
        and hasattr(torch.ops.mkldnn, "_reorder_linear_weight")


class PackedLinear(torch.nn.Module):
    """A float32 Linear layer whose weight is kept in oneDNN's blocked layout and
    multiplied by oneDNN (the kernels torch.compile's CPU backend calls). For a one-token
    step torch calls MKL's float32 matrix-vector product, which runs on one core: on
    Gemma-3-270M's layers it read 17 GB/s on two cores, oneDNN 30 GB/s (13.5 against
    23.5 ms a pass over the 401 MB of layer weights), and a 1,000-token prompt takes
    1.26 s instead of 1.84 s. Same float32 weights and arithmetic; the sums are added in
    another order (differences of a few float32 roundoffs, checked at packing)."""

    def __init__(self, packed: torch.Tensor, bias: torch.Tensor | None, in_features: int,
                 out_features: int):
        super().__init__()
        self.packed = packed  # layout torch._mkldnn: not a parameter, nothing trains it
        self.bias = bias
        self.in_features, self.out_features = in_features, out_features

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.ops.mkldnn._linear_pointwise(x, self.packed, self.bias, "none", [], "")

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, oneDNN float32"


def pack_linear_layers(model, path: str | None = None) -> int:
    """In place: each float32 ``nn.Linear`` but the output layer (which the shortlist
    reads row by row) becomes a ``PackedLinear``; returns how many did. Weights are read
    from the checkpoint at ``path`` where it has them, so that the model's memory map of
    the same file is never touched (it would stay resident beside the packed copy). A
    layer whose oneDNN product strays from torch's by more than float32 summation allows
    (4 K roundoffs of the sum of |terms|, on random inputs) is left as it was."""
    if not onednn_linear_available():
        log.info("oneDNN linear layers not available in this torch; MKL's are used")
        return 0
    output = model.get_output_embeddings()
    targets = {name: module for name, module in model.named_modules()
               if type(module) is torch.nn.Linear and module is not output
               and module.weight.dtype == torch.float32}
    if not targets:
        return 0
    stored = _checkpoint_tensors(path, {f"{name}.weight" for name in targets}) if path else {}
    packed = 0
    gen = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for name, module in targets.items():
            key = f"{name}.weight"
            weight = stored[key]() if key in stored else module.weight.detach()
            if tuple(weight.shape) != tuple(module.weight.shape) or weight.dtype != torch.float32:
                continue
            bias = None if module.bias is None else module.bias.detach().clone()
            layer = PackedLinear(torch.ops.mkldnn._reorder_linear_weight(weight, 1), bias,
                                 module.in_features, module.out_features)
            x = torch.randn(2, module.in_features, generator=gen)
            exact = torch.nn.functional.linear(x, weight, bias)
            slack = 4 * module.in_features * 2.0 ** -24 * (x.abs() @ weight.abs().T) + 1e-30
            if not bool(((layer(x) - exact).abs() <= slack).all()):
                log.warning("oneDNN linear layer %s strays from torch's product; left as it was", name)
                continue
            parent_name, _, child = name.rpartition(".")
            setattr(model.get_submodule(parent_name) if parent_name else model, child, layer)
            packed += 1
    gc.collect()
    log.info("%d of %d linear layers multiply through oneDNN", packed, len(targets))
    return packed


def _checkpoint_tensors(folder: str, keys: set[str]) -> dict:
    """For each of ``keys`` the checkpoint's safetensors files hold, a function that reads
    that tensor from the file (into memory of its own; the file is mapped only while it is
    read)."""
    from pathlib import Path

    from safetensors import safe_open

    found = {}
    for file in sorted(Path(folder).glob("*.safetensors")):
        with safe_open(str(file), framework="pt") as handle:
            for key in keys & set(handle.keys()):
                def read(file=str(file), key=key) -> torch.Tensor:
                    with safe_open(file, framework="pt") as h:
                        return h.get_tensor(key).float().contiguous()
                found[key] = read
    return found


def to_bfloat16(model, path: str) -> None:
    """In place, the embedding table (tied output layer included) from row blocks of
    the checkpoint, then the rest, which is small."""
    embedding, output = model.get_input_embeddings(), model.get_output_embeddings()
    weight = getattr(embedding, "weight", None)
    rows = checkpoint_rows(path, tuple(weight.shape)) if weight is not None and weight.dim() == 2 else None
    if rows is not None:
        table = torch.empty(weight.shape, dtype=torch.bfloat16)
        for start in range(0, weight.shape[0], 16384):
            stop = min(weight.shape[0], start + 16384)
            table[start:stop] = rows(start, stop).to(torch.bfloat16)
        tied = output is not None and output.weight.data_ptr() == weight.data_ptr()
        embedding.weight = torch.nn.Parameter(table, requires_grad=False)
        if tied:
            output.weight = embedding.weight
    del weight, embedding, output
    # parameters only: buffers (rotary frequencies, Gemma's embedding scale) stay float32,
    # as from_pretrained(dtype=bfloat16) keeps them; rounded, they change the answers
    for param in model.parameters():
        if param.dtype == torch.float32:
            param.data = param.data.to(torch.bfloat16)
    gc.collect()


def int8_rows(rows, n_rows: int, chunk: int = 16384) -> tuple[torch.Tensor, torch.Tensor]:
    """Symmetric int8 with one float scale per row of the table ``rows(start, stop)``
    returns, a block of rows at a time so that a 262k-row table never needs a second
    float copy of itself."""
    q = scale = None
    for start in range(0, n_rows, chunk):
        block = rows(start, min(n_rows, start + chunk)).detach().float()
        if q is None:
            q = torch.empty((n_rows, block.shape[1]), dtype=torch.int8)
            scale = torch.empty(n_rows, 1)
        s = (block.abs().amax(dim=1, keepdim=True) / 127).clamp(min=1e-12)
        q[start:start + len(block)] = torch.round(block / s).to(torch.int8)
        scale[start:start + len(block)] = s
    return q, scale


def checkpoint_rows(folder: str, shape: tuple[int, ...]):
    """Row blocks of the embedding table read straight from the checkpoint file, or
    ``None``. The model's own copy is a memory map of the same file: reading it through
    the model would make all 670 MB of it resident until the map is dropped, while each
    block read here is mapped and let go on its own."""
    from pathlib import Path

    from safetensors import safe_open

    for file in sorted(Path(folder).glob("*.safetensors")):
        with safe_open(str(file), framework="pt") as handle:
            for key in handle.keys():
                if "embed_tokens" in key and tuple(handle.get_slice(key).get_shape()) == tuple(shape):
                    def rows(start: int, stop: int, file=str(file), key=key) -> torch.Tensor:
                        with safe_open(file, framework="pt") as h:
                            return h.get_slice(key)[start:stop]
                    return rows
    return None


def dequantise(q: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    """Rows of int8 values times their scales, as float32: one scale per row (``scale``
    n x 1) or one per each of G equal groups of a row (n x G)."""
    return (q.float().unflatten(-1, (scale.shape[-1], -1)) * scale.float().unsqueeze(-1)).flatten(-2)


def exact_int8_groups(rows, n_rows: int, group: int = 32, chunk: int = 4096):
    """(int8 values, float16 scale per ``group`` values of a row) that give back every
    float32 value of the table ``rows(start, stop)`` exactly, or ``None`` when some group
    is not of that form. The embedded Gemma's table is (it was dequantised from GGUF
    Q8_0: value = float16 scale x int8), and then 178 MB hold what the float32 table holds
    in 670: a product of an 11-bit and an 8-bit number is exact in float32."""
    q = scales = None
    for start in range(0, n_rows, chunk):
        block = rows(start, min(n_rows, start + chunk)).detach().float()
        if block.shape[1] % group:
            return None
        g = block.unflatten(1, (-1, group))
        d = (g.abs().amax(2) / 127).half()
        values = torch.round(g / d.float().clamp(min=1e-30).unsqueeze(2))
        if values.abs().max() > 127 or not torch.equal(values * d.float().unsqueeze(2), g):
            return None
        if q is None:
            q = torch.empty((n_rows, block.shape[1]), dtype=torch.int8)
            scales = torch.empty((n_rows, d.shape[1]), dtype=torch.float16)
        q[start:start + len(block)] = values.flatten(1).to(torch.int8)
        scales[start:start + len(block)] = d
    return None if q is None else (q, scales)


class Int8Embedding(torch.nn.Module):
    """An embedding table stored as int8 rows with float scales (one per row, or one per
    group of a row: ``dequantise``); a lookup dequantises only the rows it reads. Keeps a
    Gemma-style ``embed_scale``."""

    def __init__(self, qweight: torch.Tensor, scale: torch.Tensor,
                 embed_scale: torch.Tensor | None = None, padding_idx: int | None = None):
        super().__init__()
        self.register_buffer("qweight", qweight)
        self.register_buffer("scale", scale)
        self.register_buffer("embed_scale", None if embed_scale is None else embed_scale.float().clone())
        self.num_embeddings, self.embedding_dim = qweight.shape
        self.padding_idx = padding_idx

    def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
        out = dequantise(self.qweight[input_ids], self.scale[input_ids])
        return out * self.embed_scale if self.embed_scale is not None else out


def int8_linear(qweight: torch.Tensor, scale: torch.Tensor, bias: torch.Tensor | None):
    """A dynamic int8 Linear layer from int8 rows and their scales (the same numbers as
    the embedding table's when the two are tied)."""
    from torch.ao.nn.quantized.dynamic import Linear

    out_features, in_features = qweight.shape
    with warnings.catch_warnings():  # deprecated, still the only int8 matmul in torch itself
        warnings.filterwarnings("ignore", message=".*quantized tensor creation functions.*")
        weight = torch._make_per_channel_quantized_tensor(
            qweight, scale.view(-1).double(), torch.zeros(out_features, dtype=torch.long), 0)
    # Built 1 x 1 and then given the weight: built at full size, it would first pack a
    # 262k x 640 placeholder of its own.
    layer = Linear(1, 1, bias_=bias is not None, dtype=torch.qint8)
    layer.set_weight_bias(weight, None if bias is None else bias.detach().float().clone())
    layer.in_features, layer.out_features = in_features, out_features
    return layer


def quantize_int8(model, rows=None) -> None:
    """In place: the embedding table to int8 rows (and the output layer tied to it from
    the same rows), every other Linear layer to dynamic int8 with one scale per output
    channel (per-tensor scales lose more accuracy), then the last float tensors copied
    out of the checkpoint's memory map so that the mapped file can be let go.
    ``rows(start, stop)`` reads the embedding table (default: from the model)."""
    from torch.ao.quantization import per_channel_dynamic_qconfig, quantize_dynamic

    embedding, output = model.get_input_embeddings(), model.get_output_embeddings()
    if isinstance(embedding, torch.nn.Embedding):
        tied = output is not None and output.weight.data_ptr() == embedding.weight.data_ptr()
        weight = embedding.weight
        qweight, scale = int8_rows(rows or (lambda a, b: weight[a:b]), weight.shape[0])
        del weight
        model.set_input_embeddings(Int8Embedding(qweight, scale, getattr(embedding, "embed_scale", None),
                                                 embedding.padding_idx))
        if tied:
            model.set_output_embeddings(int8_linear(qweight, scale, output.bias))
        del embedding, output
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*quantized tensor creation functions.*")
        quantize_dynamic(model, {torch.nn.Linear: per_channel_dynamic_qconfig}, dtype=torch.qint8,
                         inplace=True)
    for module in model.modules():
        for name, param in module.named_parameters(recurse=False):
            param.data = param.data.clone()
        for name, buf in module.named_buffers(recurse=False):
            module._buffers[name] = buf.clone()
    gc.collect()


def weight_bytes_in_memory(model) -> int:
    """Bytes the model's weights take now, quantised layers included."""
    total = sum(t.numel() * t.element_size() for t in model.parameters())
    total += sum(t.numel() * t.element_size() for t in model.buffers())
    for module in model.modules():
        if isinstance(module, PackedLinear):
            total += module.packed.numel() * module.packed.element_size()
            total += module.bias.numel() * module.bias.element_size() if module.bias is not None else 0
        if isinstance(module, torch.ao.nn.quantized.dynamic.Linear):
            weight = module.weight()
            total += weight.numel() * weight.element_size()
            if weight.qscheme() in (torch.per_channel_affine, torch.per_channel_symmetric):
                total += weight.q_per_channel_scales().numel() * 8
            bias = module.bias()
            total += bias.numel() * bias.element_size() if bias is not None else 0
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
