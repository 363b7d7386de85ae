"""Every error answers with the portal's own page (its header, Chinese or English, a way back), the API keeps
answering JSON, the API docs sit in the portal's shell, and a favicon is served."""
from unittest import mock

import pytest
from django.core.exceptions import PermissionDenied
from django.test import Client

pytestmark = pytest.mark.django_db

HEADER = 'class="topbar"'


def signed_in(user, **kwargs) -> Client:
    client = Client(**kwargs)
    client.force_login(user)
    return client


def assert_portal_page(response, status: int, text: str):
    page = response.content.decode()
    assert response.status_code == status
    assert response["Content-Type"].startswith("text/html")
    assert HEADER in page and 'data-testid="error-page"' in page and 'data-testid="error-home"' in page
    assert text in page


def test_404_is_the_portal_page(requester):
    assert_portal_page(signed_in(requester).get("/no-such-page/"), 404, "页面不存在")


def test_404_speaks_english_when_chosen(requester):
    client = signed_in(requester)
    client.post("/i18n/setlang/", {"language": "en", "next": "/"})
    assert_portal_page(client.get("/no-such-page/"), 404, "Page not found")


def test_404_offers_the_way_back_to_the_page_it_came_from(requester):
    response = signed_in(requester).get("/no-such-page/", HTTP_REFERER="http://testserver/requests/")
    assert 'href="http://testserver/requests/"' in response.content.decode()
    # Another site's address is not a way back.
    response = signed_in(requester).get("/no-such-page/", HTTP_REFERER="https://evil.example/")
    assert "evil.example" not in response.content.decode()


def test_get_on_a_post_only_url_is_the_portal_405_page_with_its_allow_header(requester):
    response = signed_in(requester).get("/logout/")
    assert_portal_page(response, 405, "不能直接打开此地址")
    assert "POST" in response["Allow"]


def test_403_is_the_portal_page_and_says_why(requester):
    refusal = PermissionDenied("只有该资源所属单位的申请人可以发起变更。")
    with mock.patch("portal.views.DashboardView.get_context_data", side_effect=refusal):
        response = signed_in(requester).get("/")
    assert_portal_page(response, 403, "无权操作")
    assert "只有该资源所属单位的申请人可以发起变更。" in response.content.decode()


def test_400_is_the_portal_page(requester):
    assert_portal_page(signed_in(requester).get("/", HTTP_HOST="evil.example"), 400, "请求有误")


def test_500_is_the_portal_page(requester):
    client = signed_in(requester, raise_request_exception=False)
    with mock.patch("portal.views.cloud_counts_by_tier", side_effect=RuntimeError("boom")):
        response = client.get("/")
    assert_portal_page(response, 500, "服务器出错")
    assert "boom" not in response.content.decode()


def test_a_csrf_failure_is_the_portal_page(requester):
    client = signed_in(requester, enforce_csrf_checks=True)
    response = client.post("/logout/")
    assert_portal_page(response, 403, "表单已过期")


def test_api_404_and_405_stay_json(requester):
    client = signed_in(requester)
    missing = client.get("/api/v1/no-such-endpoint/")
    assert missing.status_code == 404 and missing["Content-Type"] == "application/json"
    assert missing.json()["detail"]
    not_allowed = client.delete("/api/v1/clouds/")
    assert not_allowed.status_code == 405 and not_allowed["Content-Type"] == "application/json"
    assert "detail" in not_allowed.json()


def test_api_docs_have_the_portal_header_and_a_way_back_without_inline_script(requester):
    page = signed_in(requester).get("/api/docs/").content.decode()
    assert HEADER in page and 'data-testid="docs-back"' in page and 'id="swagger-ui"' in page
    assert "<script>" not in page  # the start-up script is served as a file
    script = signed_in(requester).get("/api/docs/?script=")
    assert script.status_code == 200 and script["Content-Type"].startswith("application/javascript")
    assert "SwaggerUIBundle" in script.content.decode()


def test_a_favicon_is_served(requester):
    response = Client().get("/favicon.ico", follow=True)
    assert response.status_code == 200
    body = b"".join(response.streaming_content) if response.streaming else response.content
    assert b"<svg" in body and response["Content-Type"].startswith("image/svg+xml")
    page = signed_in(requester).get("/").content.decode()
    assert 'rel="icon"' in page and "portal/favicon.svg" in page
