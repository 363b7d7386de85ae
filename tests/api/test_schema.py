"""What /api/schema/ says where it used to say something else than the API does."""
import pytest
import yaml

from tests.provisioning.clients import Api

pytestmark = pytest.mark.django_db


@pytest.fixture
def schema(requester):
    response = Api(requester).get("/api/schema/")
    assert response.status_code == 200
    return yaml.safe_load(response.content)


def operations(schema):
    for path, methods in schema["paths"].items():
        for method, operation in methods.items():
            yield path, method, operation


def test_a_requests_runs_are_documented_as_the_page_they_are(schema):
    operation = schema["paths"]["/api/v1/requests/{id}/runs/"]["get"]
    assert operation["responses"]["200"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/PaginatedRunList"
    }
    assert {"limit", "offset"} <= {parameter["name"] for parameter in operation["parameters"]}


def test_a_requests_plan_may_be_null(schema):
    plan = schema["components"]["schemas"]["Request"]["properties"]["plan"]
    assert plan.get("nullable") is True or {"type": "null"} in plan.get("oneOf", [])


def test_a_rejection_documents_its_comment_as_required(schema):
    body = schema["paths"]["/api/v1/requests/{id}/reject/"]["post"]["requestBody"]
    ref = body["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]
    assert "comment" in schema["components"]["schemas"][ref]["required"]
    approve = schema["paths"]["/api/v1/requests/{id}/approve/"]["post"]["requestBody"]
    ref = approve["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]
    assert "comment" not in schema["components"]["schemas"][ref].get("required", [])


def test_every_operation_documents_its_errors(schema):
    error = {"$ref": "#/components/schemas/Error"}
    for path, method, operation in operations(schema):
        responses = operation["responses"]
        signed_in = path != "/api/v1/auth/token/"
        expected = {"401"} if signed_in else {"400", "429"}
        if "{" in path:
            expected.add("404")
        if method == "post":
            expected.add("400")
            if signed_in:
                expected |= {"403", "404", "409"}
        if "limit" in {parameter["name"] for parameter in operation.get("parameters", [])}:
            expected.add("400")
        assert expected <= set(responses), (method, path, sorted(responses))
        for code in expected - {"400"}:
            assert responses[code]["content"]["application/json"]["schema"] == error, (method, path, code)
        if "400" in expected:
            assert error in responses["400"]["content"]["application/json"]["schema"]["oneOf"], (method, path)


def test_page_sizes_are_bounded_in_the_schema(schema):
    parameters = {p["name"]: p["schema"] for p in schema["paths"]["/api/v1/requests/"]["get"]["parameters"]}
    assert parameters["limit"]["minimum"] == 1 and parameters["limit"]["maximum"] == 500
    assert parameters["offset"]["minimum"] == 0
