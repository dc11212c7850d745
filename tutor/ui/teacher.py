"""The teacher tab: login, uploads, documents, unanswered questions, feedback, flags, models,
and the classes-and-accounts panel. What each table holds is what the login's account may see.

A classroom PC is shared, so the tab is safe by default: logging out or an idle timeout clears
every view at once, an upload needs an explicit answer policy, and a delete says what will go
and waits for a confirmation."""

from __future__ import annotations

import functools

import gradio as gr

from tutor.i18n import t
from tutor.ingest.readers import FORMATS
from tutor.ui import teacher_text as tx
from tutor.ui.accounts import build_accounts
from tutor.ui.jobs import build_jobs
from tutor.ui.render import SET_GRADIO_LOCALE
from tutor.ui.services import NotAllowed, UserError

SESSION_POLL_S = 30  # how often an open tab checks that its login still holds


def _guard(fn, n_outputs: int, say: int, ui_at: int = -1):
    """Refusals in the teacher's language. Without a login the event fails; a request that
    cannot be done as asked says why in its status line (output ``say``) and a toast, and
    leaves the form as it was, so the teacher can fix one field instead of starting over."""
    @functools.wraps(fn)
    def wrapped(*args):
        ui = args[ui_at] if args else "en"
        try:
            return fn(*args)
        except NotAllowed:
            raise gr.Error(t(ui, "not_logged_in")) from None
        except UserError as exc:
            message = t(ui, exc.key, **exc.params)
        except (KeyError, ValueError) as exc:
            message = str(exc)
        gr.Warning(message)
        return [message if i == say else gr.skip() for i in range(n_outputs)]
    return wrapped


