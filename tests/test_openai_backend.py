"""The openai backend against a real server process (tutor.generation.llm_server serving the real
Gemma-3-270M over HTTP with server-sent events): streaming, and a clean fallback when the
server is down or goes away mid-answer."""

import os
import socket
import subprocess
import sys
import time

import httpx
import pytest
from conftest import model_cache

from tutor.generation.generators import GeneratorError, OpenAIGenerator

pytestmark = pytest.mark.integration

MESSAGES = [{"role": "system", "content": "Answer briefly."},
            {"role": "user", "content": "Passages:\n[1] Photosynthesis makes glucose and oxygen.\n\n"
                                        "Question: What does photosynthesis make?"}]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(gemma_folder):
    port = free_port()
    model = gemma_folder
    proc = subprocess.Popen([sys.executable, "-m", "tutor.generation.llm_server", "--model", str(model),
                             "--port", str(port)], env={**os.environ, "HF_HUB_OFFLINE": "1"},
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    url = f"http://127.0.0.1:{port}/v1"
    deadline = time.time() + 240
    while time.time() < deadline:
        try:
            if httpx.get(url + "/models", timeout=2).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(1)
        assert proc.poll() is None, proc.stderr.read()
    else:
        proc.kill()
        pytest.fail("the LLM server did not start")
    yield proc, url
    proc.kill()
    proc.wait()


def test_streams_the_models_own_answer_from_a_real_server(server, gemma_folder):
    from tutor.generation.generators import TransformersGenerator

    _, url = server
    gen = OpenAIGenerator(url, "gemma", timeout=120, retries=0)
    pieces = list(gen.stream(MESSAGES, max_new_tokens=12))
    assert len(pieces) >= 2
    # greedy decoding: what arrives piece by piece over HTTP is what the model writes in-process
    local = TransformersGenerator(str(gemma_folder), threads=1).generate(MESSAGES, max_new_tokens=12)
    assert "".join(pieces).strip() == local.strip() != ""


def test_a_servers_reader_scores_the_passages_as_the_model_in_process_does(server, gemma_folder):
    from tutor.generation.reader import OpenAIReader, TransformersReader

    _, url = server
    passages = ["Атом ядросы протондар мен нейтрондардан тұрады.",
                "Абай Құнанбайұлы 1845 жылы Шыңғыстауда туған."]
    question = "Абай қай жылы туған?"
    remote = OpenAIReader(url, "gemma", timeout=120).likelihoods(question, passages)
    local = TransformersReader.load(str(gemma_folder)).likelihoods(question, passages)
    assert remote == pytest.approx(local, abs=1e-3)
    assert remote[1] > remote[0]


def test_a_server_without_prompt_log_probabilities_is_a_reader_error(server):
    from tutor.generation.reader import OpenAIReader, ReaderError

    _, url = server
    reader = OpenAIReader(url.replace("/v1", "/nowhere"), timeout=10)
    with pytest.raises(ReaderError):
        reader.likelihoods("q", ["a passage"])



def test_server_down_is_a_clear_error_and_the_tutor_falls_back(fake_tutor):
    from tutor.answer.generative import GenerativeComposer

    dead = OpenAIGenerator(f"http://127.0.0.1:{free_port()}/v1", timeout=2, retries=1)
    with pytest.raises(GeneratorError, match="not answering"):
        list(dead.stream(MESSAGES))
    fake_tutor.composer = GenerativeComposer(dead, fake_tutor.extractive)
    answer = fake_tutor.ask("Что такое фотосинтез?")
    assert answer.composer == "extractive" and answer.citations
    assert "generator_unavailable" in answer.notes and "недоступна" in answer.text


def test_server_going_away_mid_answer_falls_back(server, fake_tutor):
    from tutor.answer.generative import GenerativeComposer

    proc, url = server
    gen = OpenAIGenerator(url, timeout=60, retries=0)

    class KillAfterFirstPiece:
        def stream(self, messages, max_new_tokens=256):
            for i, piece in enumerate(gen.stream(messages, 200)):
                if i == 1:
                    proc.kill()
                yield piece

    fake_tutor.composer = GenerativeComposer(KillAfterFirstPiece(), fake_tutor.extractive)
    answer = fake_tutor.ask("Что такое фотосинтез?")
    assert answer.composer == "extractive" and answer.citations
    assert "generator_unavailable" in answer.notes


def test_cli_with_the_server_down_prints_the_message_and_the_extractive_answer(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("TUTOR_")}
    env.update({"TUTOR_DATA_DIR": str(tmp_path), "TUTOR_MODEL_CACHE": str(model_cache()),
                "TUTOR_GENERATOR": f"openai:http://127.0.0.1:{free_port()}/v1",
                "TUTOR_COMPOSER": "generative", "TUTOR_GENERATOR_TIMEOUT": "2"})
    r = subprocess.run([sys.executable, "-m", "tutor.cli", "ask", "Что такое фотосинтез?"],
                       capture_output=True, text=True, env=env, timeout=600)
    assert r.returncode == 0, r.stderr[-2000:]
    assert "недоступна" in r.stdout and "[1]" in r.stdout

