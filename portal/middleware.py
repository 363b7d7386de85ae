"""The portal's language choice (Chinese first, English when the user picks it), deep input as a 400, and the
shell's cached counts dropped after the user changed something."""

from django.conf import settings
from django.core.exceptions import BadRequest
from django.core.handlers.exception import response_for_exception
from django.http.request import RawPostDataException
from django.middleware.locale import LocaleMiddleware
from django.utils import translation

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
