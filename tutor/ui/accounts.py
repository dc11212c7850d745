"""The teacher tab's classes-and-accounts panel: a teacher or school admin creates a class (its
code, link and QR code shown), a school admin adds teacher accounts to the school, a region admin
adds schools and reads per-school totals. Each part is shown only to a role that may use it, and
each action is checked again by the services."""

from __future__ import annotations

import io

import gradio as gr
from PIL import Image

from tutor.directory import ROLES
from tutor.i18n import t
from tutor.ui import teacher_text as tx


def role_choices(ui: str) -> list[tuple[str, str]]:
    return [(t(ui, "role_" + r), r) for r in ROLES[:2]]


def build_accounts(services, token, ui_lang, guard, default_lang: str = "kk"):
    """The panel. Returns (shown, shown_outputs, cleared_outputs, relabels): ``shown(tok, ui)``
    fills it for the logged-in account (everything hidden without one)."""
    L = default_lang
    with gr.Accordion(t(L, "admin"), open=False, visible=False) as box:
        totals = gr.Dataframe(tx.table("totals", [], L), interactive=False, visible=False,
                              elem_classes=["ustaz-table"])
        with gr.Row(visible=False, equal_height=True) as class_row:
            class_name = gr.Textbox(label=t(L, "class_name"), min_width=200, scale=2)
            class_btn = gr.Button(t(L, "add_class"), min_width=120, scale=1)
        qr = gr.Image(label=t(L, "class_qr"), type="pil", interactive=False, visible=False, height=260)
        with gr.Row(visible=False, equal_height=True) as teacher_row:
            new_user = gr.Textbox(label=t(L, "new_username"), min_width=180)
            new_pass = gr.Textbox(label=t(L, "new_password"), type="password", min_width=180)
            new_role = gr.Dropdown(role_choices(L), value="teacher", label=t(L, "new_role"), min_width=160)
            teacher_btn = gr.Button(t(L, "add_teacher"), min_width=120)
        with gr.Row(visible=False, equal_height=True) as school_row:
            school_name = gr.Textbox(label=t(L, "school_name"), min_width=200, scale=2)
            school_btn = gr.Button(t(L, "add_school"), min_width=120, scale=1)
        msg = gr.Markdown("")

    def shown(tok, ui):
        account = services.account(tok) if tok and services.active(tok) else None
        if account is None:
            return [gr.Accordion(visible=False), gr.Row(visible=False), gr.Row(visible=False),
                    gr.Row(visible=False), gr.Dataframe(tx.table("totals", [], ui), visible=False)]
        region = account.may_add_school()
        return [gr.Accordion(visible=True), gr.Row(visible=account.may_add_class()),
                gr.Row(visible=account.may_add_teacher()), gr.Row(visible=region),
                gr.Dataframe(tx.table("totals", services.totals(tok) if region else [], ui), visible=region)]

    def add_class(tok, name, ui):
        made = services.add_class(tok, name)
        image = Image.open(io.BytesIO(made["qr_png"]))
        return (t(ui, "class_created", name=made["name"], code=made["code"], link=made["link"]),
                gr.Image(value=image, visible=True), "")

    def add_teacher(tok, username, password, role, ui):
        name = services.add_teacher(tok, username, password, role)
        return t(ui, "teacher_added", name=name), "", ""

    def add_school(tok, name, ui):
        added = services.add_school(tok, name)
        return t(ui, "school_added", name=added), "", tx.table("totals", services.totals(tok), ui)

    class_btn.click(guard(add_class, 3, 0), [token, class_name, ui_lang], [msg, qr, class_name],
                    api_name="teacher_add_class")
    teacher_btn.click(guard(add_teacher, 3, 0), [token, new_user, new_pass, new_role, ui_lang],
                      [msg, new_user, new_pass], api_name="teacher_add_teacher")
    school_btn.click(guard(add_school, 3, 0), [token, school_name, ui_lang], [msg, school_name, totals],
                     api_name="teacher_add_school")

    shown_outputs = [box, class_row, teacher_row, school_row, totals]
    cleared_outputs = [msg, qr, class_name, new_user, new_pass]

    def cleared():
        return ["", gr.Image(value=None, visible=False), "", "", ""]

    relabels = [
        (box, lambda lg: gr.update(label=t(lg, "admin"))),
        (class_name, lambda lg: gr.update(label=t(lg, "class_name"))),
        (class_btn, lambda lg: gr.update(value=t(lg, "add_class"))),
        (qr, lambda lg: gr.update(label=t(lg, "class_qr"))),
        (new_user, lambda lg: gr.update(label=t(lg, "new_username"))),
        (new_pass, lambda lg: gr.update(label=t(lg, "new_password"))),
        (new_role, lambda lg: gr.update(label=t(lg, "new_role"), choices=role_choices(lg))),
        (teacher_btn, lambda lg: gr.update(value=t(lg, "add_teacher"))),
        (school_name, lambda lg: gr.update(label=t(lg, "school_name"))),
        (school_btn, lambda lg: gr.update(value=t(lg, "add_school"))),
    ]
    return shown, shown_outputs, (cleared_outputs, cleared), relabels
