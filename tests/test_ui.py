"""The web app through its API: the real Blocks, launched in-process on loopback over the fake
runtime and driven with gradio_client, as a student's or a teacher's browser would drive it.
The last part calls the Services callbacks directly, with no server."""

from __future__ import annotations

import dataclasses
import json
import math
import re
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import SimpleNamespace

import pytest
from gradio_client import Client, handle_file
from gradio_client.exceptions import AppError

from tutor.answer.extractive import ExtractiveComposer
from tutor.auth import TeacherAuth
from tutor.i18n import t
from tutor.retrieval.hybrid import query_coverage
from tutor.tutor import Tutor
from tutor.ui import teacher_text as tx
from tutor.ui.app import build_blocks, launch
from tutor.ui.evaluation import REPORT_DIR, TECHNICAL_ID
from tutor.ui.services import NotAllowed, Services, UserError

PASSWORD = "a-strong-pass"
PHOTOSYNTHESIS_KK = "Фотосинтез дегеніміз не?"
OFF_CORPUS_KK = "Мона Лизаны кім салған?"  # who painted the Mona Lisa: in no bundled lesson
CITE = "<details class='ustaz-cite'>"
SESSION_ID = re.compile(r"^[0-9a-f]{32}$")
STUDENT_ENDPOINTS = {"/ask", "/clear", "/feedback", "/join_class", "/set_ui_language", "/eval_report", "/new_session"}
TEACHER_ENDPOINTS = {"/teacher_login", "/teacher_logout", "/teacher_session", "/teacher_views",
                     "/teacher_upload", "/teacher_documents", "/teacher_select", "/teacher_edit",
                     "/teacher_delete", "/teacher_delete_confirm", "/teacher_rebuild", "/teacher_jobs",
                     "/teacher_add_class", "/teacher_add_teacher", "/teacher_add_school"}


# ---------------------------------------------------------------------------- fixtures
class HashingEvidence:
    """The retriever with an evidence score that suits the hashing embedder. The shipped score
    is fitted to e5, whose cosine for a matching passage is ~0.85; bag-of-stems cosines are about
    half that, so with it every fake answer abstains and no citation would ever be drawn.
    Ranking is untouched; only the answer/abstain decision is re-scored."""

    def __init__(self, retriever):
        self.retriever = retriever
        self.index = retriever.index

    def search(self, query: str, *args, **kwargs):
        result = self.retriever.search(query, *args, **kwargs)
        if result.hits:
            top_dense = max(h.dense or 0.0 for h in result.hits[:3])
            z = -10.0 + 10.0 * top_dense + 10.0 * query_coverage(query, result.hits[0].chunk.search_text)
            result.confidence = 1.0 / (1.0 + math.exp(-z))
        return result


@pytest.fixture
def ui_tutor(fake_runtime):
    return Tutor(HashingEvidence(fake_runtime.retriever), fake_runtime.store,
                 extractive=ExtractiveComposer(fake_runtime.embedder))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def serve(services: Services, report_dir: Path = REPORT_DIR) -> Iterator[str]:
    """Launch the app exactly as `tutor serve` does (same css, theme, upload limit), on a free
    loopback port, and close it afterwards."""
    settings = dataclasses.replace(services.settings, host="127.0.0.1", port=free_port())
    demo = build_blocks(services, report_dir=report_dir)
    demo.queue(default_concurrency_limit=2)
    launch(demo, settings, prevent_thread_lock=True, quiet=True)
    try:
        yield f"http://127.0.0.1:{settings.port}/"
    finally:
        demo.close(verbose=False)


@pytest.fixture
def app(fake_runtime, ui_tutor, tmp_path, monkeypatch):
    monkeypatch.setenv("GRADIO_TEMP_DIR", str(tmp_path / "gradio"))  # uploads land in tmp
    services = Services(fake_runtime.settings, fake_runtime, ui_tutor, TeacherAuth(tmp_path, PASSWORD))
    clients = []
    with serve(services, tmp_path / "report") as url:  # no evaluation report until a test writes one
        def client() -> Client:  # one Client is one browser tab: its own session state
            c = Client(url, verbose=False, download_files=False)
            clients.append(c)
            return c

        yield SimpleNamespace(url=url, services=services, store=fake_runtime.store, client=client,
                              tmp=tmp_path)
        for c in clients:
            c.close()


# ---------------------------------------------------------------------------- helpers
def text_of(message: dict) -> str:
    content = message["content"]
    if isinstance(content, str):
        return content
    return "".join(part.get("text", "") for part in content if isinstance(part, dict))


def ask(client: Client, question: str, mode: str = "explain", lang: str = "auto", ui: str = "kk"):
    """Ask through /ask and return every streamed output (the last one is the final answer)."""
    job = client.submit(question, [], mode, lang, ui, api_name="/ask")
    outputs = list(job)
    assert job.outputs()[-1] == outputs[-1]
    return outputs


def refused(fn, *args, **kwargs) -> str:
    with pytest.raises(AppError) as info:
        fn(*args, **kwargs)
    return str(info.value)


def md_file(folder, name="water-cycle.md", body="Су айналымы – судың булануы, бұлттың түзілуі "
            "және жаңбыр болып қайта түсуі."):
    path = folder / name
    path.write_text(f"# Су айналымы\n\n{body}\n", encoding="utf-8")
    return path


def doc_keys(table: dict) -> list[str]:
    return [row[0] for row in table["data"]]


# ----------------------------------------------------------------------------- student
@pytest.mark.integration  # launches the server
def test_ask_streams_then_shows_cited_labelled_answer(app):
    outputs = ask(app.client(), PHOTOSYNTHESIS_KK)
    *partials, final = outputs
    assert len(partials) >= 2, "the answer should arrive in pieces, not all at once"
    shown = [text_of(p[0][-1]) for p in partials]
    assert all(s.endswith("▌") for s in shown)  # the typing cursor while it streams
    assert len({s for s in shown}) == len(shown), "each partial should add text"
    assert shown[0].rstrip(" ▌") in shown[-1]  # text grows; earlier words stay

    history, question_box = final
    assert question_box == ""  # the box is cleared for the next question
    assert [m["role"] for m in history] == ["user", "assistant"]
    assert text_of(history[0]) == PHOTOSYNTHESIS_KK
    answer = text_of(history[1])
    assert "▌" not in answer
    assert CITE in answer and "Фотосинтез" in answer.split(CITE, 1)[1]
    assert "ustaz-label" in answer and t("kk", "ai_generated") in answer
    assert answer.index(CITE) < answer.index("ustaz-label")  # sources first, then the label


