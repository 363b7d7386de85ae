"""The API's JSON parser: DRF's, with a depth limit, so a deeply nested body is a 400 and not a server error."""
import codecs
import json

from django.conf import settings as django_settings
from rest_framework import parsers
from rest_framework.exceptions import ParseError
from rest_framework.settings import api_settings
from rest_framework.utils.json import strict_constant

from portal.jsonlimits import json_too_deep, too_deep_message


class JSONParser(parsers.JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        encoding = (parser_context or {}).get("encoding", django_settings.DEFAULT_CHARSET)
        try:
            text = codecs.getreader(encoding)(stream).read()
        except ValueError as exc:  # not text in that encoding
            raise ParseError(f"JSON parse error - {exc}") from None
        if json_too_deep(text):
            raise ParseError(too_deep_message(), code="too_deep")
        try:
            return json.loads(text, parse_constant=strict_constant if api_settings.STRICT_JSON else None)
        except ValueError as exc:
            raise ParseError(f"JSON parse error - {exc}") from None
        except RecursionError:
            raise ParseError(too_deep_message(), code="too_deep") from None
