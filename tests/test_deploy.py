"""The shipped deployment files, run for real: Debian's nginx with the maps, upstream and
locations of deploy/nginx/ustaz.conf in front of two `tutor serve` replicas on one database
(the region's PostgreSQL when tests/pg.py can start one, else a shared SQLite file); the
whole file checked by `nginx -t` with certificates made here; the systemd units by
`systemd-analyze verify`; the pg_dump backup script dumped and restored.

nginx comes from scripts/install_nginx.sh (`make test` runs it); without it these tests skip
with that reason."""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import httpx
import pytest
from conftest import model_cache
from gradio_client import Client
from test_ui import CITE, PHOTOSYNTHESIS_KK, text_of

from tutor.bench.e2e import small_corpus
from tutor.config import REPO_ROOT

pytestmark = pytest.mark.integration  # starts nginx and two app servers

DEPLOY = REPO_ROOT / "deploy"
SHIPPED = DEPLOY / "nginx" / "ustaz.conf"
# Fixed route cookies. Which replica each reaches depends on the replicas' random ports (the
# consistent hash places 160 points per server by address, so the split is near even but not
# fixed): eight can all reach one, thirty-two all reach one with odds of about 1e-8.
ROUTES = [f"route-{i}" for i in range(32)]


def nginx_bin() -> str | None:
    return shutil.which("nginx") or next((p for p in ("/usr/sbin/nginx",) if os.access(p, os.X_OK)), None)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ------------------------------------------------------------------ the config, derived
def blocks(text: str) -> list[tuple[str, str | None]]:
    """Top-level items of an nginx config: (head, body) for `head { body }`, (directive, None)
    for `directive;`. Comments are dropped; quoted strings may hold braces and semicolons."""
    text = re.sub(r"(?m)^\s*#.*$", "", text)
    items, depth, last, start, quote = [], 0, 0, 0, ""
    for i, ch in enumerate(text):
        if quote:
            quote = "" if ch == quote else quote
        elif ch in "'\"":
            quote = ch
        elif ch == "{":
            if depth == 0:
                head, start = text[last:i].strip(), i + 1
            depth += 1
        elif ch == "}":
            depth -= 1
            if depth == 0:
                items.append((head, text[start:i]))
                last = i + 1
        elif ch == ";" and depth == 0:
            items.append((text[last:i].strip(), None))
            last = i + 1
    return items


def render(items: list[tuple[str, str | None]]) -> str:
    return "\n".join(f"{h};" if b is None else f"{h} {{{b}}}" for h, b in items)


def derived_config(prefix: Path, listen: int, replicas: list[int]) -> str:
    """The shipped maps, upstream and HTTPS server's locations, over HTTP on ``listen`` in
    front of ``replicas``, with everything nginx writes under ``prefix``."""
    http = []
    for head, body in blocks(SHIPPED.read_text()):
        if head.startswith("upstream"):
            inner = [(h, b) for h, b in blocks(body) if not h.startswith("server ")]
            servers = [(f"server 127.0.0.1:{p} max_fails=3 fail_timeout=10s", None) for p in replicas]
            http.append((head, render(servers + inner)))
        elif head == "server":
            inner = blocks(body)
            if not any(h.startswith("listen 443") for h, _ in inner):
                continue  # the HTTP -> HTTPS redirect
            keep = [(h, b) for h, b in inner
                    if not h.startswith(("listen", "server_name", "ssl_", "access_log"))]
            http.append(("server", render([(f"listen 127.0.0.1:{listen}", None),
                                           (f"access_log {prefix}/access.log ustaz_test", None)] + keep)))
        else:
            http.append((head, body))
    # which route each request had, for the stickiness checks
    http.insert(0, ("log_format ustaz_test '$ustaz_route $upstream_addr $status \"$request\"'", None))
    return wrap(prefix, render(http))


