"""The teacher tab: login, uploads, documents, unanswered questions, feedback, flags."""

from __future__ import annotations

import gradio as gr

from tutor.i18n import t
from tutor.ingest.pipeline import LANGS, SUBJECTS
from tutor.store import POLICIES
from tutor.ui.jobs import build_jobs
from tutor.ui.services import NotAllowed

# A dropdown, not gr.Number: an empty Number reaches the server as 0 from the browser, which
# failed the 1..12 bound and blocked every upload without a grade. "" means "not set".
GRADES = ["", *(str(g) for g in range(1, 13))]


def _guard(fn, lang_getter=lambda: "en"):
    def wrapped(*args):
        try:
            return fn(*args)
        except NotAllowed:
            raise gr.Error(t(lang_getter(), "not_logged_in")) from None
        except (KeyError, ValueError) as exc:
            raise gr.Error(str(exc)) from None
    wrapped.__name__ = fn.__name__
    return wrapped


def build_teacher(services, ui_lang, default_lang: str = "kk"):
    L = default_lang
    token = gr.State("")
    with gr.Row():
        password = gr.Textbox(label=t(L, "teacher_password"), type="password", scale=3)
        login_btn = gr.Button(t(L, "login"), variant="primary", scale=1)
        logout_btn = gr.Button(t(L, "logout"), scale=1)
    login_msg = gr.Markdown("")

    with gr.Accordion(t(L, "upload"), open=True) as upload_box:
        files = gr.File(file_count="multiple", label=t(L, "upload"), height=150,
                        file_types=[".pdf", ".docx", ".pptx", ".html", ".htm", ".md", ".txt"])
        with gr.Row():
            subject = gr.Dropdown(["", *SUBJECTS], value="", label=t(L, "meta_subject"))
            grade = gr.Dropdown(GRADES, value="", label=t(L, "meta_grade"))
            lang = gr.Dropdown(["", *LANGS], value="", label=t(L, "meta_lang"))
            policy = gr.Dropdown(list(POLICIES), value="reference", label=t(L, "meta_policy"))
        upload_btn = gr.Button(t(L, "upload_button"), variant="primary")
        upload_result = gr.Dataframe(headers=["file", "status", "document", "chunks", "message"],
                                     interactive=False)
    build_jobs(services, token, ui_lang, L)

    with gr.Accordion(t(L, "documents"), open=True) as docs_box:
        with gr.Row():
            f_lang = gr.Dropdown(["", *LANGS], value="", label=t(L, "filter_lang"))
            f_subject = gr.Dropdown(["", *SUBJECTS], value="", label=t(L, "filter_subject"))
            refresh = gr.Button(t(L, "refresh"))
        # Fixed shares: left to itself the table gave id and title the whole width at 1024px
        # and pushed language, subject and policy out of sight.
        docs = gr.Dataframe(headers=["id", "title", "lang", "subject", "grade", "policy",
                                     "version", "chunks", "format"], interactive=False, wrap=True,
                            column_widths=["24%", "22%", "5%", "10%", "6%", "9%", "7%", "7%", "10%"],
                            elem_classes=["ustaz-table"])
        with gr.Row():
            doc_key = gr.Textbox(label=t(L, "doc_key"), scale=3)
            preview_btn = gr.Button(t(L, "preview"))
            delete_btn = gr.Button(t(L, "delete"), variant="stop")
        with gr.Row():
            e_title = gr.Textbox(label="title")
            e_subject = gr.Dropdown(["", *SUBJECTS], value="", label=t(L, "meta_subject"))
            e_grade = gr.Dropdown(GRADES, value="", label=t(L, "meta_grade"))
            e_lang = gr.Dropdown(["", *LANGS], value="", label=t(L, "filter_lang"))
            e_policy = gr.Dropdown(["", *POLICIES], value="", label=t(L, "meta_policy"))
            save_btn = gr.Button(t(L, "save_meta"))
        action_msg = gr.Markdown("")
        chunks = gr.Dataframe(headers=["#", "where", "text"], interactive=False, wrap=True)

    with gr.Accordion(t(L, "unanswered"), open=False) as unanswered_box:
        unanswered = gr.Dataframe(headers=["question", "lang", "asked", "last"], interactive=False)
    with gr.Accordion(t(L, "feedback_view"), open=False) as feedback_box:
        feedback = gr.Dataframe(headers=["subject", "👍", "👎", "comments"], interactive=False)
        flags = gr.Dataframe(headers=["time", "category", "lang", "text"], interactive=False)
    with gr.Accordion(t(L, "stats") + " · " + t(L, "model_view"), open=False) as stats_box:
        stats = gr.Dataframe(headers=["lang", "subject", "documents", "chunks"], interactive=False)
        model = gr.Markdown("")
        rebuild_btn = gr.Button(t(L, "rebuild"))

    def do_login(pw, ui):
        tok, msg = services.login(pw, ui)
        return tok, msg, ""

    def do_logout(tok):
        services.logout(tok)
        return "", ""

    def load_all(tok):
        if not tok:
            return [[]] * 5 + [""]
        return (services.documents(tok), services.unanswered(tok), services.feedback_summary(tok),
                services.flags(tok), services.stats(tok), services.model_info(tok))

    def do_upload(tok, paths, s, g, lg, p):
        rows = services.upload(tok, paths, s, g, lg, p)
        return rows, services.documents(tok), None

    def do_delete(tok, key, ui):
        ok = services.delete(tok, key)
        return services.documents(tok), t(ui, "deleted" if ok else "not_found"), []

    def do_save(tok, key, ti, s, g, lg, p, ui):
        services.edit(tok, key, ti, s, g, lg, p)
        return services.documents(tok), t(ui, "saved")

    def do_rebuild(tok, ui):
        services.rebuild(tok)
        return t(ui, "rebuilt"), services.stats(tok)

    everything = [docs, unanswered, feedback, flags, stats, model]
    login_btn.click(do_login, [password, ui_lang], [token, login_msg, password],
                    api_name="teacher_login").then(_guard(load_all), [token], everything,
                                                   api_visibility="private")
    logout_btn.click(do_logout, [token], [token, login_msg], api_name="teacher_logout")
    upload_btn.click(_guard(do_upload), [token, files, subject, grade, lang, policy],
                     [upload_result, docs, files], api_name="teacher_upload")
    refresh.click(_guard(lambda tok, lg, s: services.documents(tok, lg, s)),
                  [token, f_lang, f_subject], [docs], api_name="teacher_documents")
    preview_btn.click(_guard(services.preview), [token, doc_key], [chunks],
                      api_name="teacher_preview")
    delete_btn.click(_guard(do_delete), [token, doc_key, ui_lang], [docs, action_msg, chunks],
                     api_name="teacher_delete")
    save_btn.click(_guard(do_save), [token, doc_key, e_title, e_subject, e_grade, e_lang, e_policy,
                                     ui_lang], [docs, action_msg], api_name="teacher_edit")
    rebuild_btn.click(_guard(do_rebuild), [token, ui_lang], [action_msg, stats],
                      api_name="teacher_rebuild")
    for box in (unanswered_box, feedback_box, stats_box):
        box.expand(_guard(load_all), [token], everything, api_visibility="private")

    def relabel(lg):
        return [gr.update(label=t(lg, "teacher_password")), gr.update(value=t(lg, "login")),
                gr.update(value=t(lg, "logout")), gr.update(label=t(lg, "upload")),
                gr.update(value=t(lg, "upload_button")), gr.update(label=t(lg, "documents")),
                gr.update(value=t(lg, "refresh")), gr.update(value=t(lg, "preview")),
                gr.update(value=t(lg, "delete")), gr.update(label=t(lg, "unanswered")),
                gr.update(label=t(lg, "feedback_view")),
                gr.update(label=t(lg, "stats") + " · " + t(lg, "model_view")),
                gr.update(value=t(lg, "rebuild"))]

    outputs = [password, login_btn, logout_btn, upload_box, upload_btn, docs_box, refresh,
               preview_btn, delete_btn, unanswered_box, feedback_box, stats_box, rebuild_btn]
    return relabel, outputs
