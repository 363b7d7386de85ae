"""The site shell: dashboard, sign-in and its lockout page; the audit admin's pages of the trail."""
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.forms import AuthenticationForm
from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.templatetags.static import static
from django.utils import timezone
from django.utils.decorators import method_decorator
from django.utils.translation import gettext as _
from django.views import View
from django.views.generic import TemplateView
from django.views.i18n import set_language

from .audit import client_ip
from .choices import AuditOutcome, Role
from .filters import AuditEventFilter
from .landing import landing_url, work_for_user
from .lists import FilteredTableView
from .permissions import user_can, user_roles
from .roles import APPROVER_ROLES
from .selectors import (
    audit_chain_status_for_user,
    audit_event_list_for_user,
    cloud_counts_by_tier,
    lockout_ends_at,
    minutes_until,
    role_labels_for_user,
)
from .services import audit_verify_recorded, user_language_set
from .tables import AuditEventTable, audit_csv_columns


class DashboardView(LoginRequiredMixin, TemplateView):
    template_name = "portal/dashboard.html"

    # How many rows each list on the page shows; the full lists are one click away.
    SHOWN = 5

    def get_context_data(self, **kwargs):
        from provisioning.choices import InstanceStatus, RequestStatus
        from provisioning.selectors import (
            approval_inbox_for_user,
            instance_list_for_user,
            request_list_for_user,
        )

        user = self.request.user
        counts = cloud_counts_by_tier(user)
        waiting = approval_inbox_for_user(user)
        # What the user asked for that has not ended yet, and what needs their hand (drafts, failures to retry).
        in_hand = request_list_for_user(user, mine=True).filter(
            status__in=RequestStatus.active() | {RequestStatus.DRAFT, RequestStatus.FAILED}
        )
        instances = instance_list_for_user(user).filter(status=InstanceStatus.ACTIVE)
        roles = set(user_roles(user))
        return super().get_context_data(
            # Each list shows for the roles it is about, and for anyone it has something for.
            shows_waiting=bool(roles & APPROVER_ROLES) or waiting.exists(),
            shows_in_hand=Role.REQUESTER in roles or in_hand.exists(),
            role_labels=role_labels_for_user(user),
            # The catalogue's tiles are for those who may browse it; the admins see what their role does instead.
            shows_catalogue=user_can(user, "catalogue.view_cloud"),
            work=work_for_user(user),
            counts={tier: counts.get(tier, 0) for tier in ("government", "industry", "specialty")},
            waiting=waiting[: self.SHOWN],
            waiting_count=waiting.count(),
            in_hand=in_hand[: self.SHOWN],
            in_hand_count=in_hand.count(),
            active_instance_count=instances.count(),
            **kwargs,
        )


@method_decorator(transaction.atomic, name="post")
class LoginView(auth_views.LoginView):
    """Without a `next`, each role lands where it works (portal.landing).

    A sign-in is one transaction: the failure count (or its reset), the session and the audit event together.
    """

    redirect_authenticated_user = True

    def get_context_data(self, **kwargs):
        # The OIDC button shows only where the platform is configured (its URLs exist only then).
        return super().get_context_data(
            oidc_enabled=settings.OIDC_ENABLED,
            oidc_provider_name=settings.OIDC_PROVIDER_NAME or _("统一身份认证平台"),
            directory_failed=self.request.GET.get("directory") == "failed",
            **kwargs,
        )

    def get_default_redirect_url(self):
        return landing_url(self.request.user)


def lockout_response(request, original_response=None, credentials=None):
    """What a locked-out sign-in gets (axes calls this): the login page saying when to try again, as 429."""
    username = (credentials or {}).get("username") or request.POST.get("username", "")
    ends = lockout_ends_at(username=username, address=client_ip(request))
    if ends is None:  # the lockout has just ended; say the configured time rather than nothing
        ends = timezone.now() + settings.AXES_COOLOFF_TIME
    context = {
        "form": AuthenticationForm(request, initial={"username": username}),
        "lockout_minutes": minutes_until(ends),
        "lockout_until": ends,
        "next": request.POST.get("next", ""),
    }
    return TemplateResponse(request, "registration/login.html", context, status=429).render()


@method_decorator(transaction.atomic, name="post")
class LogoutView(auth_views.LogoutView):
    """POST only (Django's): the session ends, the API token is revoked and the trail records it, together."""


class LanguageSetView(View):
    """The language switch: Django's set_language (cookie and redirect), and for a signed-in user the choice is
    kept on their account, so the messages that leave the portal for them (email) speak it too."""

    def post(self, request, *args, **kwargs):
        response = set_language(request)
        if request.user.is_authenticated:
            user_language_set(actor=request.user, language=request.POST.get("language", ""))
        return response


def favicon(request):
    """Browsers ask for /favicon.ico wherever a page names no icon (the admin, a bare file)."""
    return redirect(static("portal/favicon.svg"))


class AuditAdminOnlyMixin:
    """The trail's pages are the audit admin's alone; anybody else is refused (and the refusal audited)."""

    def dispatch(self, request, *args, **kwargs):
        if request.user.is_authenticated and not user_can(request.user, "portal.view_auditevent"):
            raise PermissionDenied(_("审计日志只对审计管理员开放。"))
        return super().dispatch(request, *args, **kwargs)


class AuditEventListView(AuditAdminOnlyMixin, FilteredTableView):
    """审计日志: the trail searched by actor, agency, action, object and days, with the chain's state; the
    filtered events as CSV (the export itself audited). Reads only."""

    template_name = "portal/audit_list.html"
    filterset_class = AuditEventFilter
    table_class = AuditEventTable
    export_name = "audit"

    def visible(self):
        return audit_event_list_for_user(self.request.user)

    def csv_columns(self):
        return audit_csv_columns()

    def export_ordering(self):
        return ("-id",)

    def get_context_data(self, **kwargs):
        return super().get_context_data(chain=audit_chain_status_for_user(self.request.user), **kwargs)


class AuditVerifyView(AuditAdminOnlyMixin, LoginRequiredMixin, View):
    """立即校验: walk the chain now and record the verdict in it. A POST: it writes that one event, and on a long
    trail it takes a while (operators schedule the audit_verify command instead)."""

    http_method_names = ["post"]

    def post(self, request):
        verdict = audit_verify_recorded(actor=request.user)
        if verdict.outcome == AuditOutcome.SUCCESS:
            messages.success(request, _("审计链完整：已校验 %(count)s 条事件。") % {"count": verdict.details["checked"]})
        else:
            messages.error(request, _("审计链在事件 #%(id)s 处断开，之前的 %(count)s 条事件完整。")
                           % {"id": verdict.details["broken_id"], "count": verdict.details["checked"]})
        return redirect("audit_event_list")
