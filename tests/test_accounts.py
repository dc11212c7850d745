"""Schools, classes and teacher accounts: password hashes, lockout and sessions kept in the
database, what each role may read and change, the `tutor school|class|teacher` commands, and the
teacher tab driven through gradio_client by two teachers of different classes."""

from __future__ import annotations

import io
import json
import time
from types import SimpleNamespace

import pytest
from gradio_client import Client, handle_file
from test_ui import HashingEvidence, serve, text_of

from tutor.answer.extractive import ExtractiveComposer
from tutor.auth import TeacherAuth
from tutor.cli import main
from tutor.directory import (
    Directory,
    DirectoryError,
    class_link,
    hash_password,
    normalise_code,
    verify_password,
)
from tutor.i18n import t
from tutor.scopes import Place
from tutor.store import Store
from tutor.tutor import Tutor
from tutor.ui.services import NotAllowed, Services, UserError

SHARED = "the-shared-pass"
PASS_A, PASS_B = "alpha-pass-1", "bravo-pass-2"


@pytest.fixture
def directory(tmp_path):
    store = Store(tmp_path / "d.sqlite3")
    yield Directory(store)
    store.close()


def doc(school_id, class_id):
    return SimpleNamespace(school_id=school_id, class_id=class_id)


# ---------------------------------------------------------------------------- library
def test_passwords_are_scrypt_hashes_that_carry_their_parameters():
    stored = hash_password("correct horse")
    assert stored.startswith("scrypt$32768$8$1$") and "correct horse" not in stored
    assert verify_password("correct horse", stored) and not verify_password("correct hors", stored)
    assert hash_password("correct horse") != stored  # salted
    # a hash made with other costs still verifies: the parameters can be raised later
    assert verify_password("x" * 8, hash_password("x" * 8, n=2 ** 12, r=8, p=1))
    assert not verify_password("anything", "pbkdf2$garbage")


def test_lockout_holds_in_another_process_and_says_until_when(tmp_path):
    path = tmp_path / "d.sqlite3"
    first = Directory(Store(path), max_failures=3, lock_s=0.6)
    first.add_teacher("default", "asel", PASS_A)
    for _ in range(2):
        with pytest.raises(DirectoryError) as info:
            first.authenticate("asel", "wrong-guess")
        assert info.value.key == "login_failed_account"
    with pytest.raises(DirectoryError) as info:
        first.authenticate("asel", "wrong-guess")
    assert info.value.key == "login_locked_until" and info.value.params["time"]
    # a second app process (another Store on the same file) refuses even the right password
    second = Directory(Store(path), max_failures=3, lock_s=0.6)
    with pytest.raises(DirectoryError) as info:
        second.authenticate("asel", PASS_A)
    assert info.value.key == "login_locked_until"
    assert info.value.params["time"] in str(info.value)  # the message names the time
    time.sleep(0.7)
    assert second.authenticate("asel", PASS_A).username == "asel"
    # a success resets the count: two more failures do not lock
    for _ in range(2):
        with pytest.raises(DirectoryError):
            second.authenticate("asel", "wrong-guess")
    assert second.authenticate("asel", PASS_A).username == "asel"
    # an unknown name fails like a wrong password
    with pytest.raises(DirectoryError) as info:
        second.authenticate("nobody", PASS_A)
    assert info.value.key == "login_failed_account"


def test_sessions_are_stored_hashed_expire_and_slide(directory):
    account = directory.add_teacher("default", "asel", PASS_A)
    token = directory.open_session(account, ttl_s=0.5)
    stored = directory.store.query("SELECT * FROM teacher_sessions")
    assert len(stored) == 1 and token not in json.dumps([dict(r) for r in stored])
    assert directory.session(token).username == "asel"
    time.sleep(0.3)
    assert directory.session(token, ttl_s=0.5) is not None  # activity: the idle clock restarts
    time.sleep(0.3)
    assert directory.session(token) is not None
    time.sleep(0.6)
    assert directory.session(token) is None
    assert not directory.store.query("SELECT * FROM teacher_sessions")  # the lapsed one is gone
    other = directory.open_session(account, ttl_s=60)
    directory.end_session(other)
    assert directory.session(other) is None


