"""Real-browser journeys: Debian's Chromium driven by Playwright against the app served on
loopback over the fake runtime. Screenshots land in artifacts/screenshots/ for people to look at.

Needs /usr/bin/chromium and the playwright package (scripts/install_browser.sh installs both;
`playwright install` is never used, it downloads browsers). Without them the journeys skip,
except under CI, where a missing browser is a failure."""

from __future__ import annotations

import os
import time
from pathlib import Path
from urllib.parse import urlparse

import pytest

# The served app and the fake tutor tuned to cite, shared with the API tests.
from test_ui import PASSWORD, PHOTOSYNTHESIS_KK, app, eval_report, md_file, ui_tutor  # noqa: F401

from tutor.config import REPO_ROOT
from tutor.i18n import t
from tutor.ui.evaluation import TECHNICAL_ID

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
SHOTS = REPO_ROOT / "artifacts" / "screenshots"
DESKTOP = {"width": 1024, "height": 768}
PHONE = {"width": 390, "height": 844}
TIMEOUT_MS = 20_000


def _missing() -> str:
    if not CHROMIUM.exists():
        return f"{CHROMIUM} is missing"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright package is not installed"
    return ""


@pytest.fixture(scope="module")
def browser():
    reason = _missing()
    if reason:
        hint = "run scripts/install_browser.sh .venv"
        if os.environ.get("CI"):
            pytest.fail(f"{reason}; CI is set, so the browser journeys must run ({hint})")
        pytest.skip(f"{reason} ({hint})")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(
            executable_path=str(CHROMIUM), headless=True,
            args=["--no-sandbox", "--disable-background-networking", "--disable-dev-shm-usage"])
        yield chromium
        chromium.close()


@pytest.fixture
def open_page(browser, app):  # noqa: F811 - the fixture imported above
    """A fresh browser context (a new student or teacher) on the app. The school server is the
    only place a page may fetch from: anything else is refused and recorded."""
    contexts, outside = [], []

    def opener(viewport=DESKTOP):
        context = browser.new_context(viewport=viewport, locale="kk-KZ")
        context.set_default_timeout(TIMEOUT_MS)

        def only_loopback(route):
            host = urlparse(route.request.url).hostname or ""
            if host in ("127.0.0.1", "localhost") or route.request.url.startswith(("data:", "blob:")):
                return route.continue_()
            outside.append(route.request.url)
            return route.abort()

        context.route("**/*", only_loopback)
        contexts.append(context)
        page = context.new_page()
        page.goto(app.url, wait_until="load")
        page.get_by_role("tab", name=t("kk", "tab_student")).wait_for()
        return page

    yield opener
    for context in contexts:
        context.close()
    assert not outside, f"the page tried to reach outside the school server: {outside}"


def shot(page, name: str) -> Path:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.wait_for_timeout(300)  # let re-rendered blocks settle, or their labels are missing
    path = SHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=False)
    assert path.stat().st_size > 10_000  # a real render, not a blank page
    return path


def visible_text(page, text: str):
    # Gradio's table keeps a hidden copy of each cell for measuring; look at what is shown.
    return page.get_by_text(text).filter(visible=True)


def ask_in_browser(page, question: str, lang: str = "kk"):
    box = page.get_by_role("textbox", name=t(lang, "question"), exact=True)
    box.fill(question)
    page.get_by_role("button", name=t(lang, "send"), exact=True).click()
    card = page.locator(".ustaz-cite").first
    card.wait_for(state="visible")
    page.wait_for_function("() => !document.body.innerText.includes('▌')", timeout=TIMEOUT_MS)
    return card


# ----------------------------------------------------------------------------- journeys
def test_student_asks_in_kazakh_and_sees_a_cited_answer(open_page):
    page = open_page(DESKTOP)
    shot(page, "student-start-1024x768")
    card = ask_in_browser(page, PHOTOSYNTHESIS_KK)

    bubble = page.locator(".message.bot, [data-testid='bot']").last
    assert t("kk", "ai_generated") in bubble.inner_text()
    assert "Фотосинтез" in card.locator("summary").inner_text()
    quote = card.locator("blockquote")
    assert not quote.is_visible()  # cards start folded, so the answer stays short
    card.locator("summary").click()
    quote.wait_for(state="visible")
    assert "фотосинтез" in quote.inner_text().lower()
    # (the question box by its role: a bot message that says "сұрағыңыз" carries that label too)
    question = page.get_by_role("textbox", name=t("kk", "question"), exact=True)
    assert question.input_value() == ""  # ready for the next one
    # Readable: the card's text is not clipped and the label is not squeezed to nothing.
    box = card.bounding_box()
    assert box and box["width"] > 300
    page.locator(".ustaz-label").last.scroll_into_view_if_needed()
    shot(page, "student-answer-1024x768")

    # The next question by keyboard, as in every chat app: Shift+Enter a new line, Enter sends.
    question.fill("Фотосинтез")
    question.press("Shift+Enter")
    question.press_sequentially("қай жерде жүреді?")
    assert question.input_value() == "Фотосинтез\nқай жерде жүреді?"
    question.press("Enter")
    page.wait_for_function("() => document.querySelectorAll('.ustaz-label').length >= 2",
                           timeout=TIMEOUT_MS)
    assert question.input_value() == ""
    assert "қай жерде жүреді?" in page.locator(".message.user, [data-testid='user']").last.inner_text()


