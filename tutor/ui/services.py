"""The app's callbacks as plain functions (no Gradio types), so tests call them directly.
Teacher actions check a server-side token on every call."""

from __future__ import annotations

import secrets
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from tutor.evaluation.datasets import bundled_items
from tutor.i18n import t
from tutor.ingest import IngestError
from tutor.ingest.jobs import eta_seconds
from tutor.safety.pii import redact_pii
from tutor.store import POLICIES


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
    _tokens: dict[str, float] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    token_ttl_s: float | None = None  # idle time before a teacher login lapses

    def __post_init__(self):
        if self.token_ttl_s is None:
            self.token_ttl_s = 60.0 * getattr(self.settings, "teacher_session_minutes", 30)

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

    def student_class(self, code: str):
        """The class a student's code names, or the school's default class when the code is
        empty or unknown: (class, whether the code was known). No account, nothing personal:
        the code only chooses which materials the student's questions search."""
        klass = self.directory.class_by_code(code) if (code or "").strip() else None
        return (klass, True) if klass is not None else (self.directory.default_class(), not (code or "").strip())

    def student_scope(self, code: str):
        klass, _ = self.student_class(code)
        return self.directory.scope_of_class(klass) if klass is not None else None

    def class_label(self, code: str, lang: str) -> str:
        klass, known = self.student_class(code)
        if not known:
            return t(lang, "class_unknown", code=code.strip()[:20])
        if klass is None or klass.is_default:
            return t(lang, "class_default")
        return t(lang, "class_joined", name=klass.name, school=self.directory.school(klass.school_id).name)

    def ask_stream(self, question: str, session: str, mode: str, lang: str, code: str = ""):
        """The tutor's answer, searched in the student's class, school and region library."""
        return self.tutor.stream(question, session, mode, lang, self.student_scope(code))

    def feedback(self, session: str, rating: int, comment: str, doc_keys: list[str],
                 subject: str, question: str = "", sources: list[dict] | None = None,
                 code: str = "") -> None:
        scope = self.student_scope(code)
        self.runtime.store.add_feedback(session, rating, redact_pii(comment or "")[:1000],
                                        doc_keys, subject, redact_pii(question or "")[:1000],
                                        sources or [], class_id=scope.class_id if scope else None)

    # ------------------------------------------------------------------ teacher
    def login(self, password: str, lang: str = "en") -> tuple[str, str]:
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

    def active(self, token: str) -> bool:
        """Whether a login still holds, without counting as activity (the tab polls it)."""
        with self._lock:
            expiry = self._tokens.get(token or "")
            return expiry is not None and expiry >= time.time()

    def require(self, token: str) -> None:
        """Every teacher action checks the login and keeps it alive for another idle period."""
        with self._lock:
            expiry = self._tokens.get(token or "")
            if expiry is None or expiry < time.time():
                self._tokens.pop(token or "", None)
                raise NotAllowed("teacher login required")
            self._tokens[token] = time.time() + self.token_ttl_s

    def upload(self, token: str, paths: list[str], subject: str, grade, lang: str,
               policy: str) -> list[list]:
        """One row per file: name, status, document id, passages, message. The policy has no
        silent default: a homework sheet filed as reference would be answered in full."""
        self.require(token)
        if not paths:
            raise UserError("no_files")
        if policy not in POLICIES:
            raise UserError("policy_required")
        rows = []
        for path in paths:
            name = Path(path).name
            try:
                r = self.runtime.ingestor.ingest_path(
                    path, subject=subject or "", grade=str(int(grade)) if grade else "",
                    lang=lang or "", policy=policy)
                rows.append([name, r.status, r.doc_key, r.chunks, r.message])
            except IngestError as exc:
                rows.append([name, "error", "", 0, exc.problem])
        return rows

    def jobs(self, token: str, lang: str = "en") -> list[list]:
        """Large files being ingested in the background, newest first: file, state (a code),
        pages done of all, time left, pages that could not be read, and the job's last message."""
        self.require(token)
        rows = []
        for job in self.runtime.store.jobs(limit=20):
            eta = eta_seconds(job)
            left = ("" if eta is None else t(lang, "job_eta_soon") if eta < 60
                    else t(lang, "job_eta", minutes=round(eta / 60)))
            failed = ", ".join(str(p) for p, _ in job["failed_pages"][:20])
            rows.append([job["source_name"], job["status"],
                         f"{job['pages_done']} / {job['pages_total']}", left, failed, job["message"]])
        return rows

    def documents(self, token: str, lang: str = "", subject: str = "") -> list[list]:
        self.require(token)
        counts = {r["doc_key"]: r["n"] for r in self.runtime.store.query(
            "SELECT d.doc_key, COUNT(c.id) AS n FROM documents d LEFT JOIN chunks c "
            "ON c.doc_id=d.id GROUP BY d.id")}
        return [[d.doc_key, d.title, d.lang, d.subject, d.grade or "", d.policy, d.version,
                 counts.get(d.doc_key, 0), d.source_format]
                for d in self.runtime.store.documents(lang=lang or "", subject=subject or "")]

    def details(self, token: str, doc_key: str) -> dict:
        """A document's editable metadata and its number of passages (what a delete removes)."""
        self.require(token)
        doc = self.runtime.store.get_document(doc_key or "")
        if doc is None:
            raise UserError("not_found")
        n = self.runtime.store.query("SELECT COUNT(*) FROM chunks WHERE doc_id=?", (doc.id,))[0][0]
        return {"doc_key": doc.doc_key, "title": doc.title, "subject": doc.subject,
                "grade": doc.grade, "lang": doc.lang, "policy": doc.policy, "passages": n}

    def preview(self, token: str, doc_key: str) -> list[list]:
        self.require(token)
        return [[c.ord, c.location(), c.text] for c in self.runtime.store.chunks_of(doc_key)]

    def edit(self, token: str, doc_key: str, title: str, subject: str, grade, lang: str,
             policy: str) -> str:
        self.require(token)
        changes = {k: v for k, v in dict(title=title, subject=subject, lang=lang,
                                         policy=policy).items() if v}
        if grade:
            changes["grade"] = int(grade)
        if "policy" in changes and changes["policy"] not in POLICIES:
            raise ValueError("unknown policy")
        if self.runtime.store.get_document(doc_key or "") is None:
            raise UserError("not_found")
        self.runtime.store.update_metadata(doc_key, **changes)
        self.runtime.index.refresh()
        return "ok"

    def delete(self, token: str, doc_key: str) -> bool:
        self.require(token)
        return self.runtime.ingestor.delete(doc_key)

    def rebuild(self, token: str) -> int:
        self.require(token)
        self.runtime.index.rebuild()
        return self.runtime.index.dense.size

    def stats(self, token: str) -> list[list]:
        self.require(token)
        return [[r["lang"], r["subject"], r["documents"], r["chunks"]]
                for r in self.runtime.store.stats()]

    def unanswered(self, token: str) -> list[list]:
        self.require(token)
        return [[r["q"], r["lang"], r["asked"], time.strftime("%Y-%m-%d", time.localtime(r["last"]))]
                for r in self.runtime.store.unanswered()]

    def feedback_items(self, token: str) -> list[dict]:
        """Each rating or comment with the question, the answer's sources and their documents."""
        self.require(token)
        return self.runtime.store.feedback_items()

    def flags(self, token: str) -> list[list]:
        self.require(token)
        return [[time.strftime("%Y-%m-%d %H:%M", time.localtime(r["at"])), r["category"],
                 r["lang"], r["text"] or ""] for r in self.runtime.store.flags()]

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
