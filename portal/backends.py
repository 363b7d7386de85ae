"""Sign-in lockout: django-axes refuses a sign-in while its username or address is locked out."""
from axes.backends import AxesStandaloneBackend
from axes.exceptions import AxesBackendPermissionDenied


class LockoutBackend(AxesStandaloneBackend):
    """Axes' backend, marking a refused attempt on the request, so the trail records it once, as a refusal
    during a lockout rather than as one more wrong password (portal.signals)."""

    def authenticate(self, request, username=None, password=None, **kwargs):
        try:
            return super().authenticate(request, username=username, password=password, **kwargs)
        except AxesBackendPermissionDenied:
            request.portal_lockout_refused = True
            raise