def test_class_codes_places_and_refusals(directory):
    school = directory.add_school("School 12")
    klass = directory.add_class(school, "7A")
    code = klass.code
    assert directory.class_by_code(f" {code[:3].lower()}-{code[3:].lower()} ") == klass
    assert normalise_code("ab-c d") == "ABCD"
    assert directory.default_class().is_default
    assert directory.default_class(school.id).school_id == school.id  # a new school has one too
    assert directory.scope_of_class(klass).sees(doc(school.id, klass.id))
    assert directory.place_for("region") == Place("region", None, None, "region/")
    assert directory.place_for("school:default").key_prefix == ""  # one-school keys unchanged
    assert directory.place_for("school:School 12").key_prefix == f"school{school.id}/"
    assert directory.place_for(f"class:{code.lower()}") == Place("class", school.id, klass.id,
                                                               f"class{klass.id}/")
    for bad, key in (("school:Nope", "dir_no_school"), ("class:ZZZZZZ", "dir_no_class"),
                     ("everywhere", "dir_bad_place")):
        with pytest.raises(DirectoryError) as info:
            directory.place_for(bad)
        assert info.value.key == key
    with pytest.raises(DirectoryError, match="already"):
        directory.add_class(school, "7A")
    with pytest.raises(DirectoryError, match="already"):
        directory.add_school("School 12")
    with pytest.raises(DirectoryError, match="8 characters"):
        directory.add_teacher(school, "weak", "short")
    with pytest.raises(DirectoryError):
        directory.add_teacher(None, "homeless", PASS_A)  # a teacher belongs to a school
    assert [r["username"] for r in directory.teachers()] == []  # nothing written by a refusal


def test_what_each_role_may_read_and_change(directory):
    s1, s2 = directory.add_school("One"), directory.add_school("Two")
    teacher = directory.add_teacher(s1, "asel", PASS_A)
    a = directory.add_class(s1, "7A", teacher.id)
    b = directory.add_class(s1, "7B")
    c = directory.add_class(s2, "9C")
    teacher = directory.account(teacher.id)
    admin = directory.add_teacher(s1, "head", PASS_B, "school-admin")
    region = directory.add_teacher(None, "akimat", PASS_B, "region-admin")
    region_doc, school_doc = doc(None, None), doc(s1.id, None)
    a_doc, b_doc, other_doc = doc(s1.id, a.id), doc(s1.id, b.id), doc(s2.id, c.id)

    assert [teacher.can_read(d) for d in (region_doc, school_doc, a_doc, b_doc, other_doc)] == [
        True, True, True, False, False]
    assert [teacher.can_write(d) for d in (region_doc, school_doc, a_doc, b_doc, other_doc)] == [
        False, False, True, False, False]
    assert teacher.question_class_ids() == (a.id,)
    allowed = Directory(directory.store, teachers_upload_to_school=True).account(teacher.id)
    assert allowed.can_write(school_doc) and not allowed.can_write(b_doc)

    assert [admin.can_read(d) for d in (region_doc, school_doc, a_doc, b_doc, other_doc)] == [
        True, True, True, True, False]
    assert [admin.can_write(d) for d in (region_doc, school_doc, a_doc, b_doc, other_doc)] == [
        False, True, True, True, False]
    assert set(admin.question_class_ids()) == {k.id for k in directory.classes(school_id=s1.id)}

    assert region.school_id is None
    assert [region.can_read(d) for d in (region_doc, school_doc, a_doc, other_doc)] == [
        True, False, False, False]
    assert region.can_write(region_doc) and region.question_class_ids() == ()

    assert [p[2] for p in directory.upload_places(teacher)] == [f"class:{a.code}"]
    assert [p[0] for p in directory.upload_places(admin)] == ["school", "class", "class", "class"]
    assert directory.upload_places(region) == [("region", "", "region")]
    assert (teacher.may_add_class(), teacher.may_add_teacher(), teacher.may_add_school()) == (
        True, False, False)
    assert admin.may_add_teacher() and region.may_add_school() and not region.may_add_class()


