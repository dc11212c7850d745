"""Reports: report.json (machine-readable), report.md and report.html with inline SVG
bar charts (no plotting dependency)."""

from __future__ import annotations

import html
import json
from pathlib import Path

BASELINE_COLORS = {"bm25": "#ed8936", "dense": "#38a169", "rrf": "#d53f8c"}


def write_reports(report: dict, out_dir: Path, previous: dict | None = None) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "report.json").write_text(json.dumps(report, indent=2, ensure_ascii=False))
    (out_dir / "report.md").write_text(markdown(report, previous), encoding="utf-8")
    (out_dir / "report.html").write_text(html_page(report, previous), encoding="utf-8")


def _fmt(v) -> str:
    return f"{v:.3f}" if isinstance(v, float) else str(v)


def markdown(report: dict, previous: dict | None = None) -> str:
    meta = report["meta"]
    lines = ["# Ustaz evaluation report", "",
             f"- when: {meta.get('started')}  ·  wall time: {meta.get('wall_s')} s",
             f"- embedder: `{meta.get('embedder')}`  ·  composer: `{meta.get('composer', '-')}`",
             f"- corpus: {meta.get('corpus_documents')} documents, version `{meta.get('corpus_version')}`",
             f"- data: `{meta.get('data_dir')}`  ·  limit: {meta.get('limit')}", "",
             "| task | primary | value | previous | BM25 | dense | RRF | reader: with / without (n) | n | gate |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for name, task in report["tasks"].items():
        if "skipped" in task:
            lines.append(f"| {name} | - | skipped: {task['skipped']} | | | | | | | |")
            continue
        p = task["primary"]
        value = task["metrics"].get(p)
        prev = (previous or {}).get("tasks", {}).get(name, {}).get("metrics", {}).get(p)
        base = task.get("baselines", {})
        shown = [base.get(b, {}).get(p) for b in ("bm25", "dense", "rrf")]
        gate = task.get("gate", {})
        bound = "≥" if task.get("direction", "max") == "max" else "≤"
        gate_s = "" if not gate else ("pass" if gate["ok"] else "**FAIL**") + f" ({bound} {gate['min']})"
        lines.append(f"| {name} | {p} | {_fmt(value)} | {_fmt(prev) if prev is not None else '-'} | "
                     + "".join(f"{_fmt(v) if v is not None else '-'} | " for v in shown)
                     + f"{_reader_cell(task)} | {task['n']} | {gate_s} |")
    lines.append("")
    for name, task in report["tasks"].items():
        if "metrics" not in task:
            continue
        lines.append(f"## {name}")
        lines.append("")
        lines.append("| metric | value |")
        lines.append("|---|---|")
        for k, v in task["metrics"].items():
            lines.append(f"| {k} | {_fmt(v)} |")
        for lang, metrics in task.get("by_lang", {}).items():
            shown = ", ".join(f"{k} {_fmt(v)}" for k, v in metrics.items())
            lines.append(f"| {lang} | {shown} |")
        for key, value in task.get("extra", {}).items():
            if isinstance(value, dict):
                value = ", ".join(f"{k} {_fmt(v)}" for k, v in value.items())
            lines.append(f"| {key} | {_fmt(value)} |")
        if task.get("margin_over_rrf"):
            shown = ", ".join(f"{k} {v:+.3f}" for k, v in task["margin_over_rrf"].items())
            lines.append(f"| margin over RRF (this run − RRF) | {shown} |")
        if task.get("reader"):
            n = task["reader"]["n"]
            for side, label in (("with", f"with the reader (first {n} items)"),
                                ("without", "without the reader (the same items)")):
                shown = ", ".join(f"{k} {_fmt(v)}" for k, v in task["reader"][side].items())
                lines.append(f"| {label} | {shown} |")
        lines.append("")
    return "\n".join(lines)


def _reader_cell(task: dict) -> str:
    """The primary metric with and without the evidence reader, on the items that ran both."""
    ablation, p = task.get("reader"), task["primary"]
    if not ablation or p not in ablation["with"]:
        return "-"
    return f"{_fmt(ablation['with'][p])} / {_fmt(ablation['without'][p])} ({ablation['n']})"


def bars(title: str, rows: list[tuple[str, float, str]], number=lambda v: f"{v:.3f}") -> str:
    """A horizontal bar chart of figures in [0, 1] as inline SVG; ``number`` writes each value
    (the evaluation tab passes one with a decimal comma)."""
    width, bar_h, gap = 520, 18, 6
    label_w = max([190] + [7 * len(label) + 12 for label, _, _ in rows])  # Kazakh labels run long
    height = len(rows) * (bar_h + gap) + 30
    parts = [f"<svg width='{width + label_w + 60}' height='{height}' role='img' "
             f"aria-label='{html.escape(title)}'><text x='0' y='14' font-weight='bold'>"
             f"{html.escape(title)}</text>"]
    for i, (label, value, color) in enumerate(rows):
        y = 24 + i * (bar_h + gap)
        w = max(0.0, min(1.0, value)) * width
        parts.append(f"<text x='0' y='{y + 13}' font-size='12'>{html.escape(label)}</text>"
                     f"<rect x='{label_w}' y='{y}' width='{w:.1f}' height='{bar_h}' fill='{color}'/>"
                     f"<text x='{label_w + w + 4:.1f}' y='{y + 13}' font-size='12'>{number(value)}</text>")
    parts.append("</svg>")
    return "".join(parts)


def english_label(kind: str, arg=None) -> str:
    return {"run": "this run", "previous": "previous run", "baseline": str(arg),
            "reader_with": f"with the reader ({arg})", "reader_without": f"without, same {arg}",
            "lang": f"language {arg}"}[kind]


def chart_rows(task: dict, previous: float | None = None, label=english_label) -> list[tuple[str, float, str]]:
    """The bars of a task's chart on its primary metric: this run, the previous run, the baselines,
    the reader's ablation and each language; ``label(kind, arg)`` words each row."""
    p = task["primary"]
    rows = [(label("run"), float(task["metrics"].get(p, 0.0)), "#2b6cb0")]
    if previous is not None:
        rows.append((label("previous"), float(previous), "#a0aec0"))
    for base, metrics in task.get("baselines", {}).items():
        if p in metrics:
            rows.append((label("baseline", base), float(metrics[p]), BASELINE_COLORS.get(base, "#38a169")))
    if p in task.get("reader", {}).get("with", {}):
        n = task["reader"]["n"]
        rows.append((label("reader_with", n), float(task["reader"]["with"][p]), "#dd6b20"))
        rows.append((label("reader_without", n), float(task["reader"]["without"][p]), "#a0aec0"))
    for lang, metrics in task.get("by_lang", {}).items():
        if p in metrics:
            rows.append((label("lang", lang), float(metrics[p]), "#805ad5"))
    return rows


def html_page(report: dict, previous: dict | None = None) -> str:
    charts = []
    for name, task in report["tasks"].items():
        if "metrics" not in task:
            continue
        p = task["primary"]
        prev = (previous or {}).get("tasks", {}).get(name, {}).get("metrics", {}).get(p)
        charts.append(bars(f"{name}: {p}", chart_rows(task, prev)))
    md = html.escape(markdown(report, previous))
    return ("<!doctype html><meta charset='utf-8'><title>Ustaz evaluation</title>"
            "<div style='font-family:sans-serif'>" + "".join(charts) +
            f"<details><summary>Full table (Markdown)</summary><pre>{md}</pre></details></div>")
