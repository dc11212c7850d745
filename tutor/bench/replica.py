"""One app replica as its own process, for the replica bench and tests: what ``tutor serve``
runs (settings from the ``TUTOR_*`` environment), optionally with the keyword embedder instead
of e5 so that tests start in seconds, and writing the process's database time to
``<data_dir>/replica-stats.json`` twice a second for the bench to read.

usage: python -m tutor.bench.replica [--hashing-embedder]
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

STATS_FILE = "replica-stats.json"


def _write_stats(store, path: Path, every_s: float) -> None:
    db = store.db
    while True:
        times = os.times()
        stats = {"pid": os.getpid(), "at": time.time(), "cpu_s": times.user + times.system,
                 "db_busy_s": getattr(db, "busy_s", None), "db_calls": getattr(db, "calls", None),
                 "db_write_s": getattr(db, "write_s", None)}
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(stats))
        tmp.replace(path)
        time.sleep(every_s)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tutor.bench.replica", description=__doc__)
    parser.add_argument("--hashing-embedder", action="store_true",
                        help="the keyword embedder of the tests instead of e5 (no model to load)")
    args = parser.parse_args(argv)

    from tutor.config import Settings
    from tutor.retrieval.embedders import HashingEmbedder
    from tutor.runtime import build_runtime
    from tutor.ui.app import build_app, launch

    settings = Settings.load()
    logging.basicConfig(level=settings.log_level, format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    runtime = build_runtime(settings, embedder=HashingEmbedder() if args.hashing_embedder else None)
    demo, _ = build_app(settings, runtime)
    threading.Thread(target=_write_stats, args=(runtime.store, settings.data_path / STATS_FILE, 0.5),
                     daemon=True).start()
    launch(demo, settings, quiet=True)
    return 0


def start(env: dict[str, str], data_dir: Path, port: int, hashing: bool = False,
          log_path: Path | None = None) -> subprocess.Popen:
    """A replica process on ``port`` with its own data folder; ``env``: its TUTOR_* settings
    (the database URL, the corpus folder...)."""
    data_dir.mkdir(parents=True, exist_ok=True)
    full = {k: v for k, v in os.environ.items() if not k.startswith("TUTOR_")}
    full.update(env)
    full.update({"TUTOR_DATA_DIR": str(data_dir), "TUTOR_PORT": str(port), "TUTOR_HOST": "127.0.0.1",
                 "GRADIO_ANALYTICS_ENABLED": "False"})
    log = open(log_path or data_dir / "replica.log", "wb")  # (the process writes it; closed with it)
    return subprocess.Popen([sys.executable, "-m", "tutor.bench.replica",
                             *(["--hashing-embedder"] if hashing else [])],
                            env=full, stdout=log, stderr=subprocess.STDOUT)


def wait_ready(proc: subprocess.Popen, port: int, timeout_s: float = 300.0) -> float:
    """Seconds until the replica answers HTTP; raises if it exits or does not come up."""
    import httpx

    start_t = time.monotonic()
    while time.monotonic() - start_t < timeout_s:
        if proc.poll() is not None:
            raise RuntimeError(f"the replica on port {port} exited with {proc.returncode}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/config", timeout=2).status_code == 200:
                return time.monotonic() - start_t
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise TimeoutError(f"the replica on port {port} did not start in {timeout_s:.0f} s")


def read_stats(data_dir: Path) -> dict:
    path = data_dir / STATS_FILE
    return json.loads(path.read_text()) if path.exists() else {}


if __name__ == "__main__":
    sys.exit(main())