def test_totals_are_counts_per_school_without_texts(directory):
    s = directory.add_school("One")
    klass = directory.add_class(s, "7A")
    store = directory.store
    store.log_question("x", "kk", "explain", "a private question", False, None, class_id=klass.id)
    store.log_question("x", "kk", "explain", "another", True, 0.9, class_id=klass.id)
    store.add_feedback("x", 1, "good", [], "", class_id=klass.id)
    totals = {r["school"]: r for r in directory.totals()}
    assert totals["One"] == {"school": "One", "documents": 0, "questions": 2, "unanswered": 1,
                             "feedback": 1}
    assert totals["default"]["questions"] == 0
    assert "private" not in json.dumps(totals)


# ---------------------------------------------------------------------------- CLI
def run(capsys, *argv, stdin: str | None = None, monkeypatch=None) -> tuple[int, str, str]:
    if stdin is not None:
        monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_adds_schools_classes_and_teachers(tmp_path, capsys, monkeypatch):
    data = ["--data-dir", str(tmp_path / "data")]
    assert run(capsys, "school", "add", "School 12", *data)[0] == 0
    code, _, err = run(capsys, "school", "add", "School 12", *data)
    assert code == 2 and "already exists" in err
    code, out, _ = run(capsys, "school", "list", "--json", *data)
    assert [s["name"] for s in json.loads(out)] == ["default", "School 12"]

    code, _, err = run(capsys, "teacher", "add", "asel", "--school", "School 12", "--password-stdin",
                       *data, stdin="short\n", monkeypatch=monkeypatch)
    assert code == 2 and "8 characters" in err
    code, _, err = run(capsys, "teacher", "add", "asel", "--school", "Nope", "--password-stdin",
                       *data, stdin=PASS_A + "\n", monkeypatch=monkeypatch)
    assert code == 2 and "no school named 'Nope'" in err
    code, out, _ = run(capsys, "teacher", "add", "asel", "--school", "School 12", "--password-stdin",
                       *data, stdin=PASS_A + "\n", monkeypatch=monkeypatch)
    assert code == 0 and "no longer" in out  # the first account ends the shared password
    code, _, err = run(capsys, "teacher", "add", "asel", "--school", "School 12", "--password-stdin",
                       *data, stdin=PASS_A + "\n", monkeypatch=monkeypatch)
    assert code == 2 and "taken" in err
    assert run(capsys, "teacher", "add", "akimat", "--role", "region-admin", "--password-stdin",
               *data, stdin=PASS_B + "\n", monkeypatch=monkeypatch)[0] == 0

    code, out, _ = run(capsys, "class", "add", "--school", "School 12", "--teacher", "asel", "--json",
                       "7A", *data)
    made = json.loads(out)
    assert code == 0 and made["link"] == f"http://127.0.0.1:7860/?class={made['code']}"
    code, _, err = run(capsys, "class", "add", "--school", "School 12", "7A", *data)
    assert code == 2 and "already has a class" in err
    code, out, _ = run(capsys, "class", "list", "--school", "School 12", "--json", *data)
    assert {c["name"] for c in json.loads(out)} == {"default", "7A"}

    png = tmp_path / "7a.png"
    code, out, _ = run(capsys, "class", "qr", made["code"].lower(), "--out", str(png), *data)
    assert code == 0 and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert run(capsys, "class", "qr", "ZZZZZZ", "--out", str(tmp_path / "x.png"), *data)[0] == 2
    assert not (tmp_path / "x.png").exists()

    store = Store(tmp_path / "data" / "ustaz.sqlite3")
    directory = Directory(store)
    asel = directory.authenticate("asel", PASS_A)
    assert asel.class_ids == (made["id"],) and directory.authenticate("akimat", PASS_B).school_id is None
    assert len(directory.teachers()) == 2 and len(directory.schools()) == 2  # refusals wrote nothing


