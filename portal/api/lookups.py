"""Object ids in API URLs: a positive integer, or 404 before the id reaches the database."""
from django.utils.translation import gettext_lazy as _
from rest_framework.exceptions import NotFound

# The largest id a database integer holds.
MAX_ID = 2**63 - 1


def object_id(value) -> int:
    text = str(value)
    if text.isascii() and text.isdigit() and len(text) <= 19 and 1 <= int(text) <= MAX_ID:
        return int(text)
    raise NotFound(_("未找到：编号应为正整数。"))


class IntegerIdMixin:
    # For viewsets whose objects have integer ids: every detail route and action checks the id first (after
    # sign-in, so anonymous callers still get 401), and the handlers receive it as an int. (A comment, not a
    # docstring: the schema would show a docstring as the description of every operation.)

    # Anything up to the next slash reaches the check (DRF's default stops at a dot, leaving "1.5" unrouted).
    lookup_value_regex = "[^/]+"

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        lookup = self.lookup_url_kwarg or self.lookup_field
        if lookup in self.kwargs:
            # The handler is called with this same dict, so it gets the int too.
            self.kwargs[lookup] = object_id(self.kwargs[lookup])