@pytest.mark.integration  # launches the server
def test_enter_sends_the_question_and_shift_enter_starts_a_new_line(app):
    # What the browser receives: Gradio's box submits on Enter only when it is one line high, and
    # stays a textarea (Shift+Enter: a new line, growing to max_lines) when max_lines is above one.
    config = app.client().config
    box = next(c for c in config["components"]
               if c.get("props", {}).get("label") == t("kk", "question"))
    assert box["props"]["lines"] == 1 and box["props"]["max_lines"] > 1
    deps = config["dependencies"]
    send = next(d for d in deps if d.get("api_name") == "ask")
    enter = [d for d in deps if [box["id"], "submit"] in [list(x) for x in d["targets"]]]
    assert len(enter) == 1  # Enter runs what the Send button runs, into the same places
    assert (enter[0]["inputs"], enter[0]["outputs"]) == (send["inputs"], send["outputs"])


@pytest.mark.integration  # launches the server
def test_unanswerable_question_abstains_without_citation(app):
    answer = text_of(ask(app.client(), OFF_CORPUS_KK)[-1][0][-1])
    assert CITE not in answer
    assert t("kk", "abstain").split(",")[0] in answer
    assert t("kk", "ai_generated") in answer


@pytest.mark.parametrize("composer", ["extractive", "generative", "none", "policy", "hints", "quiz", "coach"])
def test_the_answer_label_says_where_the_answer_came_from_in_words(composer):
    from tutor.answer.types import Answer
    from tutor.ui.render import answer_markdown

    for ui in ("kk", "ru", "en"):
        label = answer_markdown(Answer("…", "kk", composer=composer), ui).rsplit("ustaz-label", 1)[1]
        assert t(ui, "composer_" + composer) in label and f": {composer}<" not in label


@pytest.mark.integration  # launches the server
def test_answer_label_follows_interface_language(app):
    answer = text_of(ask(app.client(), PHOTOSYNTHESIS_KK, ui="ru")[-1][0][-1])
    assert t("ru", "ai_generated") in answer and t("kk", "ai_generated") not in answer
    assert t("ru", "citation_language") in answer


@pytest.mark.integration  # launches the server
def test_interface_language_switches_labels(app):
    client = app.client()
    seen = {}
    for lang in ("ru", "en", "kk"):
        outputs = client.predict(lang, api_name="/set_ui_language")
        flat = json.dumps(outputs, ensure_ascii=False)
        seen[lang] = flat
        assert f"## {t(lang, 'app_title')}" in flat
        for key in ("ui_language", "question", "question_placeholder", "mode", "answer_language",
                    "feedback_comment", "teacher_password"):
            assert t(lang, key) in flat, (lang, key)
        assert t(lang, "mode_hints") in flat  # radio choices are translated too
    assert t("ru", "question") != t("en", "question") != t("kk", "question")
    assert t("en", "question") not in seen["ru"]


@pytest.mark.integration  # launches the server
def test_feedback_reaches_teacher_with_question_and_sources_without_identity(app):
    client = app.client()
    ask(client, PHOTOSYNTHESIS_KK)
    assert client.predict("   ", "kk", api_name="/feedback") == ("", "")  # empty: nothing stored
    assert app.store.query("SELECT COUNT(*) FROM feedback")[0][0] == 0

    box, note = client.predict("Жақсы түсіндірді, рақмет! Тел +7 701 234 56 78", "kk",
                               api_name="/feedback")
    assert box == "" and note == t("kk", "feedback_thanks")

    token, _ = app.services.login(PASSWORD)
    item, = app.services.feedback_items(token)
    assert item["question"] == PHOTOSYNTHESIS_KK  # what the comment is about
    assert "kk/biology-photosynthesis" in item["doc_keys"]
    assert any(s["doc_key"] == "kk/biology-photosynthesis" and s["title"] for s in item["sources"])
    assert "Жақсы түсіндірді" in item["comment"] and "[phone]" in item["comment"]
    assert "701" not in json.dumps(item, ensure_ascii=False)
    assert SESSION_ID.match(dict(app.store.query("SELECT * FROM feedback")[0])["session"])

    # The teacher's table, in the teacher's language: when, rating, comment, question, sources, documents
    teacher = app.client()
    login(teacher, "ru")
    feedback = teacher.predict("", "", "ru", api_name="/teacher_views")[2]
    assert feedback["headers"] == [t("ru", h) for h in tx.HEADERS["feedback"]]
    (when, rating, comment, question, sources, documents), = feedback["data"]
    assert rating == t("ru", "rating_none") and question == PHOTOSYNTHESIS_KK
    title = app.store.get_document("kk/biology-photosynthesis").title
    assert title in sources and title in documents and "[phone]" in comment


# ----------------------------------------------------------------------------- teacher
def guarded_calls(client: Client, upload_path, ui: str) -> dict:
    return {
        "/teacher_documents": lambda: client.predict("", "", ui, api_name="/teacher_documents"),
        "/teacher_upload": lambda: client.predict([handle_file(str(upload_path))], "geography", "7",
                                                  "kk", "reference", "", "", ui,
                                                  api_name="/teacher_upload"),
        "/teacher_select": lambda: client.predict("kk/biology-photosynthesis", ui,
                                                  api_name="/teacher_select"),
        "/teacher_edit": lambda: client.predict("Hacked", "", "", "", None, "", "", ui,
                                                api_name="/teacher_edit"),
        "/teacher_delete": lambda: client.predict(ui, api_name="/teacher_delete"),
        "/teacher_delete_confirm": lambda: client.predict("", "", ui,
                                                          api_name="/teacher_delete_confirm"),
        "/teacher_rebuild": lambda: client.predict(ui, api_name="/teacher_rebuild"),
        "/teacher_jobs": lambda: client.predict(ui, api_name="/teacher_jobs"),
        "/teacher_add_class": lambda: client.predict("7A", ui, api_name="/teacher_add_class"),
        "/teacher_add_teacher": lambda: client.predict("intruder", "a-long-password", "teacher", ui,
                                                       api_name="/teacher_add_teacher"),
        "/teacher_add_school": lambda: client.predict("School 9", ui, api_name="/teacher_add_school"),
    }


def assert_all_refused(client: Client, app, ui: str = "ru") -> None:
    before = [(d.doc_key, d.title) for d in app.store.documents()]
    for name, call in guarded_calls(client, md_file(app.tmp), ui).items():
        message = refused(call)
        assert message == t(ui, "not_logged_in"), (name, message)
    after = [(d.doc_key, d.title) for d in app.store.documents()]
    assert after == before  # nothing uploaded, deleted or renamed


