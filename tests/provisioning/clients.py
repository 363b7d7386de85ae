"""Clients the page and API tests sign in with."""
import json

from django.test import Client
from rest_framework.authtoken.models import Token


class Api:
    """A client signed in with the user's API token."""

    def __init__(self, user):
        token, _ = Token.objects.get_or_create(user=user)
        self.client = Client(HTTP_AUTHORIZATION=f"Token {token.key}")

    def get(self, url: str):
        return self.client.get(url)

    def post(self, url: str, data: dict | None = None):
        return self.client.post(url, json.dumps(data or {}), content_type="application/json")


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def html(user, url: str) -> str:
    response = signed_in(user).get(url)
    assert response.status_code == 200, (url, response.status_code)
    return response.content.decode()
