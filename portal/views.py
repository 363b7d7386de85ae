"""The site shell: dashboard and sign-in."""
from django.contrib.auth import views as auth_views
from django.contrib.auth.mixins import LoginRequiredMixin
from django.views.generic import TemplateView

from .selectors import cloud_counts_by_tier, role_labels_for_user


class DashboardView(LoginRequiredMixin, TemplateView):
    template_name = "portal/dashboard.html"

    def get_context_data(self, **kwargs):
        counts = cloud_counts_by_tier(self.request.user)
        return super().get_context_data(
            role_labels=role_labels_for_user(self.request.user),
            counts={tier: counts.get(tier, 0) for tier in ("government", "industry", "specialty")},
            **kwargs,
        )


class LoginView(auth_views.LoginView):
    redirect_authenticated_user = True


class LogoutView(auth_views.LogoutView):
    pass