# ---------------------------------------------------------------------------- the app
@pytest.fixture
def school(fake_runtime, tmp_path, monkeypatch):
    """The default school with classes A (teacher a) and B (teacher b), each holding a lesson
    and a question, a rating and a flag of its students; a region admin; the app served."""
    monkeypatch.setenv("GRADIO_TEMP_DIR", str(tmp_path / "gradio"))
    tutor = Tutor(HashingEvidence(fake_runtime.retriever), fake_runtime.store,
                  extractive=ExtractiveComposer(fake_runtime.embedder))
    services = Services(fake_runtime.settings, fake_runtime, tutor, TeacherAuth(tmp_path, SHARED))
    d = services.directory
    a_user = d.add_teacher("default", "teacher-a", PASS_A)
    b_user = d.add_teacher("default", "teacher-b", PASS_B)
    d.add_teacher(None, "akimat", PASS_B, "region-admin")
    a, b = d.add_class("default", "7A", a_user.id), d.add_class("default", "7B", b_user.id)
    store, keys = fake_runtime.store, {}
    for name, klass, text in (("a", a, "Alpha lesson about volcanoes."), ("b", b, "Bravo lesson about glaciers.")):
        r = fake_runtime.ingestor.ingest_bytes(f"{name}.md", f"# Lesson {name}\n\n{text}\n".encode(),
                                               place=d.place_for(f"class:{klass.code}"), policy="reference")
        keys[name] = r.doc_key
        store.log_question("s", "en", "explain", f"secret question of class {name}", False, None,
                           class_id=klass.id)
        store.add_feedback("s", -1, f"comment of class {name}", [], "", class_id=klass.id)
        store.add_flag("s", "self_harm", "en", f"flag of class {name}", class_id=klass.id)
    with serve(services) as url:
        clients = []

        def client(username: str, password: str) -> Client:
            c = Client(url, verbose=False, download_files=False)
            clients.append(c)
            msg = c.predict(password, "en", username, api_name="/teacher_login")[0]
            assert msg == t("en", "login_ok"), msg
            return c

        yield SimpleNamespace(services=services, store=store, keys=keys, a=a, b=b, client=client,
                              url=url, tmp=tmp_path)
        for c in clients:
            c.close()


def views(client: Client) -> dict:
    docs, unanswered, feedback, flags = client.predict("", "", "en", api_name="/teacher_views")[:4]
    return {"docs": [r[0] for r in docs["data"]], "text": json.dumps([unanswered, feedback, flags])}


