"""The teacher's view of large files being ingested in the background: pages done, time
left and pages that could not be read, refreshed every few seconds while it is open."""

from __future__ import annotations

import gradio as gr

from tutor.i18n import t
from tutor.ui import teacher_text as tx
from tutor.ui.services import NotAllowed


def build_jobs(services, token, ui_lang, default_lang: str = "kk") -> gr.Dataframe:
    """The panel; returns its table, which logout clears with the other teacher views."""
    with gr.Accordion(t(default_lang, "jobs"), open=False) as box:
        table = gr.Dataframe(tx.table("jobs", [], default_lang), interactive=False, wrap=True,
                             elem_classes=["ustaz-table"])
        refresh = gr.Button(t(default_lang, "refresh"), size="sm")
    # Active only while the panel is open: a timer ticking in every student's browser
    # would take queue slots from answers.
    timer = gr.Timer(5.0, active=False)

    def listed(tok, lang):
        try:
            return tx.table("jobs", services.jobs(tok, lang), lang)
        except NotAllowed:
            raise gr.Error(t(lang, "not_logged_in")) from None

    def quietly(tok, lang):
        try:
            return tx.table("jobs", services.jobs(tok, lang), lang)
        except NotAllowed:
            return tx.table("jobs", [], lang)

    refresh.click(listed, [token, ui_lang], [table], api_name="teacher_jobs")
    timer.tick(quietly, [token, ui_lang], [table], api_visibility="private", show_progress="hidden")
    box.expand(lambda tok, lang: (gr.Timer(active=True), quietly(tok, lang)), [token, ui_lang],
               [timer, table], api_visibility="private")
    box.collapse(lambda: gr.Timer(active=False), None, [timer], api_visibility="private")
    ui_lang.change(lambda tok, lang: (gr.update(label=t(lang, "jobs")), gr.update(value=t(lang, "refresh")),
                                      quietly(tok, lang)),
                   [token, ui_lang], [box, refresh, table], api_visibility="private")
    return table
