"""The in-process generator's speed-ups (tutor/answer/fastgen.py): the precision
setting, int8 quantisation and the prompt cache of the system part. A tiny random
Gemma-3 (built here, with the provisioned Gemma tokenizer) keeps these fast; the real
Gemma runs in the integration layer. No timed assertions."""

from __future__ import annotations

import shutil

import pytest
from conftest import model_cache

from tutor.answer import fastgen
from tutor.answer.generators import TransformersGenerator, make_generator
from tutor.config import SettingError, Settings

GEMMA = model_cache() / "gemma-3-270m"
has_gemma = pytest.mark.skipif(not (GEMMA / "tokenizer.json").exists(),
                               reason="Gemma not provisioned (tutor models)")
MESSAGES = [{"role": "system", "content": "You are Ustaz, a patient tutor. Answer only from the passages. "
                                          "Cite every sentence as [n]."},
            {"role": "user", "content": "Passages:\n\n[1] Photosynthesis makes sugar from light.\n\n"
                                        "Question: What does photosynthesis make?"}]


def test_precision_setting_choices_match_the_loader():
    field = next(f for f in Settings.fields() if f.name == "generator_precision")
    assert field.metadata["choices"] == fastgen.PRECISIONS
    assert Settings.load(env={}).generator_precision == "auto"
    assert Settings.load(env={"TUTOR_GENERATOR_PRECISION": "bfloat16"}).generator_precision == "bfloat16"
    with pytest.raises(SettingError) as info:
        Settings.load(env={"TUTOR_GENERATOR_PRECISION": "int4"})
    assert info.value.setting == "generator_precision"


def test_auto_is_float32_and_int8_needs_int8_kernels(monkeypatch):
    monkeypatch.setattr(fastgen, "int8_supported", lambda: True)
    # the shortlist makes float32 the faster one on any CPU; int8 changes answers: only on request
    assert fastgen.pick_precision("auto") == "float32"
    assert fastgen.pick_precision("int8") == "int8"
    monkeypatch.setattr(fastgen, "int8_supported", lambda: False)
    with pytest.raises(ValueError):
        fastgen.pick_precision("int8")
    with pytest.raises(ValueError):
        fastgen.pick_precision("int4")


def test_int8_rows_round_trip_and_shared_prefix():
    import torch

    weight = torch.randn(1000, 64)
    q, scale = fastgen.int8_rows(lambda a, b: weight[a:b], 1000, chunk=300)
    assert q.dtype == torch.int8 and scale.shape == (1000, 1)
    error = (q.float() * scale - weight).abs().max(dim=1).values
    assert bool((error <= scale.view(-1) / 2 + 1e-6).all())  # at most half a step per row
    assert fastgen.shared_prefix([1, 2, 3, 4, 5], [1, 2, 3, 9]) == [1, 2]
    assert fastgen.shared_prefix([7, 8], [1, 2]) == []


def _tiny_gemma(folder, hidden: int, seed: int, table=None) -> str:
    """A 2-layer random Gemma-3 with the real tokenizer (262k vocabulary, tied output),
    saved in ``folder``; ``table(model)`` may rewrite its weights first."""
    import torch
    from transformers import Gemma3ForCausalLM, Gemma3TextConfig

    for name in ("tokenizer.json", "tokenizer_config.json"):
        shutil.copy(GEMMA / name, folder / name)
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
def tiny_gemma(tmp_path_factory):
    return _tiny_gemma(tmp_path_factory.mktemp("tiny-gemma"), 32, 0)


@has_gemma
def test_int8_generator_quantises_every_layer_and_writes_text(tiny_gemma):
    import torch

    gen32 = TransformersGenerator(tiny_gemma, precision="float32")
    gen8 = TransformersGenerator(tiny_gemma, precision="int8")
    assert gen8.precision == "int8"
    assert isinstance(gen8.model.get_input_embeddings(), fastgen.Int8Embedding)
    assert not any(isinstance(m, torch.nn.Linear) for m in gen8.model.modules())
    # the tied table is stored twice in int8 (lookup rows, packed output layer): still smaller
    assert fastgen.weight_bytes_in_memory(gen8.model) < 0.7 * fastgen.weight_bytes_in_memory(gen32.model)
    text = gen8.generate(MESSAGES, max_new_tokens=6)
    assert text.strip()
    # int8 changes the numbers a little, not the model: the logits stay close to float32
    ids = gen8._inputs(MESSAGES)["input_ids"]
    with torch.no_grad():
        a, b = gen32.model(input_ids=ids).logits[0, -1], gen8.model(input_ids=ids).logits[0, -1]
    assert float(torch.nn.functional.cosine_similarity(a, b, dim=0)) > 0.98


@has_gemma
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

    monkeypatch.setattr("tutor.answer.generators.TransformersGenerator", Fake)
    settings = Settings.load(env={}, data_dir=str(tmp_path), generator_precision="float32", threads=1)
    make_generator(SimpleNamespace(kind="transformers", location="/m"), settings)
    assert seen == {"path": "/m", "threads": 1, "precision": "float32"}


