"""The web app through its API: the real Blocks, launched in-process on loopback over the fake
runtime and driven with gradio_client, as a student's or a teacher's browser would drive it.
The last part calls the Services callbacks directly, with no server."""

from __future__ import annotations

import dataclasses
import json
import math
import re
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from types import SimpleNamespace

import pytest
from gradio_client import Client, handle_file
from gradio_client.exceptions import AppError

from tutor.answer.extractive import ExtractiveComposer
from tutor.auth import TeacherAuth
from tutor.i18n import t
from tutor.retrieval.hybrid import query_coverage
from tutor.tutor import Tutor
from tutor.ui.app import build_blocks, launch
from tutor.ui.services import NotAllowed, Services

PASSWORD = "a-strong-pass"
PHOTOSYNTHESIS_KK = "Фотосинтез дегеніміз не?"
OFF_CORPUS_KK = "Мона Лизаны кім салған?"  # who painted the Mona Lisa: in no bundled lesson
CITE = "<details class='ustaz-cite'>"
SESSION_ID = re.compile(r"^[0-9a-f]{32}$")
STUDENT_ENDPOINTS = {"/ask", "/clear", "/feedback", "/set_ui_language", "/eval_report", "/new_session"}
TEACHER_ENDPOINTS = {"/teacher_login", "/teacher_logout", "/teacher_upload", "/teacher_documents",
                     "/teacher_preview", "/teacher_delete", "/teacher_edit", "/teacher_rebuild",
                     "/teacher_jobs"}


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
def serve(services: Services) -> Iterator[str]:
    """Launch the app exactly as `tutor serve` does (same css, theme, upload limit), on a free
    loopback port, and close it afterwards."""
    settings = dataclasses.replace(services.settings, host="127.0.0.1", port=free_port())
    demo = build_blocks(services)
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
    with serve(services) as url:
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
def test_feedback_reaches_teacher_without_identity(app):
    client = app.client()
    ask(client, PHOTOSYNTHESIS_KK)
    assert client.predict("   ", "kk", api_name="/feedback") == ("", "")  # empty: nothing stored
    assert app.store.query("SELECT COUNT(*) FROM feedback")[0][0] == 0

    box, note = client.predict("Жақсы түсіндірді, рақмет! Тел +7 701 234 56 78", "kk",
                               api_name="/feedback")
    assert box == "" and note == t("kk", "feedback_thanks")

    token, _ = app.services.login(PASSWORD)
    (subject, up, down, comments), = app.services.feedback_summary(token)
    assert subject == "biology"  # tied to the answer's source, for the teacher's overview
    assert "Жақсы түсіндірді" in comments and "[phone]" in comments and "701" not in comments
    row = dict(app.store.query("SELECT * FROM feedback")[0])
    assert SESSION_ID.match(row["session"]) and "kk/biology-photosynthesis" in row["doc_keys"]


# ----------------------------------------------------------------------------- teacher
def guarded_calls(client: Client, upload_path) -> dict:
    return {
        "/teacher_documents": lambda: client.predict("", "", api_name="/teacher_documents"),
        "/teacher_upload": lambda: client.predict([handle_file(str(upload_path))], "geography", "7", "kk",
                                                  "reference", api_name="/teacher_upload"),
        "/teacher_delete": lambda: client.predict("kk/biology-photosynthesis", "kk",
                                                  api_name="/teacher_delete"),
        "/teacher_preview": lambda: client.predict("kk/biology-photosynthesis",
                                                   api_name="/teacher_preview"),
        "/teacher_edit": lambda: client.predict("kk/biology-photosynthesis", "Hacked", "", "", "", "",
                                                "kk", api_name="/teacher_edit"),
        "/teacher_rebuild": lambda: client.predict("kk", api_name="/teacher_rebuild"),
        "/teacher_jobs": lambda: client.predict("en", api_name="/teacher_jobs"),
    }


