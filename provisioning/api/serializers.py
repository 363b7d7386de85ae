from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from catalogue.choices import DataClassification
from provisioning.choices import DriftStatus, RequestKind, RunKind, RunStatus
from provisioning.models import Approval, Instance, Request, RequestStage, Run
from provisioning.plan_summary import action_counts
from provisioning.services.reconcile import Outcome


class PlanCountsSerializer(serializers.Serializer):
    create = serializers.IntegerField()
    update = serializers.IntegerField()
    replace = serializers.IntegerField()
    delete = serializers.IntegerField()


class RunSerializer(serializers.ModelSerializer):
    plan_counts = serializers.SerializerMethodField(help_text=_("计划中每类操作的资源数（含 0）；计划未成功时为空。"))

    class Meta:
        model = Run
        fields = [
            "id", "kind", "plan_mode", "status", "worker", "queued_at", "started_at", "heartbeat_at", "finished_at",
            "error", "has_changes", "plan_summary", "plan_counts", "planfile_sha256", "state_serial_before",
            "state_serial_after", "outputs", "resources", "timings", "request", "reconciles",
        ]

    @extend_schema_field(PlanCountsSerializer(allow_null=True))
    def get_plan_counts(self, run: Run) -> dict | None:
        if run.kind not in (RunKind.PLAN, RunKind.REFRESH) or run.status != RunStatus.SUCCEEDED:
            return None
        return action_counts(run.plan_summary)


class ApprovalSerializer(serializers.ModelSerializer):
    approver = serializers.CharField(source="approver.username")

    class Meta:
        model = Approval
        fields = ["approver", "decision", "comment", "plan_sha256", "monthly_cost", "created_at", "invalidated_at"]


class StageSerializer(serializers.ModelSerializer):
    approvals = ApprovalSerializer(many=True, read_only=True)
    condition_text = serializers.CharField(read_only=True, help_text=_("条件的文字说明，以读者的语言。"))

    class Meta:
        model = RequestStage
        fields = [
            "order", "name", "name_en", "approver_role", "mode", "required_approvals", "condition", "condition_value",
            "condition_text", "sla_hours", "status", "opened_at", "decided_at", "approvals",
        ]


class RequestSerializer(serializers.ModelSerializer):
    number = serializers.CharField(read_only=True)
    agency = serializers.CharField(source="agency.name", read_only=True)
    agency_en = serializers.CharField(source="agency.name_en", read_only=True)
    requester = serializers.CharField(source="requester.username", read_only=True)
    cloud = serializers.CharField(source="offering.cloud.slug", read_only=True)
    service = serializers.CharField(source="offering.service.slug", read_only=True)
    has_secret_parameters = serializers.SerializerMethodField()
    # An extend or decommission request has no plan of its own.
    plan = RunSerializer(source="plan_run", read_only=True, allow_null=True)
    stages = StageSerializer(many=True, read_only=True)

    class Meta:
        model = Request
        fields = [
            "id", "number", "kind", "status", "title", "justification", "agency", "agency_en", "requester", "offering", "cloud",
            "service", "instance", "parameters", "has_secret_parameters", "data_classification", "lease_months",
            "monthly_cost", "usage", "policy_name", "policy_name_en", "error", "created_at", "submitted_at", "decided_at",
            "completed_at", "plan", "apply_run", "stages",
        ]

    def get_has_secret_parameters(self, request: Request) -> bool:
        return bool(request.secret_parameters_token)


class RequestCreateSerializer(serializers.Serializer):
    offering = serializers.IntegerField()
    parameters = serializers.DictField()
    title = serializers.CharField(max_length=128, required=False, allow_blank=True, default="")
    justification = serializers.CharField(max_length=2000, required=False, allow_blank=True, default="")
    data_classification = serializers.ChoiceField(choices=DataClassification.choices, default=DataClassification.INTERNAL)
    # Empty: the offering's default lease; at most the offering's longest (the service refuses more).
    lease_months = serializers.IntegerField(min_value=1, max_value=60, required=False, allow_null=True, default=None)
    submit = serializers.BooleanField(default=True)


class DecisionSerializer(serializers.Serializer):
    comment = serializers.CharField(max_length=2000, required=False, allow_blank=True, default="")


class RejectSerializer(serializers.Serializer):
    """A rejection says why: the comment must be given (a blank one is refused by the service, on this field)."""

    comment = serializers.CharField(
        max_length=2000, allow_blank=True, error_messages={"required": _("驳回时必须填写意见，说明驳回理由。")}
    )


class InstanceSerializer(serializers.ModelSerializer):
    agency = serializers.CharField(source="agency.name", read_only=True)
    agency_en = serializers.CharField(source="agency.name_en", read_only=True)
    cloud = serializers.CharField(source="offering.cloud.slug", read_only=True)
    service = serializers.CharField(source="offering.service.slug", read_only=True)
    # Null once the instance is destroyed: nothing of it costs, lapses or drifts any more.
    monthly_cost = serializers.DecimalField(max_digits=12, decimal_places=2, allow_null=True, read_only=True)
    lease_end = serializers.DateField(allow_null=True, read_only=True)
    drift_status = serializers.ChoiceField(choices=DriftStatus.choices, allow_null=True, read_only=True)

    class Meta:
        model = Instance
        fields = [
            "id", "name", "agency", "agency_en", "cloud", "service", "offering", "status", "parameters", "data_classification",
            "resources", "outputs", "monthly_cost", "usage", "lease_end", "drift_status", "drift_checked_at",
            "created_at", "destroyed_at",
        ]

    def to_representation(self, instance):
        data = super().to_representation(instance)
        if instance.is_destroyed:
            data.update(monthly_cost=None, lease_end=None, drift_status=None)
        return data


class Day2Serializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=[RequestKind.MODIFY, RequestKind.EXTEND, RequestKind.DECOMMISSION])
    parameters = serializers.DictField(required=False, default=dict)
    lease_months = serializers.IntegerField(min_value=1, max_value=60, default=12)
    justification = serializers.CharField(max_length=2000, required=False, allow_blank=True, default="")


class ReconcileSerializer(serializers.Serializer):
    """An operator's verdict on a run that lost its worker (the page's form, with the same messages)."""

    outcome = serializers.ChoiceField(
        choices=Outcome.choices,
        error_messages={"required": _("请选择处置结果。"), "invalid_choice": _("请选择处置结果。")},
    )
    note = serializers.CharField(
        max_length=2000,
        error_messages={
            "required": _("请填写核对说明：看到了什么，为何这样处置。"),
            "blank": _("请填写核对说明：看到了什么，为何这样处置。"),
            "max_length": _("核对说明不能超过 2000 个字符。"),
        },
    )
