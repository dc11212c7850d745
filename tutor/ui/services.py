"""The app's callbacks as plain functions (no Gradio types), so tests call them directly.
Teacher actions check a server-side token on every call, and the token's account may only read
and change what its role allows (tutor/directory.py)."""

from __future__ import annotations

import secrets
import threading
import time
import uuid
from collections import defaultdict, deque
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace

from tutor.directory import ROLES, Account, Directory, DirectoryError, class_link, qr_png
from tutor.evaluation.datasets import bundled_items
from tutor.i18n import t
from tutor.ingest import IngestError
from tutor.ingest.jobs import eta_seconds
from tutor.migrate import DEFAULT_SCHOOL
from tutor.safety.pii import redact_pii
from tutor.store import POLICIES

# Unknown class codes one client (an address) may try in a window before every code it sends
# counts as none: enough for a class's typos, far too few to find a class by guessing.
CODE_MISSES = 30
CODE_WINDOW_S = 600.0


class NotAllowed(PermissionError):
    pass


class UserError(ValueError):
    """A teacher's request that cannot be done as asked; ``key`` names the phrase that says why
    (the UI shows it in the teacher's language)."""

    def __init__(self, key: str, **params):
        self.key = key
        self.params = params
        super().__init__(key)


@dataclass
class Services:
    settings: object
    runtime: object
    tutor: object
    auth: object
    composer_choice: object = None
    sync: object = None  # the CorpusSync that keeps this process's indexes current (tutor/ui/app.py)
    _tokens: dict[str, float] = field(default_factory=dict)  # the shared password's logins
    _lock: threading.Lock = field(default_factory=threading.Lock)
    token_ttl_s: float | None = None  # idle time before a teacher login lapses
    directory: Directory | None = None
    _code_misses: dict[str, deque] = field(default_factory=dict)  # per client: unknown class codes tried

    def __post_init__(self):
        if self.token_ttl_s is None:
            self.token_ttl_s = 60.0 * getattr(self.settings, "teacher_session_minutes", 30)
        if self.directory is None:
            self.directory = Directory(self.runtime.store,
                                       getattr(self.settings, "teachers_upload_to_school", False))

    # ------------------------------------------------------------------ student
    @staticmethod
    def new_session() -> str:
        return uuid.uuid4().hex  # pseudonymous: no name, no account

    def examples(self, lang: str) -> list[str]:
        try:
            items = [i for i in bundled_items("answerable") if i["lang"] == lang]
        except Exception:  # noqa: BLE001 - examples are a nicety
            return []
        return [i["question"] for i in items[::17][:6]]

    def student_class(self, code: str, client: str = ""):
        """The class a student's code names, or the school's default class when the code is
        empty, unknown or tried from a client that has guessed too often: (class, "none" |
        "known" | "unknown" | "blocked"). No account, nothing personal: the code only chooses
        which materials the student's questions search."""
        code = (code or "").strip()
        if not code:
            return self.directory.default_class(), "none"
        if self._guessing(client):
            return self.directory.default_class(), "blocked"
        klass = self.directory.class_by_code(code)
        if klass is not None:
            return klass, "known"
        with self._lock:  # a class's materials are one code away: codes are not to be guessed
            self._code_misses.setdefault(client, deque()).append(time.monotonic())
        return self.directory.default_class(), "unknown"

    def _guessing(self, client: str) -> bool:
        with self._lock:
            misses = self._code_misses.get(client)
            while misses and time.monotonic() - misses[0] > CODE_WINDOW_S:
                misses.popleft()
            return bool(misses) and len(misses) >= CODE_MISSES

    def student_scope(self, code: str, client: str = ""):
        klass, _ = self.student_class(code, client)
        return self.directory.scope_of_class(klass) if klass is not None else None

    def class_label(self, code: str, lang: str, client: str = "") -> str:
        klass, status = self.student_class(code, client)
        if status == "blocked":
            return t(lang, "class_code_tries")
        if status == "unknown":
            return t(lang, "class_unknown", code=code.strip()[:20])
        if klass is None or klass.is_default:
            return t(lang, "class_default")
        school = self.directory.school(klass.school_id).name
        if school == DEFAULT_SCHOOL:  # a one-school install: its school has no name worth showing
            return t(lang, "class_joined_here", name=klass.name)
        return t(lang, "class_joined", name=klass.name, school=school)

    def ask_stream(self, question: str, session: str, mode: str, lang: str, code: str = "", client: str = ""):
        """The tutor's answer, searched in the student's class, school and region library."""
        return self.tutor.stream(question, session, mode, lang, self.student_scope(code, client))

    def feedback(self, session: str, rating: int, comment: str, doc_keys: list[str],
                 subject: str, question: str = "", sources: list[dict] | None = None,
                 code: str = "") -> None:
        klass = self.directory.class_by_code(code) if (code or "").strip() else None
        klass = klass or self.directory.default_class()
        self.runtime.store.add_feedback(session, rating, redact_pii(comment or "")[:1000],
                                        doc_keys, subject, redact_pii(question or "")[:1000],
                                        sources or [], class_id=klass.id if klass else None)

    # ------------------------------------------------------------------ teacher
    def login(self, password: str, lang: str = "en", username: str = "") -> tuple[str, str]:
        """A token and what to say. With a username, that account's password (sessions in the
        database, any replica accepts them); without, the shared password, which works only
        while no account exists."""
        if (username or "").strip():
            try:
                account = self.directory.authenticate(username, password or "")
            except DirectoryError as exc:
                return "", t(lang, exc.key, **exc.params)
            return self.directory.open_session(account, self.token_ttl_s), t(lang, "login_ok")
        if self.directory.has_accounts():
            return "", t(lang, "login_legacy_off")
        if not self.auth.configured:
            return "", t(lang, "login_unset")
        if self.auth.locked():
            return "", t(lang, "login_locked")
        if not self.auth.check(password or ""):
            return "", t(lang, "login_failed")
        token = secrets.token_urlsafe(24)
        with self._lock:
            self._tokens[token] = time.time() + self.token_ttl_s
        return token, t(lang, "login_ok")

    def logout(self, token: str) -> None:
        with self._lock:
            self._tokens.pop(token or "", None)
        if token:
            self.directory.end_session(token)

    def active(self, token: str) -> bool:
        """Whether a login still holds, without counting as activity (the tab polls it)."""
        with self._lock:
            expiry = self._tokens.get(token or "")
        if expiry is not None:
            return expiry >= time.time() and not self.directory.has_accounts()
        return self.directory.session(token) is not None

    def require(self, token: str) -> Account:
        """Every teacher action checks the login, keeps it alive for another idle period and
        gets the account whose rights the action then checks."""
        with self._lock:
            expiry = self._tokens.get(token or "")
            if expiry is not None:
                # the first account ends the shared password, logins made with it included
                if expiry < time.time() or self.directory.has_accounts():
                    self._tokens.pop(token, None)
                    raise NotAllowed("teacher login required")
                self._tokens[token] = time.time() + self.token_ttl_s
                return self.directory.legacy_account()
        account = self.directory.session(token, self.token_ttl_s)
        if account is None:
            raise NotAllowed("teacher login required")
        return account

    def _readable(self, account: Account, doc_key: str):
        """The document, if this account may see it; another class's is as good as absent."""
        doc = self.runtime.store.get_document(doc_key or "")
        return doc if doc is not None and account.can_read(doc) else None

    def _writable(self, account: Account, doc_key: str):
        doc = self._readable(account, doc_key)
        if doc is None:
            raise UserError("not_found")
        if not account.can_write(doc):
            raise UserError("not_permitted")
        return doc

    def where_choices(self, token: str, lang: str = "en") -> list[tuple[str, str]]:
        """(label, place) of every place this account may upload to, its classes first."""
        account = self.require(token)
        names = {"class": "where_class", "school": "where_school", "region": "where_region"}
        return [(t(lang, names[level], name=name), spec)
                for level, name, spec in self.directory.upload_places(account)]

    def _place(self, account: Account, where: str):
        if not where:
            if account.legacy:
                return self.runtime.store.default_place()
            places = self.directory.upload_places(account)
            if not places:
                raise UserError("not_permitted_action")
            where = places[0][2]
        try:
            place = self.directory.place_for(where)
        except DirectoryError as exc:
            raise UserError(exc.key, **exc.params) from None
        if not account.can_upload(place):
            raise UserError("not_permitted_action")
        return place

    def upload(self, token: str, paths: list[str], subject: str, grade, lang: str,
               policy: str, where: str = "") -> list[list]:
        """One row per file: name, status, document id, passages, message. The policy has no
        silent default: a homework sheet filed as reference would be answered in full.
        ``where``: 'class:CODE', 'school:NAME' or 'region' (empty: the account's first place)."""
        account = self.require(token)
        if not paths:
            raise UserError("no_files")
        if policy not in POLICIES:
            raise UserError("policy_required")
        place = self._place(account, where)
        rows = []
        for path in paths:
            name = Path(path).name
            try:
                r = self.runtime.ingestor.ingest_path(
                    path, subject=subject or "", grade=str(int(grade)) if grade else "",
                    lang=lang or "", policy=policy, place=place)
                rows.append([name, r.status, r.doc_key, r.chunks, r.message])
            except IngestError as exc:
                rows.append([name, "error", "", 0, exc.problem])
        return rows

    def jobs(self, token: str, lang: str = "en") -> list[list]:
        """Large files being ingested in the background, newest first: file, state (a code),
        pages done of all, time left, pages that could not be read, and the job's last message."""
        account = self.require(token)
        rows = []
        mine = [j for j in self.runtime.store.jobs(limit=200)
                if account.can_read(SimpleNamespace(school_id=j["school_id"], class_id=j["class_id"]))]
        for job in mine[:20]:
            eta = eta_seconds(job)
            left = ("" if eta is None else t(lang, "job_eta_soon") if eta < 60
                    else t(lang, "job_eta", minutes=round(eta / 60)))
            failed = ", ".join(str(p) for p, _ in job["failed_pages"][:20])
            rows.append([job["source_name"], job["status"],
                         f"{job['pages_done']} / {job['pages_total']}", left, failed, job["message"]])
        return rows

    def documents(self, token: str, lang: str = "", subject: str = "") -> list[list]:
        account = self.require(token)
        counts = {r["doc_key"]: r["n"] for r in self.runtime.store.query(
            "SELECT d.doc_key, COUNT(c.id) AS n FROM documents d LEFT JOIN chunks c "
            "ON c.doc_id=d.id GROUP BY d.id")}
        return [[d.doc_key, d.title, d.lang, d.subject, d.grade or "", d.policy, d.version,
                 counts.get(d.doc_key, 0), d.source_format]
                for d in self.runtime.store.documents(lang=lang or "", subject=subject or "")
                if account.can_read(d)]

    def details(self, token: str, doc_key: str) -> dict:
        """A document's editable metadata and its number of passages (what a delete removes)."""
        doc = self._readable(self.require(token), doc_key)
        if doc is None:
            raise UserError("not_found")
        n = self.runtime.store.query("SELECT COUNT(*) FROM chunks WHERE doc_id=?", (doc.id,))[0][0]
        return {"doc_key": doc.doc_key, "title": doc.title, "subject": doc.subject,
                "grade": doc.grade, "lang": doc.lang, "policy": doc.policy, "passages": n}

    def preview(self, token: str, doc_key: str) -> list[list]:
        if self._readable(self.require(token), doc_key) is None:
            return []  # another class's document reads as one that is not there
        return [[c.ord, c.location(), c.text] for c in self.runtime.store.chunks_of(doc_key)]

    def edit(self, token: str, doc_key: str, title: str, subject: str, grade, lang: str,
             policy: str) -> str:
        account = self.require(token)
        changes = {k: v for k, v in dict(title=title, subject=subject, lang=lang,
                                         policy=policy).items() if v}
        if grade:
            changes["grade"] = int(grade)
        if "policy" in changes and changes["policy"] not in POLICIES:
            raise ValueError("unknown policy")
        self._writable(account, doc_key)
        self.runtime.store.update_metadata(doc_key, **changes)
        self.runtime.index.refresh()
        return "ok"

    def delete(self, token: str, doc_key: str) -> bool:
        account = self.require(token)
        if self.runtime.store.get_document(doc_key or "") is None:
            return False
        self._writable(account, doc_key)
        return self.runtime.ingestor.delete(doc_key)

    def rebuild(self, token: str) -> int:
        # minutes of every core, for every school: an admin's decision
        if self.require(token).role == "teacher":
            raise UserError("not_permitted_action")
        self.runtime.index.rebuild()
        return self.runtime.index.dense.size

    def stats(self, token: str) -> list[list]:
        """Documents and passages per language and subject, of what this account sees."""
        rows: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])
        for d in self.documents(token):
            rows[(d[2], d[3])][0] += 1
            rows[(d[2], d[3])][1] += d[7]
        return [[lang, subject, n, chunks] for (lang, subject), (n, chunks) in sorted(rows.items())]

    def unanswered(self, token: str) -> list[list]:
        classes = self.require(token).question_class_ids()
        return [[r["q"], r["lang"], r["asked"], time.strftime("%Y-%m-%d", time.localtime(r["last"]))]
                for r in self.runtime.store.unanswered(class_ids=classes)]

    def feedback_items(self, token: str) -> list[dict]:
        """Each rating or comment with the question, the answer's sources and their documents."""
        return self.runtime.store.feedback_items(class_ids=self.require(token).question_class_ids())

    def flags(self, token: str) -> list[list]:
        classes = self.require(token).question_class_ids()
        return [[time.strftime("%Y-%m-%d %H:%M", time.localtime(r["at"])), r["category"],
                 r["lang"], r["text"] or ""] for r in self.runtime.store.flags(class_ids=classes)]

    # ------------------------------------------------------------------ admin
    def account(self, token: str) -> Account:
        return self.require(token)

    def totals(self, token: str) -> list[list]:
        """Per school: documents, questions, unanswered, ratings; a region admin's whole view
        of the schools (counts, never a question's text)."""
        if self.require(token).role != "region-admin":
            raise UserError("not_permitted_action")
        return [[r["school"], r["documents"], r["questions"], r["unanswered"], r["feedback"]]
                for r in self.directory.totals()]

    def add_class(self, token: str, name: str) -> dict:
        """A new class of the account's school (a teacher becomes its teacher): its code, the
        link students open and that link as a QR code (PNG bytes)."""
        account = self.require(token)
        if not account.may_add_class() or account.school_id is None:
            raise UserError("not_permitted_action")
        try:
            klass = self.directory.add_class(account.school_id, name,
                                             account.id if account.role == "teacher" else None)
        except DirectoryError as exc:
            raise UserError(exc.key, **exc.params) from None
        link = class_link(self.settings, klass.code)
        return {"name": klass.name, "code": klass.code, "link": link, "qr_png": qr_png(link)}

    def add_teacher(self, token: str, username: str, password: str, role: str = "teacher") -> str:
        """A teacher or school admin account in the school admin's own school."""
        account = self.require(token)
        if not account.may_add_teacher() or role not in ROLES[:2]:
            raise UserError("not_permitted_action")
        try:
            return self.directory.add_teacher(account.school_id, username, password, role).username
        except DirectoryError as exc:
            raise UserError(exc.key, **exc.params) from None

    def add_school(self, token: str, name: str) -> str:
        if not self.require(token).may_add_school():
            raise UserError("not_permitted_action")
        try:
            return self.directory.add_school(name).name
        except DirectoryError as exc:
            raise UserError(exc.key, **exc.params) from None

    def model_info(self, token: str, lang: str = "en") -> str:
        self.require(token)
        c = self.composer_choice
        composer = c.name if c else "extractive"
        lines = [f"- {t(lang, 'model_embedder')}: `{self.settings.embedder}`",
                 f"- {t(lang, 'model_generator')}: `{c.generator if c else 'none'}`",
                 f"- {t(lang, 'model_composer')}: **{t(lang, 'composer_' + composer)}**"]
        if c is not None:
            reason = REASONS.get(c.reason)
            lines[-1] += f" ({t(lang, reason) if reason else c.reason})"
        if c is not None and c.admission:
            a = c.admission
            verdict = t(lang, "admission_passed" if a["passed"] else "admission_failed")
            lines.append(f"- {t(lang, 'model_admission')}: {verdict}: F1 "
                         f"{a['f1_generative']:.3f} ({t(lang, 'composer_generative')}) / "
                         f"{a['f1_extractive']:.3f} ({t(lang, 'composer_extractive')}), "
                         f"n={a['n']}, {a['at']}")
        return "\n".join(lines)


# ComposerChoice.reason is one of a few fixed sentences; the panel says it in the teacher's language.
REASONS = {"set by the composer setting": "reason_setting", "no generator configured": "reason_none",
           "the generator has not taken the admission check (run 'tutor models --admit')":
               "reason_not_admitted", "the generator did not pass the admission check":
               "reason_failed", "admitted": "reason_admitted"}
