"""Admin for identity and a read-only view of the audit trail."""
from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.utils.translation import gettext_lazy as _

from .models import Agency, AuditEvent, NotificationChannel, NotificationDelivery, User

admin.site.site_header = _("1+14+N 云服务门户 · 管理后台")
admin.site.site_title = _("云服务门户管理")


@admin.register(Agency)
class AgencyAdmin(admin.ModelAdmin):
    list_display = ["name", "name_en", "code", "level", "parent", "is_active"]
    list_filter = ["level", "is_active"]
    search_fields = ["name", "name_en", "code"]


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    fieldsets = (*BaseUserAdmin.fieldsets, (_("单位"), {"fields": ("full_name", "agency", "identity_source")}))
    list_display = ["username", "full_name", "agency", "identity_source", "is_active", "is_staff"]
    list_filter = ["is_active", "is_staff", "identity_source", "groups", "agency"]
    search_fields = ["username", "full_name", "email"]


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    list_display = ["occurred_at", "actor_username", "source_ip", "action", "action_text", "object_repr", "agency", "outcome"]
    list_filter = ["outcome", "action"]
    search_fields = ["actor_username", "action", "object_repr"]
    date_hierarchy = "occurred_at"

    @admin.display(description=_("说明"))
    def action_text(self, event: AuditEvent) -> str:
        return event.action_label

    def get_readonly_fields(self, request, obj=None):
        return [field.name for field in self.model._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(NotificationChannel)
class NotificationChannelAdmin(admin.ModelAdmin):
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