def login(client: Client, ui: str = "kk") -> None:
    msg, password_box, timer = client.predict(PASSWORD, ui, api_name="/teacher_login")
    assert msg == t(ui, "login_ok") and password_box == ""  # the password is not kept on screen
    assert timer["active"] is True  # the tab starts watching for the idle timeout


def upload(client: Client, path, subject="geography", grade="7", lang="kk", policy="reference",
           ui="kk"):
    return client.predict([handle_file(str(path))], subject, grade, lang, policy, "", "", ui,
                          api_name="/teacher_upload")


@pytest.mark.integration  # launches the server
def test_teacher_endpoints_refuse_without_login(app):
    client = app.client()
    assert set(guarded_calls(client, app.tmp, "ru")) == TEACHER_ENDPOINTS - {
        "/teacher_login", "/teacher_logout", "/teacher_session", "/teacher_views"}
    assert_all_refused(client, app, "ru")
    assert_all_refused(client, app, "en")
    # the views a login would fill stay empty
    tables = client.predict("", "", "kk", api_name="/teacher_views")[:5]
    assert all(tb["data"] == [] for tb in tables)


@pytest.mark.integration  # launches the server
def test_teacher_workflow_after_login(app):
    teacher, student = app.client(), app.client()
    login(teacher, "kk")

    docs = doc_keys(teacher.predict("", "", "kk", api_name="/teacher_documents"))
    assert "kk/biology-photosynthesis" in docs and len(docs) > 50
    assert set(doc_keys(teacher.predict("ru", "physics", "kk", api_name="/teacher_documents"))) == {
        d.doc_key for d in app.store.documents(lang="ru", subject="physics")}

    result, note, listed, files_box, subject, grade, lang, policy = upload(
        teacher, md_file(app.tmp))
    assert result["data"] == [["water-cycle.md", t("kk", "status_added"), "upload/water-cycle.md", 1, ""]]
    assert note == t("kk", "uploaded", n=1)
    assert "upload/water-cycle.md" in doc_keys(listed)
    # the form is reset, so the next file does not inherit this one's subject or policy
    assert (files_box, subject, grade, lang, policy) == (None, "", "", "", None)
    # Grade, subject and language may be left unset; the policy may not.
    plain = md_file(app.tmp, "notes.md", "Жаңбыр суы өзендерге құяды.")
    assert upload(teacher, plain, "", "", "", "homework")[0]["data"][0][1] == t("kk", "status_added")
    assert app.store.get_document("upload/notes.md").grade is None
    assert app.store.get_document("upload/notes.md").policy == "homework"
    # A student can now be answered from it.
    answer = text_of(ask(student, "Су айналымы дегеніміз не?", lang="kk")[-1][0][-1])
    assert CITE in answer and "Су айналымы" in answer

    # Choosing a document (a click on its row) loads its details and passages.
    chosen, title, e_subject, e_grade, e_lang, e_policy, chunks = teacher.predict(
        "upload/water-cycle.md", "kk", api_name="/teacher_select")[:7]
    assert chosen == t("kk", "selected_doc", title="Су айналымы", doc="upload/water-cycle.md", n=1)
    assert (title, e_subject, e_grade, e_lang, e_policy) == ("Су айналымы", "geography", "7", "kk",
                                                             "reference")
    assert "бұлттың түзілуі" in chunks["data"][0][2]

    listed, msg, chosen = teacher.predict("Су айналымы (7 сынып)", "", "8", "", None, "", "", "kk",
                                          api_name="/teacher_edit")
    assert msg == t("kk", "saved") and "Су айналымы (7 сынып)" in chosen
    row = next(r for r in listed["data"] if r[0] == "upload/water-cycle.md")
    assert row[1] == "Су айналымы (7 сынып)" and row[4] == 8

    msg, stats = teacher.predict("kk", api_name="/teacher_rebuild")
    assert msg == t("kk", "rebuilt")
    assert sum(r[3] for r in stats["data"]) == app.services.runtime.index.dense.size

    # The login belongs to the teacher's session only; another tab stays a student.
    assert_all_refused(student, app)
    teacher.predict("kk", api_name="/teacher_logout")
    assert_all_refused(teacher, app)


@pytest.mark.integration  # launches the server
def test_upload_without_a_policy_is_refused_and_says_so(app):
    teacher = app.client()
    login(teacher, "ru")
    # (the browser sends no value for a dropdown left unchosen)
    result, note, *_ = upload(teacher, md_file(app.tmp), policy=None, ui="ru")
    assert note == t("ru", "policy_required")
    result, note, *_ = teacher.predict([], "", "", "", "homework", "", "", "en", api_name="/teacher_upload")
    assert note == t("en", "no_files")
    assert app.store.get_document("upload/water-cycle.md") is None  # nothing went in as "reference"


def test_an_admin_default_policy_is_preselected(fake_runtime, ui_tutor, tmp_path):
    settings = dataclasses.replace(fake_runtime.settings, default_upload_policy="homework")
    services = Services(settings, fake_runtime, ui_tutor, TeacherAuth(tmp_path, PASSWORD))
    demo = build_blocks(services)
    policy = next(c for c in demo.config["components"]
                  if c.get("props", {}).get("label") == t("kk", "meta_policy"))
    assert policy["props"]["value"] == "homework"
    plain = build_blocks(Services(fake_runtime.settings, fake_runtime, ui_tutor,
                                  TeacherAuth(tmp_path, PASSWORD)))
    policy = next(c for c in plain.config["components"]
                  if c.get("props", {}).get("label") == t("kk", "meta_policy"))
    assert policy["props"].get("value") is None  # no silent default


@pytest.mark.integration  # launches the server
def test_delete_says_what_will_go_and_waits_for_confirmation(app):
    teacher = app.client()
    login(teacher, "en")
    key = "kk/biology-photosynthesis"
    doc = app.store.get_document(key)
    n = len(app.store.chunks_of(key))
    assert teacher.predict("en", api_name="/teacher_delete")[1] == t("en", "choose_first")

    teacher.predict(key, "en", api_name="/teacher_select")
    question, note = teacher.predict("en", api_name="/teacher_delete")
    assert note == ""
    assert question == t("en", "confirm_delete", title=doc.title, doc=key, n=n)
    assert doc.title in question and str(n) in question
    assert app.store.get_document(key) is not None  # asking deletes nothing

    listed, msg, confirm, chosen = teacher.predict("", "", "en",
                                                   api_name="/teacher_delete_confirm")[:4]
    assert msg == t("en", "deleted_named", title=doc.title, n=n)
    assert app.store.get_document(key) is None and key not in doc_keys(listed)
    assert confirm == "" and chosen == t("en", "select_hint")  # nothing stays chosen
    # a second confirmation has nothing pending
    assert teacher.predict("", "", "en", api_name="/teacher_delete_confirm")[1] == t("en", "choose_first")


