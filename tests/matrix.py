"""The permission matrix every page and endpoint is checked against (anonymous, no permission, another
agency's object, permitted), so a view that forgets its permission check fails the same way everywhere."""
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


def _get(user, url: str, api: bool):
    client = Client()
    if user is None:
        return client.get(url)
    if api:
        token, _ = Token.objects.get_or_create(user=user)
        return client.get(url, HTTP_AUTHORIZATION=f"Token {token.key}")
    client.force_login(user)
    return client.get(url)


def assert_matrix(matrix: Matrix, *, marker: str | None = None) -> None:
    """Check every row; `marker` is text that only a permitted answer contains (e.g. the object's name)."""
    anonymous = _get(None, matrix.url, matrix.api)
    if matrix.api:
        assert anonymous.status_code == 401, f"anonymous: {anonymous.status_code}"
    else:
        assert anonymous.status_code == 302 and "/login/" in anonymous["Location"], f"anonymous: {anonymous.status_code}"

    for label, user in (("no permission", matrix.no_permission), ("other agency", matrix.other_agency)):
        if user is None:
            continue
        response = _get(user, matrix.url, matrix.api)
        if matrix.list_view:
            assert response.status_code == 200, f"{label}: {response.status_code}"
            if marker:
                assert marker not in response.content.decode(), f"{label} sees {marker!r}"
        else:
            assert response.status_code == 404, f"{label}: {response.status_code}"

    allowed = _get(matrix.permitted, matrix.url, matrix.api)
    assert allowed.status_code == 200, f"permitted: {allowed.status_code}"
    if marker:
        assert marker in allowed.content.decode(), f"permitted does not see {marker!r}"
