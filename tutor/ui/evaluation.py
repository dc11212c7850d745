"""The evaluation tab: the latest report's headline figures and plots."""

from __future__ import annotations

from pathlib import Path

import gradio as gr

from tutor.config import REPO_ROOT
from tutor.i18n import t

REPORT_DIR = REPO_ROOT / "eval" / "reports" / "latest"


def report_html(folder: Path = REPORT_DIR) -> str:
    page = folder / "report.html"
    if page.exists():
        return page.read_text(encoding="utf-8")
    return ""


def build_evaluation(ui_lang, default_lang: str = "kk", folder: Path = REPORT_DIR):
    intro = gr.Markdown(t(default_lang, "eval_intro"))
    html = report_html(folder)
    view = gr.HTML(html or f"<p>{t(default_lang, 'eval_none')}</p>")
    reload_btn = gr.Button(t(default_lang, "eval_reload"))
    reload_btn.click(lambda lg: report_html(folder) or f"<p>{t(lg, 'eval_none')}</p>", [ui_lang],
                     [view], api_name="eval_report")

    def relabel(lg):
        return [gr.update(value=t(lg, "eval_intro")), gr.update(value=t(lg, "eval_reload"))]

    # The report's own figures and method names come from the harness (one language); an absent
    # report's note follows the interface language.
    ui_lang.change(lambda lg: gr.skip() if report_html(folder) else f"<p>{t(lg, 'eval_none')}</p>",
                   [ui_lang], [view], api_visibility="private")
    return relabel, [intro, reload_btn]
