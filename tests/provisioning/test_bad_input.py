"""Bad input is the caller's mistake, never a server error: an id that is not a positive integer answers 404,
a page size or offset the database cannot take answers 400, and JSON nested a thousand levels deep answers
400, in the API (the sign-in too) and in a page's JSON field. Every API error comes in the portal's shape."""
import json

import pytest
from django.test import Client, RequestFactory, override_settings
from django.urls import reverse

from portal.middleware import DeepInputMiddleware
from provisioning.models import Request
from tests.provisioning.clients import Api, signed_in
from tests.provisioning.test_pages import form_data
from tests.provisioning.test_requests import awaiting

pytestmark = pytest.mark.django_db

BAD_IDS = ["abc", "1.5", "-1", "0", "99999999999999999999999", "١"]
DEEP_ARRAY = "[" * 1000 + "]" * 1000
DEEP_OBJECT = '{"a":' * 1000 + "1" + "}" * 1000


def error(response, status: int, code: str) -> dict:
    assert response.status_code == status, (response.status_code, response.content[:300])
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert body["code"] == code and body["detail"], body
    return body


# Ids ---------------------------------------------------------------------------------------------------------

ID_ROUTES = [
    ("get", "requests/{}/"),
    ("get", "requests/{}/runs/"),
    ("post", "requests/{}/submit/"),
    ("post", "requests/{}/approve/"),
    ("post", "requests/{}/reject/"),
    ("post", "requests/{}/cancel/"),
    ("post", "requests/{}/retry/"),
    ("get", "runs/{}/"),
    ("get", "runs/{}/log/"),
    ("post", "runs/{}/reconcile/"),
    ("post", "runs/{}/recheck/"),
    ("get", "instances/{}/"),
    ("post", "instances/{}/requests/"),
    ("post", "instances/{}/drift-check/"),
    ("get", "offerings/{}/"),
]


@pytest.mark.parametrize("method,route", ID_ROUTES)
def test_an_id_that_is_not_a_positive_integer_is_404_on_every_route(method, route, operator):
    api = Api(operator)
    for bad in BAD_IDS:
        url = "/api/v1/" + route.format(bad)
        response = api.get(url) if method == "get" else api.post(url, {"comment": "x", "outcome": "failed", "note": "x"})
        error(response, 404, "not_found")


def test_runs_abc_says_what_an_id_is(operator):
    body = error(Api(operator).get("/api/v1/runs/abc/"), 404, "not_found")
    assert body["detail"] == "未找到：编号应为正整数。"


def test_a_bad_id_still_asks_an_anonymous_caller_to_sign_in():
    assert Client().get("/api/v1/runs/abc/").status_code == 401


def test_an_api_url_that_does_not_exist_answers_json(operator):
    error(Api(operator).get("/api/v1/runs/1/nothing/"), 404, "not_found")
    error(Api(operator).get("/api/v1/no-such-thing/"), 404, "not_found")


# Paging --------------------------------------------------------------------------------------------------------

LISTS = ["/api/v1/requests/", "/api/v1/runs/", "/api/v1/instances/", "/api/v1/approvals/", "/api/v1/clouds/",
         "/api/v1/services/", "/api/v1/offerings/"]


@pytest.mark.parametrize("url", LISTS)
@pytest.mark.parametrize("query,field", [
    ("limit=9223372036854775808", "limit"),
    ("limit=501", "limit"),
    ("limit=0", "limit"),
    ("limit=abc", "limit"),
    ("offset=9223372036854775808", "offset"),
    ("offset=-1", "offset"),
    ("limit=10&offset=" + "9" * 5000, "offset"),
])
def test_a_page_the_database_cannot_take_is_400_on_its_parameter(url, query, field, journey, operator):
    awaiting(journey["requester"], journey["offering"])
    body = error(Api(operator).get(f"{url}?{query}"), 400, "invalid")
    assert body["field"] == field and body["params"]["min"] in (0, 1)


def test_the_largest_page_and_an_offset_past_the_end_are_fine(journey, operator):
    awaiting(journey["requester"], journey["offering"])
    api = Api(operator)
    assert len(api.get("/api/v1/offerings/?limit=500").json()["results"]) == 1
    past = api.get("/api/v1/offerings/?limit=1&offset=9223372036854775807")
    assert past.status_code == 200 and past.json()["results"] == []


@override_settings(API_MAX_PAGE_SIZE=2)
def test_the_largest_page_is_a_setting(journey):
    api = Api(journey["requester"])
    assert api.get("/api/v1/clouds/?limit=2").status_code == 200
    assert error(api.get("/api/v1/clouds/?limit=3"), 400, "invalid")["detail"] == "每页条数（limit）须为 1 到 2 之间的整数。"


