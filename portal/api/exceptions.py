"""Every API error answers in one shape, {"detail", "code", and where it helps "field" and "params"}: the domain
error as 403 for permissions, 404, 409 for conflicts and 400 otherwise; DRF's own errors (401, 404, 405, 429,
a body that is not JSON) with their code added. Invalid fields stay DRF's {"field": ["message", ...]}.
A body nested too deep for Python to take apart is a 400, wherever it is noticed."""
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from portal.errors import DomainError
from portal.jsonlimits import too_deep_message

STATUS_BY_CODE = {
    "permission_denied": status.HTTP_403_FORBIDDEN,
    "not_found": status.HTTP_404_NOT_FOUND,
    "conflict": status.HTTP_409_CONFLICT,
}


def exception_handler(exc, context):
    if isinstance(exc, DomainError):
        body = {"detail": exc.message, "code": exc.code}
        if exc.field:
            body["field"] = exc.field
        if exc.params:
            body["params"] = exc.params
        return Response(body, status=STATUS_BY_CODE.get(exc.code, status.HTTP_400_BAD_REQUEST))
    if isinstance(exc, RecursionError):
        return Response({"detail": too_deep_message(), "code": "too_deep"}, status=status.HTTP_400_BAD_REQUEST)
    # As DRF's handler does, so that the code below sees the APIException and its code.
    if isinstance(exc, Http404):
        exc = exceptions.NotFound(*exc.args)
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied(*exc.args)
    response = drf_exception_handler(exc, context)
    if (
        response is not None
        and not isinstance(exc, exceptions.ValidationError)
        and isinstance(response.data, dict)
        and set(response.data) == {"detail"}
    ):
        codes = exc.get_codes()
        response.data["code"] = codes if isinstance(codes, str) else "error"
    return response