def test_student_on_a_phone(open_page):
    page = open_page(PHONE)
    ask_in_browser(page, PHOTOSYNTHESIS_KK)
    card = page.locator(".ustaz-cite").first
    card.locator("summary").click()
    card.locator("blockquote").wait_for(state="visible")
    box = card.bounding_box()
    assert box and box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"] + 1  # no sideways scroll
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"] + 1, f"the page is {width}px wide on a {PHONE['width']}px phone"
    card.scroll_into_view_if_needed()
    shot(page, "student-answer-phone-390x844")


def test_interface_switches_to_russian(open_page):
    page = open_page(DESKTOP)
    page.get_by_label("русский").check()
    page.get_by_label(t("ru", "question")).wait_for()
    # the tabs are relabelled by a later event than the question box: wait, do not peek
    page.get_by_role("tab", name=t("ru", "tab_teacher")).wait_for(state="visible")
    ask_in_browser(page, "Что такое фотосинтез?", lang="ru")
    label = page.locator(".ustaz-label").last
    assert t("ru", "ai_generated") in label.inner_text()
    label.scroll_into_view_if_needed()
    shot(page, "student-answer-ru-1024x768")


def test_teacher_logs_in_uploads_and_sees_the_file(open_page, app, tmp_path):  # noqa: F811
    page = open_page(DESKTOP)
    page.get_by_role("tab", name=t("kk", "tab_teacher")).click()
    upload = md_file(tmp_path, "su-ailanymy.md")

    page.get_by_label(t("kk", "teacher_password")).fill(PASSWORD)
    page.get_by_role("button", name=t("kk", "login"), exact=True).click()
    page.get_by_text(t("kk", "login_ok")).wait_for()
    assert page.get_by_label(t("kk", "teacher_password")).input_value() == ""
    # the list loads on login (its first rows: the lessons sort by language, subject and title)
    visible_text(page, "/ai-literacy-").first.wait_for()

    page.locator("input[type=file]").first.set_input_files(str(upload))
    page.get_by_text("su-ailanymy.md").first.wait_for()  # the file is attached
    # No policy chosen: refused with a message, nothing goes in as "reference".
    page.get_by_role("button", name=t("kk", "upload_button"), exact=True).click()
    page.get_by_text(t("kk", "policy_required")).first.wait_for()
    assert app.store.get_document("upload/su-ailanymy.md") is None
    choose(page, t("kk", "meta_policy"), t("kk", "policy_homework"))
    page.get_by_role("button", name=t("kk", "upload_button"), exact=True).click()
    visible_text(page, "upload/su-ailanymy.md").first.wait_for()
    deadline = time.monotonic() + 10
    while app.store.get_document("upload/su-ailanymy.md") is None and time.monotonic() < deadline:
        time.sleep(0.1)
    assert app.store.get_document("upload/su-ailanymy.md").policy == "homework"
    # the form is reset for the next file
    page.get_by_text(t("kk", "uploaded", n=1)).wait_for()
    assert page.get_by_label(t("kk", "meta_policy"), exact=True).first.input_value() == ""
    listed = visible_text(page, "upload/su-ailanymy.md").nth(1)  # in the result and in the list
    listed.wait_for()
    listed.scroll_into_view_if_needed()
    shot(page, "teacher-uploaded-1024x768")


def test_teacher_tab_refuses_without_login(open_page, app):  # noqa: F811
    page = open_page(DESKTOP)
    page.get_by_role("tab", name=t("kk", "tab_teacher")).click()
    page.get_by_role("button", name=t("kk", "refresh"), exact=True).click()
    page.get_by_text(t("kk", "not_logged_in")).first.wait_for()
    assert visible_text(page, "/ai-literacy-").count() == 0