def test_a_requests_runs_come_a_page_at_a_time(journey):
    request = awaiting(journey["requester"], journey["offering"])
    api = Api(journey["requester"])
    body = api.get(f"/api/v1/requests/{request.pk}/runs/").json()
    assert [run["id"] for run in body["results"]] == [request.plan_run_id] and body["next"] is None
    assert api.get(f"/api/v1/requests/{request.pk}/runs/?limit=1&offset=1").json()["results"] == []


# Deep JSON -----------------------------------------------------------------------------------------------------


def post_raw(client: Client, url: str, body: str, **headers):
    return client.post(url, body, content_type="application/json", **headers)


@pytest.mark.parametrize("body", [DEEP_ARRAY, DEEP_OBJECT])
def test_deep_json_to_the_sign_in_is_400(body, requester):
    body = error(post_raw(Client(), "/api/v1/auth/token/", body), 400, "too_deep")
    assert body["detail"] == "JSON 内容嵌套过深：最多 32 层。"


def test_deep_json_anywhere_in_the_api_is_400(journey):
    request = awaiting(journey["requester"], journey["offering"])
    headers = {"HTTP_AUTHORIZATION": Api(journey["approver"]).client.defaults["HTTP_AUTHORIZATION"]}
    nested = '{"offering": 1, "parameters": ' + DEEP_OBJECT + "}"
    error(post_raw(Client(), "/api/v1/requests/", nested, **headers), 400, "too_deep")
    error(post_raw(Client(), f"/api/v1/requests/{request.pk}/approve/", DEEP_ARRAY, **headers), 400, "too_deep")
    assert request.approvals.count() == 0


def test_json_within_the_depth_limit_is_read_as_before(requester):
    shallow = json.dumps({"username": "requester", "password": "x", "extra": [[[[{"a": "[[[[{{{{" * 20}]]]]})
    assert error(post_raw(Client(), "/api/v1/auth/token/", shallow), 400, "invalid_credentials")


@override_settings(JSON_MAX_DEPTH=2)
def test_the_depth_limit_is_a_setting(requester):
    body = json.dumps({"username": "requester", "password": {"a": [1]}})
    assert error(post_raw(Client(), "/api/v1/auth/token/", body), 400, "too_deep")["detail"].endswith("最多 2 层。")


def test_deep_json_in_a_form_field_is_a_form_error(journey):
    url = reverse("provisioning:request_create", args=[journey["offering"].pk])
    response = signed_in(journey["requester"]).post(url, form_data(**{"p-tags": DEEP_OBJECT}))
    assert response.status_code == 200 and not Request.objects.exists()
    assert "JSON 内容嵌套过深：最多 32 层。" in response.content.decode()


# The portal's error shape ----------------------------------------------------------------------------------------


def test_drf_errors_carry_a_code_too(journey):
    assert error(Client().get("/api/v1/requests/"), 401, "not_authenticated")
    response = Api(journey["requester"]).client.post("/api/v1/requests/", "{not json", content_type="application/json")
    assert error(response, 400, "parse_error")
    assert error(Api(journey["requester"]).get("/api/v1/requests/12345/"), 404, "not_found")


def test_reject_documents_its_comment_as_required(journey):
    request = awaiting(journey["requester"], journey["offering"])
    response = Api(journey["approver"]).post(f"/api/v1/requests/{request.pk}/reject/", {})
    assert response.status_code == 400 and response.json() == {"comment": ["驳回时必须填写意见，说明驳回理由。"]}


def test_deep_json_in_any_other_form_is_400_not_a_server_error(journey, sysadmin):
    # The admin's JSON fields are Django's own; the middleware answers for every form without the check.
    client = signed_in(sysadmin)
    url = f"/admin/catalogue/offering/{journey['offering'].pk}/change/"
    assert client.get(url).status_code == 200
    response = client.post(url, {"unit_prices": DEEP_OBJECT, "capabilities": "[]", "usage_rules": "{}"})
    assert response.status_code == 400


def test_a_recursion_error_on_ordinary_input_stays_a_server_error():
    middleware = DeepInputMiddleware(lambda request: None)
    deep = RequestFactory().post("/requests/new/1/", {"p-tags": DEEP_ARRAY})
    assert middleware.process_exception(deep, RecursionError()).status_code == 400
    ordinary = RequestFactory().post("/requests/new/1/", {"p-tags": "[[1]]"})
    assert middleware.process_exception(ordinary, RecursionError()) is None
    assert middleware.process_exception(deep, ValueError()) is None
