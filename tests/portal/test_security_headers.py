"""The content security policy and the other security headers on pages; no inline code in any template."""
import re
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client

from tests.portal.test_settings import PRODUCTION, run_manage

pytestmark = pytest.mark.django_db

TEMPLATE_DIRS = [settings.BASE_DIR / app / "templates" for app in ("portal", "catalogue", "provisioning")]
# Inline code the policy refuses: a <script> without src, a <style> element, a style="" attribute, an on…=""
# event handler, a javascript: URL, or htmx's hx-on (evaluated code).
INLINE = re.compile(
    r"<script(?![^>]*\bsrc=)[^>]*>|<style\b|\sstyle=|\son[a-z]+=|javascript:|hx-on", re.IGNORECASE
)


def policy(response) -> dict[str, list[str]]:
    header = response.headers["Content-Security-Policy"]
    return {part.split()[0]: part.split()[1:] for part in header.split(";") if part.strip()}


@pytest.mark.parametrize("url", ["/", "/catalogue/", "/api/docs/", "/requests/"])
def test_signed_in_pages_carry_a_policy_without_unsafe_inline(requester, url):
    client = Client()
    client.force_login(requester)
    response = client.get(url)
    assert response.status_code == 200, url
    directives = policy(response)
    assert directives["script-src"] == ["'self'"]
    assert directives["style-src"] == ["'self'"]
    assert directives["frame-ancestors"] == ["'none'"]
    assert "unsafe-inline" not in response.headers["Content-Security-Policy"]
    assert "unsafe-eval" not in response.headers["Content-Security-Policy"]


def test_the_login_page_carries_the_policy_and_the_security_headers(db):
    response = Client().get("/login/")
    assert "'unsafe-inline'" not in response.headers["Content-Security-Policy"]
    assert policy(response)["default-src"] == ["'self'"]
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "same-origin"
    assert response.headers["Cross-Origin-Opener-Policy"] == "same-origin"


def test_api_answers_carry_the_policy_too(requester):
    client = Client()
    client.force_login(requester)
    response = client.get("/api/v1/requests/")
    assert "Content-Security-Policy" in response.headers


def test_no_template_has_inline_script_style_or_event_handlers():
    found = []
    for directory in TEMPLATE_DIRS:
        for path in Path(directory).rglob("*.html"):
            for number, line in enumerate(path.read_text().splitlines(), 1):
                if INLINE.search(line):
                    found.append(f"{path.relative_to(settings.BASE_DIR)}:{number}: {line.strip()}")
    assert not found, "inline code the content security policy refuses:\n" + "\n".join(found)


def test_htmx_is_told_to_add_no_inline_style_and_evaluate_nothing(db):
    page = Client().get("/login/").content.decode()
    assert '"includeIndicatorStyles": false' in page
    assert '"allowEval": false' in page


def test_production_sends_hsts_and_secure_cookies(tmp_path):
    show = (
        "from django.conf import settings as s; "
        "print(s.SECURE_HSTS_SECONDS, s.SECURE_HSTS_INCLUDE_SUBDOMAINS, s.SESSION_COOKIE_SECURE, "
        "s.CSRF_COOKIE_SECURE, s.SECURE_SSL_REDIRECT, s.X_FRAME_OPTIONS)"
    )
    result = run_manage(["shell", "-c", show], PRODUCTION, tmp_path)
    assert result.returncode == 0, result.stderr
    hsts, subdomains, session_secure, csrf_secure, redirect, frames = result.stdout.splitlines()[-1].split()
    assert int(hsts) >= 31536000
    assert (subdomains, session_secure, csrf_secure, redirect, frames) == ("True", "True", "True", "True", "DENY")


def test_the_admin_change_list_has_no_inline_style(auditor):
    """Django's change list writes an inline style only for a ModelAdmin that turns both action bars off."""
    client = Client()
    client.force_login(auditor)
    response = client.get("/admin/portal/auditevent/")
    assert response.status_code == 200
    assert "<style" not in response.content.decode()
