"""The security admin keeps approval policies here and the system admin quotas; every change is audited.

Requests, runs and instances are not edited here: they move only through the services.
"""
from django.contrib import admin

from catalogue.admin import AuditedAdmin
from portal.services import audit_record

from .models import ApprovalPolicy, PolicyStage, QuotaLimit


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


@admin.register(QuotaLimit)
class QuotaLimitAdmin(AuditedAdmin):
    list_display = ["agency", "cloud", "dimension", "limit", "used", "reserved"]
    list_filter = ["dimension", "cloud"]
    search_fields = ["agency__name"]
    # What is used and reserved moves with requests (provisioning.services.quotas), never by hand.
    readonly_fields = ["used", "reserved"]
