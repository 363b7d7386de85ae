"""How deep a JSON document from outside may nest (settings.JSON_MAX_DEPTH).

Python's json module recurses once per level and fails with a RecursionError (a server error) somewhere near
a thousand; nothing the portal takes needs more than a handful of levels. The API's parser and the forms'
JSON fields count the depth before they parse, and refuse a deeper document as bad input.
"""
import json
import re

from django.conf import settings
from django.utils.translation import gettext_lazy as _

# A JSON string (its brackets are text, not nesting); possessive, so a long string costs no backtracking.
_STRING = re.compile(r'"(?:[^"\\]++|\\.)*+"', re.DOTALL)
_BRACKETS = re.compile(r"[\[\]{}]")

TOO_DEEP = _("JSON 内容嵌套过深：最多 %(limit)d 层。")


def json_max_depth() -> int:
    return settings.JSON_MAX_DEPTH


def json_too_deep(text: str | bytes, limit: int | None = None) -> bool:
    """Whether the document nests arrays and objects deeper than `limit` levels (malformed text is the
    parser's to refuse; this only looks at the brackets outside strings)."""
    if isinstance(text, bytes):
        text = text.decode("utf-8", errors="replace")
    limit = json_max_depth() if limit is None else limit
    depth = 0
    for bracket in _BRACKETS.finditer(_STRING.sub("", text)):
        if bracket.group() in "[{":
            depth += 1
            if depth > limit:
                return True
        else:
            depth -= 1
    return False


def too_deep_message(limit: int | None = None) -> str:
    return TOO_DEEP % {"limit": json_max_depth() if limit is None else limit}


class DepthLimitedJSONDecoder(json.JSONDecoder):
    """A decoder for json.loads(cls=...) and Django's JSON form fields: too deep is invalid JSON."""

    def decode(self, s, *args, **kwargs):
        if json_too_deep(s):
            raise json.JSONDecodeError(str(too_deep_message()), s, 0)
        return super().decode(s, *args, **kwargs)
