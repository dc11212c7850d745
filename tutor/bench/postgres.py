"""A throwaway PostgreSQL server for the store tests, the replica bench and
``scripts/postgres.sh``: initdb in a temporary folder, a free port, its Unix socket in that
folder, removed when stopped.

PostgreSQL refuses to run as root, so as root the folder belongs to the postgres user and
the server runs as that user (runuser).
"""

from __future__ import annotations

import glob
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

USER = "postgres"  # the superuser initdb creates, whoever runs it


def find_bin() -> Path | None:
    """The folder of initdb, pg_ctl, postgres and createdb: $PG_BIN, the PATH, or Debian's newest version."""
    candidates = [os.environ.get("PG_BIN", "")]
    on_path = shutil.which("initdb")
    candidates.append(str(Path(on_path).resolve().parent) if on_path else "")
    candidates += sorted(glob.glob("/usr/lib/postgresql/*/bin"),
                         key=lambda p: int(Path(p).parent.name) if Path(p).parent.name.isdigit() else 0,
                         reverse=True)
    for folder in filter(None, candidates):
        if all((Path(folder) / tool).exists() for tool in ("initdb", "pg_ctl", "postgres", "createdb")):
            return Path(folder)
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class TemporaryPostgres:
    """``with TemporaryPostgres() as pg: pg.url("dbname")``."""

    def __init__(self, bin_dir: Path | None = None, durable: bool = False):
        self.bin = bin_dir or find_bin()
        self.durable = durable
        if self.bin is None:
            raise FileNotFoundError("PostgreSQL binaries (initdb, pg_ctl) not found; "
                                    "scripts/install_postgres.sh installs them")
        self.root = Path(tempfile.mkdtemp(prefix="ustaz-pg-"))
        self.data = self.root / "data"
        self.port = _free_port()
        self.as_root = os.geteuid() == 0

    def _run(self, *args: str) -> subprocess.CompletedProcess:
        cmd = [str(self.bin / args[0]), *args[1:]]
        if self.as_root:
            cmd = ["runuser", "-u", USER, "--", *cmd]
        return subprocess.run(cmd, capture_output=True, text=True, check=True)

    def start(self) -> TemporaryPostgres:
        if self.as_root:
            shutil.chown(self.root, USER, USER)
        try:
            self._run("initdb", "-D", str(self.data), "-U", USER, "--auth=trust",
                      "--encoding=UTF8", "--locale=C.UTF-8", "--no-sync")
            # connections on the socket and loopback only; a test server without durability,
            # a bench's with a production server's (each commit flushed to disk)
            options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1"
            if not self.durable:
                options += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
            self._run("pg_ctl", "start", "-w", "-t", "60", "-D", str(self.data),
                      "-l", str(self.root / "server.log"), "-o", options)
        except subprocess.CalledProcessError as exc:
            log = (self.root / "server.log").read_text() if (self.root / "server.log").exists() else ""
            self.stop()
            raise RuntimeError(f"PostgreSQL did not start: {exc.stderr}\n{log}") from exc
        return self

    def url(self, dbname: str = USER) -> str:
        return f"postgresql://{USER}@/{dbname}?host={self.root}&port={self.port}"

    def create_database(self, name: str) -> str:
        """A new empty database; its URL."""
        self._run("createdb", "-h", str(self.root), "-p", str(self.port), "-U", USER, name)
        return self.url(name)

    def cpu_seconds(self) -> float:
        """User+system CPU seconds of the server: the postmaster, its live processes and the
        backends it has reaped (their time is added to its children's)."""
        import psutil

        main = psutil.Process(int((self.data / "postmaster.pid").read_text().split()[0]))
        times = main.cpu_times()
        total = times.user + times.system + times.children_user + times.children_system
        for child in main.children(recursive=True):
            try:
                t = child.cpu_times()
                total += t.user + t.system
            except psutil.NoSuchProcess:
                pass
        return total

    def restart(self) -> None:
        """Stop (fast: open connections are cut) and start again on the same port and data."""
        # (-l: without it the server would keep this call's output pipe open, and the call waiting)
        self._run("pg_ctl", "restart", "-w", "-t", "60", "-m", "fast", "-D", str(self.data),
                  "-l", str(self.root / "server.log"))

    def stop(self) -> None:
        if (self.data / "postmaster.pid").exists():
            subprocess.run([*(["runuser", "-u", USER, "--"] if self.as_root else []),
                            str(self.bin / "pg_ctl"), "stop", "-D", str(self.data), "-m", "immediate",
                            "-w"], capture_output=True)
        shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> TemporaryPostgres:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


if __name__ == "__main__":  # scripts/postgres.sh: serve until Ctrl-C (or kill)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    with TemporaryPostgres() as pg:
        url = pg.create_database("ustaz")
        print(url, flush=True)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass
