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


@dataclass
class Services:
    settings: object
    runtime: object
    tutor: object
    auth: object
    composer_choice: object = None
    _tokens: dict[str, float] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    token_ttl_s: float = 8 * 3600

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

    def feedback(self, session: str, rating: int, comment: str, doc_keys: list[str],
                 subject: str) -> None:
        self.runtime.store.add_feedback(session, rating, redact_pii(comment or "")[:1000],
                                        doc_keys, subject)

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

    def require(self, token: str) -> None:
        with self._lock:
            expiry = self._tokens.get(token or "")
            if expiry is None or expiry < time.time():
                self._tokens.pop(token or "", None)
                raise NotAllowed("teacher login required")

    def upload(self, token: str, paths: list[str], subject: str, grade, lang: str,
               policy: str) -> list[list]:
        self.require(token)
        rows = []
        for path in paths or []:
            name = Path(path).name
            try:
                r = self.runtime.ingestor.ingest_path(
                    path, subject=subject or "", grade=str(int(grade)) if grade else "",
                    lang=lang or "", policy=policy or "reference")
                rows.append([name, r.status, r.doc_key, r.chunks, r.message])
            except IngestError as exc:
                rows.append([name, "error", "", 0, exc.problem])
        return rows

    def jobs(self, token: str, lang: str = "en") -> list[list]:
        """Large files being ingested in the background, newest first: file, state, pages done
        of all, time left, pages that could not be read, and the job's last message."""
        self.require(token)
        rows = []
        for job in self.runtime.store.jobs(limit=20):
            eta = eta_seconds(job)
            left = ("" if eta is None else t(lang, "job_eta_soon") if eta < 60
                    else t(lang, "job_eta", minutes=round(eta / 60)))
            failed = ", ".join(str(p) for p, _ in job["failed_pages"][:20])
            rows.append([job["source_name"], t(lang, "job_" + job["status"]),
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

    def feedback_summary(self, token: str) -> list[list]:
        self.require(token)
        return [[r["subject"] or "-", r["up"] or 0, r["down"] or 0, r["comments"] or ""]
                for r in self.runtime.store.feedback_summary()]

    def flags(self, token: str) -> list[list]:
        self.require(token)
        return [[time.strftime("%Y-%m-%d %H:%M", time.localtime(r["at"])), r["category"],
                 r["lang"], r["text"] or ""] for r in self.runtime.store.flags()]

    def model_info(self, token: str) -> str:
        self.require(token)
        c = self.composer_choice
        if c is None:
            return "extractive"
        lines = [f"- embedder: `{self.settings.embedder}`", f"- generator: `{c.generator}`",
                 f"- composer in use: **{c.name}** ({c.reason})"]
        if c.admission:
            a = c.admission
            lines.append(f"- admission check: {'passed' if a['passed'] else 'not passed'} — answer F1 "
                         f"{a['f1_generative']:.3f} (generative) vs {a['f1_extractive']:.3f} "
                         f"(extractive), n={a['n']}, {a['at']}")
        return "\n".join(lines)
