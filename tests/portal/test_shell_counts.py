"""The nav's counts come from the cache for SHELL_COUNTS_SECONDS, and the user's own changes show at once."""
import re

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from provisioning.models import Notification

pytestmark = pytest.mark.django_db

NOTIFICATIONS = "/inbox/"


def unread_pill(page: str) -> str | None:
    found = re.search(r'消息</a>|消息 <span class="count-pill">(\d+)</span>', page)
    return found.group(1) if found else None


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def write_message(user, subject="测试消息") -> Notification:
    return Notification.objects.create(recipient=user, subject=subject, subject_msgid=subject)


def count_queries(client, path) -> tuple[str, int]:
    with CaptureQueriesContext(connection) as queries:
        page = client.get(path).content.decode()
    return page, sum('"provisioning_notification"' in q["sql"] and "COUNT(" in q["sql"] for q in queries.captured_queries)


def test_counts_are_read_once_then_served_from_the_cache(settings, requester):
    settings.SHELL_COUNTS_SECONDS = 15
    write_message(requester)
    client = signed_in(requester)
    page, counted = count_queries(client, "/")
    assert unread_pill(page) == "1" and counted == 1
    write_message(requester, "第二条")  # someone else's doing: it shows once the cached counts expire
    page, counted = count_queries(client, "/")
    assert unread_pill(page) == "1" and counted == 0


def test_without_the_cache_every_page_counts_afresh(settings, requester):
    settings.SHELL_COUNTS_SECONDS = 0
    write_message(requester)
    client = signed_in(requester)
    client.get("/")
    write_message(requester, "第二条")
    page, counted = count_queries(client, "/")
    assert unread_pill(page) == "2" and counted == 1


def test_the_users_own_change_shows_at_once(settings, requester):
    settings.SHELL_COUNTS_SECONDS = 15
    write_message(requester)
    client = signed_in(requester)
    assert unread_pill(client.get("/").content.decode()) == "1"
    assert client.post("/inbox/read-all/").status_code == 302
    assert unread_pill(client.get("/").content.decode()) is None


def test_a_page_that_renders_twice_counts_once(settings, requester):
    """The inventory's table renders with the request's context: the shell is still worked out once."""
    settings.SHELL_COUNTS_SECONDS = 0
    _page, counted = count_queries(signed_in(requester), "/instances/")
    assert counted == 1


def test_counts_are_per_user(settings, requester, other_requester):
    settings.SHELL_COUNTS_SECONDS = 15
    write_message(requester)
    assert unread_pill(signed_in(requester).get("/").content.decode()) == "1"
    assert unread_pill(signed_in(other_requester).get("/").content.decode()) is None
