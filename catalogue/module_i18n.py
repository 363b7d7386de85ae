"""Translations of the Terraform modules' own texts (descriptions, validation messages).

Terraform wants module messages as English sentences, so modules are written in English and the portal shows
them in the reader's language through a gettext domain of their own, `modules` (locale/<lang>/LC_MESSAGES/
modules.po). `manage.py module_messages` collects the texts of every module into those catalogues; Django's
makemessages never touches them. A text with no translation shows as the module wrote it.
"""
import gettext
from functools import lru_cache

from django.conf import settings
from django.utils.translation import get_language, to_locale

DOMAIN = "modules"


@lru_cache(maxsize=16)
def _catalogue(language: str) -> gettext.NullTranslations:
    return gettext.translation(
        DOMAIN, localedir=str(settings.LOCALE_PATHS[0]), languages=[to_locale(language)], fallback=True
    )


def translate_module_text(text: str) -> str:
    if not text:
        return text
    return _catalogue(get_language() or settings.LANGUAGE_CODE).gettext(text)