def cleared_view(outputs, ui: str, message_key: str, **params) -> None:
    """Every teacher output of a logout or timeout is empty: nothing for the next person."""
    flat = json.dumps(outputs, ensure_ascii=False)
    assert t(ui, message_key, **params) in flat
    tables = [o for o in outputs if isinstance(o, dict) and "headers" in o]
    assert len(tables) == 8 and all(tb["data"] == [] for tb in tables)
    for marker in ("biology", "zqx", "Фотосинтез", "water-cycle"):
        assert marker not in flat, marker


@pytest.mark.integration  # launches the server
def test_logout_clears_every_teacher_view(app):
    student, teacher = app.client(), app.client()
    ask(student, "Мона Лизаны zqxunanswered кім салған?")
    ask(student, PHOTOSYNTHESIS_KK)
    student.predict("zqxcomment", "kk", api_name="/feedback")
    login(teacher, "ru")
    upload(teacher, md_file(app.tmp), ui="ru")
    teacher.predict("kk/biology-photosynthesis", "ru", api_name="/teacher_select")
    teacher.predict("ru", api_name="/teacher_delete")

    outputs = teacher.predict("ru", api_name="/teacher_logout")
    cleared_view(outputs, "ru", "logged_out")
    assert outputs[0] == ""  # the password box
    assert_all_refused(teacher, app)
    assert app.store.get_document("kk/biology-photosynthesis") is not None


@pytest.mark.integration  # launches the server
def test_an_idle_teacher_session_times_out_and_clears_the_tab(app):
    teacher = app.client()
    login(teacher, "kk")
    # while the login holds, the tab's periodic check changes nothing
    assert "zqx" not in json.dumps(teacher.predict("kk", api_name="/teacher_session"))
    assert teacher.predict("", "", "kk", api_name="/teacher_documents")["data"]
    app.services.token_ttl_s = 0.5
    teacher.predict("", "", "kk", api_name="/teacher_documents")  # activity: the clock restarts
    time.sleep(1.0)
    outputs = teacher.predict("kk", api_name="/teacher_session")
    cleared_view(outputs, "kk", "session_expired", minutes=0)
    assert_all_refused(teacher, app, "kk")


@pytest.mark.integration  # launches the server
def test_wrong_password_refused_and_repeated_failures_lock(app):
    client = app.client()
    msg, _, _ = client.predict("not-the-password", "ru", api_name="/teacher_login")
    assert msg == t("ru", "login_failed")
    assert_all_refused(client, app)

    for _ in range(app.services.auth.max_failures - 1):
        assert client.predict("guess", "en", api_name="/teacher_login")[0] == t("en", "login_failed")
    # Locked now: even the right password is refused, from any tab, until the window passes.
    other = app.client()
    assert other.predict(PASSWORD, "en", api_name="/teacher_login")[0] == t("en", "login_locked")
    assert_all_refused(other, app)


# ---------------------------------------------------------------------------- privacy
@pytest.mark.integration  # launches the server
def test_student_endpoints_never_show_teacher_data(app):
    a, b = app.client(), app.client()
    # Student A leaves one of each thing only a teacher may read.
    ask(a, "Мона Лизаны zqxunanswered кім салған?")
    ask(a, "I want to die zqxflagged")
    ask(a, PHOTOSYNTHESIS_KK)
    a.predict("zqxcomment түсініксіз болды", "kk", api_name="/feedback")

    token, _ = app.services.login(PASSWORD)
    teacher_view = json.dumps([app.services.unanswered(token), app.services.flags(token),
                               app.services.feedback_items(token)], ensure_ascii=False)
    markers = ("zqxunanswered", "zqxflagged", "zqxcomment")
    assert all(m in teacher_view for m in markers)  # the teacher does see them

    responses = []
    for client in (a, b):
        for mode in ("explain", "hints", "quiz", "coach"):
            responses += ask(client, "zqx Фотосинтез кезінде не бөлінеді?", mode=mode)
            responses += ask(client, "zqx тау", mode=mode)
        responses.append(client.predict("рақмет", "kk", api_name="/feedback"))
        responses += [client.predict(lg, api_name="/set_ui_language") for lg in ("kk", "ru", "en")]
        responses.append(client.predict("kk", api_name="/eval_report"))
        responses.append(client.predict(api_name="/clear"))
        responses.append(client.predict(api_name="/new_session"))
    seen = json.dumps(responses, ensure_ascii=False)
    for marker in markers:
        assert marker not in seen, marker


@pytest.mark.integration  # launches the server
def test_public_api_is_the_student_and_teacher_endpoints_only(app):
    api = app.client().view_api(return_format="dict", print_info=False)
    assert set(api["named_endpoints"]) == STUDENT_ENDPOINTS | TEACHER_ENDPOINTS
    assert not api["unnamed_endpoints"]


@pytest.mark.integration  # launches the server
def test_no_identity_asked_and_sessions_are_random_ids(app):
    api = app.client().view_api(return_format="dict", print_info=False)
    for name in STUDENT_ENDPOINTS:
        required = {p["parameter_name"] for p in api["named_endpoints"][name]["parameters"]
                    if not p["parameter_has_default"]}
        # The only free text a student must type is the question; the comment is optional.
        assert required <= {"message", "text"}, (name, required)
    asked_for = " ".join(f"{p['parameter_name']} {p['label']}".lower()
                         for name in STUDENT_ENDPOINTS for p in api["named_endpoints"][name]["parameters"])
    for word in ("name", "атың", "аты-жөн", "имя", "фамилия", "email", "student", "class"):
        assert word not in asked_for, word

    a, b = app.client(), app.client()
    ask(a, PHOTOSYNTHESIS_KK)
    ask(a, "Менің атым Айгерим, телефоным +7 701 234 56 78. Фотосинтез дегеніміз не?")
    ask(b, PHOTOSYNTHESIS_KK)
    rows = [dict(r) for r in app.store.query("SELECT session, question FROM questions ORDER BY id")]
    sessions = [r["session"] for r in rows]
    assert all(SESSION_ID.match(s) for s in sessions)
    assert sessions[0] == sessions[1] != sessions[2]  # one tab keeps one pseudonymous id
    assert "[phone]" in rows[1]["question"] and "701" not in rows[1]["question"]

    for table in ("questions", "feedback", "flags"):
        columns = {r[1] for r in app.store.query(f"PRAGMA table_info({table})")}
        assert not columns & {"name", "student", "student_name", "user", "email", "ip"}, table


