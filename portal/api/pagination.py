"""Lists page with ?limit= and ?offset=, both checked: a value the database cannot take is a 400, not a 500."""
from django.conf import settings
from django.utils.translation import gettext_lazy as _
from rest_framework.pagination import LimitOffsetPagination
from rest_framework.response import Response
from rest_framework.utils.urls import replace_query_param

from portal.errors import DomainError

# The largest offset a database integer holds.
MAX_OFFSET = 2**63 - 1


class Pagination(LimitOffsetPagination):
    @property
    def max_limit(self) -> int:
        return settings.API_MAX_PAGE_SIZE

    def get_limit(self, request) -> int:
        value = request.query_params.get(self.limit_query_param)
        if value is None or value == "":
            return self.default_limit
        return self._checked(
            value, self.limit_query_param, 1, self.max_limit,
            _("每页条数（limit）须为 1 到 %(max)d 之间的整数。"),
        )

    def get_offset(self, request) -> int:
        value = request.query_params.get(self.offset_query_param)
        if value is None or value == "":
            return 0
        return self._checked(
            value, self.offset_query_param, 0, MAX_OFFSET,
            _("起始位置（offset）须为 0 到 %(max)d 之间的整数。"),
        )

    @staticmethod
    def _checked(value: str, name: str, low: int, high: int, message) -> int:
        try:
            number = int(value)
        except ValueError:  # not a number (or, past 4300 digits, one Python will not read)
            number = None
        if number is None or not low <= number <= high:
            raise DomainError(message % {"max": high}, field=name, params={"min": low, "max": high})
        return number

    def get_schema_operation_parameters(self, view):
        parameters = super().get_schema_operation_parameters(view)
        bounds = {
            self.limit_query_param: {"minimum": 1, "maximum": self.max_limit},
            self.offset_query_param: {"minimum": 0, "maximum": MAX_OFFSET},
        }
        for parameter in parameters:
            parameter["schema"].update(bounds.get(parameter["name"], {}))
        return parameters


class UncountedPagination(Pagination):
    """Every API list (settings' DEFAULT_PAGINATION_CLASS): no COUNT of the whole list on every page. One row more than
    the page is read to know whether a next page exists; the answer has `next`, `previous` and `results`."""

    def paginate_queryset(self, queryset, request, view=None):
        self.request = request
        self.limit = self.get_limit(request)
        self.offset = self.get_offset(request)
        rows = list(queryset[self.offset : self.offset + self.limit + 1])
        self.has_next = len(rows) > self.limit
        return rows[: self.limit]

    def get_next_link(self):
        if not self.has_next:
            return None
        return self._link(self.offset + self.limit)

    def get_previous_link(self):
        if self.offset <= 0:
            return None
        return self._link(max(self.offset - self.limit, 0))

    def _link(self, offset: int) -> str:
        url = replace_query_param(self.request.build_absolute_uri(), self.limit_query_param, self.limit)
        return replace_query_param(url, self.offset_query_param, offset)

    def get_paginated_response(self, data):
        return Response({"next": self.get_next_link(), "previous": self.get_previous_link(), "results": data})

    def get_paginated_response_schema(self, schema):
        return {
            "type": "object",
            "required": ["results"],
            "properties": {
                "next": {"type": "string", "nullable": True, "format": "uri"},
                "previous": {"type": "string", "nullable": True, "format": "uri"},
                "results": schema,
            },
        }
