from django.conf import settings
from django.contrib import admin
from django.contrib.auth.decorators import login_required
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from . import role_views, views

handler400 = "portal.error_pages.bad_request"
handler403 = "portal.error_pages.permission_denied"
handler404 = "portal.error_pages.page_not_found"
handler500 = "portal.error_pages.server_error"

urlpatterns = [
    path("", views.DashboardView.as_view(), name="dashboard"),
    path("favicon.ico", views.favicon, name="favicon"),
    path("login/", views.LoginView.as_view(), name="login"),
    path("logout/", views.LogoutView.as_view(), name="logout"),
    path("i18n/setlang/", views.LanguageSetView.as_view(), name="set_language"),
    path("i18n/", include("django.conf.urls.i18n")),
    path("security/roles/", role_views.RoleListView.as_view(), name="role_list"),
    path("security/roles/<int:pk>/", role_views.UserRolesView.as_view(), name="role_user"),
    path("security/roles/<int:pk>/revoke/<slug:role>/", role_views.UserRoleRevokeView.as_view(), name="role_revoke"),
    path("audit/", views.AuditEventListView.as_view(), name="audit_event_list"),
    path("audit/verify/", views.AuditVerifyView.as_view(), name="audit_verify"),
    path("catalogue/", include("catalogue.urls")),
    path("", include("provisioning.urls")),
    path("admin/", admin.site.urls),
    path("api/v1/", include("portal.api.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    # Swagger UI inside the portal's shell; the split view serves its start-up script as a file, not inline.
    path(
        "api/docs/",
        login_required(SpectacularSwaggerSplitView.as_view(url_name="schema", template_name="portal/api_docs.html")),
        name="swagger-ui",
    ),
]
if settings.OIDC_ENABLED:
    # The sign-in through the province's OIDC platform: /oidc/authenticate/ and its /oidc/callback/.
    urlpatterns.append(path("oidc/", include("mozilla_django_oidc.urls")))
