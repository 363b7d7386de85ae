"""角色分配: the security admin gives and takes roles, on the portal's own pages rather than the admin's raw
groups. Each grant and revoke goes through portal.services (separation of the three admins, audited)."""
from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.paginator import Paginator
from django.db.models import Q
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect
from django.utils.translation import gettext as _
from django.views import View
from django.views.generic import TemplateView

from catalogue.models import Cloud

from .choices import Role
from .errors import DomainError
from .forms import RoleGrantForm
from .models import Agency, User
from .permissions import user_can
from .separation import role_of_group
from .services import user_role_grant, user_role_revoke

PAGE_SIZE = 50


def _require_assigner(user) -> None:
    """404 for whoever may not assign roles: the pages do not exist for them."""
    if not user_can(user, "portal.assign_role"):
        raise Http404


def scope_names(users) -> dict[str, str]:
    """Scoped group key ("agency:<code>" or "cloud:<slug>") → the agency's or cloud's name, for all `users`."""
    keys = {group.name.rsplit(":", 1)[0] for user in users for group in user.groups.all() if group.name.count(":") == 2}
    codes = {key.split(":")[1] for key in keys if key.startswith("agency:")}
    slugs = {key.split(":")[1] for key in keys if key.startswith("cloud:")}
    names = {f"agency:{agency.code}": agency.display_name for agency in Agency.objects.filter(code__in=codes)}
    names.update({f"cloud:{cloud.slug}": cloud.display_name for cloud in Cloud.objects.filter(slug__in=slugs)})
    return names


def held_roles(user: User, names: dict[str, str]) -> list[dict]:
    """The user's roles in words, each with the agencies or clouds it applies to (from its scoped groups)."""
    by_role: dict[str, list[str]] = {}
    for group in user.groups.all():
        role = role_of_group(group.name)
        if role is None:
            continue
        scopes = by_role.setdefault(role, [])
        if group.name != role:
            key = group.name.rsplit(":", 1)[0]
            scopes.append(names.get(key, key.split(":")[1]))
    return [{"role": role, "label": Role(role).label, "scopes": sorted(by_role[role])}
            for role in Role.values if role in by_role]


class RoleListView(LoginRequiredMixin, TemplateView):
    template_name = "portal/roles.html"

    def get_context_data(self, **kwargs):
        _require_assigner(self.request.user)
        query = self.request.GET.get("q", "").strip()[:64]
        role = self.request.GET.get("role", "")
        users = User.objects.select_related("agency").prefetch_related("groups").order_by("username")
        if query:
            users = users.filter(Q(username__icontains=query) | Q(full_name__icontains=query))
        if role in Role.values:
            users = users.filter(groups__name=role)
        page = Paginator(users, PAGE_SIZE).get_page(self.request.GET.get("page"))
        names = scope_names(page.object_list)
        rows = [{"user": user, "roles": held_roles(user, names)} for user in page]
        return super().get_context_data(rows=rows, page=page, query=query, role=role, roles=Role.choices, **kwargs)


class UserRolesView(LoginRequiredMixin, TemplateView):
    """One user's roles, a form to give another, and a button to take each away."""

    template_name = "portal/user_roles.html"

    def dispatch(self, request, *args, **kwargs):
        if request.user.is_authenticated:
            _require_assigner(request.user)
            self.person = get_object_or_404(User.objects.select_related("agency"), pk=kwargs["pk"], is_break_glass=False)
        return super().dispatch(request, *args, **kwargs)

    def get_context_data(self, form=None, **kwargs):
        return super().get_context_data(
            person=self.person, held=held_roles(self.person, scope_names([self.person])), form=form or RoleGrantForm(),
            own=self.person.pk == self.request.user.pk, **kwargs
        )

    def post(self, request, pk):
        form = RoleGrantForm(request.POST)
        if form.is_valid():
            data = form.cleaned_data
            role = data["role"]
            scope = data["cloud"] if role == Role.CLOUD_OWNER else data["agency"]
            try:
                user_role_grant(actor=request.user, user=self.person, role=role, scope=scope)
                messages.success(request, _("已为 %(user)s 授予“%(role)s”。") % {
                    "user": self.person.get_full_name(), "role": Role(role).label})
                return redirect("role_user", pk=self.person.pk)
            except DomainError as exc:
                form.add_error(exc.field if exc.field in form.fields else None, exc.message)
        return self.render_to_response(self.get_context_data(form=form))


class UserRoleRevokeView(LoginRequiredMixin, View):
    def post(self, request, pk, role):
        _require_assigner(request.user)
        person = get_object_or_404(User, pk=pk, is_break_glass=False)
        if role not in Role.values:
            raise Http404
        try:
            if user_role_revoke(actor=request.user, user=person, role=role):
                messages.success(request, _("已撤销 %(user)s 的“%(role)s”。") % {
                    "user": person.get_full_name(), "role": Role(role).label})
        except DomainError as exc:
            messages.error(request, exc.message)
        return redirect("role_user", pk=person.pk)
