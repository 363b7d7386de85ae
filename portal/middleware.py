"""The portal's language choice: Chinese first, English when the user picks it."""

from django.conf import settings
from django.middleware.locale import LocaleMiddleware
from django.utils import translation


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
