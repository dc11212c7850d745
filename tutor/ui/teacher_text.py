"""The teacher tab's words: dropdown choices, table headers and cells, and upload messages in
the interface language. The store and the ingest pipeline keep codes ("homework", "biology",
"added"); only what a teacher reads is translated, here."""

from __future__ import annotations

import re
import time

from tutor.i18n import t
from tutor.ingest.pipeline import LANGS, SUBJECTS
from tutor.safety.moderation import CATEGORIES
from tutor.store import POLICIES

GRADES = [str(g) for g in range(1, 13)]

HEADERS = {
    "upload": ("h_file", "h_status", "h_document", "h_passages", "h_message"),
    "documents": ("h_id", "h_title", "h_lang", "h_subject", "h_grade", "h_policy", "h_version",
                  "h_passages"),
    "chunks": ("#", "h_where", "h_text"),
    "unanswered": ("h_question", "h_lang", "h_asked", "h_last"),
    "feedback": ("h_time", "h_rating", "h_comment", "h_question", "h_sources", "h_documents"),
    "flags": ("h_time", "h_category", "h_lang", "h_text"),
    "stats": ("h_lang", "h_subject", "h_documents", "h_passages"),
    "totals": ("h_school", "h_documents", "h_questions", "h_unanswered", "h_ratings"),
    "jobs": ("h_file", "h_status", "h_pages", "h_left", "h_pages_unread", "h_message"),
}

# The ingest pipeline's messages are English sentences; each known one maps to a phrase key.
_MESSAGES = [
    (r"^unsupported file type", "err_unsupported"), (r"^the file is empty", "err_empty"),
    (r"^no text found", "err_no_text"), (r"^this is not a text file", "err_not_text"),
    (r"password-protected", "err_pdf_password"),
    (r"scan without a text layer", "err_ocr_missing"), (r"no text layer", "err_pdf_scanned"),
    (r"^no readable text found in the image", "err_image_unreadable"),
    (r"^the image is (?:too large|\d+×\d+ pixels)", "err_image_too_large"),
    (r"damaged|unpacks to", "err_damaged"),
    (r"^(?P<n>\d+) page\(s\) read by OCR, lowest confidence (?P<pct>\d+)%", "msg_ocr_pages_low"),
    (r"^(?P<n>\d+) page\(s\) read by OCR", "msg_ocr_pages"),
    (r"^(?P<n>\d+) page\(s\) with a broken Kazakh font repaired", "msg_font_repaired"),
    (r"^page\(s\) (?P<pages>[\d, .]+?) not read", "msg_pages_unread"),
    (r"^pages not read: (?P<pages>[\d, ]+)", "msg_pages_unread"),
    (r"^(?P<n>\d+) pages, ingested in the background", "msg_queued"),
    (r"^already being ingested: (?P<done>\d+) of (?P<total>\d+)", "msg_already_queued"),
    (r"^(?P<n>\d+) of (?P<total>\d+) pages", "msg_job_pages"),
    (r"^internal error", "err_internal"), (r"^the uploaded file is gone", "err_file_gone"),
    (r"^the file is (?P<size>[\d.]+ \w+), more than the limit of (?P<limit>[\d.]+ \w+)", "err_too_big"),
    (r"^language must be", "err_lang"), (r"^grade must be", "err_grade"),
    (r"^cannot open the file", "err_open"), (r"^already up to date", "msg_unchanged"),
    (r"^the same content is already in the corpus as (?P<doc>\S+)", "msg_duplicate"),
    (r"^saved, but the search index", "msg_index_unsaved"),
]


def _named(ui: str, prefix: str, code) -> str:
    return t(ui, prefix + str(code)) if code not in (None, "") else ""


def subject_name(ui: str, code: str) -> str:
    return t(ui, "subj_" + code) if code in SUBJECTS else (code or "")


def lang_name(ui: str, code: str) -> str:
    return _named(ui, "doclang_", code) if code in LANGS else (code or "")


def policy_name(ui: str, code: str) -> str:
    return _named(ui, "pol_", code) if code in POLICIES else (code or "")


def subject_choices(ui: str, empty: str = "not_set") -> list[tuple[str, str]]:
    return [(t(ui, empty), ""), *((subject_name(ui, s), s) for s in SUBJECTS)]


def lang_choices(ui: str, empty: str = "not_set") -> list[tuple[str, str]]:
    return [(t(ui, empty), ""), *((lang_name(ui, code), code) for code in LANGS)]


def grade_choices(ui: str) -> list[tuple[str, str]]:
    return [("—", ""), *((g, g) for g in GRADES)]  # narrow: "not set" would not fit


def policy_choices(ui: str) -> list[tuple[str, str]]:
    return [(t(ui, "policy_" + p), p) for p in POLICIES]


def message(ui: str, text: str) -> str:
    # a message may join several ("3 page(s) read by OCR...; page(s) 4 not read: ...")
    parts = re.split(r"; (?=\d+ page\(s\)|page\(s\) |pages not read)", text or "")
    return "; ".join(_one_message(ui, part) for part in parts if part)


def _one_message(ui: str, text: str) -> str:
    for pattern, key in _MESSAGES:
        m = re.search(pattern, text)
        if m:
            return t(ui, key, **m.groupdict())
    return t(ui, "err_unreadable")


def _day(at: float, with_time: bool = False) -> str:
    return time.strftime("%Y-%m-%d %H:%M" if with_time else "%Y-%m-%d", time.localtime(at))


def table(kind: str, rows: list, ui: str) -> dict:
    """A Dataframe value with headers and cells in the interface language."""
    headers = [h if h == "#" else t(ui, h) for h in HEADERS[kind]]
    return {"headers": headers, "data": [_cells(kind, row, ui) for row in rows]}


def _cells(kind: str, row, ui: str) -> list:
    if kind == "upload":
        name, status, key, n, msg = row
        return [name, t(ui, "status_" + status), key, n, message(ui, msg)]
    if kind == "documents":
        key, title, lang, subject, grade, policy, version, n, _format = row
        return [key, title, lang_name(ui, lang), subject_name(ui, subject), grade,
                policy_name(ui, policy), version, n]
    if kind == "unanswered":
        q, lang, asked, last = row
        return [q, lang_name(ui, lang), asked, last]
    if kind == "feedback":
        rating = "rating_up" if row["rating"] > 0 else "rating_down" if row["rating"] < 0 else "rating_none"
        sources = "; ".join(" — ".join(p for p in (s.get("title", ""), s.get("where", "")) if p)
                            for s in row["sources"])
        return [_day(row["at"], True), t(ui, rating), row["comment"], row["question"], sources,
                "; ".join(row["titles"])]
    if kind == "flags":
        when, category, lang, text = row
        return [when, t(ui, "cat_" + category) if category in CATEGORIES else category, lang_name(ui, lang), text]
    if kind == "stats":
        lang, subject, docs, n = row
        return [lang_name(ui, lang), subject_name(ui, subject), docs, n]
    if kind == "jobs":
        name, status, pages, left, unread, msg = row
        return [name, t(ui, "job_" + status), pages, left, unread, message(ui, msg)]
    return list(row)
