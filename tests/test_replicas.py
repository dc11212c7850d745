"""Two app replicas as real processes on one real PostgreSQL server: what a teacher uploads on
one is answered from on the other within seconds, a student's hint ladder continues on the
other, and a killed replica or a restarted database server leaves whole data and working
replicas. The replicas are ``python -m tutor.bench.replica`` (``tutor serve`` with the keyword
embedder, so they start in seconds) on a three-lesson corpus."""

from __future__ import annotations

import shutil
import threading
import time
from pathlib import Path

import pytest
from conftest import CORPUS
from gradio_client import Client, handle_file
from gradio_client.utils import Status

from tutor.bench.e2e import QUICK_DOCS
from tutor.bench.load import free_port
from tutor.bench.replica import start, wait_ready
from tutor.i18n import t
from tutor.pedagogy.sessions import browser_session
from tutor.store import Store

pytestmark = pytest.mark.integration

PASSWORD = "replica-teacher-pw"
LAKE = ("# Озеро Зорват\n\nОзеро Зорват питается ледником Кельтау; его глубина достигает 140 метров. "
        "Вода в озере Зорват холодная даже летом.\n")
MARKER = "Зорват"


class Cluster:
    def __init__(self, url: str, root: Path):
        self.url, self.root = url, root
        self.corpus = root / "corpus"
        for key in QUICK_DOCS:
            (self.corpus / key).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(CORPUS / f"{key}.md", self.corpus / f"{key}.md")
        self.procs: dict[str, object] = {}
        self.ports: dict[str, int] = {}

    def start(self, name: str) -> None:
        port = free_port()
        env = {"TUTOR_DATABASE_URL": self.url, "TUTOR_CORPUS_DIR": str(self.corpus),
               "TUTOR_TEACHER_PASSWORD": PASSWORD, "TUTOR_GENERATOR": "none", "TUTOR_COMPOSER": "extractive",
               "TUTOR_MODEL_CACHE": str(self.root / "models"), "TUTOR_THREADS": "1",
               "TUTOR_BACKGROUND_PAGES": "0", "HF_HUB_OFFLINE": "1"}
        self.procs[name] = start(env, self.root / name, port, hashing=True)
        self.ports[name] = port
        wait_ready(self.procs[name], port, timeout_s=180)

    def client(self, name: str) -> Client:
        return Client(f"http://127.0.0.1:{self.ports[name]}/", verbose=False, download_files=False)

    def log(self, name: str) -> str:
        return (self.root / name / "replica.log").read_text(errors="replace")[-3000:]

    def stop(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.terminate()
        for proc in self.procs.values():
            try:
                proc.wait(timeout=10)
            except Exception:  # noqa: BLE001
                proc.kill()


@pytest.fixture(scope="module")
def cluster(postgres, tmp_path_factory):
    c = Cluster(postgres.create_database("replicas"), tmp_path_factory.mktemp("replicas"))
    try:
        c.start("a")  # the first loads the bundled lessons; the second finds them there
        c.start("b")
        yield c
    finally:
        c.stop()


def answer_text(client: Client, question: str, mode: str = "explain") -> str:
    content = client.predict(question, [], mode, "auto", "ru", api_name="/ask")[0][-1]["content"]
    return content if isinstance(content, str) else "".join(part.get("text", "") for part in content)


def login(client: Client) -> None:
    assert client.predict(PASSWORD, "ru", api_name="/teacher_login")[0] == t("ru", "login_ok")


def upload(client: Client, path: Path) -> str:
    return client.predict([handle_file(str(path))], "geography", "7", "ru", "reference", "", "", "ru",
                          api_name="/teacher_upload")[1]


def until(condition, timeout_s: float, every_s: float = 0.2) -> float | None:
    start_t = time.monotonic()
    while time.monotonic() - start_t < timeout_s:
        if condition():
            return time.monotonic() - start_t
        time.sleep(every_s)
    return None


def test_an_upload_on_one_replica_is_answered_from_on_the_other_within_5_s(cluster, tmp_path):
    teacher, student = cluster.client("a"), cluster.client("b")
    question = "Чем питается озеро Зорват?"
    assert MARKER not in answer_text(student, question)
    lesson = tmp_path / "zorvat.md"
    lesson.write_text(LAKE, encoding="utf-8")
    login(teacher)
    upload(teacher, lesson)
    delay = until(lambda: MARKER in answer_text(student, question), timeout_s=10)
    assert delay is not None and delay <= 5.0, cluster.log("b")

    store = Store(cluster.url)
    try:
        key = next(d.doc_key for d in store.documents() if d.title == "Озеро Зорват")
    finally:
        store.close()
    teacher.predict(key, "ru", api_name="/teacher_select")
    teacher.predict("ru", api_name="/teacher_delete")
    teacher.predict("", "", "ru", api_name="/teacher_delete_confirm")
    assert until(lambda: MARKER not in answer_text(student, question), timeout_s=5) is not None


def test_a_hint_ladder_continues_when_the_browser_reaches_the_other_replica(cluster):
    """A load balancer moves a browser tab when its replica goes away; the tab's Gradio session
    hash comes along, and with it the student's place on the ladder (kept in the database)."""
    on_a, on_b = cluster.client("a"), cluster.client("b")
    on_b.session_hash = on_a.session_hash  # the same tab
    question = "Что такое фотосинтез?"
    first = answer_text(on_a, question, mode="hints")
    second = answer_text(on_b, question, mode="hints")
    assert first != second
    store = Store(cluster.url)
    try:
        row = store.query("SELECT state FROM student_sessions WHERE session_id=?",
                          (browser_session(on_a.session_hash, ""),))
    finally:
        store.close()
    assert row and '": 2' in row[0]["state"]  # the question's ladder is at hint 2


def test_a_database_restart_under_load_fails_only_requests_in_flight_with_a_clear_message(cluster, postgres):
    students = [cluster.client("a"), cluster.client("b"), cluster.client("a"), cluster.client("b")]
    answers: list[str] = []
    errors: list[str] = []
    stop = threading.Event()

    def ask_until_stopped(client: Client) -> None:
        while not stop.is_set():
            try:
                answers.append(answer_text(client, "Что такое фотосинтез?"))
            except Exception as exc:  # noqa: BLE001 - a raw error reaching the student is what fails
                errors.append(f"{type(exc).__name__}: {exc}")

    workers = [threading.Thread(target=ask_until_stopped, args=(c,), daemon=True) for c in students]
    for w in workers:
        w.start()
    time.sleep(2)
    postgres.restart()
    restarted = len(answers)
    time.sleep(4)
    stop.set()
    for w in workers:
        w.join(timeout=30)
    assert not errors, errors[:3]
    busy = t("ru", "database_unavailable")
    assert all(a == busy or "фотосинтез" in a.lower() for a in answers)
    # both replicas answer again by themselves, no restart of theirs
    for name in ("a", "b"):
        assert "фотосинтез" in answer_text(cluster.client(name), "Что такое фотосинтез?").lower()
    assert len(answers) > restarted


def test_a_replica_killed_mid_upload_leaves_the_whole_document_or_none(cluster, tmp_path):
    sections = 6000  # a few seconds of reading, embedding and writing in one transaction
    big = tmp_path / "atlas.md"
    big.write_text("# Атлас озёр\n\n" + "\n\n".join(
        f"## Озеро номер {i}\n\nОзеро номер {i} лежит в долине {i} и питается рекой Атласка{i}; "
        f"его глубина {i % 90 + 10} метров, вода пресная и холодная." for i in range(sections)),
        encoding="utf-8")
    teacher, student = cluster.client("a"), cluster.client("b")
    login(teacher)
    job = teacher.submit([handle_file(str(big))], "geography", "7", "ru", "reference", "", "", "ru",
                         api_name="/teacher_upload")
    assert until(lambda: job.status().code == Status.PROCESSING, timeout_s=30, every_s=0.05) is not None
    time.sleep(1.0)
    cluster.procs["a"].kill()  # SIGKILL, mid-ingest
    cluster.procs["a"].wait()
    with pytest.raises(Exception):  # noqa: B017 - the upload died with the replica: it was mid-way
        job.result(timeout=30)
    assert "фотосинтез" in answer_text(student, "Что такое фотосинтез?").lower()

    def atlas(store) -> list[int]:
        return [len(store.chunks_of(d.doc_key)) for d in store.documents() if d.title == "Атлас озёр"]

    store = Store(cluster.url)
    try:
        before = atlas(store)
        teacher_b = cluster.client("b")
        login(teacher_b)
        upload(teacher_b, big)  # the retry, through the replica still up
        after = atlas(store)
        assert len(after) == 1 and after[0] >= sections
        assert before in ([], after)  # none of it, or all of it: never part
    finally:
        store.close()
    assert until(lambda: "Атласка7;" in answer_text(student, "Чем питается озеро номер 7?"), 10) is not None