def assert_all_refused(client: Client, app) -> None:
    before = [(d.doc_key, d.title) for d in app.store.documents()]
    for name, call in guarded_calls(client, md_file(app.tmp)).items():
        message = refused(call)
        assert message == t("en", "not_logged_in"), (name, message)
    after = [(d.doc_key, d.title) for d in app.store.documents()]
    assert after == before  # nothing uploaded, deleted or renamed


@pytest.mark.integration  # launches the server
def test_teacher_endpoints_refuse_without_login(app):
    client = app.client()
    assert set(guarded_calls(client, app.tmp)) == TEACHER_ENDPOINTS - {"/teacher_login", "/teacher_logout"}
    assert_all_refused(client, app)


@pytest.mark.integration  # launches the server
def test_teacher_workflow_after_login(app):
    teacher, student = app.client(), app.client()
    msg, password_box = teacher.predict(PASSWORD, "kk", api_name="/teacher_login")
    assert msg == t("kk", "login_ok") and password_box == ""  # the password is not kept on screen

    docs = doc_keys(teacher.predict("", "", api_name="/teacher_documents"))
    assert "kk/biology-photosynthesis" in docs and len(docs) > 50
    assert set(doc_keys(teacher.predict("ru", "physics", api_name="/teacher_documents"))) == {
        d.doc_key for d in app.store.documents(lang="ru", subject="physics")}

    result, listed, files_box = teacher.predict([handle_file(str(md_file(app.tmp)))], "geography", "7",
                                                "kk", "reference", api_name="/teacher_upload")
    assert result["data"] == [["water-cycle.md", "added", "upload/water-cycle.md", 1, ""]]
    assert "upload/water-cycle.md" in doc_keys(listed) and files_box is None
    # Grade, subject and language may be left unset.
    plain = md_file(app.tmp, "notes.md", "Жаңбыр суы өзендерге құяды.")
    result, _, _ = teacher.predict([handle_file(str(plain))], "", "", "", "reference",
                                   api_name="/teacher_upload")
    assert result["data"][0][1] == "added" and app.store.get_document("upload/notes.md").grade is None
    # A student can now be answered from it.
    answer = text_of(ask(student, "Су айналымы дегеніміз не?", lang="kk")[-1][0][-1])
    assert CITE in answer and "Су айналымы" in answer

    chunks = teacher.predict("upload/water-cycle.md", api_name="/teacher_preview")
    assert "бұлттың түзілуі" in chunks["data"][0][2]

    listed, msg = teacher.predict("upload/water-cycle.md", "Су айналымы (7 сынып)", "", "8", "", "", "kk",
                                  api_name="/teacher_edit")
    assert msg == t("kk", "saved")
    row = next(r for r in listed["data"] if r[0] == "upload/water-cycle.md")
    assert row[1] == "Су айналымы (7 сынып)" and row[4] == 8

    msg, stats = teacher.predict("kk", api_name="/teacher_rebuild")
    assert msg == t("kk", "rebuilt")
    assert sum(r[3] for r in stats["data"]) == app.services.runtime.index.dense.size

    listed, msg, _ = teacher.predict("upload/water-cycle.md", "kk", api_name="/teacher_delete")
    assert msg == t("kk", "deleted") and "upload/water-cycle.md" not in doc_keys(listed)
    assert teacher.predict("upload/water-cycle.md", "kk", api_name="/teacher_delete")[1] == t("kk", "not_found")

    # The login belongs to the teacher's session only; another tab stays a student.
    assert_all_refused(student, app)
    teacher.predict(api_name="/teacher_logout")
    assert_all_refused(teacher, app)


@pytest.mark.integration  # launches the server
def test_wrong_password_refused_and_repeated_failures_lock(app):
    client = app.client()
    msg, _ = client.predict("not-the-password", "ru", api_name="/teacher_login")
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
                               app.services.feedback_summary(token)], ensure_ascii=False)
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
             lambda: services.feedback_summary(""), lambda: services.flags(""),
             lambda: services.model_info("")]
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
    assert services.model_info(token) == "extractive"
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
