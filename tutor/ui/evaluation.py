"""The evaluation tab: the latest report's headline table and bar charts in the interface language,
with the harness's own English report below them."""

from __future__ import annotations

import html
import json
import re
from pathlib import Path

import gradio as gr

from tutor.config import REPO_ROOT
from tutor.evaluation.report import bars, chart_rows
from tutor.i18n import phrasebook, t

REPORT_DIR = REPO_ROOT / "eval" / "reports" / "latest"
TECHNICAL_ID = "eval-technical"


def report_html(folder: Path = REPORT_DIR) -> str:
    page = folder / "report.html"
    if page.exists():
        return page.read_text(encoding="utf-8")
    return ""


def load_report(folder: Path = REPORT_DIR) -> dict | None:
    path = folder / "report.json"
    try:
        report = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return report if isinstance(report, dict) and isinstance(report.get("tasks"), dict) else None


def phrase_key(prefix: str, code: str) -> str:
    """The phrasebook key of a task, metric or baseline code: ``mrr@10`` -> ``evm_mrr_10``."""
    return prefix + re.sub(r"\W+", "_", code).strip("_")


def phrase(lang: str, prefix: str, code: str) -> str:
    """The words for a code; a code no phrasebook names yet (a new task) is shown as the harness
    wrote it rather than hidden."""
    key = phrase_key(prefix, code)
    return t(lang, key) if key in phrasebook("en") else code


def number(lang: str, value: float) -> str:
    text = f"{value:.3f}"
    return text.replace(".", ",") if lang in ("kk", "ru") else text


def _label(lang: str):
    def label(kind: str, arg=None) -> str:
        if kind == "baseline":
            return phrase(lang, "eval_base_", str(arg))
        if kind == "lang":
            return phrase(lang, "eval_bar_lang_", str(arg))
        return t(lang, f"eval_bar_{kind}", n=arg) if arg is not None else t(lang, f"eval_bar_{kind}")
    return label


def _row(lang: str, name: str, task: dict) -> str:
    cells = [f"<b>{html.escape(phrase(lang, 'evt_', name))}</b>", html.escape(phrase(lang, "evd_", name))]
    if "metrics" not in task:
        cells.append(html.escape(t(lang, "eval_skipped")))
    else:
        p = task["primary"]
        cells.append(f"<b>{number(lang, float(task['metrics'].get(p, 0.0)))}</b><br>"
                     f"<small>{html.escape(phrase(lang, 'evm_', p))}</small>")
        gate = task.get("gate")
        if gate:
            bound = "≥" if task.get("direction", "max") == "max" else "≤"
            verdict = t(lang, "eval_met" if gate["ok"] else "eval_not_met")
            cells += [f"{bound}\u00a0{number(lang, float(gate['min']))}",
                      f"<span class='{'eval-ok' if gate['ok'] else 'eval-fail'}'>{html.escape(verdict)}</span>"]
        else:
            cells += ["—", "—"]
        cells.append(str(task.get("n", "")))
    last = "<td colspan='4'>" if len(cells) == 3 else "<td>"  # a check that did not run: one note
    return "<tr>" + "".join(f"<td>{c}</td>" for c in cells[:-1]) + f"{last}{cells[-1]}</td></tr>"


def render_report(report: dict | None, lang: str) -> str:
    """The headline table (what each check measures, its figure, the required level and whether it
    was met, how many items) and one chart per check, every word from the phrasebook."""
    if report is None:
        return f"<p>{html.escape(t(lang, 'eval_none'))}</p>"
    meta, tasks = report.get("meta", {}), report["tasks"]
    lines = []
    if meta.get("started"):
        lines.append(t(lang, "eval_run", when=meta["started"]))
    if meta.get("corpus_documents"):
        lines.append(t(lang, "eval_corpus", docs=meta["corpus_documents"]))
    gated = [task["gate"]["ok"] for task in tasks.values() if task.get("gate")]
    if gated:
        lines.append(t(lang, "eval_summary", ok=sum(gated), total=len(gated)))
    heads = "".join(f"<th>{html.escape(t(lang, h))}</th>" for h in (
        "eval_h_task", "eval_h_measures", "eval_h_value", "eval_h_gate", "eval_h_verdict", "eval_h_n"))
    table = (f"<table class='eval-table'><thead><tr>{heads}</tr></thead><tbody>"
             + "".join(_row(lang, name, task) for name, task in tasks.items()) + "</tbody></table>")
    charts = [bars(f"{phrase(lang, 'evt_', name)}: {phrase(lang, 'evm_', task['primary'])}",
                   chart_rows(task, label=_label(lang)), lambda v: number(lang, v))
              for name, task in tasks.items() if "metrics" in task]
    return ("<div class='eval-report'>" + (f"<p>{html.escape(' · '.join(lines))}</p>" if lines else "") + table
            + (f"<h3>{html.escape(t(lang, 'eval_charts'))}</h3>" + "".join(charts) if charts else "")
            + "</div>")


def build_evaluation(ui_lang, default_lang: str = "kk", folder: Path = REPORT_DIR):
    intro = gr.Markdown(t(default_lang, "eval_intro"))
    view = gr.HTML(render_report(load_report(folder), default_lang))
    # The harness's artefact, in English as it writes it: for whoever checks the figures' details.
    page = report_html(folder)
    with gr.Accordion(t(default_lang, "eval_technical"), open=False, visible=bool(page)) as technical_box:
        technical = gr.HTML(page, elem_id=TECHNICAL_ID)
    reload_btn = gr.Button(t(default_lang, "eval_reload"))

    def reload(lg):
        page = report_html(folder)
        return render_report(load_report(folder), lg), page, gr.update(visible=bool(page))

    reload_btn.click(reload, [ui_lang], [view, technical, technical_box], api_name="eval_report")

    def relabel(lg):
        return [gr.update(value=t(lg, "eval_intro")), gr.update(value=t(lg, "eval_reload")),
                gr.update(value=render_report(load_report(folder), lg)),
                gr.update(label=t(lg, "eval_technical"))]

    return relabel, [intro, reload_btn, view, technical_box]
