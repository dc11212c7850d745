"""The student tab: chat with streamed, cited answers; modes; language; feedback."""

from __future__ import annotations

import gradio as gr

from tutor.database import DatabaseUnavailable
from tutor.i18n import t
from tutor.pedagogy.sessions import browser_session
from tutor.ui.render import answer_markdown

MODES = ("explain", "hints", "quiz", "coach")
ANSWER_LANGS = ("auto", "kk", "ru", "en")


def client_of(request) -> str:
    """The address a request came from. Behind a proxy on this machine (deploy/nginx), the
    address the proxy appended last to X-Forwarded-For; a client's own header is not believed."""
    host = str(getattr(getattr(request, "client", None), "host", "") or "")
    if host in ("127.0.0.1", "::1"):
        forwarded = (getattr(request, "headers", None) or {}).get("x-forwarded-for", "")
        if forwarded:
            return forwarded.split(",")[-1].strip()
    return host


def mode_choices(ui_lang: str) -> list[tuple[str, str]]:
    return [(t(ui_lang, f"mode_{m}"), m) for m in MODES]


def lang_choices(ui_lang: str) -> list[tuple[str, str]]:
    names = {"auto": t(ui_lang, "lang_auto"), "kk": "қазақша", "ru": "русский", "en": "English"}
    return [(names[code], code) for code in ANSWER_LANGS]


