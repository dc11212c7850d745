"""Where the store's tables live: an SQLite file (one school PC) or a PostgreSQL database
(a region's server), chosen by the URL scheme (``connect``).

Both backends offer what ``Store`` and the raw SQL beside it use of the sqlite3 API:
``transaction()`` yields a connection whose ``execute`` returns a cursor with ``lastrowid``,
``rowcount`` and ``fetchone``; ``query`` returns rows addressable by name and position. The
SQL is written once, in SQLite's dialect; ``translate`` rewrites it for PostgreSQL.
"""

from __future__ import annotations

import re
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit, urlunsplit

# Every write transaction on PostgreSQL takes this advisory lock first: the code was written
# for SQLite's single writer (BEGIN IMMEDIATE), and read-then-write steps such as the
# generation bump and a job's batch commit rely on it.
WRITER_LOCK = 0x7573_7461_7A  # "ustaz"
POSTGRES_SCHEMES = ("postgresql", "postgres")
# the channel a corpus change is announced on (NOTIFY is delivered at COMMIT, never before)
CHANGES_CHANNEL = "ustaz_corpus"


class IntegrityError(sqlite3.IntegrityError):
    """A PostgreSQL constraint violation, catchable where SQLite's is caught."""


class DatabaseUnavailable(RuntimeError):
    """The database server cannot be reached (restarting, network down) or a connection broke
    mid-request: the request did nothing, and the same request may succeed in a moment."""


# a request waits this long for a pooled connection while the server restarts, then gives up
POOL_TIMEOUT_S = 10.0


class Database(Protocol):
    kind: str  # 'sqlite' or 'postgresql'
    path: Path | None  # the SQLite file; None for a server

    def transaction(self) -> Iterator[Any]: ...

    def query(self, sql: str, params: Iterable = ()) -> list: ...

    def script(self, sql: str) -> None: ...

    def columns(self, table: str) -> list[str]: ...

    def tables(self) -> list[str]: ...

    def close(self) -> None: ...


def is_postgres(location: str | Path) -> bool:
    return str(location).split(":", 1)[0].lower() in POSTGRES_SCHEMES and "://" in str(location)


def sqlite_path(location: str | Path) -> Path:
    """The file of a path or an ``sqlite:///path`` URL (three or four slashes: absolute)."""
    text = str(location)
    if text.startswith("sqlite://"):
        text = text[len("sqlite://"):]
        if text.startswith("//"):
            text = text[1:]
    return Path(text).expanduser()


def connect(location: str | Path, pool_size: int = 10) -> Database:
    """The database at a path, an ``sqlite:///`` URL or a ``postgresql://`` URL."""
    if is_postgres(location):
        return PostgresDatabase(str(location), pool_size=pool_size)
    scheme = str(location).split("://", 1)[0] if "://" in str(location) else "sqlite"
    if scheme != "sqlite":
        raise ValueError(f"unknown database URL scheme {scheme!r}: use a path, sqlite:///path "
                         "or postgresql://user:password@host/database")
    return SqliteDatabase(sqlite_path(location))


