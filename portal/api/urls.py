from django.urls import include, path

from .views import TokenObtainApi

urlpatterns = [
    path("auth/token/", TokenObtainApi.as_view(), name="api_token_obtain"),
    path("", include("catalogue.api.urls")),
    path("", include("provisioning.api.urls")),
]
