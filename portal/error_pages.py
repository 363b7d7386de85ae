"""The portal's own answer to every error: a page in the portal's shell for people, JSON for the API.

Django's handlers (400, 403, 404, 500) and its CSRF failure view are set to these in portal/urls.py and
settings. Django has no handler for 405: a view that refuses a method returns HttpResponseNotAllowed, which
the middleware here renders as the portal's page, keeping the status and the Allow header.
"""
import logging

from django.http import HttpResponse, HttpResponseNotAllowed, JsonResponse
from django.shortcuts import render
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _

logger = logging.getLogger(__name__)

# The HTML page under /api/ (Swagger UI) is a page; everything else there is JSON.
API_PAGES = ("/api/docs/",)


def is_api(request) -> bool:
    path = request.path_info
    return path.startswith("/api/") and not path.startswith(API_PAGES)


def _detail(status: int) -> str:
    return {
        400: _("请求有误，无法处理。"),
        403: _("您没有执行此操作的权限。"),
        404: _("未找到。"),
        405: _("不支持该请求方法。"),
        500: _("服务器内部错误。"),
    }[status]


def _back_url(request) -> str | None:
    """The page the user came from, when it is one of ours."""
    referer = request.META.get("HTTP_REFERER", "")
    try:
        host = request.get_host()
    except Exception:  # a 400 for a bad Host header must still render
        return None
    if referer and url_has_allowed_host_and_scheme(referer, allowed_hosts={host}, require_https=request.is_secure()):
        return referer
    return None


def error_page(request, status: int, *, message: str = "", template: str | None = None, headers=None):
    if is_api(request):
        response = JsonResponse({"detail": message or _detail(status)}, status=status)
    else:
        response = render(
            request, template or f"{status}.html", {"message": message, "back_url": _back_url(request)}, status=status
        )
    for name, value in (headers or {}).items():
        response[name] = value
    return response


def bad_request(request, exception=None):
    return error_page(request, 400)


def permission_denied(request, exception=None):
    # Our own refusals say why (a translated sentence); Django's and the admin's bare ones say nothing.
    message = str(exception) if exception is not None and exception.args else ""
    return error_page(request, 403, message=message)


def page_not_found(request, exception=None):
    return error_page(request, 404)


def server_error(request):
    try:
        return error_page(request, 500)
    except Exception:
        # The shell itself failed (the database is down, say): a page that needs nothing.
        logger.exception("the 500 page could not be rendered")
        return HttpResponse(
            "<!DOCTYPE html><meta charset=utf-8><title>500</title><h1>服务器出错 · Server error</h1>"
            '<p><a href="/">返回首页 · Home</a></p>',
            status=500,
        )


def csrf_failure(request, reason=""):
    """The form was older than the session or came from another site (settings.CSRF_FAILURE_VIEW)."""
    logger.info("CSRF failure on %s: %s", request.path, reason)
    return error_page(request, 403, template="403_csrf.html")


class MethodNotAllowedPageMiddleware:
    """Renders a view's HttpResponseNotAllowed (a GET on a POST-only URL, say) as the portal's 405 page."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if isinstance(response, HttpResponseNotAllowed):
            return error_page(request, 405, headers={"Allow": response["Allow"]})
        return response