def build_teacher(services, ui_lang, default_lang: str = "kk"):
    L = default_lang
    default_policy = getattr(services.settings, "default_upload_policy", "") or None
    token = gr.State("")
    selected = gr.State("")  # the document chosen by a click on its row
    pending = gr.State("")  # the document a delete waits to be confirmed for
    upload_rows = gr.State([])  # the last upload's rows, re-rendered when the language changes
    timer = gr.Timer(SESSION_POLL_S, active=False)

    with gr.Row(equal_height=True):
        username = gr.Textbox(label=t(L, "teacher_username"), info=t(L, "teacher_username_info"),
                              scale=2, min_width=160)
        password = gr.Textbox(label=t(L, "teacher_password"), type="password", scale=3, min_width=180)
        login_btn = gr.Button(t(L, "login"), variant="primary", scale=1, min_width=90)
        logout_btn = gr.Button(t(L, "logout"), scale=1, min_width=90)
    login_msg = gr.Markdown("")

    with gr.Accordion(t(L, "upload"), open=True) as upload_box:
        # no label of its own: the accordion above says it, and the badge covered the drop icon
        files = gr.File(file_count="multiple", label=t(L, "upload"), show_label=False, height=150,
                        file_types=sorted(FORMATS))
        with gr.Row():
            subject = gr.Dropdown(tx.subject_choices(L), value="", label=t(L, "meta_subject"),
                                  min_width=190)
            grade = gr.Dropdown(tx.grade_choices(L), value="", label=t(L, "meta_grade"), min_width=110)
            lang = gr.Dropdown(tx.lang_choices(L, "detect"), value="", label=t(L, "meta_lang"),
                               min_width=190)
            # wide: the choices say what each policy does ("homework: hints only")
            policy = gr.Dropdown(tx.policy_choices(L), value=default_policy, label=t(L, "meta_policy"),
                                 info=t(L, "meta_policy_info"), min_width=340, scale=2)
            # filled at login with the places this account may upload to; the services check
            # the place against the account, so a value from a script is no way around it
            where = gr.Dropdown([], value=None, label=t(L, "upload_where"), info=t(L, "upload_where_info"),
                                allow_custom_value=True, min_width=220, scale=2)
        upload_btn = gr.Button(t(L, "upload_button"), variant="primary")
        upload_msg = gr.Markdown("")
        upload_result = gr.Dataframe(tx.table("upload", [], L), interactive=False, wrap=True,
                                     elem_classes=["ustaz-table"])
    jobs_table = build_jobs(services, token, ui_lang, L)
    shown, shown_outputs, (admin_cleared, admin_cleared_values), admin_relabels = build_accounts(
        services, token, ui_lang, _guard, L)

    with gr.Accordion(t(L, "documents"), open=True) as docs_box:
        with gr.Row(equal_height=True):
            f_lang = gr.Dropdown(tx.lang_choices(L, "all"), value="", label=t(L, "filter_lang"),
                                 min_width=160)
            f_subject = gr.Dropdown(tx.subject_choices(L, "all"), value="", label=t(L, "filter_subject"),
                                    min_width=190)
            refresh = gr.Button(t(L, "refresh"), min_width=100)
        # Fixed shares: left to itself the table gave id and title the whole width at 1024px
        # and pushed language, subject and policy out of sight.
        docs = gr.Dataframe(tx.table("documents", [], L), interactive=False, wrap=True,
                            column_widths=["19%", "19%", "10%", "12%", "7%", "12%", "8%", "13%"],
                            elem_classes=["ustaz-table", "ustaz-docs"])
        selected_md = gr.Markdown(t(L, "select_hint"))
        pick = gr.Textbox(visible=False)
        with gr.Row():
            e_title = gr.Textbox(label=t(L, "meta_title"), min_width=200, scale=2)
            e_subject = gr.Dropdown(tx.subject_choices(L), value="", label=t(L, "meta_subject"),
                                    min_width=190)
            e_grade = gr.Dropdown(tx.grade_choices(L), value="", label=t(L, "meta_grade"), min_width=110)
            e_lang = gr.Dropdown(tx.lang_choices(L), value="", label=t(L, "filter_lang"), min_width=190)
            e_policy = gr.Dropdown(tx.policy_choices(L), value=None, label=t(L, "meta_policy"),
                                   min_width=340, scale=2)
        with gr.Row():
            save_btn = gr.Button(t(L, "save_meta"), min_width=120)
            delete_btn = gr.Button(t(L, "delete"), variant="stop", min_width=120)
        with gr.Group(visible=False) as confirm_box:
            confirm_md = gr.Markdown("")
            with gr.Row():
                confirm_yes = gr.Button(t(L, "confirm_yes"), variant="stop", min_width=120)
                confirm_no = gr.Button(t(L, "cancel"), min_width=120)
        action_msg = gr.Markdown("")
        chunks = gr.Dataframe(tx.table("chunks", [], L), interactive=False, wrap=True,
                              column_widths=["6%", "24%", "70%"], elem_classes=["ustaz-table"])

    with gr.Accordion(t(L, "unanswered"), open=False) as unanswered_box:
        unanswered = gr.Dataframe(tx.table("unanswered", [], L), interactive=False, wrap=True,
                                  elem_classes=["ustaz-table"])
    with gr.Accordion(t(L, "feedback_view"), open=False) as feedback_box:
        feedback = gr.Dataframe(tx.table("feedback", [], L), interactive=False, wrap=True,
                                elem_classes=["ustaz-table"])
        flags_md = gr.Markdown(f"**{t(L, 'flags_view')}**")
        flags = gr.Dataframe(tx.table("flags", [], L), interactive=False, wrap=True,
                             elem_classes=["ustaz-table"])
    with gr.Accordion(t(L, "stats") + " · " + t(L, "model_view"), open=False) as stats_box:
        stats = gr.Dataframe(tx.table("stats", [], L), interactive=False, elem_classes=["ustaz-table"])
        model = gr.Markdown("")
        rebuild_btn = gr.Button(t(L, "rebuild"))

    # ------------------------------------------------------------------ views
    def views(tok, fl, fs, ui):
        """Every table a teacher reads, filled when logged in and empty (translated headers) when not."""
        if not tok or not services.active(tok):
            return ([tx.table(k, [], ui) for k in ("documents", "unanswered", "feedback", "flags",
                                                    "stats")] + [""])
        return (tx.table("documents", services.documents(tok, fl, fs), ui),
                tx.table("unanswered", services.unanswered(tok), ui),
                tx.table("feedback", services.feedback_items(tok), ui),
                tx.table("flags", services.flags(tok), ui),
                tx.table("stats", services.stats(tok), ui), services.model_info(tok, ui))

    def no_selection(ui):
        return ["", t(ui, "select_hint"), "", "", "", "", None, tx.table("chunks", [], ui)]

    def show(tok, key, ui):
        d = services.details(tok, key)
        return [d["doc_key"], t(ui, "selected_doc", title=d["title"], doc=d["doc_key"], n=d["passages"]),
                d["title"], d["subject"], str(d["grade"] or ""), d["lang"], d["policy"],
                tx.table("chunks", services.preview(tok, key), ui)]

    view_outputs = [docs, unanswered, feedback, flags, stats, model]
    selection_outputs = [selected, selected_md, e_title, e_subject, e_grade, e_lang, e_policy, chunks]
    form_outputs = [files, subject, grade, lang, policy]
    confirm_outputs = [pending, confirm_box, confirm_md]

    def fresh_form():
        return [None, "", "", "", default_policy]

    # Everything a teacher saw, gone at once: logout and timeout leave a student nothing.
    clear_outputs = [token, password, upload_rows, login_msg, timer, upload_result, upload_msg,
                     f_lang, f_subject, *form_outputs, *view_outputs, *selection_outputs,
                     *confirm_outputs, action_msg, jobs_table, username, *admin_cleared,
                     where, *shown_outputs]

    def cleared(ui, msg):
        return ["", "", [], msg, gr.Timer(active=False), tx.table("upload", [], ui), "", "", "",
                *fresh_form(), *views("", "", "", ui), *no_selection(ui), *hide_confirm(), "",
                tx.table("jobs", [], ui), "", *admin_cleared_values(), *account_view("", ui)]

    def account_view(tok, ui, current=None):
        """The upload places and the admin panel of the logged-in account (none: all hidden)."""
        places = services.where_choices(tok, ui) if tok and services.active(tok) else []
        keep = current in [spec for _, spec in places]
        return [gr.Dropdown(choices=places, value=current if keep else places[0][1] if places else None),
                *shown(tok, ui)]

    # ---------------------------------------------------------------- actions
    def do_login(password, ui, old, user=None):
        services.logout(old)  # a second login in the same tab leaves no older token alive
        tok, msg = services.login(password, ui, user or "")
        return tok, msg, "", gr.Timer(active=bool(tok))

    def do_logout(tok, ui):
        services.logout(tok)
        return cleared(ui, t(ui, "logged_out"))

    def check_session(tok, ui):
        if tok and not services.active(tok):
            minutes = round(services.token_ttl_s / 60)
            return cleared(ui, t(ui, "session_expired", minutes=minutes))
        return [gr.skip()] * len(clear_outputs)

    def do_upload(tok, files, subject, grade, lang, policy, filter_lang, filter_subject, ui, place=None):
        rows = services.upload(tok, files, subject, grade, lang, policy, place or "")
        return (rows, tx.table("upload", rows, ui), t(ui, "uploaded", n=len(rows)),
                tx.table("documents", services.documents(tok, filter_lang, filter_subject), ui),
                *fresh_form())

    def do_documents(tok, filter_lang, filter_subject, ui):
        return tx.table("documents", services.documents(tok, filter_lang, filter_subject), ui)

    def do_select(tok, doc_key, ui):
        return [*show(tok, doc_key, ui), *hide_confirm()]

    def select_row(tok, ui, evt: gr.SelectData):
        row = evt.row_value or []
        if not row or not row[0]:
            return [gr.skip()] * (len(selection_outputs) + len(confirm_outputs))
        return do_select(tok, row[0], ui)

    def hide_confirm():
        return ["", gr.Group(visible=False), ""]

    def do_save(tok, key, title, subject, grade, lang, policy, filter_lang, filter_subject, ui):
        services.require(tok)
        if not key:
            raise UserError("choose_first")
        services.edit(tok, key, title, subject, grade, lang, policy)
        return (tx.table("documents", services.documents(tok, filter_lang, filter_subject), ui),
                t(ui, "saved"), show(tok, key, ui)[1])

    def ask_delete(tok, key, ui):
        services.require(tok)
        if not key:
            raise UserError("choose_first")
        d = services.details(tok, key)
        return (key, gr.Group(visible=True),
                t(ui, "confirm_delete", title=d["title"], doc=key, n=d["passages"]), "")

    def confirm_delete(tok, key, filter_lang, filter_subject, ui):
        services.require(tok)
        if not key:
            raise UserError("choose_first")
        d = services.details(tok, key)
        services.delete(tok, key)
        return [tx.table("documents", services.documents(tok, filter_lang, filter_subject), ui),
                t(ui, "deleted_named", title=d["title"], n=d["passages"]), *hide_confirm(),
                *no_selection(ui)]

    def cancel_delete(ui):
        return [*hide_confirm(), t(ui, "cancelled")]

    def do_rebuild(tok, ui):
        services.rebuild(tok)
        return t(ui, "rebuilt"), tx.table("stats", services.stats(tok), ui)

    def relang(tok, key, waiting, rows, fl, fs, ui):
        """Tables are re-rendered in the new interface language; a pending delete question too,
        and status lines of the old language are dropped."""
        selection, question = no_selection(ui)[1:], ""
        if tok and services.active(tok):
            try:
                selection = show(tok, key, ui)[1:] if key else selection
                if waiting:
                    d = services.details(tok, waiting)
                    question = t(ui, "confirm_delete", title=d["title"], doc=waiting, n=d["passages"])
            except UserError:
                pass
        return [tx.table("upload", rows or [], ui), *views(tok, fl, fs, ui), *selection, question,
                "", "", ""]

    # the username comes last, so a client that sends only the password (the shared one) still can
    login_btn.click(do_login, [password, ui_lang, token, username], [token, login_msg, password, timer],
                    api_name="teacher_login").then(
        views, [token, f_lang, f_subject, ui_lang], view_outputs, api_name="teacher_views").then(
        account_view, [token, ui_lang], [where, *shown_outputs], api_visibility="private")
    logout_btn.click(do_logout, [token, ui_lang], clear_outputs, api_name="teacher_logout")
    # the check is cheap: it neither waits behind students' answers nor flashes the tables
    timer.tick(check_session, [token, ui_lang], clear_outputs, api_name="teacher_session",
               concurrency_limit=None, show_progress="hidden")
    upload_outputs = [upload_rows, upload_result, upload_msg, docs, *form_outputs]
    upload_btn.click(_guard(do_upload, len(upload_outputs), 2, ui_at=-2),
                     [token, files, subject, grade, lang, policy, f_lang, f_subject, ui_lang, where],
                     upload_outputs, api_name="teacher_upload")
    for trigger in (refresh.click, f_lang.input, f_subject.input):
        trigger(_guard(do_documents, 1, 0), [token, f_lang, f_subject, ui_lang], [docs],
                api_name="teacher_documents" if trigger == refresh.click else None,
                api_visibility="public" if trigger == refresh.click else "private")
    chosen_outputs = selection_outputs + confirm_outputs
    docs.select(_guard(select_row, len(chosen_outputs), 1, ui_at=1), [token, ui_lang], chosen_outputs,
                api_visibility="private")
    # The same as a click on a row, by document id, for scripts and tests.
    pick.change(_guard(do_select, len(chosen_outputs), 1), [token, pick, ui_lang], chosen_outputs,
                api_name="teacher_select")
    save_btn.click(_guard(do_save, 3, 1), [token, selected, e_title, e_subject, e_grade, e_lang,
                                           e_policy, f_lang, f_subject, ui_lang],
                   [docs, action_msg, selected_md], api_name="teacher_edit")
    delete_btn.click(_guard(ask_delete, 4, 3), [token, selected, ui_lang],
                     [*confirm_outputs, action_msg], api_name="teacher_delete")
    deleted_outputs = [docs, action_msg, *confirm_outputs, *selection_outputs]
    confirm_yes.click(_guard(confirm_delete, len(deleted_outputs), 1),
                      [token, pending, f_lang, f_subject, ui_lang], deleted_outputs,
                      api_name="teacher_delete_confirm")
    confirm_no.click(cancel_delete, [ui_lang], [*confirm_outputs, action_msg],
                     api_visibility="private")
    rebuild_btn.click(_guard(do_rebuild, 2, 0), [token, ui_lang], [action_msg, stats],
                      api_name="teacher_rebuild")
    for box in (unanswered_box, feedback_box, stats_box):
        box.expand(views, [token, f_lang, f_subject, ui_lang], view_outputs, api_visibility="private")
    # Gradio draws the drop zone's words once, in the locale of that moment: after the locale
    # follows the new language, the drop zone is drawn again.
    ui_lang.change(None, [ui_lang], None, js=SET_GRADIO_LOCALE).then(
        lambda: gr.File(visible=False), None, [files], api_visibility="private").then(
        lambda: gr.File(visible=True), None, [files], api_visibility="private")
    ui_lang.change(account_view, [token, ui_lang, where], [where, *shown_outputs], api_visibility="private")
    ui_lang.change(relang, [token, selected, pending, upload_rows, f_lang, f_subject, ui_lang],
                   [upload_result, *view_outputs, *selection_outputs[1:], confirm_md, login_msg,
                    upload_msg, action_msg], api_visibility="private")

    relabels = [
        (username, lambda lg: gr.update(label=t(lg, "teacher_username"), info=t(lg, "teacher_username_info"))),
        (password, lambda lg: gr.update(label=t(lg, "teacher_password"))),
        (login_btn, lambda lg: gr.update(value=t(lg, "login"))),
        (logout_btn, lambda lg: gr.update(value=t(lg, "logout"))),
        (upload_box, lambda lg: gr.update(label=t(lg, "upload"))),
        (files, lambda lg: gr.update(label=t(lg, "upload"))),
        (subject, lambda lg: gr.update(label=t(lg, "meta_subject"), choices=tx.subject_choices(lg))),
        (grade, lambda lg: gr.update(label=t(lg, "meta_grade"), choices=tx.grade_choices(lg))),
        (lang, lambda lg: gr.update(label=t(lg, "meta_lang"), choices=tx.lang_choices(lg, "detect"))),
        (policy, lambda lg: gr.update(label=t(lg, "meta_policy"), info=t(lg, "meta_policy_info"),
                                      choices=tx.policy_choices(lg))),
        (where, lambda lg: gr.update(label=t(lg, "upload_where"), info=t(lg, "upload_where_info"))),
        (upload_btn, lambda lg: gr.update(value=t(lg, "upload_button"))),
        (docs_box, lambda lg: gr.update(label=t(lg, "documents"))),
        (f_lang, lambda lg: gr.update(label=t(lg, "filter_lang"), choices=tx.lang_choices(lg, "all"))),
        (f_subject, lambda lg: gr.update(label=t(lg, "filter_subject"),
                                         choices=tx.subject_choices(lg, "all"))),
        (refresh, lambda lg: gr.update(value=t(lg, "refresh"))),
        (e_title, lambda lg: gr.update(label=t(lg, "meta_title"))),
        (e_subject, lambda lg: gr.update(label=t(lg, "meta_subject"), choices=tx.subject_choices(lg))),
        (e_grade, lambda lg: gr.update(label=t(lg, "meta_grade"), choices=tx.grade_choices(lg))),
        (e_lang, lambda lg: gr.update(label=t(lg, "filter_lang"), choices=tx.lang_choices(lg))),
        (e_policy, lambda lg: gr.update(label=t(lg, "meta_policy"), choices=tx.policy_choices(lg))),
        (save_btn, lambda lg: gr.update(value=t(lg, "save_meta"))),
        (delete_btn, lambda lg: gr.update(value=t(lg, "delete"))),
        (confirm_yes, lambda lg: gr.update(value=t(lg, "confirm_yes"))),
        (confirm_no, lambda lg: gr.update(value=t(lg, "cancel"))),
        (unanswered_box, lambda lg: gr.update(label=t(lg, "unanswered"))),
        (feedback_box, lambda lg: gr.update(label=t(lg, "feedback_view"))),
        (flags_md, lambda lg: gr.update(value=f"**{t(lg, 'flags_view')}**")),
        (stats_box, lambda lg: gr.update(label=t(lg, "stats") + " · " + t(lg, "model_view"))),
        (rebuild_btn, lambda lg: gr.update(value=t(lg, "rebuild"))),
        *admin_relabels,
    ]

    def relabel(lg):
        return [update(lg) for _, update in relabels]

    return relabel, [component for component, _ in relabels]