# ------------------------------------------------------------------------- teacher tab layout
def choose(page, label: str, option: str, nth: int = 0) -> None:
    page.get_by_label(label, exact=True).nth(nth).click()
    page.get_by_role("option", name=option, exact=True).click()


def log_in(page, lang: str = "kk") -> None:
    page.get_by_role("tab", name=t(lang, "tab_teacher")).click()
    page.get_by_label(t(lang, "teacher_password")).fill(PASSWORD)
    page.get_by_role("button", name=t(lang, "login"), exact=True).click()
    page.get_by_text(t(lang, "login_ok")).wait_for()
    visible_text(page, "/ai-literacy-").first.wait_for()


LAYOUT_PROBLEMS = """(viewport) => {
  // (Gradio keeps hidden copies of tabs and cells for measuring: aria-hidden, not seen)
  const shown = (e) => { const r = e.getBoundingClientRect();
    return r.width > 0 && r.height > 0 && e.checkVisibility({visibilityProperty: true})
      && !e.closest("[aria-hidden=true]"); };
  // inside a box that scrolls or clips on its own (a wide table), an element may be wider
  const inScroller = (e) => { for (let a = e.parentElement; a && a !== document.body; a = a.parentElement) {
    const o = getComputedStyle(a).overflowX; if (o === "auto" || o === "scroll") return true; } return false; };
  const name = (e) => `${e.tagName.toLowerCase()} "${
    (e.innerText || e.value || e.getAttribute("aria-label") || "").trim().slice(0, 40)}"`;
  const problems = [];
  const controls = [...document.querySelectorAll("button, input, textarea, select, label, h1, h2, h3, p, table")]
    .filter(shown).filter((e) => !inScroller(e));
  for (const e of controls) {
    const r = e.getBoundingClientRect();
    if (r.left < -1 || r.right > viewport + 1)
      problems.push(`${name(e)} runs off the screen (${Math.round(r.left)}..${Math.round(r.right)})`);
  }
  // a button's words must lie inside it (a rotated arrow icon may poke out of its box)
  for (const b of [...document.querySelectorAll("button")].filter(shown)) {
    const box = b.getBoundingClientRect();
    const walker = document.createTreeWalker(b, NodeFilter.SHOW_TEXT);
    for (let n = walker.nextNode(); n; n = walker.nextNode()) {
      if (!n.textContent.trim() || getComputedStyle(n.parentElement).transform !== "none") continue;
      const range = document.createRange(); range.selectNodeContents(n);
      const r = range.getBoundingClientRect();
      if (r.width && (r.left < box.left - 1 || r.right > box.right + 1 || r.bottom > box.bottom + 1))
        problems.push(`${name(b)} cuts its text`);
    }
  }
  // a dropdown shows its whole choice (the choices are our words, not user data)
  for (const i of [...document.querySelectorAll("input[role=combobox]")].filter(shown)) {
    if (i.scrollWidth > i.clientWidth + 1) problems.push(`${name(i)} cuts its value`);
  }
  const boxes = [...document.querySelectorAll("button, input[type=text], input[type=password], textarea")]
    .filter(shown).filter((e) => !e.closest("[role=listbox]")).map((e) => [e, e.getBoundingClientRect()]);
  for (let i = 0; i < boxes.length; i++) for (let j = i + 1; j < boxes.length; j++) {
    const [a, ra] = boxes[i], [b, rb] = boxes[j];
    if (a.contains(b) || b.contains(a)) continue;
    const w = Math.min(ra.right, rb.right) - Math.max(ra.left, rb.left);
    const h = Math.min(ra.bottom, rb.bottom) - Math.max(ra.top, rb.top);
    if (w > 2 && h > 2) problems.push(`${name(a)} overlaps ${name(b)}`);
  }
  if (document.documentElement.scrollWidth > viewport + 1)
    problems.push(`the page scrolls sideways: ${document.documentElement.scrollWidth}px wide`);
  return problems;
}"""


