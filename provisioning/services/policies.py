"""Choosing a request's approval policy and deciding which of its stages apply."""
from decimal import Decimal, InvalidOperation

from django.conf import settings
from django.db.models import Q
from django.utils.translation import gettext as _
from django.utils.translation import override

from portal.errors import DomainError

from ..choices import StageCondition
from ..models import ApprovalPolicy, Request

# Built-in stages when no policy matches at all: the agency's approvers, then the cloud's owner.
FALLBACK_STAGES = [
    {"name": "单位审批", "name_en": "Agency approval", "approver_role": "agency_approver", "mode": "any",
     "required_approvals": 1, "condition": "always", "condition_value": "", "sla_hours": 24},
    {"name": "云主管部门审批", "name_en": "Cloud owner approval", "approver_role": "cloud_owner", "mode": "any",
     "required_approvals": 1, "condition": "always", "condition_value": "", "sla_hours": 24},
]


def policy_for(request: Request) -> ApprovalPolicy | None:
    """The most specific enabled policy: agency + offering, then cloud, then tier, then the default."""
    offering = request.offering
    candidates = ApprovalPolicy.objects.filter(enabled=True)
    for query in (
        Q(agency=request.agency, offering=offering),
        Q(offering=offering, agency__isnull=True),
        Q(cloud=offering.cloud, agency__isnull=True, offering__isnull=True),
        Q(tier=offering.cloud.tier, cloud__isnull=True, agency__isnull=True, offering__isnull=True),
        Q(is_default=True),
    ):
        policy = candidates.filter(query).order_by("pk").first()
        if policy is not None:
            return policy
    return None


def stage_snapshots(request: Request) -> tuple[str, str, list[dict]]:
    """(policy name, its English name, copies of its stages) for the request to keep."""
    policy = policy_for(request)
    if policy is None:
        with override(settings.LANGUAGE_CODE):
            name = _("内置默认审批")
        with override("en"):
            name_en = _("内置默认审批")
        return name, name_en, [dict(stage) for stage in FALLBACK_STAGES]
    stages = [stage.snapshot() for stage in policy.stages.order_by("order")]
    return policy.name, policy.name_en, stages


def stage_applies(stage, request: Request) -> bool:
    """Whether a stage's condition holds for this request as it stands (cost, classification, kind)."""
    condition = stage.condition
    value = stage.condition_value
    if condition == StageCondition.ALWAYS:
        return True
    if condition == StageCondition.COST_AT_LEAST:
        try:
            return Decimal(request.monthly_cost) >= Decimal(value)
        except InvalidOperation as exc:
            raise DomainError(_("审批条件中的金额无效：%(value)s") % {"value": value}) from exc
    if condition == StageCondition.CLASSIFICATION_AT_LEAST:
        return int(request.data_classification) >= int(value)
    if condition == StageCondition.REQUEST_KIND:
        return request.kind in {kind.strip() for kind in value.split(",")}
    raise DomainError(_("未知的审批条件：%(condition)s") % {"condition": condition})