@pytest.mark.integration
@has_gemma
def test_real_gemma_int8_answers_and_stays_small():
    gen = TransformersGenerator(str(GEMMA), threads=2, precision="int8")
    assert fastgen.weight_bytes_in_memory(gen.model) < 600e6  # float32: 1 072 MB
    text = gen.generate(MESSAGES, max_new_tokens=12)
    assert len(text.split()) >= 3, text


def test_admission_is_kept_per_precision(tmp_path):
    """A generator admitted in bfloat16 is not thereby admitted in int8."""
    from types import SimpleNamespace

    from tutor.answer.admission import admission_key

    resolved = SimpleNamespace(kind="transformers", spec="builtin:gemma-3-270m")
    keys = {p: admission_key(resolved, Settings.load(env={}, generator_precision=p))
            for p in ("bfloat16", "int8", "float32")}
    assert len(set(keys.values())) == 3 and keys["int8"] == "builtin:gemma-3-270m [int8]"
    server = SimpleNamespace(kind="openai", spec="openai:http://x/v1")
    assert admission_key(server, Settings.load(env={})) == "openai:http://x/v1"


@has_gemma
def _bfloat16_table_works() -> bool:
    import torch

    return fastgen.onednn_linear_available() and torch.ops.mkldnn._is_mkldnn_bf16_supported()


@pytest.mark.parametrize("dtype", ["float16", pytest.param("bfloat16", marks=pytest.mark.skipif(
    not _bfloat16_table_works(), reason="no oneDNN bfloat16 here"))])
def test_shortlist_decoding_gives_the_tokens_of_generate(tiny_gemma, monkeypatch, dtype):
    """The certified shortlist output layer is exact, with either table: the same greedy
    tokens (repetition penalty included) as ``model.generate``, also when every step must
    fall back to the full float32 layer, and from a prompt-cache copy."""
    import torch

    from tutor.answer.shortlist import ShortlistHead, greedy_tokens

    gen = TransformersGenerator(tiny_gemma, precision="float32")
    assert gen.head is not None
    gen.head = ShortlistHead(gen.model, dtype=dtype)
    assert gen.head.batched == (dtype == "bfloat16") and gen.head.self_check() < 0.5
    ids = gen._inputs(MESSAGES)["input_ids"]
    with torch.no_grad():
        want = gen.model.generate(input_ids=ids, attention_mask=torch.ones_like(ids), max_new_tokens=12,
                                  min_new_tokens=12, do_sample=False, repetition_penalty=1.1)[0, ids.shape[1]:]
    eos = {gen.model.generation_config.eos_token_id or 1}
    got = list(greedy_tokens(gen.model, gen.head, ids, None, 12, eos, 1.1, min_new_tokens=12))
    assert got == want.tolist()
    assert gen.head.fallbacks < gen.head.steps  # the shortlist decided most steps itself
    from tutor.answer import shortlist

    gen.head.shortlist = 1  # now the certificate fails almost always: the full layer decides
    monkeypatch.setattr(shortlist, "WIDER", 1)
    gen.head.fallbacks = 0
    again = list(greedy_tokens(gen.model, gen.head, ids, None, 12, eos, 1.1, min_new_tokens=12))
    assert again == got and gen.head.fallbacks > 0
    gen.head.shortlist = 128
    monkeypatch.undo()
    # drafting from the prompt (prompt lookup) checks guesses, it does not change the answer
    repeat = gen.tokenizer("one two three four five six one two three four five six one two three four "
                           "five six one two", return_tensors="pt")["input_ids"]
    with torch.no_grad():
        want = gen.model.generate(input_ids=repeat, attention_mask=torch.ones_like(repeat), max_new_tokens=16,
                                  min_new_tokens=16, do_sample=False, repetition_penalty=1.1)[0, repeat.shape[1]:]
    for lookahead in (0, 3, 8):
        gen.head.drafted = gen.head.accepted = 0
        got = list(greedy_tokens(gen.model, gen.head, repeat, None, 16, eos, 1.1, min_new_tokens=16,
                                 lookahead=lookahead))
        assert got == want.tolist(), lookahead
        assert (gen.head.drafted > 0) == (lookahead > 0)
    text_shortlist = gen.generate(MESSAGES, max_new_tokens=10)  # with the system part's cache
    head, gen.head = gen.head, None
    assert gen.generate(MESSAGES, max_new_tokens=10) == text_shortlist  # through model.generate
    gen.head = head


def test_packed_linear_layers_compute_the_same_model(tiny_gemma):
    """float32 Linear layers multiplied by oneDNN: every layer but the output one is
    packed, from the checkpoint file; logits agree with MKL's to float32 roundoff, and the
    greedy answer is the same."""
    import torch

    packed = TransformersGenerator(tiny_gemma, precision="float32")
    plain = TransformersGenerator(tiny_gemma, precision="float32", packed=False)
    layers = [m for m in packed.model.modules() if isinstance(m, fastgen.PackedLinear)]
    if not fastgen.onednn_linear_available():
        assert not layers
        pytest.skip("this torch has no oneDNN linear kernels")
    linear = [m for m in plain.model.modules() if type(m) is torch.nn.Linear]
    assert len(layers) == len(linear) - 1  # all but the output layer
    assert type(packed.model.get_output_embeddings()) is torch.nn.Linear
    assert fastgen.weight_bytes_in_memory(packed.model) == fastgen.weight_bytes_in_memory(plain.model)
    ids = packed._inputs(MESSAGES)["input_ids"]
    with torch.no_grad():
        a, b = packed.model(input_ids=ids).logits[0], plain.model(input_ids=ids).logits[0]
    torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5)
    assert packed.generate(MESSAGES, max_new_tokens=10) == plain.generate(MESSAGES, max_new_tokens=10)


