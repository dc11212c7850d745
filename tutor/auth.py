"""The teacher password: PBKDF2-hashed, never stored in plain text, no default, and a
limit on failed attempts so it cannot be guessed from a classroom."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import threading
import time
from collections import deque
from pathlib import Path

ITERATIONS = 200_000


def _hash(password: str, salt: bytes) -> str:
    return hashlib.pbkdf2_hmac("sha256", password.encode(), salt, ITERATIONS).hex()


def password_file(data_dir: Path) -> Path:
    return data_dir / "teacher.json"


def set_password(data_dir: Path, password: str) -> None:
    if len(password) < 8:
        raise ValueError("the teacher password needs at least 8 characters")
    salt = os.urandom(16)
    path = password_file(data_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({"salt": salt.hex(), "hash": _hash(password, salt),
                               "iterations": ITERATIONS}))
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)


class TeacherAuth:
    def __init__(self, data_dir: Path, env_password: str = "", max_failures: int = 5,
                 window_s: float = 300.0):
        self.data_dir = data_dir
        self._salt = os.urandom(16)
        # A password from the environment is hashed at once and the plain text dropped.
        self._env_hash = _hash(env_password, self._salt) if env_password else ""
        self.max_failures = max_failures
        self.window_s = window_s
        self._failures: deque[float] = deque()
        self._lock = threading.Lock()

    @property
    def configured(self) -> bool:
        return bool(self._env_hash) or password_file(self.data_dir).exists()

    def locked(self) -> bool:
        with self._lock:
            now = time.monotonic()
            while self._failures and now - self._failures[0] > self.window_s:
                self._failures.popleft()
            return len(self._failures) >= self.max_failures

    def check(self, password: str) -> bool:
        if not password or self.locked():
            return False
        ok = False
        if self._env_hash:
            ok = hmac.compare_digest(_hash(password, self._salt), self._env_hash)
        else:
            try:
                stored = json.loads(password_file(self.data_dir).read_text())
                ok = hmac.compare_digest(_hash(password, bytes.fromhex(stored["salt"])),
                                         stored["hash"])
            except (OSError, ValueError, KeyError):
                ok = False
        if not ok:
            with self._lock:
                self._failures.append(time.monotonic())
        return ok
