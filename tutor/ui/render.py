"""HTML for answers and citation cards (escaped: corpus text is never rendered as HTML)."""

from __future__ import annotations

import html

import gradio as gr

from tutor.answer.types import Answer, Citation
from tutor.i18n import phrasebook, t
from tutor.ui import teacher_text as tx

# A page read by OCR below this mean word confidence says so on its card: clean 300-dpi
# scans read at 0.9 and above (docs/decisions/2026-12-07-ocr-engine.md).
LOW_OCR_CONFIDENCE = 0.85


def citation_place(c: Citation, ui_lang: str) -> str:
    """Section, page and slide as the student's language writes them ("47-бет", "с. 47")."""
    parts = [c.section] if c.section else []
    if c.page:
        parts.append(t(ui_lang, "citation_page", n=c.page))
    if c.slide:
        parts.append(t(ui_lang, "citation_slide", n=c.slide))
    return " · ".join(parts)


def citation_cards(answer: Answer, ui_lang: str) -> str:
    cards = []
    for c in answer.citations:
        where = html.escape(citation_place(c, ui_lang))
        meta = [html.escape(tx.subject_name(ui_lang, c.subject or "")),
                f"{t(ui_lang, 'grade')} {c.grade}" if c.grade else "",
                f"{t(ui_lang, 'citation_language')}: {tx.lang_name(ui_lang, c.lang)}"]
        # a scan or photo: its file name is what the student can open and check
        if c.source_format in ("pdf", "image") and c.source_name:
            meta.append(f"{t(ui_lang, 'citation_file')}: {html.escape(c.source_name)}")
        ocr = ""
        if c.ocr_confidence is not None and c.ocr_confidence < LOW_OCR_CONFIDENCE:
            ocr = (f"<div class='ustaz-cite-meta'>"
                   f"{html.escape(t(ui_lang, 'citation_ocr', pct=round(c.ocr_confidence * 100)))}</div>")
        cards.append(
            f"<details class='ustaz-cite'><summary>[{c.n}] {html.escape(c.title)}"
            f"{' — ' + where if where else ''}</summary>"
            f"<div class='ustaz-cite-meta'>{' · '.join(m for m in meta if m)}</div>{ocr}"
            f"<blockquote>{html.escape(c.quote)}</blockquote></details>")
    return "".join(cards)


def answer_markdown(answer: Answer, ui_lang: str) -> str:
    how = (t(ui_lang, "composer_" + answer.composer)
           if "composer_" + answer.composer in phrasebook("en") else answer.composer)
    # No emoji: school PCs without an emoji font draw it as an empty box before the label.
    label = (f"<div class='ustaz-label'>{t(ui_lang, 'ai_generated')} · "
             f"{t(ui_lang, 'mode_label')}: {t(ui_lang, 'mode_' + answer.mode)} · "
             f"{t(ui_lang, 'composer_label')}: "
             f"{how}"
             f"</div>")
    body = html.escape(answer.text).replace("&gt; ", "> ").replace("\n&gt;", "\n>")
    return f"{body}\n\n{citation_cards(answer, ui_lang)}\n\n{label}"


# Gradio's bundled Montserrat draws Cyrillic и, т, д as u, m, g in its regular weight, so
# "Создано ИИ" read "Создано UU". The operating system's own fonts carry every Kazakh and
# Russian letter, on Windows, Linux, Android and iOS alike, with nothing to download.
SANS = ["system-ui", "Segoe UI", "Roboto", "Noto Sans", "DejaVu Sans", "Arial", "sans-serif"]
MONO = ["ui-monospace", "Consolas", "DejaVu Sans Mono", "Liberation Mono", "monospace"]


def theme() -> gr.themes.Base:
    return gr.themes.Soft(font=SANS, font_mono=MONO)


CSS = """
.ustaz-cite { border: 1px solid #c9d3e0; border-radius: 8px; padding: 6px 10px; margin: 6px 0; }
.ustaz-cite summary { cursor: pointer; font-weight: 600; }
.ustaz-cite blockquote { margin: 6px 0 0 0; padding-left: 8px; border-left: 3px solid #7a9cc6; }
.ustaz-cite-meta { font-size: 0.85em; color: #4a5568; }
.ustaz-label { font-size: 0.85em; color: #2d3748; background: #edf2f7; border-radius: 6px;
               padding: 2px 8px; display: inline-block; margin-top: 4px; }
/* Teacher tables in the reading font, a little smaller: in monospace, nine columns broke
   words mid-letter at 1024px ("referenc e"). */
.ustaz-table table, .ustaz-table td, .ustaz-table th, .ustaz-table span {
    font-family: var(--font) !important; font-size: 0.92em; }
/* The report's table and charts scroll on their own on a phone rather than widen the page. */
.eval-report { overflow-x: auto; }
.eval-table { border-collapse: collapse; margin: 8px 0 16px 0; }
.eval-table td, .eval-table th { border: 1px solid #c9d3e0; padding: 4px 8px; vertical-align: top; }
.eval-ok { color: #276749; font-weight: 600; }
.eval-fail { color: #c53030; font-weight: 600; }
@media (max-width: 640px) { .gradio-container { padding: 4px !important; } }
"""

# Gradio's own texts (the drop zone, "or", "Uploading...") follow the browser's locale, which
# on a school PC is rarely the language chosen in the app. The page switches Gradio's locale
# with the app's language; Gradio has no Kazakh, so its visible texts get one here.
GRADIO_KK = {
    "upload_text": {"click_to_upload": "Жүктеу үшін басыңыз", "drop_file": "Файлды осында сүйреңіз"},
    "common": {"or": "немесе", "clear": "Тазарту", "download": "Жүктеп алу", "remove": "Өшіру",
               "error": "Қате", "loading": "Жүктелуде", "empty": "Бос",
               "built_with_gradio": "Gradio арқылы жасалған"},
    "file": {"uploading": "Жүктелуде..."},
    "errors": {"use_via_api": "API арқылы пайдалану", "use_via_api_or_mcp": "API немесе MCP арқылы"},
    "dataframe": {"sort_column": "Бағанды сұрыптау", "sort_ascending": "Өсу ретімен",
                  "sort_descending": "Кему ретімен"},
}
# Gradio's locale store is exported by its core module only; the module is already loaded, so
# importing it again returns the same instance.
SET_GRADIO_LOCALE = r"""
async (lang) => {
  try {
    const core = performance.getEntriesByType("resource").map((e) => e.name)
      .find((name) => /\/core-[^/]*\.js$/.test(name));
    if (core) (await import(core)).changeLocale(lang);
  } catch (err) { console.warn("Ustaz: could not set Gradio's language", err); }
}
"""
