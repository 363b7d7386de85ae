"""The browser harness: Debian's Chromium driven by Playwright against the live portal (pytest-django's
live_server on the test database), with the e2e harness behind it: the local cloud, the provider mirror
and a real Celery worker process. Every HTML answer the browser receives is kept, so tests can say what
never reached a page; on failure every open page is saved as a screenshot and its HTML in the test's
tmp dir."""
import os
import re
from pathlib import Path

import pytest
from django.db import connections

# The local cloud's server (cloud_server) is a fixture of tests/conftest.py, shared by every folder.
from tests.e2e.conftest import (  # noqa: F401  (fixtures shared with the e2e harness)
    celery_worker_process,
    e2e_home,
    e2e_settings,
    local_clouds,
)

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ACTION_TIMEOUT_MS = 15_000
CALL_REPORT = pytest.StashKey()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    report = yield
    if report.when == "call":
        item.stash[CALL_REPORT] = report
    return report


class Portal:
    """One Chromium, one browser context per signed-in user, every HTML answer recorded."""

    def __init__(self, browser, base_url: str):
        self.browser = browser
        self.base_url = base_url.rstrip("/")
        self.contexts = []
        self.answers: list[tuple[str, str]] = []  # (url, body) of every HTML or JSON answer
        # What the browser refused under the content security policy (console messages of each page).
        self.csp_violations: list[str] = []

    def _record(self, route) -> None:
        if "/static/" in route.request.url:
            route.continue_()
            return
        # Redirects go back to the browser as they are, so it follows them (and sees their URLs) itself.
        response = route.fetch(max_redirects=0)
        content_type = response.headers.get("content-type", "")
        if "html" in content_type or "json" in content_type or "text" in content_type:
            self.answers.append((route.request.url, response.text()))
        route.fulfill(response=response)

    def _console(self, message) -> None:
        if "Content Security Policy" in message.text:
            self.csp_violations.append(f"{message.location.get('url', '')}: {message.text}")

    def new_page(self):
        # A Chinese government desktop: Chinese first is what the portal must show it.
        context = self.browser.new_context(base_url=self.base_url, locale="zh-CN", timezone_id="Asia/Shanghai")
        context.set_default_timeout(ACTION_TIMEOUT_MS)
        context.route(re.compile(rf"^{re.escape(self.base_url)}/"), self._record)
        context.on("console", self._console)
        self.contexts.append(context)
        return context.new_page()

    def sign_in(self, username: str, password: str = "demo"):
        from playwright.sync_api import expect

        page = self.new_page()
        page.goto("/login/")
        expect(page.locator("html")).to_have_attribute("lang", "zh-hans")
        expect(page.locator("h1")).to_have_text("登录")
        page.fill("#id_username", username)
        page.fill("#id_password", password)
        page.locator("main form button[type=submit]").click()
        # Each role lands where it works (portal.landing), not always on the home page.
        page.wait_for_url(lambda url: "/login/" not in url)
        expect(page.locator("nav.mainnav")).to_be_visible()
        return page

    def save_pages(self, directory: Path) -> list[Path]:
        saved = []
        for c, context in enumerate(self.contexts):
            for p, page in enumerate(context.pages):
                stem = directory / f"failure-context{c}-page{p}"
                try:
                    page.screenshot(path=f"{stem}.png", full_page=True)
                    Path(f"{stem}.html").write_text(page.content())
                    saved.append(Path(f"{stem}.png"))
                except Exception as exc:  # a page that crashed still must not hide the test's own failure
                    Path(f"{stem}.error.txt").write_text(repr(exc))
        return saved


@pytest.fixture
def portal_browser(request, django_db_setup, live_server, transactional_db, tmp_path):
    """A Portal on the live server (asked for after the test database, so the server and its connections
    stop before the database is dropped). Playwright's sync API keeps an asyncio loop running on this thread while
    it is started, which Django's ORM takes for an async context: the test's own ORM calls are allowed for
    exactly that time."""
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is missing (apt-get install chromium chromium-driver; `make test` does it)")
    from playwright.sync_api import sync_playwright

    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    playwright = sync_playwright().start()
    browser = None
    try:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        portal = Portal(browser, live_server.url)
        yield portal
        report = request.node.stash.get(CALL_REPORT, None)
        if report is not None and report.failed:
            for path in portal.save_pages(tmp_path):
                print(f"screenshot: {path}")
    finally:
        if browser is not None:
            browser.close()
        # While the loop runs, asgiref gives the test's ORM calls connections of their own context; close them
        # now, or they outlive the test and keep the test database from being dropped.
        connections.close_all()
        playwright.stop()
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous
