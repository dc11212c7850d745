"""``tutor bench load --replicas N``: a class asks at once, spread over app replicas that share
one PostgreSQL database. Each replica is its own process (tutor/bench/replica.py, the app as
``tutor serve`` runs it, with the user's models); the run with 1 replica and the run with N
ask the same questions, so the two rows compare. Then 20 lessons are uploaded through one
replica and each is asked for through another until it answers from it: the delay before a
change is visible everywhere.

The database is ``TUTOR_DATABASE_URL`` (each run empties nothing: it gets a new database on
a throwaway server) or, when that is no PostgreSQL URL, a throwaway server started here
(tutor/bench/postgres.py)."""

from __future__ import annotations

import logging
import random
import secrets
import threading
import time
from pathlib import Path

from tutor.bench.e2e import small_corpus
from tutor.bench.load import free_port, student
from tutor.bench.measure import latency, machine_info, threads_of
from tutor.bench.replica import read_stats, start, wait_ready
from tutor.bench.report import Report
from tutor.database import is_postgres
from tutor.evaluation.datasets import bundled_items

log = logging.getLogger(__name__)

UPLOADS = 20


def _env(settings, url: str, corpus: Path, password: str) -> dict[str, str]:
    """The replicas' settings: the user's models and composer, this run's database and corpus."""
    env = {}
    for f in type(settings).fields():
        value = getattr(settings, f.name)
        if f.name in ("data_dir", "port", "host"):
            continue
        env[type(settings).env_name(f.name)] = str(value).lower() if isinstance(value, bool) else str(value)
    env.update({"TUTOR_DATABASE_URL": url, "TUTOR_CORPUS_DIR": str(corpus),
                "TUTOR_MODEL_CACHE": str(settings.model_path), "TUTOR_TEACHER_PASSWORD": password,
                "TUTOR_LOG_LEVEL": "WARNING"})
    return env


class Replicas:
    """N replica processes on one database, each with its own data folder (its search index)."""

    def __init__(self, env: dict[str, str], folder: Path, n: int):
        self.env, self.folder, self.n = env, folder, n
        self.procs, self.ports, self.dirs = [], [], []
        self.start_s: list[float] = []

    def __enter__(self) -> Replicas:
        for i in range(self.n):  # one after another: the first loads the bundled lessons
            port, data = free_port(), self.folder / f"replica{i}"
            proc = start(self.env, data, port)
            self.procs.append(proc)
            self.ports.append(port)
            self.dirs.append(data)
            self.start_s.append(wait_ready(proc, port, timeout_s=600))
        return self

    def url(self, i: int) -> str:
        return f"http://127.0.0.1:{self.ports[i % self.n]}/"

    def usage(self) -> tuple[float, float, int, float]:
        """CPU seconds of the replica processes, seconds they spent in the database, calls, and
        the seconds of those in write transactions."""
        import psutil

        cpu = sum(sum(psutil.Process(p.pid).cpu_times()[:2]) for p in self.procs)
        stats = [read_stats(d) for d in self.dirs]
        return (cpu, sum(s.get("db_busy_s") or 0.0 for s in stats), sum(s.get("db_calls") or 0 for s in stats),
                sum(s.get("db_write_s") or 0.0 for s in stats))

    def __exit__(self, *exc) -> None:
        for proc in self.procs:
            proc.terminate()
        for proc in self.procs:
            try:
                proc.wait(timeout=20)
            except Exception:  # noqa: BLE001
                proc.kill()


class _Start:
    """The students' barrier in two steps: all connected, then (usage read) all ask."""

    def __init__(self, parties: int):
        self.connected, self.go = threading.Barrier(parties), threading.Barrier(parties)

    def wait(self) -> None:
        self.connected.wait()
        self.go.wait()

    def abort(self) -> None:
        self.connected.abort()
        self.go.abort()


