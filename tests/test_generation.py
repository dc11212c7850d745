"""The in-process generator (tutor/generation/): the precision setting, bfloat16 loading and
the prompt cache of the system part. A tiny random Gemma-3 (built here, with the embedded
Gemma's tokenizer) keeps these fast; the real Gemma runs in the integration layer."""

from __future__ import annotations

import shutil

import pytest

from tutor.config import SettingError, Settings
from tutor.generation import loading
from tutor.generation.generators import TransformersGenerator, make_generator

MESSAGES = [{"role": "system", "content": "You are Ustaz, a patient tutor. Answer only from the passages. "
                                          "Cite every sentence as [n]."},
            {"role": "user", "content": "Passages:\n\n[1] Photosynthesis makes sugar from light.\n\n"
                                        "Question: What does photosynthesis make?"}]


def test_precision_setting_choices_match_the_loader():
    field = next(f for f in Settings.fields() if f.name == "generator_precision")
    assert field.metadata["choices"] == loading.PRECISIONS
    assert Settings.load(env={}).generator_precision == "auto"
    assert Settings.load(env={"TUTOR_GENERATOR_PRECISION": "bfloat16"}).generator_precision == "bfloat16"
    with pytest.raises(SettingError) as info:
        Settings.load(env={"TUTOR_GENERATOR_PRECISION": "int4"})
    assert info.value.setting == "generator_precision"


def test_auto_is_float32_and_unknown_precisions_are_refused():
    assert loading.pick_precision("auto") == "float32"
    assert loading.pick_precision("bfloat16") == "bfloat16"
    for wrong in ("int8", "int4", ""):
        with pytest.raises(ValueError):
            loading.pick_precision(wrong)


def test_shared_prefix_leaves_the_last_shared_token_out():
    assert loading.shared_prefix([1, 2, 3, 4, 5], [1, 2, 3, 9]) == [1, 2]
    assert loading.shared_prefix([7, 8], [1, 2]) == []


def _tiny_gemma(gemma, folder, hidden: int, seed: int, table=None) -> str:
    """A 2-layer random Gemma-3 with the real tokenizer (262k vocabulary, tied output),
    saved in ``folder``; ``table(model)`` may rewrite its weights first."""
    import torch
    from transformers import Gemma3ForCausalLM, Gemma3TextConfig

    for name in ("tokenizer.json", "tokenizer_config.json"):
        shutil.copy(gemma / name, folder / name)
    torch.manual_seed(seed)
    config = Gemma3TextConfig(vocab_size=262144, hidden_size=hidden, intermediate_size=64, num_hidden_layers=2,
                              num_attention_heads=2, num_key_value_heads=1, head_dim=16,
                              sliding_window=16, tie_word_embeddings=True)
    model = Gemma3ForCausalLM(config)
    if table is not None:
        table(model)
    model.save_pretrained(folder)
    return str(folder)


@pytest.fixture(scope="module")
def tiny_gemma(gemma_folder, tmp_path_factory):
    return _tiny_gemma(gemma_folder, tmp_path_factory.mktemp("tiny-gemma"), 32, 0)


@pytest.mark.integration  # the embedded Gemma's tokenizer (converted on first use)
def test_bfloat16_halves_the_weights_and_keeps_the_buffers(tiny_gemma):
    import torch

    gen32 = TransformersGenerator(tiny_gemma, precision="float32")
    gen16 = TransformersGenerator(tiny_gemma, precision="bfloat16")
    assert {p.dtype for p in gen16.model.parameters()} == {torch.bfloat16}
    assert all(b.dtype != torch.bfloat16 for b in gen16.model.buffers())
    ratio = loading.weight_bytes_in_memory(gen16.model) / loading.weight_bytes_in_memory(gen32.model)
    assert 0.45 < ratio < 0.6
    ids = gen16._inputs(MESSAGES)["input_ids"]
    with torch.no_grad():
        a, b = gen32.model(input_ids=ids).logits[0, -1], gen16.model(input_ids=ids).logits[0, -1].float()
    assert float(torch.nn.functional.cosine_similarity(a, b, dim=0)) > 0.98
    assert gen16.generate(MESSAGES, max_new_tokens=4).strip()


@pytest.mark.integration
def test_prompt_cache_of_the_system_part_changes_nothing_in_the_answer(tiny_gemma):
    gen = TransformersGenerator(tiny_gemma, precision="float32")
    gen.reuse_prefix = False
    plain = gen.generate(MESSAGES, max_new_tokens=8)
    gen.reuse_prefix = True
    first, again = gen.generate(MESSAGES, max_new_tokens=8), gen.generate(MESSAGES, max_new_tokens=8)
    assert plain == first == again
    assert len(gen.prefix_cache._caches) == 1
    other = [MESSAGES[0], {"role": "user", "content": "Question: What is light?"}]
    ids = gen._inputs(other)["input_ids"][0].tolist()
    assert gen.prefix_cache.start(ids) is not None  # the same system part is reused


def test_make_generator_passes_the_precision_setting(monkeypatch, tmp_path):
    from types import SimpleNamespace

    seen = {}

    class Fake:
        def __init__(self, path, threads=0, precision="auto"):
            seen.update(path=path, threads=threads, precision=precision)

    monkeypatch.setattr("tutor.generation.generators.TransformersGenerator", Fake)
    settings = Settings.load(env={}, data_dir=str(tmp_path), generator_precision="float32", threads=1)
    make_generator(SimpleNamespace(kind="transformers", location="/m"), settings)
    assert seen == {"path": "/m", "threads": 1, "precision": "float32"}


@pytest.mark.integration
def test_real_gemma_in_bfloat16_answers_in_half_the_memory(gemma_folder):
    gen = TransformersGenerator(str(gemma_folder), threads=2, precision="bfloat16")
    assert loading.weight_bytes_in_memory(gen.model) < 600e6  # float32: 1 072 MB
    text = gen.generate(MESSAGES, max_new_tokens=12)
    assert len(text.split()) >= 3, text


def test_admission_is_kept_per_precision(tmp_path):
    """A generator admitted in float32 is not thereby admitted in bfloat16."""
    from types import SimpleNamespace

    from tutor.answer.admission import admission_key

    resolved = SimpleNamespace(kind="transformers", spec="builtin:gemma-3-270m")
    keys = {p: admission_key(resolved, Settings.load(env={}, generator_precision=p))
            for p in ("bfloat16", "auto", "float32")}
    assert keys["auto"] == keys["float32"] == "builtin:gemma-3-270m [float32]"
    assert keys["bfloat16"] == "builtin:gemma-3-270m [bfloat16]"
    server = SimpleNamespace(kind="openai", spec="openai:http://x/v1")
    assert admission_key(server, Settings.load(env={})) == "openai:http://x/v1"
