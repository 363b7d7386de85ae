from django.urls import include, path, re_path

from .views import NotFoundApi, TokenObtainApi, TokenRevokeApi

urlpatterns = [
    path("auth/token/", TokenObtainApi.as_view(), name="api_token_obtain"),
    path("auth/token/revoke/", TokenRevokeApi.as_view(), name="api_token_revoke"),
    path("", include("catalogue.api.urls")),
    path("", include("provisioning.api.urls")),
    # Last: every other API URL. Only ones ending in a slash, so the common middleware still adds a missing one.
    re_path(r"^.*/$", NotFoundApi.as_view(), name="api_not_found"),
]