# ----------------------------------------------------------- Services, called directly
@pytest.fixture
def services(fake_runtime, ui_tutor, tmp_path):
    return Services(fake_runtime.settings, fake_runtime, ui_tutor, TeacherAuth(tmp_path, PASSWORD))


def test_new_session_ids_are_random_hex():
    ids = {Services.new_session() for _ in range(50)}
    assert len(ids) == 50 and all(SESSION_ID.match(i) for i in ids)


def test_login_token_lifecycle(services):
    assert services.login("wrong-one", "kk") == ("", t("kk", "login_failed"))
    assert services.login("", "kk") == ("", t("kk", "login_failed"))
    with pytest.raises(NotAllowed):
        services.require("")
    with pytest.raises(NotAllowed):
        services.require("made-up-token")
    token, msg = services.login(PASSWORD, "ru")
    assert token and msg == t("ru", "login_ok")
    services.require(token)
    other, _ = services.login(PASSWORD)
    assert other != token
    services.logout(token)
    with pytest.raises(NotAllowed):
        services.documents(token)
    services.require(other)  # logging out one tab leaves the other


def test_tokens_expire(services):
    services.token_ttl_s = -1
    token, _ = services.login(PASSWORD)
    with pytest.raises(NotAllowed):
        services.require(token)


def test_login_without_configured_password(fake_runtime, ui_tutor, tmp_path):
    s = Services(fake_runtime.settings, fake_runtime, ui_tutor, TeacherAuth(tmp_path / "empty", ""))
    assert s.login("anything-at-all", "en") == ("", t("en", "login_unset"))


def test_lockout_through_services(services):
    for _ in range(services.auth.max_failures):
        services.login("nope-nope")
    assert services.login(PASSWORD, "kk") == ("", t("kk", "login_locked"))


def test_every_teacher_callback_requires_a_token(services, tmp_path):
    calls = [lambda: services.upload("", [str(md_file(tmp_path))], "", None, "", "reference"),
             lambda: services.documents(""), lambda: services.preview("", "kk/biology-cell"),
             lambda: services.edit("", "kk/biology-cell", "x", "", None, "", ""),
             lambda: services.delete("", "kk/biology-cell"), lambda: services.rebuild(""),
             lambda: services.stats(""), lambda: services.unanswered(""),
             lambda: services.feedback_items(""), lambda: services.flags(""),
             lambda: services.model_info(""), lambda: services.details("", "kk/biology-cell")]
    for call in calls:
        with pytest.raises(NotAllowed):
            call()
    assert services.runtime.store.get_document("kk/biology-cell") is not None
    assert services.runtime.store.get_document("upload/water-cycle.md") is None


def test_upload_reports_bad_files_per_row(services, tmp_path):
    token, _ = services.login(PASSWORD)
    good = md_file(tmp_path)
    empty = tmp_path / "empty.md"
    empty.write_text("", encoding="utf-8")
    odd = tmp_path / "program.exe"
    odd.write_bytes(b"MZ\x90\x00")
    rows = services.upload(token, [str(good), str(empty), str(odd)], "geography", 7.0, "kk", "homework")
    assert rows[0][:4] == ["water-cycle.md", "added", "upload/water-cycle.md", 1]
    assert [r[1] for r in rows[1:]] == ["error", "error"] and all(r[4] for r in rows[1:])
    doc = services.runtime.store.get_document("upload/water-cycle.md")
    assert (doc.subject, doc.grade, doc.lang, doc.policy) == ("geography", 7, "kk", "homework")
    assert services.upload(token, [str(good)], "geography", 7, "kk", "homework")[0][1] == "unchanged"
    assert services.upload(token, [str(good)], "geography", 7, "kk", "reference")[0][1] == "replaced"


def test_edit_validates_and_reindexes(services):
    token, _ = services.login(PASSWORD)
    with pytest.raises(ValueError):
        services.edit(token, "kk/biology-photosynthesis", "", "", None, "", "secret")
    assert services.edit(token, "kk/biology-photosynthesis", "", "", None, "", "assessment") == "ok"
    # An assessment document is no longer quoted to students.
    answer = services.tutor.ask(PHOTOSYNTHESIS_KK, "s1", lang="kk")
    assert "kk/biology-photosynthesis" not in [c.doc_key for c in answer.citations]


def test_documents_preview_delete(services):
    token, _ = services.login(PASSWORD)
    rows = services.documents(token, lang="en")
    assert rows and {r[2] for r in rows} == {"en"}
    assert all(r[7] > 0 for r in rows)  # chunk counts
    preview = services.preview(token, "en/ai-literacy-what-is-ai")
    assert [p[0] for p in preview] == list(range(len(preview))) and all(p[2] for p in preview)
    assert services.delete(token, "en/ai-literacy-what-is-ai") is True
    assert services.delete(token, "en/ai-literacy-what-is-ai") is False
    assert "en/ai-literacy-what-is-ai" not in [r[0] for r in services.documents(token)]
    assert services.preview(token, "en/ai-literacy-what-is-ai") == []


def test_feedback_is_redacted_and_bounded(services):
    services.feedback("s" * 32, -1, "мой email a.b@mail.kz " + "x" * 5000, ["kk/biology-cell"], "biology")
    row = dict(services.runtime.store.query("SELECT * FROM feedback")[0])
    assert "[email]" in row["comment"] and "@" not in row["comment"]
    assert len(row["comment"]) == 1000 and row["rating"] == -1


def test_teacher_views_show_what_students_left(services):
    services.tutor.ask(OFF_CORPUS_KK, "s1", lang="kk")
    services.tutor.ask(f"  {OFF_CORPUS_KK} ", "s2", lang="kk")
    services.tutor.ask("хочу умереть", "s3", lang="ru")
    token, _ = services.login(PASSWORD)
    (q, lang, asked, day), = services.unanswered(token)
    assert (q.lower(), lang, asked) == (OFF_CORPUS_KK.lower(), "kk", 2)
    assert re.match(r"\d{4}-\d\d-\d\d$", day)
    (when, category, lang, text), = services.flags(token)
    assert (category, lang, text) == ("self_harm", "ru", "хочу умереть")
    for lang in ("kk", "ru", "en"):
        info = services.model_info(token, lang)
        assert t(lang, "model_embedder") in info and t(lang, "composer_extractive") in info
    stats = services.stats(token)
    assert sum(r[3] for r in stats) == services.runtime.index.dense.size


