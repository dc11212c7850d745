"""Schools, their classes and the teachers who log in to them: accounts, sessions and what each
role may read and change.

A teacher reads the region library, their school's materials and their own classes', and changes
their classes' (the school's too where ``teachers_upload_to_school`` allows); a school admin
changes everything of their school; a region admin changes the region library and sees per-school
totals, never a school's materials or its students' questions.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import socket
import sqlite3
import time
from dataclasses import dataclass
from functools import cache

from tutor.i18n import t
from tutor.migrate import DEFAULT_SCHOOL, new_class_code
from tutor.scopes import Place, Scope

ROLES = ("teacher", "school-admin", "region-admin")
MIN_PASSWORD = 8
MAX_FAILURES = 5  # wrong passwords in a row before an account is locked
LOCK_S = 15 * 60
# scrypt at n=2**15, r=8: 32 MiB and ~0.1 s per try; the parameters are stored with each hash,
# so raising them later leaves old hashes valid (docs/decisions/2026-12-07-teacher-accounts.md)
SCRYPT = {"n": 2 ** 15, "r": 8, "p": 1}


class DirectoryError(ValueError):
    """A request that cannot be done; ``key`` names the phrase that says why (in en as str())."""

    def __init__(self, key: str, **params):
        self.key = key
        self.params = params
        super().__init__(t("en", key, **params))


# ---------------------------------------------------------------------------- passwords
def hash_password(password: str, n: int = SCRYPT["n"], r: int = SCRYPT["r"], p: int = SCRYPT["p"]) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=n, r=r, p=p, maxmem=256 * n * r * p)
    return f"scrypt${n}${r}${p}${salt.hex()}${digest.hex()}"


def verify_password(password: str, stored: str) -> bool:
    try:
        kind, n, r, p, salt, digest = stored.split("$")
        n, r, p = int(n), int(r), int(p)
    except ValueError:
        return False
    if kind != "scrypt":
        return False
    got = hashlib.scrypt(password.encode(), salt=bytes.fromhex(salt), n=n, r=r, p=p,
                         maxmem=256 * n * r * p)
    return hmac.compare_digest(got.hex(), digest)


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def normalise_code(code: str) -> str:
    """What a student typed as a class code: case, spaces and dashes do not matter."""
    return re.sub(r"[\s\-_]+", "", code or "").upper()


def class_link(settings, code: str) -> str:
    """The address a class's students open (the student tab with the class code filled in)."""
    base = settings.public_url.strip().rstrip("/")
    if not base:
        host = settings.host
        if host in ("0.0.0.0", "::", ""):
            host = socket.gethostname()  # a link to "every address" opens nothing on a phone
        if ":" in host:
            host = f"[{host}]"
        base = f"http://{host}:{settings.port}"
    return f"{base}/?class={code}"


def qr_png(text: str) -> bytes:
    """``text`` as a QR code image (PNG), with segno: pure Python, no image library needed."""
    import io

    import segno

    out = io.BytesIO()
    segno.make(text, error="m").save(out, kind="png", scale=8, border=2)
    return out.getvalue()


def level_of(school_id: int | None, class_id: int | None) -> str:
    return "region" if school_id is None else "school" if class_id is None else "class"


# ---------------------------------------------------------------------------- values
@dataclass(frozen=True)
class School:
    id: int
    name: str


@dataclass(frozen=True)
class Klass:
    id: int
    school_id: int
    name: str
    code: str
    is_default: bool = False


@dataclass(frozen=True)
class Account:
    """Who is logged in and what they may do. ``id`` is None for the shared legacy password,
    which keeps what it could do before accounts: the default school and the region library."""

    id: int | None
    username: str
    role: str
    school_id: int | None
    class_ids: tuple[int, ...] = ()
    school_upload: bool = False  # a teacher may put materials in the whole school
    legacy: bool = False

    def can_read(self, doc) -> bool:
        level = level_of(doc.school_id, doc.class_id)
        if level == "region":
            return True
        if self.role == "region-admin" or doc.school_id != self.school_id:
            return False
        return level == "school" or doc.class_id in self.class_ids

    def can_write(self, doc) -> bool:
        return self.can_upload(Place(level_of(doc.school_id, doc.class_id), doc.school_id, doc.class_id))

    def can_upload(self, place: Place) -> bool:
        if place.level == "region":
            return self.role == "region-admin" or self.legacy
        if self.role == "region-admin" or place.school_id != self.school_id:
            return False
        if place.level == "school":
            return self.role == "school-admin" or self.school_upload
        return place.class_id in self.class_ids

    def question_class_ids(self) -> tuple[int, ...] | None:
        """Classes whose questions, ratings and flags this account reads (None: all of them,
        for the legacy password of a one-school install)."""
        if self.legacy:
            return None
        return () if self.role == "region-admin" else self.class_ids

    def may_add_class(self) -> bool:
        return self.role in ("teacher", "school-admin")

    def may_add_teacher(self) -> bool:
        return self.role == "school-admin"

    def may_add_school(self) -> bool:
        return self.role == "region-admin"


