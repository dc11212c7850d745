"""The evidence reader: the LLM re-ranks the top passages by how likely the question is after
each, and steps aside under load, past its deadline, or when it fails."""

import threading
import time
from pathlib import Path

import pytest

from tutor.config import SettingError, Settings
from tutor.generation.reader import Reader, ReaderError, _question_mean, prompt_of
from tutor.retrieval.hybrid import Hit
from tutor.retrieval.reading import EvidenceReading, ReadingParams
from tutor.store import Chunk, Document
from tutor.tutor import Tutor


class KeywordReader(Reader):
    """Likes the passages that hold ``word``; records what it was asked."""

    def __init__(self, word: str, delay: float = 0.0, fail: Exception | None = None):
        self.word, self.delay, self.fail, self.calls = word, delay, fail, []

    def likelihoods(self, question, passages, deadline=None):
        self.calls.append((question, passages))
        if self.fail:
            raise self.fail
        if self.delay:
            time.sleep(self.delay)
            if deadline is not None and time.monotonic() > deadline:
                raise TimeoutError
        return [-1.0 if self.word in p else -5.0 for p in passages]


def hits(*texts):
    doc = Document(doc_key="d", title="T", lang="ru")
    return [Hit(Chunk(text, text, id=i, doc=doc), 1.0 - 0.05 * i) for i, text in enumerate(texts)]


def test_the_passage_the_reader_prefers_comes_first_and_the_rest_keep_their_places():
    found = hits("a", "b", "ядро атома", "c", "d", "e")
    reading = EvidenceReading(KeywordReader("ядро"), ReadingParams(passages=4, weight=0.5))
    with reading.answering():
        ranked, note = reading.rerank("Из чего состоит атом?", found)
    assert note == "reader"
    assert [h.chunk.text for h in ranked] == ["ядро атома", "a", "b", "c", "d", "e"]
    assert ranked[0].score == pytest.approx(0.9)  # the best read keeps its fused score
    assert ranked[1].score == pytest.approx(1.0 - 0.5 * 4)


def test_a_small_weight_leaves_a_clear_retrieval_order_alone():
    found = hits("a", "b", "ядро")
    reading = EvidenceReading(KeywordReader("ядро"), ReadingParams(passages=3, weight=0.01))
    ranked, _ = reading.rerank("q", found)
    assert [h.chunk.text for h in ranked] == ["a", "b", "ядро"]


def test_the_reader_steps_aside_while_more_answers_run_than_allowed():
    reader = KeywordReader("ядро")
    reading = EvidenceReading(reader, ReadingParams(weight=1.0, max_parallel=1))
    found = hits("a", "ядро")
    with reading.answering(), reading.answering():
        ranked, note = reading.rerank("q", found)
    assert note == "reader_busy" and ranked == found and not reader.calls
    with reading.answering():
        assert reading.rerank("q", found)[1] == "reader"
    assert reading.outcomes == {"reader_busy": 1, "reader": 1}  # what the load bench reports


def test_the_reader_steps_aside_past_its_deadline_and_when_it_fails():
    found = hits("a", "ядро")
    slow = EvidenceReading(KeywordReader("ядро", delay=0.2), ReadingParams(weight=1.0, deadline_s=0.05))
    assert slow.rerank("q", found) == (found, "reader_deadline")
    broken = EvidenceReading(KeywordReader("ядро", fail=ReaderError("server down")), ReadingParams(weight=1.0))
    assert broken.rerank("q", found) == (found, "reader_error")


def test_answers_computed_side_by_side_are_counted_across_threads():
    reading = EvidenceReading(KeywordReader("x"), ReadingParams(max_parallel=1))
    inside, release = threading.Event(), threading.Event()

    def answer():
        with reading.answering():
            inside.set()
            release.wait(5)

    worker = threading.Thread(target=answer)
    worker.start()
    inside.wait(5)
    with reading.answering():
        assert reading.rerank("q", hits("a", "b"))[1] == "reader_busy"
    release.set()
    worker.join()
    with reading.answering():
        assert reading.rerank("q", hits("a", "b"))[1] == "reader"


def test_the_tutor_quotes_the_passage_the_reader_chose(fake_runtime):
    question = "Из чего состоит атом?"
    plain = Tutor(fake_runtime.retriever, fake_runtime.store)
    top = fake_runtime.retriever.search(question, k=10).hits
    assert len({h.chunk.id for h in top[:5]}) == 5
    chosen = top[3].chunk  # retrieval put it fourth; the reader prefers it
    reader = KeywordReader(chosen.text[:60])
    read = Tutor(fake_runtime.retriever, fake_runtime.store,
                 reading=EvidenceReading(reader, ReadingParams(passages=5, weight=10.0)))
    def first_quote(answer):
        return next(line[2:].rsplit(" [", 1)[0] for line in answer.text.split("\n\n") if line.startswith("> "))

    answer = read.ask(question)
    assert "reader" in answer.notes and reader.calls
    assert first_quote(answer) in chosen.text
    assert first_quote(plain.ask(question)) not in chosen.text


def test_reader_settings_are_checked():
    with pytest.raises(SettingError):
        Settings.load(env={}, reader_passages=1)
    with pytest.raises(SettingError):
        Settings.load(env={}, reader="maybe")
    assert Settings.load(env={"TUTOR_READER": "on"}).reader == "on"


def test_a_servers_echoed_log_probabilities_are_read_from_the_question_on():
    prompt = prompt_of("Ядро атома состоит из протонов.")
    logprobs = {"text_offset": [0, 8, len(prompt), len(prompt) + 3, len(prompt) + 9],
                "token_logprobs": [None, -2.0, -1.0, -3.0, -0.5]}  # the last one was generated
    assert _question_mean(logprobs, len(prompt)) == pytest.approx(-2.0)


@pytest.mark.integration
def test_gemma_reads_kazakh_well_enough_to_pick_the_passage_that_answers(gemma_folder):
    import torch
    from conftest import model_cache

    from tutor.generation.reader import make_reader
    from tutor.models import resolve_generator, verify_folder

    settings = Settings.load(env={}, model_cache=str(model_cache()), reader="on")
    reader = make_reader(resolve_generator(settings), settings)
    # the embedded model is read from a bfloat16 copy made once beside it, mapped as it is
    assert reader.name == str(gemma_folder) + "-bfloat16" and verify_folder(Path(reader.name)) is None
    assert {p.dtype for p in reader.model.parameters()} == {torch.bfloat16}
    passages = ["Атом ядросы протондар мен нейтрондардан тұрады. Электрондар ядроны айнала қозғалады.",
                "Абай Құнанбайұлы 1845 жылы Шыңғыстауда туған. Ол ақын, ойшыл, аудармашы болған.",
                "Су қалыпты қысымда 100 градуста қайнайды. Тау басында су төменірек температурада қайнайды."]
    for question, right in [("Абай қай жылы туған?", 1), ("Су неше градуста қайнайды?", 2),
                            ("Атом ядросы неден тұрады?", 0)]:
        scores = reader.likelihoods(question, passages)
        assert max(range(3), key=scores.__getitem__) == right, (question, scores)
