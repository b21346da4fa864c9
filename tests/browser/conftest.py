"""Browser tests: Playwright driving Debian's Chromium against live_server, with a real Celery
worker. Every page's console errors (and uncaught exceptions) fail the test. Screenshots go to
artifacts/screenshots/ (gitignored; ARTIFACTS_DIR overrides)."""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest

CHROMIUM = os.environ.get("CHROMIUM_PATH") or shutil.which("chromium") or "/usr/bin/chromium"
LAUNCH_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = (
    Path(os.environ.get("ARTIFACTS_DIR", Path(__file__).resolve().parents[2] / "artifacts")) / "screenshots"
)
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
# The password tests.factories.UserFactory gives every user.
PASSWORD = "correct horse battery"


def expect(locator):
    """Playwright's expect, imported when used (the module imports without Playwright installed)."""
    from playwright.sync_api import expect as _expect

    return _expect(locator)


def sign_in(page, user) -> None:
    page.goto("/login")
    page.fill("#id_username", user.email)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    expect(page).to_have_url(re.compile(r"/datasets$"))


def pytest_collection_modifyitems(config, items):
    reason = None
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        reason = "playwright is not installed (pip install -e '.[test]')"
    if reason is None and not os.path.exists(CHROMIUM):
        reason = f"no Chromium at {CHROMIUM}: apt-get install -y chromium (the browser tests need it)"
    if reason:
        for item in items:
            if "tests/browser" in str(item.fspath):
                item.add_marker(pytest.mark.skip(reason=reason))


@pytest.fixture(scope="package")
def browser():
    """Chromium for this package's tests only. Playwright's sync API runs an event loop in this
    thread, so Django's ORM calls from test code need DJANGO_ALLOW_ASYNC_UNSAFE meanwhile; it is
    set here and removed afterwards, so no later test or subprocess inherits it."""
    from playwright.sync_api import sync_playwright

    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS, headless=True)
            yield browser
            browser.close()
    finally:
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


class ConsoleWatch:
    def __init__(self) -> None:
        self.errors: list[str] = []

    def attach(self, page) -> None:
        page.on(
            "console",
            lambda msg: (
                self.errors.append(f"console.{msg.type}: {msg.text} @ {page.url}")
                if msg.type == "error"
                else None
            ),
        )
        page.on("pageerror", lambda exc: self.errors.append(f"pageerror: {exc} @ {page.url}"))


@pytest.fixture
def page(browser, live_server):
    context = browser.new_context(viewport=DESKTOP, base_url=live_server.url)
    context.set_default_timeout(20_000)
    watch = ConsoleWatch()
    page = context.new_page()
    watch.attach(page)
    page.console_watch = watch
    yield page
    context.close()
    assert not watch.errors, "browser console errors:\n" + "\n".join(watch.errors)


# The elements that stick out furthest (outside scrolling tables), to name the culprit.
WIDEST_JS = """() => Array.from(document.querySelectorAll('body *'))
    .filter(e => !e.closest('.table-wrap table'))
    .map(e => [e, Math.max(e.getBoundingClientRect().right, e.scrollWidth > e.clientWidth ? e.scrollWidth : 0)])
    .sort((a, b) => b[1] - a[1]).slice(0, 5)
    .map(([e, r]) => e.tagName.toLowerCase() + '.' + e.className + ' ' + Math.round(r)).join(', ')"""


@pytest.fixture
def shoot():
    """shoot(page, "name"): full-page screenshots at desktop and phone width."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)

    def _shoot(page, name: str) -> Path:
        page.set_viewport_size(DESKTOP)
        desktop = ARTIFACTS / f"{name}-desktop.png"
        page.screenshot(path=str(desktop), full_page=True)
        page.set_viewport_size(PHONE)
        # Nothing may widen the page at phone width (wide tables scroll inside their own box).
        scroll_width = page.evaluate("document.documentElement.scrollWidth")
        widest = page.evaluate(WIDEST_JS) if scroll_width > PHONE["width"] else ""
        page.screenshot(path=str(ARTIFACTS / f"{name}-phone.png"), full_page=True)
        page.set_viewport_size(DESKTOP)
        assert scroll_width <= PHONE["width"], f"{name} is {scroll_width}px wide at phone width: {widest}"
        return desktop

    return _shoot