# ---------------------------------------------------------------------------- directory
class Directory:
    def __init__(self, store, teachers_upload_to_school: bool = False, max_failures: int = MAX_FAILURES,
                 lock_s: float = LOCK_S):
        self.store = store
        self.teachers_upload_to_school = teachers_upload_to_school
        self.max_failures = max_failures
        self.lock_s = lock_s

    # ---------------------------------------------------------------- schools
    def add_school(self, name: str) -> School:
        name = " ".join((name or "").split())
        if not name:
            raise DirectoryError("dir_name_required")
        try:
            with self.store.transaction() as db:
                sid = db.execute("INSERT INTO schools (name, created) VALUES (?, ?)",
                                 (name, time.time())).lastrowid
                # a new school's students without a class code still need a class to be in
                db.execute("INSERT INTO classes (school_id, name, code, is_default, created) "
                           "VALUES (?, ?, ?, 1, ?)", (sid, "default", self._free_code(db), time.time()))
        except sqlite3.IntegrityError:
            raise DirectoryError("dir_school_exists", name=name) from None
        return School(sid, name)

    def schools(self) -> list[School]:
        return [School(r["id"], r["name"]) for r in self.store.query("SELECT id, name FROM schools ORDER BY id")]

    def school_by_name(self, name: str) -> School:
        rows = self.store.query("SELECT id, name FROM schools WHERE name=?", (" ".join((name or "").split()),))
        if not rows:
            raise DirectoryError("dir_no_school", name=name)
        return School(rows[0]["id"], rows[0]["name"])

    def school(self, school_id: int) -> School:
        rows = self.store.query("SELECT id, name FROM schools WHERE id=?", (school_id,))
        if not rows:
            raise DirectoryError("dir_no_school", name=str(school_id))
        return School(rows[0]["id"], rows[0]["name"])

    def _school(self, school: str | int | School) -> School:
        if isinstance(school, School):
            return school
        return self.school(school) if isinstance(school, int) else self.school_by_name(school)

    # ---------------------------------------------------------------- classes
    @staticmethod
    def _free_code(db) -> str:
        while True:
            code = new_class_code()
            if not db.execute("SELECT 1 FROM classes WHERE code=?", (code,)).fetchone():
                return code

    def add_class(self, school: str | int | School, name: str, teacher_id: int | None = None) -> Klass:
        school = self._school(school)
        name = " ".join((name or "").split())
        if not name:
            raise DirectoryError("dir_name_required")
        try:
            with self.store.transaction() as db:
                code = self._free_code(db)
                cid = db.execute("INSERT INTO classes (school_id, name, code, is_default, created) "
                                 "VALUES (?, ?, ?, 0, ?)", (school.id, name, code, time.time())).lastrowid
                if teacher_id is not None:
                    db.execute("INSERT INTO class_teachers VALUES (?, ?)", (cid, teacher_id))
        except sqlite3.IntegrityError:
            raise DirectoryError("dir_class_exists", name=name, school=school.name) from None
        return Klass(cid, school.id, name, code)

    def assign(self, class_id: int, teacher_id: int) -> None:
        with self.store.transaction() as db:
            db.execute("INSERT OR IGNORE INTO class_teachers VALUES (?, ?)", (class_id, teacher_id))

    def classes(self, school_id: int | None = None, teacher_id: int | None = None) -> list[Klass]:
        sql, params = "SELECT c.* FROM classes c WHERE 1=1", []
        if school_id is not None:
            sql, params = sql + " AND c.school_id=?", params + [school_id]
        if teacher_id is not None:
            sql += " AND c.id IN (SELECT class_id FROM class_teachers WHERE teacher_id=?)"
            params.append(teacher_id)
        return [_klass(r) for r in self.store.query(sql + " ORDER BY c.school_id, c.is_default DESC, c.name",
                                                    params)]

    def class_by_id(self, class_id: int) -> Klass | None:
        rows = self.store.query("SELECT * FROM classes WHERE id=?", (class_id,))
        return _klass(rows[0]) if rows else None

    def class_by_code(self, code: str) -> Klass | None:
        rows = self.store.query("SELECT * FROM classes WHERE code=?", (normalise_code(code),))
        return _klass(rows[0]) if rows else None

    def default_class(self, school_id: int | None = None) -> Klass | None:
        """A school's default class (the default school's, when none is named)."""
        if school_id is None:
            school_id = self.store.default_place().school_id
            if school_id is None:
                return None
        rows = self.store.query("SELECT * FROM classes WHERE school_id=? AND is_default=1 ORDER BY id LIMIT 1",
                                (school_id,))
        return _klass(rows[0]) if rows else None

    @staticmethod
    def scope_of_class(klass: Klass) -> Scope:
        return Scope(klass.school_id, klass.id)

    def place_for(self, spec: str) -> Place:
        """'region' | 'school:NAME' | 'class:CODE' as the place a document is put."""
        kind, _, value = (spec or "").strip().partition(":")
        if kind == "region" and not value:
            return Place("region", None, None, "region/")
        if kind == "school":
            school = self.school_by_name(value)
            return Place("school", school.id, None, "" if school.name == DEFAULT_SCHOOL else f"school{school.id}/")
        if kind == "class":
            klass = self.class_by_code(value)
            if klass is None:
                raise DirectoryError("dir_no_class", code=value)
            return Place("class", klass.school_id, klass.id, f"class{klass.id}/")
        raise DirectoryError("dir_bad_place", spec=spec)

    def upload_places(self, account: Account) -> list[tuple[str, str, str]]:
        """Where ``account`` may put materials: (level, name, spec) each, the likeliest first."""
        classes, school = [], []
        if account.school_id is not None:
            classes = [("class", k.name, f"class:{k.code}") for k in self.classes(school_id=account.school_id)
                       if k.id in account.class_ids]
            s = self.school(account.school_id)
            if account.can_upload(Place("school", s.id)):
                school = [("school", s.name, f"school:{s.name}")]
        region = [("region", "", "region")] if account.can_upload(Place("region")) else []
        # a school admin mostly shares with the whole school, a teacher with their own class
        return (school + classes if account.role == "school-admin" else classes + school) + region

    # ---------------------------------------------------------------- teachers
    def has_accounts(self) -> bool:
        return bool(self.store.query("SELECT 1 FROM teachers LIMIT 1"))

    def add_teacher(self, school: str | int | School | None, username: str, password: str,
                    role: str = "teacher") -> Account:
        username = (username or "").strip()
        if role not in ROLES:
            raise DirectoryError("dir_bad_role", role=role)
        if not username or any(c.isspace() for c in username):
            raise DirectoryError("dir_bad_username")
        if len(password or "") < MIN_PASSWORD:
            raise DirectoryError("dir_weak_password", n=MIN_PASSWORD)
        if role == "region-admin":
            school_id = None
        elif school is None or school == "":
            raise DirectoryError("dir_school_required")
        else:
            school_id = self._school(school).id
        try:
            with self.store.transaction() as db:
                tid = db.execute("INSERT INTO teachers (school_id, username, password_hash, role, created) "
                                 "VALUES (?, ?, ?, ?, ?)", (school_id, username, hash_password(password),
                                                            role, time.time())).lastrowid
        except sqlite3.IntegrityError:
            raise DirectoryError("dir_user_exists", name=username) from None
        return self.account(tid)

    def teachers(self, school_id: int | None = None) -> list[dict]:
        sql, params = "SELECT id, username, role, school_id FROM teachers", []
        if school_id is not None:
            sql, params = sql + " WHERE school_id=?", [school_id]
        return [dict(r) for r in self.store.query(sql + " ORDER BY username", params)]

    def account(self, teacher_id: int) -> Account:
        rows = self.store.query("SELECT * FROM teachers WHERE id=?", (teacher_id,))
        if not rows:
            raise DirectoryError("login_failed_account")
        r = rows[0]
        if r["role"] == "school-admin":
            classes = self.classes(school_id=r["school_id"])
        elif r["role"] == "teacher":
            classes = self.classes(teacher_id=r["id"])
        else:
            classes = []
        return Account(r["id"], r["username"], r["role"], r["school_id"], tuple(k.id for k in classes),
                       school_upload=self.teachers_upload_to_school)

    def legacy_account(self) -> Account:
        """The shared teacher password: the default school's admin, and the region library's."""
        place = self.store.default_place()
        classes = self.classes(school_id=place.school_id) if place.school_id is not None else []
        return Account(None, "", "school-admin", place.school_id, tuple(k.id for k in classes), legacy=True)

    def authenticate(self, username: str, password: str) -> Account:
        """The account, or DirectoryError: 'login_failed', or 'login_locked_until' after
        ``max_failures`` wrong passwords in a row (kept in the database, so it holds in every
        app process and across restarts)."""
        now = time.time()
        rows = self.store.query("SELECT * FROM teachers WHERE username=?", ((username or "").strip(),))
        if not rows:
            verify_password(password or "", _dummy_hash())  # the same time for an unknown name
            raise DirectoryError("login_failed_account")
        r = rows[0]
        if r["locked_until"] > now:
            raise DirectoryError("login_locked_until", time=_clock(r["locked_until"]))
        if not verify_password(password or "", r["password_hash"]):
            with self.store.transaction() as db:
                failures = db.execute("SELECT failures FROM teachers WHERE id=?", (r["id"],)).fetchone()[0] + 1
                locked = now + self.lock_s if failures >= self.max_failures else 0
                db.execute("UPDATE teachers SET failures=?, locked_until=? WHERE id=?",
                           (0 if locked else failures, locked, r["id"]))
            if locked:
                raise DirectoryError("login_locked_until", time=_clock(locked))
            raise DirectoryError("login_failed_account")
        if r["failures"]:
            with self.store.transaction() as db:
                db.execute("UPDATE teachers SET failures=0 WHERE id=?", (r["id"],))
        return self.account(r["id"])

    def set_password(self, username: str, password: str) -> None:
        if len(password or "") < MIN_PASSWORD:
            raise DirectoryError("dir_weak_password", n=MIN_PASSWORD)
        with self.store.transaction() as db:
            if not db.execute("UPDATE teachers SET password_hash=?, failures=0, locked_until=0 WHERE username=?",
                              (hash_password(password), username)).rowcount:
                raise DirectoryError("dir_no_user", name=username)

    # ---------------------------------------------------------------- sessions
    def open_session(self, account: Account, ttl_s: float) -> str:
        token = secrets.token_urlsafe(32)
        now = time.time()
        with self.store.transaction() as db:
            db.execute("DELETE FROM teacher_sessions WHERE expires < ?", (now,))
            db.execute("INSERT INTO teacher_sessions VALUES (?, ?, ?, ?)",
                       (_token_hash(token), account.id, now, now + ttl_s))
        return token

    def session(self, token: str, ttl_s: float | None = None) -> Account | None:
        """The account of a live session; with ``ttl_s`` the idle expiry slides forward."""
        if not token:
            return None
        key, now = _token_hash(token), time.time()
        rows = self.store.query("SELECT teacher_id, expires FROM teacher_sessions WHERE token_hash=?", (key,))
        if not rows or rows[0]["expires"] < now:
            if rows:
                self.end_session(token)
            return None
        if ttl_s is not None:
            with self.store.transaction() as db:
                db.execute("UPDATE teacher_sessions SET expires=? WHERE token_hash=?", (now + ttl_s, key))
        return self.account(rows[0]["teacher_id"])

    def end_session(self, token: str) -> None:
        with self.store.transaction() as db:
            db.execute("DELETE FROM teacher_sessions WHERE token_hash=?", (_token_hash(token or ""),))

    # ---------------------------------------------------------------- totals
    def totals(self) -> list[dict]:
        """Per school: documents, questions, unanswered questions and ratings; counts only."""
        out = []
        for s in self.schools():
            docs = self.store.query("SELECT COUNT(*) FROM documents WHERE school_id=?", (s.id,))[0][0]
            inside = "class_id IN (SELECT id FROM classes WHERE school_id=?)"
            q = self.store.query(f"SELECT COUNT(*), COALESCE(SUM(answered=0 AND kind=''), 0) FROM questions "
                                 f"WHERE {inside}", (s.id,))[0]
            fb = self.store.query(f"SELECT COUNT(*) FROM feedback WHERE {inside}", (s.id,))[0][0]
            out.append({"school": s.name, "documents": docs, "questions": q[0], "unanswered": q[1],
                        "feedback": fb})
        return out


@cache
def _dummy_hash() -> str:
    return hash_password(secrets.token_hex(8))


def _klass(r) -> Klass:
    return Klass(r["id"], r["school_id"], r["name"], r["code"], bool(r["is_default"]))


def _clock(at: float) -> str:
    return time.strftime("%H:%M", time.localtime(at))