def test_unanswered_groups_cyrillic_questions_regardless_of_case(services):
    services.tutor.ask(OFF_CORPUS_KK, "s1", lang="kk")
    services.tutor.ask(OFF_CORPUS_KK.lower(), "s2", lang="kk")
    token, _ = services.login(PASSWORD)
    assert [row[2] for row in services.unanswered(token)] == [2]


def test_examples_are_in_the_asked_language(services):
    for lang in ("kk", "ru"):
        examples = services.examples(lang)
        assert 1 <= len(examples) <= 6
        assert len(set(examples)) == len(examples)
    assert not set(services.examples("kk")) & set(services.examples("ru"))


def test_upload_needs_files_and_an_explicit_policy(services, tmp_path):
    token, _ = services.login(PASSWORD)
    for policy in ("", None, "secret"):
        with pytest.raises(UserError) as info:
            services.upload(token, [str(md_file(tmp_path))], "", None, "", policy)
        assert info.value.key == "policy_required"
    with pytest.raises(UserError) as info:
        services.upload(token, [], "", None, "", "homework")
    assert info.value.key == "no_files"
    assert services.runtime.store.get_document("upload/water-cycle.md") is None


def test_details_name_what_a_delete_removes(services):
    token, _ = services.login(PASSWORD)
    d = services.details(token, "kk/biology-cell")
    assert d["passages"] == len(services.preview(token, "kk/biology-cell")) > 0
    assert (d["title"], d["subject"], d["lang"]) == ("Жасуша", "biology", "kk")
    with pytest.raises(UserError):
        services.details(token, "no/such-document")


def test_session_is_kept_alive_by_activity_and_lapses_when_idle(services):
    assert services.token_ttl_s == 60 * services.settings.teacher_session_minutes
    services.token_ttl_s = 0.6
    token, _ = services.login(PASSWORD)
    for _ in range(3):  # each action restarts the idle clock
        time.sleep(0.3)
        services.documents(token)
    assert services.active(token)
    time.sleep(0.8)
    assert not services.active(token)  # polling does not count as activity
    with pytest.raises(NotAllowed):
        services.documents(token)


def test_older_feedback_tables_gain_the_question_and_sources(tmp_path):
    import sqlite3

    from tutor.store import Store

    path = tmp_path / "old.sqlite3"
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE feedback (id INTEGER PRIMARY KEY, at REAL NOT NULL, session TEXT NOT NULL, "
               "rating INTEGER NOT NULL, comment TEXT NOT NULL DEFAULT '', doc_keys TEXT NOT NULL "
               "DEFAULT '[]', subject TEXT NOT NULL DEFAULT '')")
    db.execute("INSERT INTO feedback (at, session, rating, comment, doc_keys, subject) "
               "VALUES (1, 's', -1, 'old comment', '[\"kk/x\"]', 'biology')")
    db.commit()
    db.close()
    store = Store(path)
    old, = store.feedback_items()
    assert (old["comment"], old["question"], old["sources"], old["titles"]) == (
        "old comment", "", [], ["kk/x"])
    store.add_feedback("s", 1, "", ["kk/x"], "biology", "Не?", [{"doc_key": "kk/x", "title": "X",
                                                               "where": "A"}])
    new = store.feedback_items()[0]
    assert new["question"] == "Не?" and new["sources"][0]["title"] == "X"
    store.close()


# ------------------------------------------------------------ every string in the chosen language
KK_ONLY = set("әғқңөұүһіӘҒҚҢӨҰҮҺІ")
CYRILLIC = re.compile(r"[\u0400-\u04FF]")
WORD = re.compile(r"[^\W\d_]+")
LATIN_WORD = re.compile(r"[A-Za-z][A-Za-z'-]+")
# Proper names, formats and codes that are the same in every language; the language names of the
# language switches are written in their own language on purpose.
ALLOWED = {"Ustaz", "PDF", "DOCX", "PPTX", "HTML", "Markdown", "markdown", "API", "MCP", "Gradio", "F1",
           "IIN", "ЖСН", "ИИН", "AI", "қазақша", "русский", "English",
           "MRR", "BM25", "RRF", "KazQAD", "XQuAD", "FLORES"}  # metrics and public data sets
LABEL = "<div class='ustaz-label'>"
# code, commands, paths, and «quoted» document titles and sections (data, not interface)
COMMANDS = re.compile(r"«[^»]*»|`[^`]*`|\btutor [a-z -]+[a-z]|--\w+|\S*/\S*")


class Page:
    """The Blocks as one browser tab would hold them: each event's callback is run in process and
    its outputs applied to the components' props, as the frontend applies them."""

    def __init__(self, demo):
        self.demo = demo
        self.props = {c["id"]: {**c.get("props", {}), "_type": c["type"]} for c in demo.config["components"]}
        self.values = {bid: getattr(block, "value", None) for bid, block in demo.blocks.items()}

    def block(self, **match):
        return next(bid for bid, p in self.props.items() if all(p.get(k) == v for k, v in match.items()))

    def fire(self, *, api_name: str = "", trigger: tuple | None = None, inputs: dict | None = None):
        inputs = inputs or {}
        self.values.update(inputs)  # what the person typed or chose is what the page holds
        fns = [f for f in self.demo.fns.values() if f.fn is not None and (
            (api_name and f.api_name == api_name)
            or (trigger and any(tuple(tg[:2]) == trigger for tg in f.targets)))]
        assert fns, (api_name, trigger)
        for f in fns:
            args = [inputs.get(b._id, self.values.get(b._id)) for b in f.inputs]
            result = f.fn(*args)
            if hasattr(result, "__next__"):  # a streaming callback: its last output stands
                *_, result = list(result)
            if len(f.outputs) == 1:
                result = [result]
            for block, value in zip(f.outputs, result or [], strict=True):
                self.apply(block._id, value)

    def apply(self, bid, value):
        if isinstance(value, dict) and value.get("__type__") == "update":
            self.props.setdefault(bid, {}).update({k: v for k, v in value.items() if k != "__type__"})
            if "value" in value:
                self.values[bid] = value["value"]
        elif not (hasattr(value, "__class__") and value.__class__.__name__ in ("Timer", "Group")):
            self.values[bid] = value
            self.props.setdefault(bid, {})["value"] = value

    def strings(self):
        """What a person reads: labels, info lines, placeholders, choices, buttons, Markdown, table
        headers and the table cells that are the app's own words (codes rendered as names)."""
        for bid, p in self.props.items():
            kind = p.get("_type")
            # the harness's English report, under a label in the chosen language that says so
            if p.get("visible") is False or p.get("elem_id") == TECHNICAL_ID:
                continue
            for key in ("label", "info", "placeholder"):
                if isinstance(p.get(key), str) and kind not in ("state", "chatbot"):
                    yield kind, key, p[key]
            for choice in p.get("choices") or []:
                yield kind, "choice", choice[0] if isinstance(choice, list | tuple) else choice
            value = p.get("value")
            if kind in ("markdown", "button", "html") and isinstance(value, str):
                yield kind, "value", value
            if kind == "dataframe" and isinstance(value, dict):
                headers = value.get("headers", [])
                yield from ((kind, "header", h) for h in headers)
                ours = {t(lg, h) for lg in ("kk", "ru", "en") for h in (
                    "h_lang", "h_subject", "h_policy", "h_status", "h_rating", "h_category", "h_message")}
                for row in value.get("data", []):
                    for h, cell in zip(headers, row, strict=False):
                        if h in ours and isinstance(cell, str):
                            yield kind, h, cell
            if kind == "chatbot" and isinstance(value, list):
                for message in value:
                    content = message.get("content") if isinstance(message, dict) else None
                    if isinstance(content, str) and LABEL in content:
                        yield kind, "footer", content[content.index(LABEL):]