def _class_asks(replicas: Replicas, items: list[dict], students: int, per_student: int,
                server_cpu=None) -> dict:
    """``server_cpu``: a function giving the database server's CPU seconds (None: not known,
    the server runs elsewhere)."""
    rng = random.Random(0)
    questions = [rng.sample(items, per_student) for _ in range(students)]
    times: list[float] = []
    errors: list[str] = []
    ready = _Start(students + 1)
    workers = [threading.Thread(target=student, daemon=True, args=(replicas.url(i), questions[i], times, errors, ready))
               for i in range(students)]
    for w in workers:
        w.start()
    ready.connected.wait()
    time.sleep(1.2)  # the replicas' statistics files catch up with the connections' work
    cpu0, db0, calls0, write0 = replicas.usage()
    server0 = server_cpu() if server_cpu else None
    ready.go.wait()
    t0 = time.perf_counter()
    for w in workers:
        w.join(timeout=1800)
    wall = time.perf_counter() - t0
    time.sleep(1.2)
    cpu1, db1, calls1, write1 = replicas.usage()
    server1 = server_cpu() if server_cpu else None
    answered = len(times)
    lat = latency(times)
    per = (lambda x: x / answered if answered else None)  # noqa: E731
    mean_s = sum(times) / answered if answered else None
    return {"replicas": replicas.n, "asked": students * per_student, "answered": answered,
            "errors": len(errors), "error_samples": sorted(set(errors))[:5],
            "p50_s": lat["p50_ms"] / 1000 if times else None, "p95_s": lat["p95_ms"] / 1000 if times else None,
            "wall_s": wall, "answers_per_s": answered / wall if wall else None,
            "cpu_s_per_answer": per(cpu1 - cpu0), "db_s_per_answer": per(db1 - db0),
            "db_calls_per_answer": per(calls1 - calls0), "db_write_s_per_answer": per(write1 - write0),
            "mean_answer_s": mean_s,
            "server_cpu_s_per_answer": per(server1 - server0) if server_cpu else None,
            # what the database server takes of all the CPU an answer costs, replicas included
            "server_share_of_cpu": ((server1 - server0) / (server1 - server0 + cpu1 - cpu0)
                                    if server_cpu and (server1 - server0 + cpu1 - cpu0) > 0 else None),
            "db_share_of_answer": (db1 - db0) / answered / mean_s if answered and mean_s else None,
            "replica_start_s": replicas.start_s}


def _refresh_delays(replicas: Replicas, folder: Path, password: str, uploads: int) -> list[float | None]:
    """Seconds from an upload through replica 0 returning to replica 1 answering from it."""
    from gradio_client import Client, handle_file

    teacher = Client(replicas.url(0), verbose=False, download_files=False)
    student_client = Client(replicas.url(1), verbose=False, download_files=False)
    teacher.predict(password, "ru", api_name="/teacher_login")
    delays = []
    for i in range(uploads):
        name = f"Зорват{i}кель"
        path = folder / f"lake-{i}.md"
        path.write_text(f"# Озеро {name}\n\nОзеро {name} питается ледником; его глубина {40 + i} метров. "
                        f"Вода в озере {name} холодная даже летом.\n", encoding="utf-8")
        teacher.predict([handle_file(str(path))], "geography", "7", "ru", "reference", "", "", "ru",
                        api_name="/teacher_upload")
        t0 = time.perf_counter()
        delay = None
        while time.perf_counter() - t0 < 30:
            out = student_client.predict(f"Чем питается озеро {name}?", [], "explain", "ru", "ru", api_name="/ask")
            content = out[0][-1]["content"]
            text = content if isinstance(content, str) else "".join(p.get("text", "") for p in content)
            if name in text:
                delay = time.perf_counter() - t0
                break
            time.sleep(0.1)
        delays.append(delay)
    return delays


