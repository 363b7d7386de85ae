"""Admin for identity and a read-only view of the audit trail.

Every editable admin here and in the other apps is an AuditedAdmin: each add, change (a password set too) and
delete reaches the audit trail in the admin's own transaction. Roles are not edited here: the security admin
assigns them on the portal's 角色分配 page, and what each role may do is fixed by portal.roles.
"""
from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.contrib.auth.models import Group
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext

from .choices import ADMIN_ROLES, Role
from .models import Agency, AuditEvent, NotificationChannel, NotificationDelivery, User
from .permissions import user_roles
from .services import audit_record

admin.site.site_header = _("1+14+N 云服务门户 · 管理后台")
admin.site.site_title = _("云服务门户管理")


class AuditedAdmin(admin.ModelAdmin):
    """Changes made in the admin reach the audit trail like every other change: Django's admin calls these for
    every add, change and delete (and a password set), inside the transaction that makes the change."""

    def log_addition(self, request, obj, message):
        audit_record(actor=request.user, action=f"{obj._meta.model_name}.create", obj=obj, details={"change": message})
        return super().log_addition(request, obj, message)

    def log_change(self, request, obj, message):
        audit_record(actor=request.user, action=f"{obj._meta.model_name}.change", obj=obj, details={"change": message})
        return super().log_change(request, obj, message)

    def log_deletions(self, request, queryset):
        for obj in queryset:
            audit_record(actor=request.user, action=f"{obj._meta.model_name}.delete", obj=obj,
                         details={"object": str(obj)[:200]})
        return super().log_deletions(request, queryset)


@admin.register(Agency)
class AgencyAdmin(AuditedAdmin):
    list_display = ["name", "name_en", "code", "level", "parent", "is_active"]
    list_filter = ["level", "is_active"]
    search_fields = ["name", "name_en", "code"]


@admin.register(User)
class UserAdmin(AuditedAdmin, BaseUserAdmin):
    """The system admin keeps accounts (name, agency, active, password); roles, staff and superuser status are
    not fields here. The three admins' own accounts are not the system admin's to change, except their own."""

    fieldsets = (
        (None, {"fields": ("username", "password")}),
        (_("个人信息"), {"fields": ("full_name", "first_name", "last_name", "email", "agency")}),
        (_("状态"), {"fields": ("is_active", "identity_source", "roles", "last_login", "date_joined")}),
    )
    add_fieldsets = ((None, {"classes": ("wide",), "fields": ("username", "usable_password", "password1", "password2",
                                                              "full_name", "agency")}),)
    readonly_fields = ["identity_source", "roles", "last_login", "date_joined"]
    list_display = ["username", "full_name", "agency", "identity_source", "roles", "is_active"]
    list_filter = ["is_active", "identity_source", "agency"]
    search_fields = ["username", "full_name", "email"]
    filter_horizontal = []

    @admin.display(description=_("角色"))
    def roles(self, user: User) -> str:
        if user.is_break_glass:
            return str(_("应急账号"))
        return pgettext("list separator", "、").join(str(Role(role).label) for role in user_roles(user)) or "—"

    def has_change_permission(self, request, obj=None):
        if obj is not None and obj != request.user and (obj.is_break_glass or set(user_roles(obj)) & ADMIN_ROLES):
            return False
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        if obj is not None and (obj.is_break_glass or set(user_roles(obj)) & ADMIN_ROLES):
            return False
        return super().has_delete_permission(request, obj)


class ReadOnlyAdmin(admin.ModelAdmin):
    """A record to read in the admin: nobody adds, changes or deletes it here (it moves through its services,
    or is fixed by the code)."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


admin.site.unregister(Group)


@admin.register(Group)
class RoleGroupAdmin(ReadOnlyAdmin):
    """Roles and their scoped groups, to read: what each may do is the code's table (portal.roles)."""

    list_display = ["name"]
    search_fields = ["name"]
    readonly_fields = ["name", "permissions"]


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdmin):
    list_display = ["occurred_at", "actor_username", "source_ip", "action", "action_text", "object_repr", "agency", "outcome"]
    list_filter = ["outcome", "action"]
    search_fields = ["actor_username", "action", "object_repr"]
    date_hierarchy = "occurred_at"

    @admin.display(description=_("说明"))
    def action_text(self, event: AuditEvent) -> str:
        return event.action_label

    def get_readonly_fields(self, request, obj=None):
        return [field.name for field in self.model._meta.fields]


@admin.register(NotificationChannel)
class NotificationChannelAdmin(AuditedAdmin):
    """Who gets messages where; the URL and secret stay sealed (config_token is not editable, so not shown)."""

    list_display = ["user", "kind", "name", "target_hint", "is_active"]
    list_filter = ["kind", "is_active"]
    search_fields = ["user__username", "name", "target_hint"]
    readonly_fields = ["user", "kind", "target_hint", "events"]

    def has_add_permission(self, request):
        return False


@admin.register(NotificationDelivery)
class NotificationDeliveryAdmin(admin.ModelAdmin):
    """The outbox, read-only: what was sent where, what failed and why."""

    list_display = ["id", "notification", "channel", "event", "status", "attempts", "next_attempt_at", "last_error"]
    list_filter = ["status", "event", "channel__kind"]

    def get_readonly_fields(self, request, obj=None):
        return [field.name for field in self.model._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
