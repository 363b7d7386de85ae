"""The portal's URLs with the OIDC sign-in mounted, as portal.urls mounts it when OIDC_RP_CLIENT_ID is set."""
from django.urls import include, path

from portal.urls import urlpatterns as portal_urlpatterns

urlpatterns = [*portal_urlpatterns, path("oidc/", include("mozilla_django_oidc.urls"))]