@pytest.mark.integration  # launches the server
def test_teacher_a_cannot_see_or_change_class_b_through_the_api(school):
    a = school.client("teacher-a", PASS_A)
    key_a, key_b = school.keys["a"], school.keys["b"]
    assert key_a == f"class{school.a.id}/upload/a.md"

    seen = views(a)
    assert key_a in seen["docs"] and key_b not in seen["docs"]
    assert "kk/biology-photosynthesis" in seen["docs"]  # the region library
    assert "class a" in seen["text"] and "class b" not in seen["text"]
    listed = a.predict("", "", "en", api_name="/teacher_documents")
    assert key_b not in [r[0] for r in listed["data"]]

    # choosing B's lesson by its id reads as a document that is not there
    chosen = a.predict(key_b, "en", api_name="/teacher_select")
    assert chosen[0] == t("en", "not_found") and "glaciers" not in json.dumps(chosen)
    # so a delete has nothing chosen, and edits change nothing
    assert a.predict("en", api_name="/teacher_delete")[1] == t("en", "choose_first")
    assert a.predict("", "", "en", api_name="/teacher_delete_confirm")[1] == t("en", "choose_first")
    assert a.predict("Hacked", "", "", "", None, "", "", "en", api_name="/teacher_edit")[1] == t(
        "en", "choose_first")
    # uploading into B's class is refused; into A's own class it works
    path = school.tmp / "rivers.md"
    path.write_text("# Rivers\n\nThe Irtysh river flows north.\n", encoding="utf-8")
    refused = a.predict([handle_file(str(path))], "geography", "7", "en", "reference", "", "", "en",
                        f"class:{school.b.code}", api_name="/teacher_upload")
    assert refused[1] == t("en", "not_permitted_action")
    rows = a.predict([handle_file(str(path))], "geography", "7", "en", "reference", "", "", "en",
                     f"class:{school.a.code}", api_name="/teacher_upload")[0]["data"]
    assert rows[0][2] == f"class{school.a.id}/upload/rivers.md"
    assert school.store.get_document(key_b).title == "Lesson b"
    assert school.store.get_document(f"class{school.a.id}/upload/rivers.md").class_id == school.a.id

    # teacher B sees their own, and not A's
    b = school.client("teacher-b", PASS_B)
    seen_b = views(b)
    assert key_b in seen_b["docs"] and key_a not in seen_b["docs"]
    assert "class b" in seen_b["text"] and "class a" not in seen_b["text"]
    chosen = b.predict(key_b, "en", api_name="/teacher_select")
    assert "Lesson b" in chosen[0]


@pytest.mark.integration  # launches the server
def test_services_refuse_another_class_and_the_shared_password(school):
    s = school.services
    token, msg = s.login(PASS_A, "ru", "teacher-a")
    assert token and msg == t("ru", "login_ok")
    with pytest.raises(UserError) as info:
        s.delete(token, school.keys["b"])
    assert info.value.key == "not_found"
    with pytest.raises(UserError):
        s.edit(token, school.keys["b"], "Hacked", "", None, "", "")
    assert s.preview(token, school.keys["b"]) == [] and s.details(token, school.keys["a"])
    assert school.store.get_document(school.keys["b"]).title == "Lesson b"
    with pytest.raises(UserError):
        s.rebuild(token)  # an admin's decision
    with pytest.raises(UserError):
        s.add_school(token, "School 9")
    with pytest.raises(UserError):
        s.totals(token)

    # a class A's teacher makes: its code, link and QR code, and it is theirs at once
    made = s.add_class(token, "7C")
    assert made["link"].endswith(f"?class={made['code']}") and made["qr_png"][:4] == b"\x89PNG"
    assert f"class:{made['code']}" in [spec for _, spec in s.where_choices(token)]

    # the shared password no longer logs in, since accounts exist
    assert s.login(SHARED, "kk") == ("", t("kk", "login_legacy_off"))
    assert s.login(PASS_A, "en", "teacher-b")[0] == ""
    s.logout(token)
    with pytest.raises(NotAllowed):
        s.documents(token)

    region, _ = s.login(PASS_B, "en", "akimat")
    assert {k for k, *_ in s.documents(region)} == {d.doc_key for d in school.store.documents()
                                                    if d.school_id is None}
    assert s.unanswered(region) == [] and s.feedback_items(region) == [] and s.flags(region) == []
    totals = {r[0]: r for r in s.totals(region)}
    assert totals["default"][2:4] == [2, 2]  # questions, unanswered: counts only
    assert s.add_school(region, "School 9") == "School 9"
    with pytest.raises(UserError):
        s.add_class(region, "1A")


