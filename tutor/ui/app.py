"""Build the Gradio app from settings (or from parts, in tests) and launch it."""

from __future__ import annotations

import logging
import threading
from pathlib import Path

import gradio as gr

from tutor.auth import TeacherAuth
from tutor.i18n import t
from tutor.retrieval.sync import CorpusSync
from tutor.runtime import apply_retention, build_tutor
from tutor.ui.evaluation import REPORT_DIR, build_evaluation
from tutor.ui.render import CSS, GRADIO_KK, SET_GRADIO_LOCALE, theme
from tutor.ui.services import Services
from tutor.ui.student import build_student
from tutor.ui.teacher import build_teacher

log = logging.getLogger(__name__)
UI_LANGS = [("қазақша", "kk"), ("русский", "ru"), ("English", "en")]


def build_blocks(services: Services, default_lang: str = "kk", report_dir: Path = REPORT_DIR) -> gr.Blocks:
    with gr.Blocks(title="Ustaz", analytics_enabled=False) as demo:
        with gr.Row():
            heading = gr.Markdown(f"## {t(default_lang, 'app_title')}")
            # Wide enough for the three choices on one line: the header stays one row high.
            ui_lang = gr.Radio(UI_LANGS, value=default_lang, label=t(default_lang, "ui_language"),
                               scale=0, min_width=400)
        with gr.Tabs():
            with gr.Tab(t(default_lang, "tab_student"), id="student") as tab_s:
                relabel_s, out_s, student_load = build_student(services, ui_lang, default_lang)
            with gr.Tab(t(default_lang, "tab_teacher"), id="teacher") as tab_t:
                relabel_t, out_t = build_teacher(services, ui_lang, default_lang)
            with gr.Tab(t(default_lang, "tab_eval"), id="evaluation") as tab_e:
                relabel_e, out_e = build_evaluation(ui_lang, default_lang, report_dir)

        def relabel(lang):
            return ([gr.update(value=f"## {t(lang, 'app_title')}"), gr.update(label=t(lang, "ui_language")),
                     gr.update(label=t(lang, "tab_student")), gr.update(label=t(lang, "tab_teacher")),
                     gr.update(label=t(lang, "tab_eval"))]
                    + relabel_s(lang) + relabel_t(lang) + relabel_e(lang))

        ui_lang.change(relabel, [ui_lang],
                       [heading, ui_lang, tab_s, tab_t, tab_e, *out_s, *out_t, *out_e],
                       api_name="set_ui_language")
        ui_lang.change(None, [ui_lang], None, js=SET_GRADIO_LOCALE)
        demo.load(None, [ui_lang], None, js=SET_GRADIO_LOCALE)
        demo.load(*student_load, api_visibility="private")
    return demo


def build_app(settings, runtime=None, tutor=None, composer_choice=None):
    if tutor is None:
        runtime, tutor, composer_choice = build_tutor(settings, runtime, shared_sessions=True)
    auth = TeacherAuth(settings.data_path, settings.teacher_password)
    services = Services(settings, runtime, tutor, auth, composer_choice)
    demo = build_blocks(services)
    _schedule_retention(runtime.store, settings.retention_days)
    runtime.jobs.start()  # also resumes the jobs a stopped or killed app left unfinished
    # changes made through the CLI or another replica become searchable here without a restart
    services.sync = CorpusSync(runtime.index, settings.sync_interval_s).start()
    demo.queue(default_concurrency_limit=settings.queue_concurrency, max_size=settings.queue_size)
    return demo, services


def _schedule_retention(store, days: int, every_s: float = 86400.0) -> None:
    """Apply the retention period once a day while the app runs (it also runs at start)."""
    def tick():
        try:
            apply_retention(store, days)
        finally:
            timer = threading.Timer(every_s, tick)
            timer.daemon = True
            timer.start()

    timer = threading.Timer(every_s, tick)
    timer.daemon = True
    timer.start()


def launch(demo: gr.Blocks, settings, prevent_thread_lock: bool = False, quiet: bool = False):
    return demo.launch(server_name=settings.host, server_port=settings.port, share=False,
                       prevent_thread_lock=prevent_thread_lock, quiet=quiet, show_error=True,
                       max_file_size=f"{settings.max_upload_mb}mb", css=CSS,
                       theme=theme(), footer_links=["api"], ssr_mode=False,
                       i18n=gr.I18n(kk=GRADIO_KK))
