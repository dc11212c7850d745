"""A benchmark's result: Markdown tables for people, one JSON for tools."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path


def fmt(value) -> str:
    """Numbers to three significant figures, the rest as they are."""
    if value is None:
        return "—"
    if isinstance(value, bool) or not isinstance(value, int | float):
        return str(value)
    if isinstance(value, int):
        return f"{value:,}".replace(",", " ")
    if value == 0:
        return "0"
    if abs(value) >= 1000:
        return f"{value:,.0f}".replace(",", " ")
    if abs(value) >= 100:
        return f"{value:.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    if abs(value) >= 1:
        return f"{value:.2f}"
    return f"{value:.3g}"


@dataclass
class Table:
    title: str
    columns: list[str]
    rows: list[list] = field(default_factory=list)

    def add(self, *row) -> None:
        self.rows.append(list(row))

    def markdown(self) -> str:
        lines = [f"### {self.title}", "", "| " + " | ".join(self.columns) + " |",
                 "|" + "|".join("---" for _ in self.columns) + "|"]
        lines += ["| " + " | ".join(fmt(v) for v in row) + " |" for row in self.rows]
        return "\n".join(lines)

    def to_dict(self) -> dict:
        return {"title": self.title, "columns": self.columns, "rows": self.rows}


@dataclass
class Report:
    name: str
    quick: bool
    machine: dict
    results: dict = field(default_factory=dict)  # the figures, for tools and tests
    tables: list[Table] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    flags: str = ""  # the command's options that chose this bench (``--scopes``)
    options: dict = field(default_factory=dict)  # size flags the run was given, e.g. {"pages": 100}

    def table(self, title: str, columns: list[str]) -> Table:
        table = Table(title, columns)
        self.tables.append(table)
        return table

    @property
    def command(self) -> str:
        options = "".join(f" --{k.replace('_', '-')} {v}" for k, v in self.options.items())
        return (f"tutor bench {self.name.split('-')[0]}" + (f" {self.flags}" if self.flags else "")
                + (" --quick" if self.quick else "") + options)

    def markdown(self) -> str:
        m = self.machine
        head = [f"## `{self.command}`", "",
                f"{m.get('cpu', '?')}, {m.get('cores')} cores, {m.get('threads')} threads used, "
                f"{m.get('ram_gb')} GB RAM; torch {m.get('torch')}; {m.get('date')}; "
                f"ran {m.get('wall_s')} s, this process kept {m.get('cpu_busy_cores')} cores busy, "
                f"load average {m.get('load_avg_1min_at_start')} -> {m.get('load_avg_1min_at_end')}", ""]
        body = "\n\n".join(t.markdown() for t in self.tables)
        notes = ["", "Notes:", ""] + [f"- {n}" for n in self.notes] if self.notes else []
        return "\n".join(head) + body + "\n" + "\n".join(notes) + "\n"

    def to_dict(self) -> dict:
        return {"bench": self.name, "quick": self.quick, "command": self.command,
                "machine": self.machine, "results": self.results,
                "tables": [t.to_dict() for t in self.tables], "notes": self.notes,
                "written": time.strftime("%Y-%m-%dT%H:%M:%S")}


def write_report(report: Report, folder: Path) -> tuple[Path, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    md_path = folder / f"{report.name}.md"
    json_path = folder / f"{report.name}.json"
    md_path.write_text(report.markdown(), encoding="utf-8")
    json_path.write_text(json.dumps(report.to_dict(), ensure_ascii=False, indent=2, default=str),
                         encoding="utf-8")
    return md_path, json_path
