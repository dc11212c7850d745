"""Time the store's common operations on SQLite and on a throwaway PostgreSQL server
(tutor/bench/postgres.py), for docs/decisions/2026-12-07-postgresql-store.md.

usage: .venv/bin/python scripts/measure_store_backends.py
"""

from __future__ import annotations

import tempfile
import time

import numpy as np

from tutor.bench.postgres import TemporaryPostgres
from tutor.store import Chunk, Document, Store


def measure(location: str) -> dict[str, float]:
    """Milliseconds per call of each operation."""
    out = {}
    t = time.perf_counter()
    store = Store(location)
    out["open (schema, migrations)"] = (time.perf_counter() - t) * 1000
    vectors = np.random.default_rng(0).random((10, 384), np.float32)
    ops = {
        "put_document (10 chunks, 384-d vectors)": (50, lambda i: store.put_document(
            Document(f"d{i}", "T", content_hash=str(i)), [Chunk(f"text {j}", "t") for j in range(10)], vectors)),
        "log_question": (200, lambda i: store.log_question("s", "ru", "explain", "q?", False, 0.1)),
        "generation": (500, lambda i: store.generation),
        "chunks_of": (200, lambda i: store.chunks_of(f"d{i % 50}")),
        "chunks_by_ids (5 ids)": (200, lambda i: store.chunks_by_ids(range(i % 400 + 1, i % 400 + 6))),
        "all_chunk_rows (500 chunks)": (10, lambda i: store.all_chunk_rows()),
    }
    for name, (n, fn) in ops.items():
        t = time.perf_counter()
        for i in range(n):
            fn(i)
        out[name] = (time.perf_counter() - t) * 1000 / n
    store.close()
    return out


def main() -> None:
    with tempfile.TemporaryDirectory() as folder, TemporaryPostgres() as pg:
        lite = measure(f"sqlite:///{folder}/ustaz.sqlite3")
        post = measure(pg.create_database("measure"))
    print("| operation | SQLite ms | PostgreSQL ms |\n|---|---|---|")
    for name in lite:
        print(f"| {name} | {lite[name]:.2f} | {post[name]:.2f} |")


if __name__ == "__main__":
    main()
