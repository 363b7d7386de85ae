"""The portal's URLs and two bare views: the floors that bench.web measures every page against (the same server,
the same middleware, a view that reads nothing; and one that reads only what every signed-in page must: the
session and its user)."""
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.urls import path

from portal.urls import handler400, handler403, handler404, handler500  # noqa: F401
from portal.urls import urlpatterns as portal_urlpatterns


def bare(request):
    return HttpResponse(b"ok", content_type="text/plain")


@login_required
def bare_signed_in(request):
    return HttpResponse(request.user.full_name.encode(), content_type="text/plain; charset=utf-8")


urlpatterns = [
    path("bench/bare/", bare, name="bench_bare"),
    path("bench/bare-signed-in/", bare_signed_in, name="bench_bare_signed_in"),
    *portal_urlpatterns,
]