def build_student(services, ui_lang: gr.State | gr.Radio, default_lang: str = "kk"):
    """Render the student tab inside the current Blocks; returns components to relabel."""
    session = gr.State(services.new_session)
    last_answer = gr.State({})
    # [message index, Answer] of each answer shown, so its footer follows the interface language
    shown = gr.State([])

    with gr.Accordion(t(default_lang, "welcome_title"), open=True) as welcome:
        welcome_md = gr.Markdown(t(default_lang, "welcome_body"))
    # The class code comes from the class link (?class=CODE) or is typed once; the browser
    # keeps it. It is no account: it only chooses which class's materials are searched.
    saved_code = gr.BrowserState("", storage_key="ustaz_class_code")
    with gr.Accordion(t(default_lang, "my_class"), open=False) as class_box:
        with gr.Row():
            class_code = gr.Textbox("", label=t(default_lang, "class_code"), scale=3, max_length=20)
            join = gr.Button(t(default_lang, "class_join"), scale=1, min_width=100)
        class_md = gr.Markdown(t(default_lang, "class_default"))
    # Grows with the conversation instead of a fixed 460px, so that at 1024x768 the question
    # box is on the first screen; no floating label, it covered the first line on phones.
    chat = gr.Chatbot(height=None, min_height=160, max_height="62vh", label="Ustaz", show_label=False,
                      sanitize_html=True, render_markdown=True, feedback_options=("Like", "Dislike"),
                      group_consecutive_messages=False)
    with gr.Row():
        # Enter sends and Shift+Enter starts a new line, as in every chat app: Gradio submits on
        # Enter only for a one-line box; max_lines > 1 keeps it a textarea that grows as one types.
        question = gr.Textbox(label=t(default_lang, "question"), scale=5, lines=1, max_lines=6,
                              placeholder=t(default_lang, "question_placeholder"), max_length=4000)
        send = gr.Button(t(default_lang, "send"), variant="primary", scale=1)
    with gr.Row():
        mode = gr.Radio(mode_choices(default_lang), value="explain", label=t(default_lang, "mode"),
                        scale=3)
        answer_lang = gr.Dropdown(lang_choices(default_lang), value="auto",
                                  label=t(default_lang, "answer_language"), scale=1, min_width=140)
        clear = gr.Button(t(default_lang, "clear"), scale=1, min_width=120)
    examples_md = gr.Markdown(_examples_md(services, default_lang))
    with gr.Row():
        comment = gr.Textbox(label=t(default_lang, "feedback_comment"), scale=4, max_length=1000)
        comment_send = gr.Button(t(default_lang, "feedback_send"), scale=1)
    feedback_note = gr.Markdown("")

    def ask(message, history, mode_value, lang_value, sid, ui, answers, code="", request: gr.Request = None):
        sid = browser_session(getattr(request, "session_hash", None), sid)
        history = list(history or [])
        message = (message or "").strip()
        if not message:
            return
        history.append({"role": "user", "content": message})
        history.append({"role": "assistant", "content": "…"})
        final = None
        try:
            for text, answer in services.ask_stream(message, sid, mode_value, lang_value, code or "",
                                                    client_of(request)):
                if answer is None:
                    history[-1] = {"role": "assistant", "content": text + " ▌"}
                    yield history, "", {}, answers
                else:
                    final = answer
        except DatabaseUnavailable:  # (a region server restarting) the question stays in the box
            history[-1] = {"role": "assistant", "content": t(ui or "kk", "database_unavailable")}
            yield history, message, {}, answers
            return
        history[-1] = {"role": "assistant", "content": answer_markdown(final, ui or final.lang)}
        meta = {"doc_keys": [c.doc_key for c in final.citations],
                "subject": final.citations[0].subject if final.citations else "",
                "question": message,
                "sources": [{"doc_key": c.doc_key, "title": c.title, "where": c.location()}
                            for c in final.citations]}
        yield history, "", meta, [*(answers or []), [len(history) - 1, final]]

    def clear_chat(sid, request: gr.Request = None):
        services.tutor.reset(browser_session(getattr(request, "session_hash", None), sid))
        return [], "", {}, []

    def rerender(history, answers, ui):
        history = list(history or [])
        for i, answer in answers or []:
            if i < len(history):
                history[i] = {"role": "assistant", "content": answer_markdown(answer, ui)}
        return history

    def on_like(data: gr.LikeData, sid, meta, code, request: gr.Request = None):
        sid = browser_session(getattr(request, "session_hash", None), sid)
        meta = meta or {}
        services.feedback(sid, 1 if data.liked else -1, "", meta.get("doc_keys", []),
                          meta.get("subject", ""), meta.get("question", ""), meta.get("sources", []),
                          code or "")

    def on_comment(text, sid, meta, ui, code="", request: gr.Request = None):
        sid = browser_session(getattr(request, "session_hash", None), sid)
        if not (text or "").strip():
            return "", ""
        meta = meta or {}
        services.feedback(sid, 0, text, meta.get("doc_keys", []), meta.get("subject", ""),
                          meta.get("question", ""), meta.get("sources", []), code or "")
        return "", t(ui, "feedback_thanks")

    def join_class(code, ui, request: gr.Request = None):
        """The class named by the code: its name shown, the code kept in the browser; an
        unknown code is said so and not kept."""
        code = (code or "").strip()
        klass, status = services.student_class(code, client_of(request))
        keep = klass.code if status == "known" else ""
        return keep, keep, services.class_label(code, ui, client_of(request))

    def restore_class(saved, ui, request: gr.Request):
        link = (request.query_params.get("class") if request is not None else "") or ""
        return join_class(link or saved, ui, request)

    inputs = [question, chat, mode, answer_lang, session, ui_lang, shown, class_code]
    send.click(ask, inputs, [chat, question, last_answer, shown], api_name="ask")
    question.submit(ask, inputs, [chat, question, last_answer, shown], api_visibility="private")
    clear.click(clear_chat, [session], [chat, question, last_answer, shown], api_name="clear")
    ui_lang.change(rerender, [chat, shown, ui_lang], [chat], api_visibility="private")
    chat.like(on_like, [session, last_answer, class_code], None, api_visibility="private")
    comment_send.click(on_comment, [comment, session, last_answer, ui_lang, class_code],
                       [comment, feedback_note], api_name="feedback")
    ui_lang.change(lambda saved, ui: services.class_label(saved or "", ui), [saved_code, ui_lang], [class_md],
                   api_visibility="private")
    join.click(join_class, [class_code, ui_lang], [class_code, saved_code, class_md], api_name="join_class")
    class_code.submit(join_class, [class_code, ui_lang], [class_code, saved_code, class_md],
                      api_visibility="private")

    def relabel(lang):
        return [gr.update(label=t(lang, "welcome_title")), gr.update(value=t(lang, "welcome_body")),
                gr.update(label=t(lang, "question"), placeholder=t(lang, "question_placeholder")),
                gr.update(value=t(lang, "send")),
                gr.update(label=t(lang, "mode"), choices=mode_choices(lang)),
                gr.update(label=t(lang, "answer_language"), choices=lang_choices(lang)),
                gr.update(value=t(lang, "clear")), gr.update(value=_examples_md(services, lang)),
                gr.update(label=t(lang, "feedback_comment")), gr.update(value=t(lang, "feedback_send")),
                gr.update(label=t(lang, "my_class")), gr.update(label=t(lang, "class_code")),
                gr.update(value=t(lang, "class_join"))]

    outputs = [welcome, welcome_md, question, send, mode, answer_lang, clear, examples_md, comment,
               comment_send, class_box, class_code, join]
    # registered by the app on page load: the class from the link, or the one kept in the browser
    on_load = (restore_class, [saved_code, ui_lang], [class_code, saved_code, class_md])
    return relabel, outputs, on_load


def _examples_md(services, lang: str) -> str:
    examples = services.examples(lang)
    if not examples:
        return ""
    return f"**{t(lang, 'examples')}:** " + " · ".join(f"«{e}»" for e in examples)
