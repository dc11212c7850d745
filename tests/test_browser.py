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
from test_ui import PASSWORD, PHOTOSYNTHESIS_KK, app, md_file, ui_tutor  # noqa: F401

from tutor.config import REPO_ROOT
from tutor.i18n import t

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
    page.get_by_role("button", name=t("kk", "upload_button"), exact=True).click()
    visible_text(page, "upload/su-ailanymy.md").first.wait_for()
    deadline = time.monotonic() + 10
    while app.store.get_document("upload/su-ailanymy.md") is None and time.monotonic() < deadline:
        time.sleep(0.1)
    assert app.store.get_document("upload/su-ailanymy.md") is not None
    listed = visible_text(page, "upload/su-ailanymy.md").nth(1)  # in the result and in the list
    listed.wait_for()
    listed.scroll_into_view_if_needed()
    shot(page, "teacher-uploaded-1024x768")


def test_teacher_tab_refuses_without_login(open_page, app):  # noqa: F811
    page = open_page(DESKTOP)
    page.get_by_role("tab", name=t("kk", "tab_teacher")).click()
    page.get_by_role("button", name=t("kk", "refresh"), exact=True).click()
    page.get_by_text(t("en", "not_logged_in")).first.wait_for()
    assert visible_text(page, "/ai-literacy-").count() == 0