def test_shared_password_works_until_the_first_account(fake_runtime, tmp_path):
    s = Services(fake_runtime.settings, fake_runtime, None, TeacherAuth(tmp_path, SHARED))
    token, _ = s.login(SHARED)
    account = s.require(token)
    assert account.legacy and account.role == "school-admin"
    assert s.where_choices(token)[0][1] == "school:default"
    # the shared password's admin adds the first account; from then on only accounts log in
    assert s.add_teacher(token, "asel", PASS_A) == "asel"
    with pytest.raises(NotAllowed):
        s.require(token)
    assert s.login(SHARED) == ("", t("en", "login_legacy_off"))
    assert s.login(PASS_A, "en", "asel")[0]


@pytest.mark.integration  # launches the server
def test_admin_actions_through_the_api_follow_the_role(school):
    a = school.client("teacher-a", PASS_A)
    msg, image, name_box = a.predict("7C", "ru", api_name="/teacher_add_class")
    d = school.services.directory
    teacher_a = next(r["id"] for r in d.teachers() if r["username"] == "teacher-a")
    klass = next(k for k in d.classes(teacher_id=teacher_a) if k.name == "7C")  # A's class now
    assert msg == t("ru", "class_created", name="7C", code=klass.code,
                    link=f"http://127.0.0.1:7860/?class={klass.code}")
    assert image and name_box == ""  # the QR code is shown, the box emptied for the next
    assert a.predict("School 9", "en", api_name="/teacher_add_school")[0] == t("en", "not_permitted_action")
    assert a.predict("intruder", "a-long-password", "teacher", "en",
                     api_name="/teacher_add_teacher")[0] == t("en", "not_permitted_action")
    assert [s.name for s in school.services.directory.schools()] == ["default"]
    assert "intruder" not in [r["username"] for r in school.services.directory.teachers()]

    region = school.client("akimat", PASS_B)
    assert region.predict("School 9", "kk", api_name="/teacher_add_school")[0] == t(
        "kk", "school_added", name="School 9")
    assert region.predict("School 9", "en", api_name="/teacher_add_school")[0] == t(
        "en", "dir_school_exists", name="School 9")


@pytest.mark.integration  # launches the server
def test_a_student_with_a_class_code_gets_that_class_and_never_another(school):
    """Through /join_class and /ask as a browser does: the code chooses the class whose
    lessons answer; another class's lesson is never quoted, and an unknown code is said so."""
    student = Client(school.url, verbose=False, download_files=False)
    try:
        code, _, said = student.predict(school.a.code.lower(), "en", api_name="/join_class")
        assert code == school.a.code and said == t("en", "class_joined_here", name="7A")

        def answer(question: str, code: str) -> str:
            return text_of(student.predict(question, [], "explain", "en", "en", code, api_name="/ask")[0][-1])

        assert "volcanoes" in answer("What is the Alpha lesson about?", school.a.code)
        leaked = answer("What is the Bravo lesson about?", school.a.code)
        assert "glaciers" not in leaked and "Bravo" not in leaked.replace("the Bravo lesson", "")
        assert "glaciers" in answer("What is the Bravo lesson about?", school.b.code)
        # without a code: the school's default class, which sees neither class's lesson
        assert "volcanoes" not in answer("What is the Alpha lesson about?", "")
        assert t("en", "class_unknown", code="NOPE42") == student.predict("NOPE42", "en", api_name="/join_class")[2]
        asked = school.store.query("SELECT class_id FROM questions WHERE question LIKE 'What is the Alpha%'")
        assert [r[0] for r in asked] == [school.a.id, school.services.directory.default_class().id]
    finally:
        student.close()


def test_class_codes_cannot_be_guessed_from_one_address(school, monkeypatch):
    """After CODE_MISSES unknown codes from one address, even a right code counts as none
    there for a while; another address is not affected."""
    from tutor.ui import services as services_module

    monkeypatch.setattr(services_module, "CODE_MISSES", 5)
    s = school.services
    for i in range(5):
        assert s.student_class(f"WRONG{i}", "10.0.0.7")[1] == "unknown"
    assert s.student_class(school.a.code, "10.0.0.7") == (s.directory.default_class(), "blocked")
    assert s.class_label(school.a.code, "ru", "10.0.0.7") == t("ru", "class_code_tries")
    assert s.student_scope(school.a.code, "10.0.0.7").class_id != school.a.id
    assert s.student_class(school.a.code, "10.0.0.8") == (school.a, "known")