def readable(text: str) -> str:
    """The words a person reads as interface: no markup, code, commands or «quoted» data."""
    import html as html_lib

    return COMMANDS.sub(" ", html_lib.unescape(re.sub(r"<[^>]+>", " ", text)))


def foreign(text: str, lang: str) -> list[str]:
    """Why ``text`` is not in ``lang``: letters of another language, or a word or phrase of
    another language's phrasebook."""
    plain = readable(text)
    for word in ALLOWED:
        plain = re.sub(rf"(?<!\w){re.escape(word)}(?!\w)", " ", plain)
    problems = []
    if lang != "kk" and KK_LETTERS_IN(plain):
        problems.append(f"Kazakh letters in {lang}: {plain!r}")
    if lang == "en" and CYRILLIC.search(plain):
        problems.append(f"Cyrillic in en: {plain!r}")
    if lang != "en":
        words = [w for w in LATIN_WORD.findall(plain) if len(w) > 1]
        if words:
            problems.append(f"Latin words {words} in {lang}: {plain!r}")
    return problems


def KK_LETTERS_IN(text: str) -> bool:  # noqa: N802 - reads as the set it tests
    return any(ch in KK_ONLY for ch in text)


def other_words(lang: str) -> set[str]:
    """Words that only the other languages' phrasebooks use (a Kazakh «Сынып» has no Kazakh-only
    letter, yet is no Russian word)."""
    from tutor.i18n import phrasebook

    def words(book):
        return {w.casefold() for text in book.values() for w in WORD.findall(text)}

    own = words(phrasebook(lang))
    return {w for other in {"kk", "ru", "en"} - {lang} for w in words(phrasebook(other)) - own
            if len(w) >= 4}


def other_phrases(lang: str) -> dict[str, str]:
    """Each phrase of the other languages that differs from this language's phrase for the key."""
    from tutor.i18n import phrasebook

    own = phrasebook(lang)
    out = {}
    for other in {"kk", "ru", "en"} - {lang}:
        for key, text in phrasebook(other).items():
            if len(text) > 3 and text != own.get(key) and text not in own.values():
                out[text] = f"{other}:{key}"
    return out


@pytest.mark.parametrize("lang", ["kk", "ru", "en"])
def test_every_component_of_every_tab_speaks_the_chosen_language(lang, services, tmp_path):
    import gradio as gr

    eval_report(tmp_path / "report")
    demo = build_blocks(services, default_lang="kk" if lang != "kk" else "ru", report_dir=tmp_path / "report")
    page = Page(demo)
    ui_lang = page.block(_type="radio", label=t("kk" if lang != "kk" else "ru", "ui_language"))
    start = page.values[ui_lang]

    # A teacher at work in the starting language: logged in, a file uploaded, a document chosen,
    # a delete waiting for confirmation, a student's answer and comment on screen.
    services.tutor.ask(OFF_CORPUS_KK, "s1", lang="kk")
    services.tutor.ask("хочу умереть", "s3", lang="ru")
    services.feedback("s" * 32, 1, "ok", ["kk/biology-cell"], "biology", "Жасуша деген не?",
                      [{"doc_key": "kk/biology-cell", "title": "Жасуша", "where": "Жасуша"}])
    page.fire(api_name="ask", inputs={b._id: v for b, v in zip(
        next(f for f in demo.fns.values() if f.api_name == "ask").inputs,
        [PHOTOSYNTHESIS_KK, [], "explain", "auto", "s" * 32, start, [], ""], strict=True)
        if b.__class__.__name__ != "State" or v is not None})
    password = page.block(_type="textbox", label=t(start, "teacher_password"))
    page.fire(api_name="teacher_login", inputs={password: PASSWORD})
    page.fire(api_name="teacher_views")
    bad = tmp_path / "program.exe"
    bad.write_bytes(b"MZ\x90\x00")
    files = page.block(_type="file")
    policy = page.block(_type="dropdown", label=t(start, "meta_policy"))
    page.fire(api_name="teacher_upload", inputs={files: [str(md_file(tmp_path)), str(bad)],
                                                 policy: "homework"})
    pick = next(b._id for b in demo.blocks.values() if isinstance(b, gr.Textbox) and not b.visible)
    page.fire(api_name="teacher_select", inputs={pick: "kk/biology-cell"})
    page.fire(api_name="teacher_delete")

    # ... then the interface language is switched.
    page.fire(trigger=(ui_lang, "change"), inputs={ui_lang: lang})
    phrases, words = other_phrases(lang), other_words(lang)
    problems, seen = [], 0
    for kind, where, text in page.strings():
        seen += 1
        problems += [f"{kind}.{where}: {p}" for p in foreign(str(text), lang)]
        strange = {w for w in WORD.findall(readable(str(text))) if w.casefold() in words} - ALLOWED
        if strange:
            problems.append(f"{kind}.{where}: words of another language {sorted(strange)} in {text!r}")
        if str(text).strip() in phrases and str(text).strip() not in ALLOWED:
            problems.append(f"{kind}.{where}: {text!r} is {phrases[str(text).strip()]}")
    assert seen > 100  # the walk reached the three tabs, the tables and the footers
    assert any("eval-table" in str(text) for _, _, text in page.strings())  # and the report's table
    assert not problems, "\n".join(problems)

    # The refusals a teacher can meet, in the chosen language too.
    with pytest.warns(UserWarning):  # gr.Warning, outside a request
        page.fire(api_name="teacher_upload", inputs={files: [str(bad)], policy: None})
    assert page.values[page.block(_type="markdown", value=t(lang, "policy_required"))]
    page.fire(api_name="teacher_logout")
    with pytest.raises(gr.Error) as info:
        page.fire(api_name="teacher_delete_confirm")
    assert info.value.message == t(lang, "not_logged_in")


