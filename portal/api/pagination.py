"""Lists page with ?limit= and ?offset=, both checked: a value the database cannot take is a 400, not a 500."""
from django.conf import settings
from django.utils.translation import gettext_lazy as _
from rest_framework.pagination import LimitOffsetPagination

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