def test_class_link_is_an_address_a_student_device_can_open(monkeypatch):
    """Behind a reverse proxy the app listens on 127.0.0.1, which a student's phone cannot
    open: the link starts with the public address when one is set, and names this computer
    instead of 'every address'."""
    def link(**kw):
        return class_link(SimpleNamespace(**({"host": "127.0.0.1", "port": 7861, "public_url": ""} | kw)),
                          "K7Q2")

    assert link() == "http://127.0.0.1:7861/?class=K7Q2"
    assert link(public_url="https://ustaz.school.local/") == "https://ustaz.school.local/?class=K7Q2"
    monkeypatch.setattr("socket.gethostname", lambda: "school-server")
    assert link(host="0.0.0.0") == "http://school-server:7861/?class=K7Q2"
    assert link(host="fe80::1") == "http://[fe80::1]:7861/?class=K7Q2"


@pytest.mark.integration  # the embedded e5 model, as `tutor ingest` and `tutor ask` load it
def test_cli_ingest_to_a_class_and_ask_as_its_student_or_another_classes(tmp_path, capsys):
    """`tutor ingest --scope class:CODE` puts a sheet in one class; `tutor ask --class CODE`
    finds it there and not in a class of another school."""
    from conftest import model_cache

    empty = tmp_path / "corpus"
    empty.mkdir()
    common = ["--data-dir", str(tmp_path / "data"), "--corpus-dir", str(empty),
              "--model-cache", str(model_cache()), "--composer", "extractive", "--generator", "none"]
    for school in ("School 12", "School 40"):
        assert run(capsys, "school", "add", school, *common)[0] == 0
    codes = {}
    for school, name in (("School 12", "7A"), ("School 40", "8B")):
        code, out, _ = run(capsys, "class", "add", "--school", school, name, "--json", *common)
        assert code == 0
        codes[name] = json.loads(out)["code"]
    sheets = {
        "7A": "# Сынып саяхаты\n\nБіздің сыныптың саяхаты Баянауыл ұлттық паркіне 14 мамырда болады. "
              "Саяхатта оқушылар Жасыбай көлін көреді және парктің өсімдіктері туралы біледі. "
              "Автобус мектептің алдынан таңғы сегізде шығады.\n",
        "8B": "# Кітапхана\n\nМектеп кітапханасы сенбі күні түскі екіге дейін ашық. "
              "Кітапты екі аптаға алуға болады.\n",
    }
    for name, text in sheets.items():
        path = tmp_path / f"{name}.md"
        path.write_text(text, encoding="utf-8")
        code, _, err = run(capsys, "ingest", str(path), "--scope", f"class:{codes[name]}", "--lang", "kk",
                           "--policy", "reference", *common)
        assert code == 0, err

    question = "Сынып саяхаты Баянауылға қашан болады?"
    code, out, _ = run(capsys, "ask", question, "--class", codes["7A"], "--json", *common)
    own = json.loads(out)
    assert code == 0 and "14 мамыр" in own["text"]
    assert [c["title"] for c in own["citations"]] == ["Сынып саяхаты"]
    code, out, _ = run(capsys, "ask", question, "--class", codes["8B"], "--json", *common)
    other = json.loads(out)
    assert code == 0 and other["abstained"] and "14 мамыр" not in other["text"]
    assert all(c["title"] != "Сынып саяхаты" for c in other["citations"])
    code, _, err = run(capsys, "ask", question, "--class", "NOPE99", *common)
    assert code == 2 and "NOPE99" in err
