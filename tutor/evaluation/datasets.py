"""Loading evaluation data: the bundled QA set (``eval/data``) and the external sets in
the layout of ``shared/evaldata/README.md``. Nothing external is copied anywhere."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from tutor.config import REPO_ROOT

BUNDLED_QA = REPO_ROOT / "eval" / "data" / "qa"


class DataError(ValueError):
    """Malformed evaluation data; the message names the file and the line."""


def read_jsonl(path: Path, required: tuple[str, ...] = ()) -> list[dict]:
    rows = []
    try:
        fh = path.open(encoding="utf-8")
    except OSError as exc:
        raise DataError(f"{path}: cannot open ({exc.strerror})") from None
    with fh:
        for number, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise DataError(f"{path}:{number}: not valid JSON ({exc.msg})") from None
            if not isinstance(row, dict):
                raise DataError(f"{path}:{number}: expected a JSON object")
            missing = [k for k in required if k not in row]
            if missing:
                raise DataError(f"{path}:{number}: missing field(s) {', '.join(missing)}")
            row["_where"] = f"{path.name}:{number}"
            rows.append(row)
    return rows


def bundled_items(kind: str | None = None, folder: Path = BUNDLED_QA) -> list[dict]:
    rows: list[dict] = []
    for path in sorted(folder.glob("*.jsonl")):
        rows.extend(read_jsonl(path, ("id", "lang", "question", "type")))
    if kind:
        rows = [r for r in rows if r["type"] == kind]
    return rows


@dataclass
class ExternalSet:
    name: str
    queries: list[dict]
    corpus: list[dict]


def find_data_dir(explicit: str | None) -> Path | None:
    if explicit:
        path = Path(explicit).expanduser()
        if not path.is_dir():
            raise DataError(f"{path}: no such folder (--data)")
        return path
    default = REPO_ROOT.parent / "shared" / "evaldata"
    return default if default.is_dir() else None


def load_kazqad(data_dir: Path) -> ExternalSet:
    folder = data_dir / "kazqad_kk"
    corpus = read_jsonl(folder / "corpus.jsonl", ("id", "text"))
    queries = read_jsonl(folder / "queries.jsonl", ("id", "question", "qrels_positive_ids"))
    return ExternalSet("kazqad_kk", queries, corpus)


def load_kazqad_rc(data_dir: Path) -> list[dict]:
    return read_jsonl(data_dir / "kazqad_kk" / "rc.jsonl",
                      ("id", "question", "passage_id", "passage", "answers"))


def load_xquad(data_dir: Path) -> ExternalSet:
    folder = data_dir / "xquad_ru"
    corpus = read_jsonl(folder / "corpus.jsonl", ("id", "text"))
    queries = read_jsonl(folder / "qa.jsonl", ("id", "question", "passage_id", "answers"))
    return ExternalSet("xquad_ru", queries, corpus)


def load_flores(data_dir: Path) -> list[dict]:
    return read_jsonl(data_dir / "flores_kk_ru" / "pairs.jsonl", ("id", "kk", "ru"))
