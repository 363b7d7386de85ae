"""The permission matrix every page and endpoint is checked against (anonymous, no permission, another
agency's object, permitted), so a view that forgets its permission check fails the same way everywhere."""
import json
from dataclasses import dataclass

from django.test import Client
from rest_framework.authtoken.models import Token


@dataclass
class Matrix:
    url: str
    permitted: object  # a user who may see the object: 200
    no_permission: object | None = None  # a signed-in user with no right to it: 404 (or 200 with an empty list)
    other_agency: object | None = None  # a user of another agency with the same role: 404
    api: bool = False
    list_view: bool = False  # lists answer 200 with nothing in them instead of 404
    # POST variant: actions. `data` is sent as JSON to the API and form-encoded to pages; a page's action
    # answers with a redirect, so give `permitted_status` (302) there, and 201 for an API create.
    method: str = "get"
    data: dict | None = None
    permitted_status: int = 200
    # What the refused rows get: 404 where the object must not be known to exist, 403 where the page is a
    # place the role has no business in (and says so).
    refused_status: int = 404


def _call(user, url: str, api: bool, method: str = "get", data: dict | None = None):
    client = Client()
    headers = {}
    if user is not None:
        if api:
            token, _ = Token.objects.get_or_create(user=user)
            headers["HTTP_AUTHORIZATION"] = f"Token {token.key}"
        else:
            client.force_login(user)
    if method == "get":
        return client.get(url, **headers)
    if api:
        return client.post(url, json.dumps(data or {}), content_type="application/json", **headers)
    return client.post(url, data or {}, **headers)


def body(response) -> str:
    """The answer's text, streamed (CSV exports) or not."""
    if response.streaming:
        return b"".join(response.streaming_content).decode()
    return response.content.decode()


def _get(user, url: str, api: bool):
    return _call(user, url, api)


def assert_matrix(matrix: Matrix, *, marker: str | None = None):
    """Check every row; `marker` is text that only a permitted answer contains (e.g. the object's name).

    The permitted row goes last, so a POST matrix changes the object only after every refused row has been
    checked (each refused row must leave it as it was; callers assert that afterwards). Returns the permitted
    answer."""
    anonymous = _call(None, matrix.url, matrix.api, matrix.method, matrix.data)
    if matrix.api:
        assert anonymous.status_code == 401, f"anonymous: {anonymous.status_code}"
    else:
        assert anonymous.status_code == 302 and "/login/" in anonymous["Location"], f"anonymous: {anonymous.status_code}"

    for label, user in (("no permission", matrix.no_permission), ("other agency", matrix.other_agency)):
        if user is None:
            continue
        response = _call(user, matrix.url, matrix.api, matrix.method, matrix.data)
        if matrix.list_view:
            assert response.status_code == 200, f"{label}: {response.status_code}"
            if marker:
                assert marker not in body(response), f"{label} sees {marker!r}"
        else:
            assert response.status_code == matrix.refused_status, f"{label}: {response.status_code}"

    allowed = _call(matrix.permitted, matrix.url, matrix.api, matrix.method, matrix.data)
    assert allowed.status_code == matrix.permitted_status, f"permitted: {allowed.status_code}"
    if marker:
        assert marker in body(allowed), f"permitted does not see {marker!r}"
    return allowed