# ---------------------------------------------------------------------------- evaluation tab
def eval_report(folder) -> dict:
    """A small report as `tutor eval --gate` writes it: a search check that meets its level, with
    baselines, the reader's ablation and two languages; a homework ceiling it exceeds; a check
    without a level; one that did not run."""
    from tutor.evaluation.report import write_reports

    report = {"meta": {"started": "2026-12-01 09:00:00", "corpus_documents": 42}, "tasks": {
        "retrieval_bundled": {
            "primary": "mrr@10", "direction": "max", "n": 120, "metrics": {"mrr@10": 0.962, "recall@1": 0.93},
            "gate": {"min": 0.94, "ok": True},
            "baselines": {"bm25": {"mrr@10": 0.81}, "dense": {"mrr@10": 0.88}, "rrf": {"mrr@10": 0.95}},
            "by_lang": {"kk": {"mrr@10": 0.955}, "ru": {"mrr@10": 0.969}},
            "reader": {"n": 40, "with": {"mrr@10": 0.97}, "without": {"mrr@10": 0.96}}},
        "homework": {"primary": "leak_rate", "direction": "min", "n": 30, "metrics": {"leak_rate": 0.05},
                     "gate": {"min": 0.02, "ok": False}, "by_lang": {"kk": {"leak_rate": 0.1}}},
        "safety": {"primary": "score", "direction": "max", "n": 50, "metrics": {"score": 1.0}},
        "retrieval_kazqad": {"skipped": "no --data folder"}}}
    write_reports(report, folder)
    return report


def eval_view(page: Page) -> str:
    import html as html_lib

    view = next(p["value"] for p in page.props.values()
                if p.get("_type") == "html" and "eval-table" in str(p.get("value")))
    return html_lib.unescape(view).replace("\xa0", " ")


def row_of(view: str, lang: str, task: str) -> str:
    return next(r for r in view.split("<tr>") if t(lang, f"evt_{task}") in r)


def test_evaluation_tab_reads_the_report_in_the_chosen_language(services, tmp_path):
    eval_report(tmp_path / "report")
    page = Page(build_blocks(services, default_lang="kk", report_dir=tmp_path / "report"))
    ui_lang = page.block(_type="radio", label=t("kk", "ui_language"))
    box = page.block(_type="accordion", label=t("kk", "eval_technical"))
    for lang, other in (("ru", "kk"), ("kk", "ru")):
        page.fire(trigger=(ui_lang, "change"), inputs={ui_lang: lang})
        view = eval_view(page)
        for task in ("retrieval_bundled", "homework", "safety", "retrieval_kazqad"):
            assert t(lang, f"evt_{task}") in view and t(lang, f"evd_{task}") in view, task
            assert t(other, f"evt_{task}") not in view
        assert t(lang, "evm_mrr_10") in view and t(lang, "evm_leak_rate") in view
        search, homework = row_of(view, lang, "retrieval_bundled"), row_of(view, lang, "homework")
        assert "0,962" in search and "≥ 0,940" in search and t(lang, "eval_met") in search
        assert "0,050" in homework and "≤ 0,020" in homework and t(lang, "eval_not_met") in homework
        assert t(lang, "eval_skipped") in row_of(view, lang, "retrieval_kazqad")
        assert t(lang, "eval_summary", ok=1, total=2) in view
        for bar in ("eval_base_bm25", "eval_base_rrf", "eval_bar_lang_kk", "eval_bar_run"):
            assert t(lang, bar) in view
        assert "retrieval_bundled" not in view and "this run" not in view
        # the harness's English report stays one click away, under a label in the chosen language
        assert page.props[box]["label"] == t(lang, "eval_technical")
        technical = page.values[page.block(elem_id=TECHNICAL_ID)]
        assert "retrieval_bundled" in technical and "this run" in technical

    # a new run, reloaded, in the language on screen; a folder without a report says so in it
    page.fire(trigger=(ui_lang, "change"), inputs={ui_lang: "ru"})
    report = eval_report(tmp_path / "report")
    report["tasks"]["homework"].update(metrics={"leak_rate": 0.0}, gate={"min": 0.02, "ok": True})
    (tmp_path / "report" / "report.json").write_text(json.dumps(report), encoding="utf-8")
    page.fire(api_name="eval_report")
    assert t("ru", "eval_met") in row_of(eval_view(page), "ru", "homework")
    empty = Page(build_blocks(services, default_lang="ru", report_dir=tmp_path / "none"))
    assert any(v.get("value") == f"<p>{t('ru', 'eval_none')}</p>" for v in empty.props.values())
    assert empty.props[empty.block(_type="accordion", label=t("ru", "eval_technical"))]["visible"] is False


def test_every_check_and_main_figure_has_words_in_each_language():
    from tutor.evaluation.tasks import TASKS
    from tutor.i18n import phrasebook
    from tutor.ui.evaluation import phrase_key

    keys = {phrase_key(kind, name) for name in TASKS for kind in ("evt_", "evd_")}
    keys |= {phrase_key("evm_", task.primary) for task in TASKS.values()}
    for lang in ("kk", "ru", "en"):
        assert not keys - set(phrasebook(lang)), lang


def test_interface_phrasebooks_hold_the_same_keys_in_their_format():
    import tutor.i18n

    books = {}
    for lang in ("kk", "ru", "en"):
        path = Path(tutor.i18n.__file__).parent / f"ui_{lang}.json"
        text = path.read_text(encoding="utf-8")
        books[lang] = json.loads(text)
        assert text == json.dumps(books[lang], indent=1, ensure_ascii=False) + "\n", path
    assert set(books["kk"]) == set(books["ru"]) == set(books["en"])


@pytest.mark.parametrize("english", [
    "no readable text found in the image: upload a sharp, well-lit photo or scan of a page",
    "the image is 12000×9000 pixels (108 megapixels), more than the limit of 60 megapixels",
    "the PDF is a scan without a text layer; tesseract is not installed",
    "the PDF has no text layer and OCR found no readable text in it",
    "2 page(s) read by OCR, lowest confidence 61%; page(s) 7 not read: tesseract failed",
    "1 page(s) with a broken Kazakh font repaired.",
])
def test_ocr_messages_reach_the_teacher_in_each_language(english):
    from tutor.ui.teacher_text import message

    for ui in ("kk", "ru", "en"):
        shown = message(ui, english)
        assert shown and t(ui, "err_unreadable") not in shown, (ui, shown)
    assert message("ru", english) != message("kk", english)