def run(settings, folder: Path, quick: bool = False, replicas: int = 2) -> Report:
    from tutor.bench.postgres import TemporaryPostgres

    students, per_student = (4, 1) if quick else (30, 5)  # a class of 30, as tutor bench load
    uploads = 3 if quick else UPLOADS
    report = Report("load-replicas", quick, machine_info(threads_of(settings)))
    corpus = small_corpus(settings, folder)
    docs = {p.relative_to(corpus).with_suffix("").as_posix() for p in corpus.rglob("*.md")}
    items = [r for r in bundled_items("answerable") if r.get("doc") in docs and r["lang"] in ("kk", "ru")]
    password = secrets.token_urlsafe(12)
    server = None if is_postgres(settings.database_url) else TemporaryPostgres(durable=True).start()
    rows, delays = [], []
    try:
        for n in sorted({1, replicas}):
            if server is not None:
                url = server.create_database(f"bench_{n}")
            else:  # a new schema would need rights a region's account may lack: the URL as given
                url = settings.database_url
            env = _env(settings, url, corpus, password)
            with Replicas(env, folder / f"run{n}", n) as group:
                rows.append(_class_asks(group, items, students, per_student,
                                        server.cpu_seconds if server is not None else None))
                if n > 1:
                    delays = _refresh_delays(group, folder, password, uploads)
    finally:
        if server is not None:
            server.stop()

    table = report.table(f"{students} students x {per_student} questions, all at once, spread over the "
                         f"replicas (composer setting {settings.composer}, queue concurrency "
                         f"{settings.queue_concurrency} per replica)",
                         ["replicas", "answered", "errors", "p50 s", "p95 s", "answers/s", "CPU-s/answer",
                          "DB s/answer", "of it in writes", "DB calls/answer", "DB share of an answer",
                          "DB server CPU-s/answer", "DB server share of the CPU"])
    for r in rows:
        table.add(r["replicas"], r["answered"], r["errors"], r["p50_s"], r["p95_s"], r["answers_per_s"],
                  r["cpu_s_per_answer"], r["db_s_per_answer"], r["db_write_s_per_answer"], r["db_calls_per_answer"],
                  r["db_share_of_answer"], r["server_cpu_s_per_answer"], r["server_share_of_cpu"])
    seen = [d for d in delays if d is not None]
    refresh = latency(seen) if seen else {}
    if delays:
        t2 = report.table(f"{len(delays)} uploads through replica 1, asked for through replica 2 until answered",
                          ["uploads", "never seen (30 s)", "p50 s", "p95 s", "max s"])
        t2.add(len(delays), len(delays) - len(seen), refresh.get("p50_ms", 0) / 1000 if seen else None,
               refresh.get("p95_ms", 0) / 1000 if seen else None, max(seen) if seen else None)
    report.notes += [
        "Each replica is a process of its own (python -m tutor.bench.replica: the app as tutor serve builds it) "
        "with its own data folder; all share one PostgreSQL database. Students are gradio_client threads "
        "in this process, student i on replica i mod N.",
        "CPU-s/answer: user+system CPU seconds of the replica processes during the questions, divided by the "
        "answers. DB s/answer: seconds the replicas spent inside store queries and write transactions "
        "(waiting for a connection or the writer lock included), from each replica's statistics file. "
        "DB share: DB s/answer over the mean latency of an answer; on a machine whose cores the "
        "replicas' models keep busy, that includes waiting for a core and for the interpreter lock. "
        "DB server CPU: user+system seconds of the PostgreSQL server's processes during the questions "
        "(a throwaway server only), and their share of all CPU the answers cost (replicas + server): "
        "what the database itself takes, with no waiting counted.",
        f"On a machine with {machine_info(1).get('cores')} cores, N replicas compete for the same cores, "
        "so answers/s cannot grow with N here; CPU-s/answer and the DB share say what another machine buys.",
        "Refresh delay: from the upload call returning (the lesson is committed) to the first answer from "
        "the other replica that quotes it, polled by asking every 0.1 s (an answer takes part of that).",
    ]
    report.results = {"students": students, "questions_per_student": per_student, "runs": rows,
                      "refresh_delays_s": delays,
                      "refresh_p95_s": refresh.get("p95_ms", 0) / 1000 if seen else None,
                      "refresh_p50_s": refresh.get("p50_ms", 0) / 1000 if seen else None}
    return report
