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


@admin.register(ApprovalPolicy)
class ApprovalPolicyAdmin(AuditedAdmin):
    inlines = [PolicyStageInline]
    list_display = ["name", "agency", "offering", "cloud", "tier", "is_default", "enabled"]
    list_filter = ["enabled", "is_default", "tier"]
    search_fields = ["name"]

    def save_formset(self, request, form, formset, change):
        super().save_formset(request, form, formset, change)
        if formset.has_changed():
            audit_record(
                actor=request.user,
                action="approvalpolicy.stages_change",
                obj=form.instance,
                details={"stages": [stage.snapshot() for stage in form.instance.stages.order_by("order")]},
            )


@admin.register(QuotaLimit)
class QuotaLimitAdmin(AuditedAdmin):
    list_display = ["agency", "cloud", "dimension", "limit", "used", "reserved"]
    list_filter = ["dimension", "cloud"]
    search_fields = ["agency__name"]
    # What is used and reserved moves with requests (provisioning.services.quotas), never by hand.
    readonly_fields = ["used", "reserved"]
