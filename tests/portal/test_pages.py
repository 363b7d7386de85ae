"""The site shell: sign-in, Chinese first with English one click away, the API token, the OpenAPI docs."""
import pytest
from django.test import Client
from rest_framework.authtoken.models import Token

from portal.models import AuditEvent

pytestmark = pytest.mark.django_db


def test_anonymous_is_sent_to_login():
    response = Client().get("/")
    assert response.status_code == 302
    assert response["Location"].startswith("/login/")


def test_login_page_is_chinese_by_default():
    response = Client().get("/login/")
    assert response.status_code == 200
    assert 'lang="zh-hans"' in response.content.decode()
    assert "登录" in response.content.decode()


def test_english_is_one_click_away(requester):
    client = Client()
    client.force_login(requester)
    response = client.post("/i18n/setlang/", {"language": "en", "next": "/"})
    assert response.status_code == 302
    page = client.get("/").content.decode()
    assert 'lang="en"' in page
    assert "Service catalogue" in page


def test_logout_is_a_post_and_ends_the_session(requester):
    client = Client()
    client.force_login(requester)
    assert client.get("/").status_code == 200
    client.post("/logout/")
    assert client.get("/").status_code == 302


def test_token_auth_round_trip(requester):
    client = Client()
    response = client.post("/api/v1/auth/token/", {"username": "requester", "password": "pass-for-tests"})
    assert response.status_code == 200
    token = response.json()["token"]
    assert Token.objects.get(user=requester).key == token
    assert AuditEvent.objects.filter(action="auth.token", actor=requester).exists()
    api = Client(HTTP_AUTHORIZATION=f"Token {token}")
    assert api.get("/api/v1/clouds/").status_code == 200


def test_token_refused_for_bad_password(requester):
    response = Client().post("/api/v1/auth/token/", {"username": "requester", "password": "nope"})
    assert response.status_code == 400
    assert "token" not in response.json()


def test_token_endpoint_validates_its_fields():
    response = Client().post("/api/v1/auth/token/", {"username": ""})
    assert response.status_code == 400
    assert set(response.json()) >= {"username", "password"}


def test_api_without_credentials_answers_401():
    response = Client().get("/api/v1/clouds/")
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Token")


def test_openapi_schema_and_docs_work_offline(requester):
    client = Client()
    client.force_login(requester)
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/json")
    assert schema.status_code == 200
    paths = schema.json()["paths"]
    assert "/api/v1/offerings/{id}/" in paths and "/api/v1/auth/token/" in paths
    docs = client.get("/api/docs/").content.decode()
    # Swagger UI is served from the sidecar package, not a CDN.
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/" in docs
    assert "cdn" not in docs.lower()


def test_the_benchmarks_bare_view_is_not_served(requester):
    """bench.web's floor lives in a URLconf only its own settings load; the portal's URLs never reach it."""
    client = Client()
    client.force_login(requester)
    assert client.get("/bench/bare/").status_code == 404