def assert_fits(page, viewport: dict) -> None:
    problems = page.evaluate(LAYOUT_PROBLEMS, viewport["width"])
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["1024x768", "phone-390x844"])
def test_teacher_tab_fits_and_manages_documents_by_clicking_rows(open_page, app, viewport):  # noqa: F811
    size = f"{viewport['width']}x{viewport['height']}"
    page = open_page(viewport)
    log_in(page)
    assert_fits(page, viewport)
    shot(page, f"teacher-logged-in-{size}")

    # A click on a row chooses the document and loads its details for editing.
    choose(page, t("kk", "filter_lang"), t("kk", "doclang_kk"))
    choose(page, t("kk", "filter_subject"), t("kk", "subj_biology"), nth=1)  # (0: the upload form's)
    visible_text(page, "kk/biology-cell").first.click()
    title = page.get_by_label(t("kk", "meta_title"), exact=True)
    page.wait_for_function("(el) => el.value === 'Жасуша'", arg=title.element_handle())
    n = len(app.store.chunks_of("kk/biology-cell"))
    page.get_by_text(t("kk", "selected_doc", title="Жасуша", doc="kk/biology-cell", n=n)).wait_for()
    edit_policy = page.get_by_label(t("kk", "meta_policy"), exact=True).nth(1)
    assert edit_policy.input_value() == t("kk", "policy_reference")

    # Delete asks first and names what will go.
    page.get_by_role("button", name=t("kk", "delete"), exact=True).click()
    question = page.get_by_text(t("kk", "confirm_delete", title="Жасуша", doc="kk/biology-cell", n=n))
    question.wait_for()
    question.scroll_into_view_if_needed()
    assert_fits(page, viewport)
    shot(page, f"teacher-delete-confirm-{size}")
    assert app.store.get_document("kk/biology-cell") is not None
    page.get_by_role("button", name=t("kk", "cancel"), exact=True).click()
    page.get_by_text(t("kk", "cancelled")).wait_for()
    assert app.store.get_document("kk/biology-cell") is not None

    # Logout leaves nothing of it on screen.
    page.get_by_role("button", name=t("kk", "logout"), exact=True).click()
    page.get_by_text(t("kk", "logged_out")).wait_for()
    page.wait_for_function("() => !document.body.innerText.includes('kk/biology-cell')")
    assert title.input_value() == ""
    assert visible_text(page, "Жасуша").count() == 0
    page.evaluate("window.scrollTo(0, 0)")
    shot(page, f"teacher-logged-out-{size}")


def test_teacher_tab_follows_the_interface_language_with_gradio_texts(open_page):
    page = open_page(DESKTOP)
    page.get_by_role("tab", name=t("kk", "tab_teacher")).click()
    drop = page.locator("input[type=file]").first.locator("xpath=..")
    # Gradio's own drop-zone words follow the app's language, not the browser's
    page.get_by_text("Файлды осында сүйреңіз").first.wait_for()
    for lang, name, drop_text in (("ru", "русский", "Перетащите файл сюда"),
                                  ("en", "English", "Drop File Here")):
        page.get_by_label(name, exact=True).first.check()
        page.get_by_role("tab", name=t(lang, "tab_teacher")).wait_for()
        page.get_by_text(drop_text).first.wait_for()
        page.get_by_label(t(lang, "meta_policy"), exact=True).first.wait_for()
        page.get_by_text(t(lang, "meta_policy_info")).first.wait_for()
        assert drop.is_visible()
        assert_fits(page, DESKTOP)  # the other languages' words fit too
    log_in(page, "en")
    visible_text(page, t("en", "doclang_kk")).first.wait_for()  # cells say names, not codes
    visible_text(page, t("en", "pol_reference")).first.wait_for()
    assert_fits(page, DESKTOP)
    shot(page, "teacher-english-1024x768")


def test_evaluation_tab_on_a_phone_in_the_chosen_language(open_page, app):  # noqa: F811
    page = open_page(PHONE)
    eval_report(app.tmp / "report")  # a run finished while the page was open
    page.get_by_role("tab", name=t("kk", "tab_eval")).click()
    page.get_by_role("button", name=t("kk", "eval_reload"), exact=True).click()
    table = page.locator(".eval-table")
    table.wait_for()
    assert t("kk", "evt_homework") in table.inner_text() and t("kk", "eval_not_met") in table.inner_text()
    assert_fits(page, PHONE)  # the wide table and charts scroll in their own box
    shot(page, "evaluation-kk-phone-390x844")
    page.get_by_label("русский", exact=True).first.check()
    page.get_by_text(t("ru", "evt_homework")).first.wait_for()
    technical = page.get_by_text(t("ru", "eval_technical"))
    technical.click()
    page.locator(f"#{TECHNICAL_ID}").get_by_text("retrieval_bundled").first.wait_for()  # the English original
    assert_fits(page, PHONE)


def test_teacher_tab_in_russian_on_a_phone(open_page):
    page = open_page(PHONE)
    page.get_by_label("русский", exact=True).first.check()
    page.get_by_role("tab", name=t("ru", "tab_teacher")).click()
    page.get_by_text("Перетащите файл сюда").first.wait_for()
    log_in(page, "ru")
    assert_fits(page, PHONE)
    shot(page, "teacher-ru-phone-390x844")