def test_a_layer_that_strays_is_not_packed(tiny_gemma, monkeypatch):
    import torch

    if not fastgen.onednn_linear_available():
        pytest.skip("this torch has no oneDNN linear kernels")
    real = torch.ops.mkldnn._linear_pointwise
    monkeypatch.setattr(fastgen.PackedLinear, "forward", lambda self, x: real(
        x, self.packed, self.bias, "none", [], "") * (1 + 1e-3))  # a kernel 0.1 % off
    gen = TransformersGenerator(tiny_gemma, precision="float32")
    assert not any(isinstance(m, fastgen.PackedLinear) for m in gen.model.modules())


@pytest.fixture(scope="module")
def tiny_gemma_q8(tmp_path_factory):
    """The tiny Gemma with its tied table made of int8 values x one float16 scale per 32
    (as a table dequantised from GGUF Q8_0 is)."""
    import torch

    def q8_table(model):
        q = torch.randint(-127, 128, (262144, 64)).float()
        q[:, 0], q[:, 32] = 127, -127  # Q8_0's scale is the group's largest value / 127
        d = (torch.rand(262144, 2) * 0.01 + 1e-3).half().float()
        with torch.no_grad():
            model.get_input_embeddings().weight.copy_((q.view(-1, 2, 32) * d[..., None]).view(-1, 64))

    return _tiny_gemma(tmp_path_factory.mktemp("tiny-gemma-q8"), 64, 1, q8_table)


@has_gemma
def test_an_exact_int8_table_replaces_the_float32_one_and_changes_nothing(tiny_gemma_q8, tiny_gemma):
    import torch

    from tutor.answer.shortlist import greedy_tokens

    gen = TransformersGenerator(tiny_gemma_q8, precision="float32")
    plain = TransformersGenerator(tiny_gemma_q8, precision="float32", shortlist=False)
    assert isinstance(gen.model.get_input_embeddings(), fastgen.Int8Embedding)
    assert gen.head is not None and gen.head.exact is not None
    ids = gen._inputs(MESSAGES)["input_ids"]
    table = plain.model.get_input_embeddings()
    assert torch.equal(gen.model.get_input_embeddings()(ids), table(ids))  # embed_scale included
    rows = torch.tensor([0, 5, 262143])
    assert torch.equal(gen.head.exact_rows(rows), table.weight[rows])
    with torch.no_grad():
        want = plain.model.generate(input_ids=ids, attention_mask=torch.ones_like(ids), max_new_tokens=12,
                                    min_new_tokens=12, do_sample=False, repetition_penalty=1.1)[0, ids.shape[1]:]
    eos = {gen.model.generation_config.eos_token_id or 1}
    assert list(greedy_tokens(gen.model, gen.head, ids, None, 12, eos, 1.1, min_new_tokens=12)) == want.tolist()
    # a table that is not of that form keeps its float32 lookups
    other = TransformersGenerator(tiny_gemma, precision="float32")
    assert type(other.model.get_input_embeddings()) is not fastgen.Int8Embedding and other.head.exact is None


def test_a_table_that_fails_its_check_gives_way_to_float16_then_to_none(tiny_gemma, monkeypatch):
    from tutor.answer import shortlist

    monkeypatch.setattr(shortlist, "table_dtype", lambda: "bfloat16" if _bfloat16_table_works() else "float16")
    monkeypatch.setattr(shortlist.ShortlistHead, "self_check",
                        lambda self, *a, **k: 1.0 if self.dtype == "bfloat16" else 0.1)
    assert TransformersGenerator(tiny_gemma, precision="float32").head.dtype == "float16"
    monkeypatch.setattr(shortlist.ShortlistHead, "self_check", lambda self, *a, **k: 1.0)
    assert TransformersGenerator(tiny_gemma, precision="float32").head is None


def test_shortlist_is_not_used_where_it_cannot_be_exact():
    from types import SimpleNamespace

    import torch

    from tutor.answer.shortlist import supports

    class Model(torch.nn.Module):
        def __init__(self, bias=False, dtype=torch.float32):
            super().__init__()
            self.out = torch.nn.Linear(4, 10, bias=bias, dtype=dtype)
            self.config = SimpleNamespace()

        def get_output_embeddings(self):
            return self.out

    plain = SimpleNamespace()
    assert supports(Model(), plain) == ""
    assert "Linear" in supports(Model(bias=True), plain)
    assert "bfloat16" in supports(Model(dtype=torch.bfloat16), plain)
    assert "no_repeat_ngram_size" in supports(Model(), SimpleNamespace(no_repeat_ngram_size=3))
