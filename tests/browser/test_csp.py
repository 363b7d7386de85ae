"""The content security policy in a real browser: the pages that load scripts, styles and charts (htmx's live
parts, the overview's ECharts, Swagger UI) work and Chromium refuses nothing on them."""
import pytest

from portal.demo import load_demo

pytestmark = pytest.mark.browser

PAGES = {
    "requester": ["/", "/catalogue/", "/requests/", "/inbox/", "/inbox/channels/", "/api/docs/"],
    "operator": ["/", "/overview/", "/instances/", "/operations/", "/showback/", "/capacity/"],
}


@pytest.fixture
def demo(transactional_db):
    load_demo()


def test_pages_run_under_the_policy_without_a_refusal(portal_browser, demo):
    from playwright.sync_api import expect

    for username, urls in PAGES.items():
        page = portal_browser.sign_in(username)
        for url in urls:
            response = page.goto(url)
            assert response.status == 200, url
            assert "'unsafe-inline'" not in response.headers["content-security-policy"]
            page.wait_for_load_state("networkidle")
        if username == "requester":
            # Swagger UI drew the operations from the schema (its script ran under the policy).
            page.goto("/api/docs/")
            expect(page.locator("#swagger-ui .opblock").first).to_be_visible()
        else:
            # ECharts drew the overview's charts (as SVG).
            page.goto("/overview/")
            expect(page.locator("[data-chart] svg").first).to_be_visible()
    # An offering's page estimates the price through htmx as the form is filled in.
    page = portal_browser.sign_in("requester")
    page.goto("/catalogue/")
    page.locator("a[href*='/catalogue/offerings/']").first.click()
    page.wait_for_load_state("networkidle")
    assert not portal_browser.csp_violations, "\n".join(portal_browser.csp_violations)
