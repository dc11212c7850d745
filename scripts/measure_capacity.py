"""The measured inputs of the capacity model in docs/deploy.md: CPU-seconds and wall seconds
per extractive answer (`Tutor.ask` in one process: the real e5-small, the bundled corpus,
questions of the bundled QA set in Kazakh and Russian, each from a new student), the same for
a served replica (`tutor serve` asked through `gradio_client`: the whole process, Gradio's queue
and event stream included, read from /proc), the store's
statements, transactions and bytes per answer on SQLite and on a throwaway PostgreSQL server
(tests/pg.py), and the resident memory of the process. Recorded in
docs/decisions/2026-12-07-capacity-model.md.

usage: .venv/bin/python scripts/measure_capacity.py [--questions 60] [--no-postgres] [--no-served]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from tutor.config import REPO_ROOT, Settings  # noqa: E402
from tutor.evaluation.datasets import bundled_items  # noqa: E402
from tutor.runtime import build_runtime, build_tutor, load_embedder  # noqa: E402


def size(value) -> int:
    """Bytes of one value as it crosses the wire, near enough: text as UTF-8, numbers as 8."""
    if value is None:
        return 0
    if isinstance(value, (bytes, bytearray, memoryview)):
        return len(value)
    if isinstance(value, str):
        return len(value.encode())
    return 8


class Counter:
    def __init__(self):
        self.statements = self.transactions = self.sent = self.received = self.rows = 0

    def statement(self, sql: str, params=()) -> None:
        self.statements += 1
        self.sent += size(sql) + sum(size(p) for p in params or ())

    def result(self, rows) -> None:
        for row in rows:
            self.rows += 1
            self.received += sum(size(v) for v in tuple(row))


class CountedCursor:
    def __init__(self, cursor, counter: Counter):
        self._cursor, self._counter = cursor, counter

    def __getattr__(self, name):
        return getattr(self._cursor, name)

    def fetchone(self):
        row = self._cursor.fetchone()
        if row is not None:
            self._counter.result([row])
        return row

    def fetchall(self):
        rows = self._cursor.fetchall()
        self._counter.result(rows)
        return rows

    def __iter__(self):
        for row in self._cursor:
            self._counter.result([row])
            yield row


class CountedConnection:
    def __init__(self, conn, counter: Counter):
        self._conn, self._counter = conn, counter

    def __getattr__(self, name):
        return getattr(self._conn, name)

    def execute(self, sql: str, params=()):
        self._counter.statement(sql, params)
        return CountedCursor(self._conn.execute(sql, params), self._counter)

    def executemany(self, sql: str, seq):
        seq = list(seq)
        for params in seq:
            self._counter.statement(sql, params)
        return self._conn.executemany(sql, seq)


class CountedDatabase:
    """The store's database (tutor/database.py) with every statement and the bytes it moved
    counted; everything else passes through."""

    def __init__(self, inner, counter: Counter):
        self._inner, self.counter = inner, counter

    def __getattr__(self, name):
        return getattr(self._inner, name)

    def query(self, sql: str, params=()):
        self.counter.statement(sql, params)
        rows = self._inner.query(sql, params)
        self.counter.result(rows)
        return rows

    def rows(self, sql: str, *args, **kwargs):
        self.counter.statement(sql)
        for row in self._inner.rows(sql, *args, **kwargs):
            self.counter.result([row])
            yield row

    @contextmanager
    def transaction(self):
        self.counter.transactions += 1
        with self._inner.transaction() as conn:
            yield CountedConnection(conn, self.counter)


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def measure(location: str, folder: Path, embedder, questions: list[str], warmup: list[str]) -> dict:
    settings = Settings.load(env={}, data_dir=str(folder), database_url=location,
                             corpus_dir=str(REPO_ROOT / "corpus"), composer="extractive",
                             model_cache=os.environ.get("TUTOR_MODEL_CACHE", ""))
    runtime = build_runtime(settings, embedder=embedder)
    runtime, tutor, _ = build_tutor(settings, runtime)
    for i, q in enumerate(warmup):
        tutor.ask(q, session_id=f"warm{i}")
    counter = Counter()
    runtime.store.db = CountedDatabase(runtime.store.db, counter)
    t0, wall0 = os.times(), time.perf_counter()
    answered = 0
    for i, q in enumerate(questions):
        answered += not tutor.ask(q, session_id=f"student{i}").abstained
    t1, wall1 = os.times(), time.perf_counter()
    n = len(questions)
    out = {
        "chunks": runtime.index.dense.size,
        "answers": n, "answered": answered,
        "cpu_s_per_answer": ((t1.user - t0.user) + (t1.system - t0.system)) / n,
        "wall_s_per_answer": (wall1 - wall0) / n,
        "statements_per_answer": counter.statements / n,
        "transactions_per_answer": counter.transactions / n,
        "rows_read_per_answer": counter.rows / n,
        "bytes_sent_per_answer": counter.sent / n,
        "bytes_received_per_answer": counter.received / n,
        "rss_mb": rss_mb(),
    }
    runtime.store.db = runtime.store.db._inner
    runtime.store.close()
    return out


def process_cpu_s(pid: int) -> float:
    """User and system seconds of a process, all its threads."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def process_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def measure_served(folder: Path, questions: list[str], warmup: list[str]) -> dict:
    """A replica as systemd starts it, asked one question at a time through its public API."""
    import socket
    import subprocess

    import httpx
    from gradio_client import Client

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if not k.startswith("TUTOR_")}
    env.update(PYTHONPATH=str(REPO_ROOT), TUTOR_DATA_DIR=str(folder), TUTOR_PORT=str(port),
               TUTOR_COMPOSER="extractive", TUTOR_MODEL_CACHE=os.environ.get("TUTOR_MODEL_CACHE", ""),
               GRADIO_ANALYTICS_ENABLED="False", HF_HUB_OFFLINE="1")
    folder.mkdir(parents=True)
    log = (folder.parent / "served.log").open("w")
    proc = subprocess.Popen([sys.executable, "-m", "tutor.cli", "serve"], cwd=REPO_ROOT, env=env,
                            stdout=log, stderr=subprocess.STDOUT)
    try:
        url = f"http://127.0.0.1:{port}/"
        for _ in range(600):
            try:
                if httpx.get(url, timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.5)
        client = Client(url, verbose=False, download_files=False)

        def ask(q: str) -> None:
            list(client.submit(q, [], "explain", "auto", "kk", api_name="/ask"))

        for q in warmup:
            ask(q)
        cpu0, wall0 = process_cpu_s(proc.pid), time.perf_counter()
        for q in questions:
            ask(q)
        cpu1, wall1 = process_cpu_s(proc.pid), time.perf_counter()
        client.close()
        n = len(questions)
        return {"answers": n, "cpu_s_per_answer": (cpu1 - cpu0) / n,
                "wall_s_per_answer": (wall1 - wall0) / n, "rss_mb": process_rss_mb(proc.pid)}
    finally:
        proc.terminate()
        proc.wait(30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--questions", type=int, default=60)
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument("--no-served", action="store_true")
    args = parser.parse_args()

    items = [r for r in bundled_items("answerable") if r["lang"] in ("kk", "ru")]
    picked = [r["question"] for r in random.Random(7).sample(items, args.questions + 5)]
    warmup, questions = picked[:5], picked[5:]
    settings = Settings.load(model_cache=os.environ.get("TUTOR_MODEL_CACHE", ""))
    embedder = load_embedder(settings)
    results = {"load_average": os.getloadavg()[0], "cpus": os.cpu_count(), "threads": settings.threads}
    with tempfile.TemporaryDirectory() as tmp:
        results["sqlite"] = measure(f"sqlite:///{tmp}/lite/ustaz.sqlite3", Path(tmp) / "lite",
                                    embedder, questions, warmup)
        if not args.no_postgres:
            from pg import TemporaryPostgres, find_bin

            if find_bin() is None:
                print("PostgreSQL binaries not found (scripts/install_postgres.sh): SQLite only",
                      file=sys.stderr)
            else:
                with TemporaryPostgres() as pg:
                    results["postgresql"] = measure(pg.create_database("capacity"), Path(tmp) / "pg",
                                                    embedder, questions, warmup)
        if not args.no_served:
            results["served_sqlite"] = measure_served(Path(tmp) / "served" / "data", questions, warmup)
    results["load_average_after"] = os.getloadavg()[0]
    print(json.dumps(results, indent=2))
    if "served_sqlite" in results:
        print("\nserved (SQLite): " + ", ".join(f"{k} {v:.4g}" for k, v in results["served_sqlite"].items()))
    print("\n| figure | " + " | ".join(k for k in ("sqlite", "postgresql") if k in results) + " |")
    print("|---|" + "---|" * sum(k in results for k in ("sqlite", "postgresql")))
    for key in results["sqlite"]:
        cells = [results[b][key] for b in ("sqlite", "postgresql") if b in results]
        print(f"| {key} | " + " | ".join(f"{c:.4g}" if isinstance(c, float) else str(c) for c in cells) + " |")


if __name__ == "__main__":
    main()