def redact(url: str) -> str:
    """The URL without its password, for messages and logs."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))


def statements(sql: str) -> list[str]:
    """The statements of an SQL file (comments dropped; no ';' inside a literal)."""
    sql = re.sub(r"--[^\n]*", "", sql)
    return [s.strip() for s in sql.split(";") if s.strip()]


# ------------------------------------------------------------------------ SQLite
class SqliteDatabase:
    """One SQLite file; one connection per thread; BEGIN IMMEDIATE takes the writer lock."""

    kind = "sqlite"

    def __init__(self, path: Path):
        self.path = path
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()

    def connection(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, timeout=30, isolation_level=None,
                                   check_same_thread=False)
            conn.row_factory = sqlite3.Row
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("PRAGMA foreign_keys=ON")
            self._local.conn = conn
        return conn

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        conn = self.connection()
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        else:
            conn.execute("COMMIT")

    def query(self, sql: str, params: Iterable = ()) -> list[sqlite3.Row]:
        return self.connection().execute(sql, tuple(params)).fetchall()

    def rows(self, sql: str) -> Iterator[sqlite3.Row]:
        """The rows of a large result, read as they are needed."""
        yield from self.connection().execute(sql)

    def script(self, sql: str) -> None:
        self.connection().executescript(sql)

    def columns(self, table: str) -> list[str]:
        return [r["name"] for r in self.query(f"PRAGMA table_info({table})")]

    def tables(self) -> list[str]:
        return [r[0] for r in self.query("SELECT name FROM sqlite_master WHERE type='table' "
                                         "AND name NOT LIKE 'sqlite_%' ORDER BY name")]

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None


# -------------------------------------------------------------------- translation
_INSERT = re.compile(r"^\s*INSERT\s+(?:OR\s+(REPLACE|IGNORE)\s+)?INTO\s+(\w+)\s*(\(([^)]*)\))?",
                     re.IGNORECASE)


def _outside_literals(sql: str, fn) -> str:
    """``fn`` applied to the parts of ``sql`` outside single-quoted literals."""
    parts = re.split(r"('(?:[^']|'')*')", sql)
    return "".join(p if i % 2 else fn(p) for i, p in enumerate(parts))


@lru_cache(maxsize=2048)
def translate(sql: str, tables: tuple[tuple[str, tuple[str, ...], tuple[str, ...]], ...] = ()) -> str:
    """One statement in SQLite's dialect, rewritten for PostgreSQL (psycopg's placeholders).

    ``tables`` gives (name, primary key columns, columns) of the tables an INSERT OR REPLACE
    may name. DDL: INTEGER PRIMARY KEY [AUTOINCREMENT] becomes an identity column (ids are
    never reused, as AUTOINCREMENT promises), INTEGER BIGINT (SQLite's integers are 64-bit),
    REAL DOUBLE PRECISION, BLOB BYTEA, and ADD COLUMN idempotent."""
    head = sql.lstrip()[:6].upper()
    if head in ("CREATE", "ALTER "):
        def ddl(part: str) -> str:
            part = re.sub(r"\bINTEGER\s+PRIMARY\s+KEY(\s+AUTOINCREMENT)?\b",
                          "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY", part, flags=re.I)
            part = re.sub(r"\bINTEGER\b", "BIGINT", part, flags=re.I)
            part = re.sub(r"\bREAL\b", "DOUBLE PRECISION", part, flags=re.I)
            part = re.sub(r"\bBLOB\b", "BYTEA", part, flags=re.I)
            return re.sub(r"\bADD\s+COLUMN\s+(?!IF\s+NOT\s+EXISTS)", "ADD COLUMN IF NOT EXISTS ",
                          part, flags=re.I)
        return _outside_literals(sql, ddl)
    out = _outside_literals(sql, lambda p: re.sub(r"\bIN\s*\(\s*\)", "IN (NULL)",
                                                    p.replace("%", "%%").replace("?", "%s")))
    m = _INSERT.match(out)
    if m and m.group(1):
        out = "INSERT INTO" + out[m.start(2) - 1:]
        if m.group(1).upper() == "IGNORE":
            return out.rstrip().rstrip(";") + " ON CONFLICT DO NOTHING"
        known = {name: (key, cols) for name, key, cols in tables}
        if m.group(2) not in known:
            raise ValueError(f"INSERT OR REPLACE into {m.group(2)}: its primary key is unknown")
        key, cols = known[m.group(2)]
        named = [c.strip() for c in m.group(4).split(",")] if m.group(3) else list(cols)
        sets = [f"{c}=EXCLUDED.{c}" for c in named if c not in key]
        action = f"DO UPDATE SET {', '.join(sets)}" if sets else "DO NOTHING"
        return out.rstrip().rstrip(";") + f" ON CONFLICT ({', '.join(key)}) {action}"
    return out


# --------------------------------------------------------------------- PostgreSQL
class Row:
    """A result row addressable by column name and by position, as sqlite3.Row is."""

    __slots__ = ("_values", "_names", "_index")

    def __init__(self, values: tuple, names: list[str], index: dict[str, int]):
        self._values, self._names, self._index = values, names, index

    def __getitem__(self, key):
        if isinstance(key, str):
            return self._values[self._index[key]]
        return self._values[key]

    def __iter__(self):
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def __eq__(self, other) -> bool:
        return tuple(self) == tuple(other)

    def __hash__(self) -> int:
        return hash(self._values)

    def keys(self) -> list[str]:
        return list(self._names)

    def __repr__(self) -> str:
        return f"Row({dict(zip(self._names, self._values, strict=True))!r})"


def _row_factory(cursor):
    names = [c.name for c in cursor.description or ()]
    index: dict[str, int] = {}
    for i, name in enumerate(names):
        index.setdefault(name, i)  # a repeated name means its first column, as in sqlite3
    return lambda values: Row(tuple(values), names, index)


class PgCursor:
    """The sqlite3 cursor API over a psycopg cursor; ``lastrowid`` from ``RETURNING id``."""

    def __init__(self, cursor, lastrowid: int | None = None):
        self._cursor, self.lastrowid = cursor, lastrowid

    @property
    def rowcount(self) -> int:
        return self._cursor.rowcount

    def fetchone(self):
        return self._cursor.fetchone() if self._cursor.description and self.lastrowid is None else None

    def fetchall(self) -> list:
        # an UPDATE run through query() has no rows; sqlite3 answers [] there too
        return self._cursor.fetchall() if self._cursor.description and self.lastrowid is None else []

    def __iter__(self):
        return iter(self.fetchall())


class PgConnection:
    """The part of sqlite3.Connection the store uses, over one psycopg connection."""

    def __init__(self, conn, database: PostgresDatabase):
        self._conn, self._db = conn, database

    def execute(self, sql: str, params: Iterable = ()) -> PgCursor:
        import psycopg

        tables = self._db.catalog(self._conn) if "OR REPLACE" in sql.upper() else ()
        text = translate(sql, tables)
        m = _INSERT.match(text)
        wants_id = (m is not None and " RETURNING " not in text.upper()
                    and m.group(2) in self._db.identity_tables(self._conn))
        if wants_id:
            text += " RETURNING id"
        cur = self._conn.cursor(binary=True)  # (bytea in hex text is 8x slower to read)
        try:
            cur.execute(text, tuple(params))
        except psycopg.IntegrityError as exc:
            raise IntegrityError(str(exc)) from exc
        if text.lstrip()[:6].upper() in ("CREATE", "ALTER "):
            self._db.forget_catalog()
        return PgCursor(cur, cur.fetchone()[0] if wants_id else None)

    def executemany(self, sql: str, seq: Iterable[Iterable]) -> PgCursor:
        import psycopg

        cur = self._conn.cursor()
        try:
            tables = self._db.catalog(self._conn) if "OR REPLACE" in sql.upper() else ()
            cur.executemany(translate(sql, tables), [tuple(p) for p in seq])
        except psycopg.IntegrityError as exc:
            raise IntegrityError(str(exc)) from exc
        return PgCursor(cur)


def _number(value):
    """A NUMERIC as SQLite gives it: SUM of integers an int, AVG (fraction digits) a float."""
    return int(value) if value.is_finite() and value.as_tuple().exponent >= 0 else float(value)


def _configure(conn) -> None:
    """Each pooled connection: bools stored as 0/1 (the schema's INTEGER flags, as SQLite
    does), NUMERIC results (SUM, AVG) read as int or float, lock waits bounded like SQLite's."""
    from psycopg.adapt import Dumper
    from psycopg.types.numeric import NumericBinaryLoader, NumericLoader

    class BoolAsInt(Dumper):
        oid = conn.adapters.types["int8"].oid

        def dump(self, obj):
            return b"1" if obj else b"0"

    class Number(NumericLoader):
        def load(self, data):
            return _number(super().load(data))

    class NumberBinary(NumericBinaryLoader):
        def load(self, data):
            return _number(super().load(data))

    conn.adapters.register_dumper(bool, BoolAsInt)
    conn.adapters.register_loader("numeric", Number)
    conn.adapters.register_loader("numeric", NumberBinary)
    conn.execute("SET lock_timeout = '30s'")


@contextmanager
def _unavailable() -> Iterator[None]:
    """A lost server as DatabaseUnavailable: a connection that broke (the pool replaces it) or
    none to be had in POOL_TIMEOUT_S. A lock wait that timed out is an OperationalError too,
    and the same advice holds: try again."""
    import psycopg
    from psycopg_pool import PoolTimeout

    try:
        yield
    except (psycopg.OperationalError, PoolTimeout) as exc:
        raise DatabaseUnavailable(f"the database is unavailable ({type(exc).__name__}: "
                                  f"{str(exc).strip()[:200]}); try again") from exc


class PostgresDatabase:
    """A PostgreSQL database through a psycopg connection pool. Reads run on any pooled
    connection (autocommit, MVCC snapshots); a thread inside ``transaction()`` reads through
    its own connection, so it sees its uncommitted writes, as on SQLite."""

    kind = "postgresql"
    path = None

    def __init__(self, url: str, pool_size: int = 10):
        try:
            import psycopg  # noqa: F401
            from psycopg_pool import ConnectionPool
        except ImportError as exc:
            raise RuntimeError("a postgresql:// database needs psycopg 3 and psycopg_pool: "
                               "pip install 'psycopg[binary]' psycopg_pool") from exc
        self.url = url
        self._local = threading.local()
        self._catalog: tuple | None = None
        self._identity: frozenset[str] | None = None
        self._listener = None  # the LISTEN connection, opened by the first wait_for_change
        self._listen_lock = threading.Lock()
        # seconds this process spent in queries and open transactions (lock waits included),
        # and how many: the replica bench sets them against the answers (tutor/bench/replicas.py)
        self.busy_s, self.calls, self.write_s = 0.0, 0, 0.0
        self._busy_lock = threading.Lock()
        # check: a connection broken by a server restart is dropped when next taken from the
        # pool instead of failing the request that took it
        self.pool = ConnectionPool(url, min_size=1, max_size=pool_size, open=False,
                                   kwargs={"autocommit": True, "row_factory": _row_factory},
                                   configure=_configure, check=ConnectionPool.check_connection,
                                   timeout=POOL_TIMEOUT_S, name="ustaz-store")
        self.pool.open()
        try:
            self.pool.wait(timeout=30)
        except Exception as exc:
            self.pool.close()
            raise RuntimeError(f"cannot connect to the PostgreSQL database {redact(url)}: "
                               f"{exc}") from exc

    # the tables' keys and columns, for INSERT OR REPLACE and RETURNING id; read again after DDL
    def forget_catalog(self) -> None:
        self._catalog = self._identity = None

    def catalog(self, conn) -> tuple:
        if self._catalog is None:
            rows = conn.execute(
                "SELECT c.table_name, c.column_name, c.is_identity, "
                "(k.column_name IS NOT NULL) AS is_key FROM information_schema.columns c "
                "LEFT JOIN (SELECT kcu.table_name, kcu.column_name FROM "
                "information_schema.table_constraints tc JOIN information_schema.key_column_usage kcu "
                "ON kcu.constraint_name = tc.constraint_name AND kcu.table_schema = tc.table_schema "
                "WHERE tc.constraint_type = 'PRIMARY KEY' AND tc.table_schema = current_schema()) k "
                "ON k.table_name = c.table_name AND k.column_name = c.column_name "
                "WHERE c.table_schema = current_schema() ORDER BY c.table_name, c.ordinal_position"
            ).fetchall()
            tables: dict[str, tuple[list, list]] = {}
            for r in rows:
                key, cols = tables.setdefault(r["table_name"], ([], []))
                cols.append(r["column_name"])
                if r["is_key"]:
                    key.append(r["column_name"])
            self._identity = frozenset(r["table_name"] for r in rows
                                       if r["column_name"] == "id" and r["is_identity"] == "YES")
            self._catalog = tuple((t, tuple(k), tuple(c)) for t, (k, c) in sorted(tables.items()))
        return self._catalog

    def identity_tables(self, conn) -> frozenset[str]:
        self.catalog(conn)
        return self._identity

    def _count(self, start: float, write: bool = False) -> None:
        with self._busy_lock:
            spent = time.perf_counter() - start
            self.busy_s += spent
            self.write_s += spent if write else 0.0
            self.calls += 1

    @contextmanager
    def transaction(self) -> Iterator[PgConnection]:
        if getattr(self._local, "conn", None) is not None:
            raise RuntimeError("a transaction is already open in this thread")
        start = time.perf_counter()
        try:
            with _unavailable(), self.pool.connection() as conn, conn.transaction():
                conn.execute("SELECT pg_advisory_xact_lock(%s)", (WRITER_LOCK,))
                self._local.conn = PgConnection(conn, self)
                try:
                    yield self._local.conn
                finally:
                    self._local.conn = None
        finally:
            self._count(start, write=True)

    def query(self, sql: str, params: Iterable = ()) -> list[Row]:
        current = getattr(self._local, "conn", None)
        if current is not None:
            return current.execute(sql, params).fetchall()
        start = time.perf_counter()
        try:
            with _unavailable(), self.pool.connection() as conn:
                return PgConnection(conn, self).execute(sql, params).fetchall()
        finally:
            self._count(start)

    def rows(self, sql: str, batch: int = 2000) -> Iterator[Row]:
        """The rows of a large result through a server-side cursor, ``batch`` at a time."""
        with self.pool.connection() as conn, conn.transaction():
            with conn.cursor(name="ustaz_rows") as cur:
                cur.itersize = batch
                cur.execute(translate(sql))
                yield from cur

    def script(self, sql: str) -> None:
        with self.transaction() as db:
            for statement in statements(sql):
                db.execute(statement)

    def columns(self, table: str) -> list[str]:
        with self.pool.connection() as conn:
            return next((list(c) for t, _, c in self.catalog(conn) if t == table), [])

    def tables(self) -> list[str]:
        with self.pool.connection() as conn:
            return [t for t, _, _ in self.catalog(conn)]

    def notify(self, conn: PgConnection, payload: str = "") -> None:
        """Announce a change from inside its transaction; listeners hear it once it commits."""
        conn.execute("SELECT pg_notify(?, ?)", (CHANGES_CHANNEL, payload))

    def wait_for_change(self, timeout_s: float) -> bool:
        """Block until a change is announced on any connection to this database, or
        ``timeout_s`` passes; returns whether one was. The listening connection is its own,
        outside the pool (a pooled one would be handed to requests), and is opened again after
        the server restarts: the wait that opens it returns True at once, since a change may
        have committed while nobody listened."""
        import psycopg

        with self._listen_lock:
            if self._listener is None:
                self._listener = psycopg.Connection.connect(self.url, autocommit=True, connect_timeout=10)
                self._listener.execute(f"LISTEN {CHANGES_CHANNEL}")
                return True
            try:
                heard = bool(list(self._listener.notifies(timeout=timeout_s, stop_after=1)))
                if heard:  # several changes committed together need one look, not several
                    for _ in self._listener.notifies(timeout=0.0):
                        pass
                return heard
            except psycopg.Error:
                self._close_listener()
                raise

    def _close_listener(self) -> None:
        if self._listener is not None:
            try:
                self._listener.close()
            finally:
                self._listener = None

    def close(self) -> None:
        self._close_listener()
        self.pool.close()
