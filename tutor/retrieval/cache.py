"""A passage-embedding cache keyed by model and text, so that evaluation pools and
repeated rebuilds do not embed the same text twice."""

from __future__ import annotations

import hashlib
import sqlite3
import threading
from pathlib import Path

import numpy as np

from tutor.retrieval.embedders import Embedder


class CachedEmbedder(Embedder):
    def __init__(self, inner: Embedder, path: Path):
        self.inner = inner
        self.name = inner.name
        self.dim = inner.dim
        self.calibration = getattr(inner, "calibration", None)
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("CREATE TABLE IF NOT EXISTS emb (key TEXT PRIMARY KEY, vec BLOB)")
        self._lock = threading.Lock()
        self._queries: dict[str, np.ndarray] = {}

    def _key(self, text: str) -> str:
        return hashlib.sha1(f"{self.name}\x00{text}".encode()).hexdigest()

    def encode_queries(self, texts: list[str]) -> np.ndarray:
        # Queries repeat (a class asks the same example questions; evaluation runs each
        # query once per mode), so recent ones are kept in memory.
        missing = [t for t in dict.fromkeys(texts) if t not in self._queries]
        if missing:
            for text, vec in zip(missing, self.inner.encode_queries(missing)):
                self._queries[text] = vec
                if len(self._queries) > 4096:
                    self._queries.pop(next(iter(self._queries)))
        if not texts:
            return np.zeros((0, self.dim), np.float32)
        return np.stack([self._queries[t] for t in texts]).astype(np.float32)

    def encode_passages(self, texts: list[str], batch_size: int = 32,
                        progress: bool = False) -> np.ndarray:
        keys = [self._key(t) for t in texts]
        found: dict[str, np.ndarray] = {}
        with self._lock:
            for start in range(0, len(keys), 500):
                part = keys[start:start + 500]
                marks = ",".join("?" for _ in part)
                for key, vec in self._db.execute(f"SELECT key, vec FROM emb WHERE key IN ({marks})", part):
                    found[key] = np.frombuffer(vec, "<f4")
        todo = sorted({i for i, k in enumerate(keys) if k not in found}, key=lambda i: len(texts[i]))
        if todo:
            vectors = self.inner.encode_passages([texts[i] for i in todo], batch_size, progress)
            with self._lock:
                self._db.executemany("INSERT OR REPLACE INTO emb VALUES (?, ?)",
                                     [(keys[i], v.astype("<f4").tobytes()) for i, v in zip(todo, vectors)])
            for i, v in zip(todo, vectors):
                found[keys[i]] = v
        if not texts:
            return np.zeros((0, self.dim), np.float32)
        return np.stack([found[k] for k in keys]).astype(np.float32)