def wrap(prefix: Path, http: str) -> str:
    temp = "\n".join(f"{kind}_temp_path {prefix}/{kind};"
                     for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
    return (f"pid {prefix}/nginx.pid;\nerror_log {prefix}/error.log info;\nworker_processes 1;\n"
            f"events {{ worker_connections 256; }}\n"
            f"http {{\ninclude /etc/nginx/mime.types;\n{temp}\n{http}\n}}\n")


# ------------------------------------------------------------------ the servers
def wait_http(url: str, proc: subprocess.Popen, log: Path, timeout: float = 240) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if proc.poll() is not None:
            pytest.fail(f"{url} exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
        try:
            if httpx.get(url, timeout=2).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    pytest.fail(f"{url} did not answer in {timeout:.0f} s:\n{log.read_text()[-3000:]}")


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture(scope="module")
def nginx() -> str:
    found = nginx_bin()
    if not found:
        pytest.skip("nginx is not installed: run scripts/install_nginx.sh (make test does)")
    return found


@pytest.fixture(scope="module")
def store_url(request, tmp_path_factory) -> str:
    """The region's PostgreSQL when tests/pg.py can start one; else one SQLite file."""
    try:
        return request.getfixturevalue("postgres").create_database("deploy")
    except pytest.skip.Exception:
        return f"sqlite:///{tmp_path_factory.mktemp('shared') / 'ustaz.sqlite3'}"


@pytest.fixture(scope="module")
def replicas(nginx, store_url, tmp_path_factory):
    """Two replicas as ustaz@.service starts them: `tutor serve` on its own port and data
    folder, one database. The first loads the corpus (three bundled lessons: the whole one
    would take minutes to embed on a fresh machine); the second starts after it, as
    docs/deploy.md says, and builds its index from the database."""
    root = tmp_path_factory.mktemp("replicas")
    corpus = small_corpus(SimpleNamespace(corpus_dir=str(REPO_ROOT / "corpus")), root)
    env = {k: v for k, v in os.environ.items() if not k.startswith("TUTOR_")}
    env.update(PYTHONPATH=str(REPO_ROOT), TUTOR_DATABASE_URL=store_url, TUTOR_HOST="127.0.0.1",
               TUTOR_MODEL_CACHE=str(model_cache()), TUTOR_COMPOSER="extractive", TUTOR_THREADS="1",
               TUTOR_CORPUS_DIR=str(corpus), GRADIO_TEMP_DIR=str(root / "gradio"))
    ports, procs = [free_port(), free_port()], []
    try:
        for port in ports:
            log = root / f"{port}.log"
            proc = subprocess.Popen([sys.executable, "-m", "tutor.cli", "serve"], cwd=REPO_ROOT,
                                    env={**env, "TUTOR_PORT": str(port),
                                         "TUTOR_DATA_DIR": str(root / str(port))},
                                    stdout=log.open("w"), stderr=subprocess.STDOUT)
            procs.append(proc)
            wait_http(f"http://127.0.0.1:{port}/", proc, log)
        yield dict(zip(ports, procs))
    finally:
        for proc in procs:
            stop(proc)


@pytest.fixture(scope="module")
def proxy(nginx, replicas, tmp_path_factory):
    prefix = tmp_path_factory.mktemp("nginx")
    listen = free_port()
    conf = prefix / "nginx.conf"
    conf.write_text(derived_config(prefix, listen, list(replicas)))
    log = prefix / "stderr.log"
    proc = subprocess.Popen([nginx, "-p", str(prefix), "-c", str(conf), "-g", "daemon off;"],
                            stdout=log.open("w"), stderr=subprocess.STDOUT)
    try:
        wait_http(f"http://127.0.0.1:{listen}/config", proc, log, timeout=30)
        yield type("Proxy", (), {"url": f"http://127.0.0.1:{listen}", "log": prefix / "access.log",
                                 "replicas": replicas})
    finally:
        stop(proc)


def upstreams(proxy, route: str) -> list[str]:
    """The replica of each logged request made with ``route``."""
    lines = proxy.log.read_text().splitlines()
    return [line.split()[1] for line in lines if line.split()[0] == route]


def replica_of(proxy, route: str) -> str:
    httpx.get(f"{proxy.url}/config", cookies={"ustaz_route": route}, timeout=10)
    return upstreams(proxy, route)[-1]


# ------------------------------------------------------------------ the tests
def test_each_browser_sticks_to_one_replica_and_browsers_spread_over_both(proxy):
    seen = {}
    for route in ROUTES:
        for _ in range(3):
            r = httpx.get(f"{proxy.url}/config", cookies={"ustaz_route": route}, timeout=10)
            assert r.status_code == 200
        hops = upstreams(proxy, route)
        assert len(hops) == 3 and len(set(hops)) == 1, f"{route} moved between replicas: {hops}"
        seen[route] = hops[0]
    assert set(seen.values()) == {f"127.0.0.1:{p}" for p in proxy.replicas}, seen


def test_a_new_browser_gets_its_route_cookie_once(proxy):
    first = httpx.get(f"{proxy.url}/", timeout=10)
    assert first.status_code == 200
    cookie = first.headers.get("set-cookie", "")
    assert re.match(r"ustaz_route=[0-9a-f]{32}; Path=/; HttpOnly; Secure; SameSite=Lax$", cookie), cookie
    route = cookie.split(";")[0].split("=", 1)[1]
    again = httpx.get(f"{proxy.url}/", cookies={"ustaz_route": route}, timeout=10)
    assert "set-cookie" not in again.headers  # a new value would move the browser mid-session


def test_questions_through_nginx_stream_cited_answers_from_both_replicas(proxy):
    by_replica = {}
    for route in ROUTES:
        by_replica.setdefault(replica_of(proxy, route), route)
    assert len(by_replica) == 2
    for replica, route in by_replica.items():
        client = Client(proxy.url, verbose=False, download_files=False,
                        httpx_kwargs={"cookies": {"ustaz_route": route}})
        try:
            job = client.submit(PHOTOSYNTHESIS_KK, [], "explain", "auto", "kk", api_name="/ask")
            *partials, final = list(job)
        finally:
            client.close()
        assert len(partials) >= 2, "the answer should arrive through the proxy in pieces"
        answer = text_of(final[0][-1])
        assert CITE in answer and "Фотосинтез" in answer.split(CITE, 1)[1]
        # the page's config, the queue join and the event stream all went to one replica
        hops = upstreams(proxy, route)
        assert any("/queue/join" in line for line in proxy.log.read_text().splitlines()
                   if line.startswith(route + " "))
        assert set(hops) == {replica}, hops


def test_when_a_replica_stops_its_browsers_move_to_the_other(proxy):
    # last in this file: it stops a replica of the module's pair
    route = ROUTES[0]
    gone = replica_of(proxy, route)
    stop(proxy.replicas[int(gone.rsplit(":", 1)[1])])
    r = httpx.get(f"{proxy.url}/config", cookies={"ustaz_route": route}, timeout=30)
    assert r.status_code == 200
    assert upstreams(proxy, route)[-1].split(", ")[-1] != gone


def test_shipped_config_passes_nginx_t_with_its_certificates(nginx, tmp_path):
    if not shutil.which("openssl"):
        pytest.skip("openssl is not installed: cannot make the placeholder certificates")
    cert, key = tmp_path / "fullchain.pem", tmp_path / "privkey.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=ustaz.example.kz", "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True)
    text = (SHIPPED.read_text().replace("/etc/ssl/ustaz/fullchain.pem", str(cert))
            .replace("/etc/ssl/ustaz/privkey.pem", str(key))
            .replace("/var/log/nginx/", f"{tmp_path}/"))
    (tmp_path / "ustaz.conf").write_text(text)
    conf = tmp_path / "nginx.conf"
    conf.write_text(wrap(tmp_path, f"include {tmp_path}/ustaz.conf;"))
    done = subprocess.run([nginx, "-t", "-p", str(tmp_path), "-c", str(conf)],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "test is successful" in done.stderr


def test_systemd_units_verify(tmp_path):
    analyze = shutil.which("systemd-analyze")
    if not analyze:
        pytest.skip("systemd-analyze is not installed")
    tutor = Path(sys.executable).with_name("tutor")
    units = {
        "ustaz@7861.service": (DEPLOY / "systemd" / "ustaz@.service").read_text()
        .replace("/opt/ustaz/.venv/bin/tutor", str(tutor)),
        "ustaz-backup.service": (DEPLOY / "backup" / "ustaz-backup.service").read_text()
        .replace("/usr/local/bin/ustaz-backup.sh", str(DEPLOY / "backup" / "ustaz-backup.sh")),
        "ustaz-backup.timer": (DEPLOY / "backup" / "ustaz-backup.timer").read_text(),
    }
    for name, text in units.items():
        (tmp_path / name).write_text(text)
    done = subprocess.run([analyze, "verify", *(str(tmp_path / n) for n in units)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and not done.stderr.strip(), done.stderr


def test_backup_script_dumps_a_database_that_restores(postgres, tmp_path):
    from pg import find_bin

    from tutor.store import Store

    source = postgres.create_database("backup_source")
    store = Store(source)
    store.log_question("s1", "kk", "explain", "Фотосинтез дегеніміз не?", answered=True, score=0.9)
    store.close()
    env = {**os.environ, "TUTOR_DATABASE_URL": source, "PATH": f"{find_bin()}:{os.environ['PATH']}"}
    done = subprocess.run([str(DEPLOY / "backup" / "ustaz-backup.sh"), str(tmp_path / "backups")],
                          env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    dumps = list((tmp_path / "backups").glob("ustaz-*.dump"))
    assert len(dumps) == 1 and "tables" in done.stdout

    # the restore drill of docs/deploy.md: into an empty database, then the app opens it
    target = postgres.create_database("backup_restored")
    subprocess.run([str(find_bin() / "pg_restore"), "--no-owner", "--dbname", target, str(dumps[0])],
                   check=True, capture_output=True, timeout=120)
    restored = Store(target)
    try:
        questions = restored.query("SELECT question FROM questions")
        assert [q[0] for q in questions] == ["Фотосинтез дегеніміз не?"]
    finally:
        restored.close()
