"""Move a store from one database to another (``tutor db migrate``): a school's SQLite file
into a region's PostgreSQL database, or back. Both are first brought to the latest schema;
every table is copied in one transaction, parents before children, ids kept; then each
table's row count and a checksum of its rows are compared on both sides.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass

from tutor.database import redact
from tutor.store import Store

BATCH = 1000
# rows the schema upgrade makes in every new database (the default school and its class)
MADE_BY_UPGRADE = {"state": None, "schools": 1, "classes": 1}


class TransferError(RuntimeError):
    pass


@dataclass
class TableCheck:
    table: str
    source_rows: int
    target_rows: int
    source_sum: str
    target_sum: str

    @property
    def ok(self) -> bool:
        return self.source_rows == self.target_rows and self.source_sum == self.target_sum


def _canonical(value) -> bytes:
    """One value, the same bytes whichever database returned it."""
    if value is None:
        return b"N"
    if isinstance(value, bool | int):
        return b"i%d" % value
    if isinstance(value, float):
        return b"f" + repr(value).encode()
    if isinstance(value, bytes | memoryview):
        return b"b" + bytes(value)
    return b"s" + str(value).encode()


def table_digest(store: Store, table: str, columns: list[str]) -> tuple[int, str]:
    """(rows, checksum) of a table: the sum of its rows' SHA-256, so the databases' row
    orders (and collations) do not matter."""
    total, count = 0, 0
    for row in store.db.rows(f"SELECT {', '.join(columns)} FROM {table}"):
        h = hashlib.sha256()
        for value in row:
            data = _canonical(value)
            h.update(len(data).to_bytes(8, "little") + data)
        total = (total + int.from_bytes(h.digest(), "big")) % (1 << 256)
        count += 1
    return count, f"{total:064x}"


def _references(store: Store, table: str) -> set[str]:
    if store.db.kind == "sqlite":
        return {r["table"] for r in store.query(f"PRAGMA foreign_key_list({table})")}
    return {r[0] for r in store.query(
        "SELECT DISTINCT ccu.table_name FROM information_schema.table_constraints tc "
        "JOIN information_schema.constraint_column_usage ccu ON ccu.constraint_name = tc.constraint_name "
        "AND ccu.table_schema = tc.table_schema WHERE tc.constraint_type = 'FOREIGN KEY' "
        "AND tc.table_schema = current_schema() AND tc.table_name = ?", (table,))}


def dependency_order(store: Store) -> list[str]:
    """The store's tables, each after the tables its foreign keys name."""
    tables = store.db.tables()
    parents = {t: _references(store, t) - {t} for t in tables}
    order: list[str] = []
    while len(order) < len(tables):
        ready = [t for t in tables if t not in order and parents[t] <= set(order)]
        if not ready:
            raise TransferError(f"foreign keys form a cycle among {sorted(set(tables) - set(order))}")
        order += ready
    return order


def _holds_data(store: Store, tables: list[str]) -> list[str]:
    """The target's tables with rows beyond what a new database has."""
    full = []
    for table in tables:
        n = store.query(f"SELECT COUNT(*) FROM {table}")[0][0]
        allowed = MADE_BY_UPGRADE.get(table, 0)
        if allowed is not None and n > allowed:
            full.append(f"{table} ({n} rows)")
    return full


def _next_ids(source: Store) -> dict[str, int]:
    """SQLite's AUTOINCREMENT high-water marks: ids a deleted row used are not given again."""
    if source.db.kind != "sqlite" or not source.query(
            "SELECT 1 FROM sqlite_master WHERE name='sqlite_sequence'"):
        return {}
    return {r["name"]: int(r["seq"]) + 1 for r in source.query("SELECT name, seq FROM sqlite_sequence")}


def copy_store(source_location: str, target_location: str, force: bool = False,
               say: Callable[[str], None] = print) -> list[TableCheck]:
    """Copy every table of the source store into the target store; the checks of each table.
    Refuses a target that holds data unless ``force`` (its rows are then replaced)."""
    if str(source_location) == str(target_location):
        raise TransferError("the source and the target are the same database")
    source, target = Store(source_location), Store(target_location)
    try:
        tables = dependency_order(source)
        columns = {t: source.db.columns(t) for t in tables}
        for table in tables:
            missing = set(columns[table]) - set(target.db.columns(table))
            if missing:
                raise TransferError(f"the target's table {table} lacks the columns {sorted(missing)}; "
                                    "is it an Ustaz database of an older version?")
        full = _holds_data(target, tables)
        if full and not force:
            raise TransferError(f"the target {redact(str(target_location))} already holds data: "
                                f"{', '.join(full)}. Use --force to replace it.")
        next_ids = _next_ids(source)
        with target.transaction() as db:
            for table in reversed(tables):
                db.execute(f"DELETE FROM {table}")
            for table in tables:
                cols = columns[table]
                insert = f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})"
                batch, n = [], 0
                for row in source.db.rows(f"SELECT {', '.join(cols)} FROM {table}"):
                    batch.append(tuple(row))
                    if len(batch) >= BATCH:
                        db.executemany(insert, batch)
                        n, batch = n + len(batch), []
                if batch:
                    db.executemany(insert, batch)
                    n += len(batch)
                say(f"  {table}: {n} rows copied")
            if target.db.kind == "postgresql":
                # identity columns count on from the highest id copied, as SQLite would
                identity = {r[0] for r in db.execute(
                    "SELECT table_name FROM information_schema.columns WHERE column_name = 'id' "
                    "AND is_identity = 'YES' AND table_schema = current_schema()").fetchall()}
                for table in sorted(identity & set(tables)):
                    top = db.execute(f"SELECT COALESCE(MAX(id), 0) FROM {table}").fetchone()[0]
                    db.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), ?, false)",
                               (max(top + 1, next_ids.get(table, 1)),))
        checks = []
        for table in tables:
            s_rows, s_sum = table_digest(source, table, columns[table])
            t_rows, t_sum = table_digest(target, table, columns[table])
            checks.append(TableCheck(table, s_rows, t_rows, s_sum, t_sum))
        return checks
    finally:
        source.close()
        target.close()


def report(checks: list[TableCheck]) -> str:
    lines = [f"{'table':<18} {'source':>8} {'target':>8}  checksum"]
    for c in checks:
        lines.append(f"{c.table:<18} {c.source_rows:>8} {c.target_rows:>8}  "
                     f"{c.source_sum[:16]} {'matches' if c.ok else 'DIFFERS: ' + c.target_sum[:16]}")
    return "\n".join(lines)
