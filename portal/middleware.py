"""The portal's language choice (Chinese first, English when the user picks it), idle sessions ending, deep
input as a 400, and the shell's cached counts dropped after the user changed something."""
import time

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.core.exceptions import BadRequest
from django.core.handlers.exception import response_for_exception
from django.db import transaction
from django.http.request import RawPostDataException
from django.middleware.locale import LocaleMiddleware
from django.utils import translation
from django.utils.translation import gettext as _

from portal.context_processors import shell_counts_forget
from portal.jsonlimits import json_too_deep, too_deep_message


class PortalLocaleMiddleware(LocaleMiddleware):
    """Pages speak Chinese unless the user chose English with the language switch (the language cookie).

    A browser's Accept-Language is not a choice the user made for this portal: a clerk on an English-language
    browser still works in Chinese. The API follows Accept-Language, as HTTP clients expect.
    """

    def process_request(self, request):
        if request.path_info.startswith("/api/"):
            return super().process_request(request)
        chosen = request.COOKIES.get(settings.LANGUAGE_COOKIE_NAME)
        try:
            language = translation.get_supported_language_variant(chosen) if chosen else settings.LANGUAGE_CODE
        except LookupError:
            language = settings.LANGUAGE_CODE
        translation.activate(language)
        request.LANGUAGE_CODE = translation.get_language()


class DeepInputMiddleware:
    """Input nested deeper than Python can take apart (JSON in a form field, say, that a form parsed without
    the portal's depth check) raises RecursionError: that is the input's fault, so it answers 400 like any
    bad request. A RecursionError on ordinary input is a fault of ours and stays a server error."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if isinstance(exception, RecursionError) and _input_too_deep(request):
            return response_for_exception(request, BadRequest(too_deep_message()))
        return None


def _input_too_deep(request) -> bool:
    values = [value for query in (request.GET, request.POST) for _key, value in query.lists() for value in value]
    try:
        values.append(request.body)
    except RawPostDataException:  # a multipart body, already read into request.POST
        pass
    return any(json_too_deep(value) for value in values if isinstance(value, str | bytes))


class ShellCountsMiddleware:
    """After a signed-in user's POST (or other unsafe request), their nav counts are worked out afresh on the
    next page: what they just did (read a message, signed a request) shows at once. Other users' counts
    follow within SHELL_COUNTS_SECONDS."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        user = getattr(request, "user", None)
        if request.method not in ("GET", "HEAD", "OPTIONS") and user is not None and user.is_authenticated:
            shell_counts_forget(user)
        return response


class SessionIdleMiddleware:
    """A signed-in session ends after SESSION_IDLE_MINUTES without the person doing anything.

    The time of the last request is kept in the session. A page's own background refreshes (htmx GETs: live
    run logs, status polling) do not count as activity, or an open page would keep the session alive forever.
    It is written at most every ACCURACY_SECONDS, so idle pages cost no session write per request.
    """

    KEY = "portal_last_activity"
    ACCURACY_SECONDS = 30

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.user.is_authenticated:
            now = int(time.time())
            last = request.session.get(self.KEY)
            if last is not None and now - last > settings.SESSION_IDLE_MINUTES * 60:
                request.portal_logout_reason = "idle"
                with transaction.atomic():  # the session's end and its audit event together
                    logout(request)
                messages.info(
                    request,
                    _("您已 %(minutes)d 分钟没有操作，为安全起见已退出登录，请重新登录。")
                    % {"minutes": settings.SESSION_IDLE_MINUTES},
                )
            elif last is None or (not _background(request) and now - last >= self.ACCURACY_SECONDS):
                request.session[self.KEY] = now
        return self.get_response(request)


def _background(request) -> bool:
    return request.method == "GET" and request.headers.get("HX-Request") == "true"
