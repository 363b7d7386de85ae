"""The security admin keeps approval policies here and the system admin quotas; every change is audited.

Requests, runs and instances are not edited here: they move only through the services.
"""
from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from portal.admin import AuditedAdmin
from portal.services import audit_record

from .models import ApprovalPolicy, PolicyStage, QuotaLimit
from .services.quotas import in_use


class PolicyStageInline(admin.TabularInline):
    model = PolicyStage
    extra = 0
    fields = ["order", "name", "name_en", "approver_role", "mode", "required_approvals", "condition", "condition_value",
              "sla_hours"]


@admin.register(ApprovalPolicy)
class ApprovalPolicyAdmin(AuditedAdmin):
    list_display = ["name", "name_en", "agency", "offering", "cloud", "tier", "is_default", "enabled"]
    list_filter = ["enabled", "is_default", "tier"]
    search_fields = ["name", "name_en"]
    inlines = [PolicyStageInline]

    def save_formset(self, request, form, formset, change):
        super().save_formset(request, form, formset, change)
        for stage in formset.new_objects + [obj for obj, _fields in formset.changed_objects]:
            audit_record(
                actor=request.user, action="policystage.change", obj=stage,
                details={"policy": form.instance.pk, "order": stage.order},
            )
        for stage in formset.deleted_objects:  # already deleted: named by policy and order
            audit_record(
                actor=request.user, action="policystage.delete",
                details={"policy": form.instance.pk, "order": stage.order, "name": stage.name},
            )


class QuotaKindFilter(admin.SimpleListFilter):
    title = _("种类")
    parameter_name = "kind"

    def lookups(self, request, model_admin):
        return [("agency", _("单位配额")), ("capacity", _("云容量"))]

    def queryset(self, request, queryset):
        if self.value() == "agency":
            return queryset.filter(agency__isnull=False)
        if self.value() == "capacity":
            return queryset.filter(agency__isnull=True)
        return queryset


@admin.register(QuotaLimit)
class QuotaLimitAdmin(AuditedAdmin):
    list_display = ["scope", "dimension", "limit", "used", "reserved", "available"]
    list_filter = [QuotaKindFilter, "dimension", "cloud"]
    list_select_related = ["agency", "cloud"]
    search_fields = ["agency__name", "cloud__name"]
    # What is used and reserved moves with requests (provisioning.services.quotas), never by hand.
    readonly_fields = ["used", "reserved"]

    @admin.display(description=_("范围"))
    def scope(self, limit: QuotaLimit) -> str:
        return str(limit)

    @admin.display(description=_("剩余"))
    def available(self, limit: QuotaLimit):
        return limit.available

    def save_model(self, request, obj, form, change):
        if not change:  # a new limit counts what already exists in its scope
            obj.used = in_use(obj)
        super().save_model(request, obj, form, change)
