"""Adopting what a cloud scan found unmanaged: an object made outside the portal becomes a new instance of an
agency, through the same journey as any create.

An operator picks the agency and the offering whose module makes such an object, and the parameters that
describe it. The request is raised in the name of the agency's requester and follows the agency's approval
policy; its workspace carries an import block, so the plan the approvers sign shows the object as taken over
("纳管") and whatever its apply will change on it. When the apply completes, the object is in the workspace's
state, the instance exists, and the finding is closed as adopted.
"""
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from catalogue.models import Offering
from portal.choices import Role
from portal.errors import Conflict, DomainError, PermissionDenied
from portal.models import Agency
from portal.permissions import agency_group, user_can
from portal.services import audit_record

from ..choices import FindingKind, RequestStatus
from ..models import CloudFinding, Request, Workspace
from ..workspaces import module_addresses
from .requests import create_draft, submit_draft

# Objects whose name is their identity in the cloud: the parameter must name the object itself.
NAMED_BY_IDENTITY = {"pcloud_bucket": "name", "pcloud_database": "identifier", "pcloud_security_group": "name"}


def adoption_address(offering: Offering, resource_type: str) -> str | None:
    """Where in the offering's module such an object goes, or None when the module makes none (or several)."""
    addresses = module_addresses(offering.module.files, resource_type)
    return addresses[0] if len(addresses) == 1 else None


def adoption_offerings(finding: CloudFinding) -> list[Offering]:
    """The finding's cloud's offerings whose module can take the object over."""
    offerings = Offering.objects.filter(cloud=finding.cloud).select_related("service", "module", "cloud").order_by("pk")
    return [offering for offering in offerings if adoption_address(offering, finding.resource_type)]


def agency_requester(agency: Agency):
    """Who an adoption is asked in the name of: the agency's longest-standing active requester, or None."""
    return agency_group(agency, Role.REQUESTER).user_set.filter(is_active=True).order_by("pk").first()


@transaction.atomic
def finding_adopt(
    *, actor, finding: CloudFinding, agency: Agency, offering: Offering, parameters: dict, justification: str,
    data_classification: int, lease_months: int | None = None, title: str = "",
) -> Request:
    """Raise and submit the create that takes the object over; audited. Refused with a message a person can act
    on when the finding is not an open unmanaged one, the offering cannot hold it, or the agency has no one to
    ask in the name of."""
    if not user_can(actor, "provisioning.reconcile_run"):
        raise PermissionDenied(_("您没有纳管云上对象的权限。"))
    finding = CloudFinding.objects.select_for_update().select_related("cloud").get(pk=finding.pk)
    if finding.kind != FindingKind.UNMANAGED or finding.resolved_at is not None:
        raise Conflict(_("该发现已关闭或不是未纳管对象，不能纳管。"))
    if finding.adoptions.filter(status__in=RequestStatus.active()).exists():
        raise Conflict(_("该对象已有进行中的纳管申请，请等待其完成或撤销后再发起。"))
    justification = (justification or "").strip()
    if not justification:
        raise DomainError(_("请写明纳管原因，审批人会看到它。"), field="justification")
    if offering.cloud_id != finding.cloud_id:
        raise DomainError(_("请选择该对象所在云（%(cloud)s）的服务规格。") % {"cloud": finding.cloud.display_name},
                          field="offering")
    address = adoption_address(offering, finding.resource_type)
    if address is None:
        raise DomainError(_("该服务规格的模块不管理此类对象，请另选服务规格。"), field="offering")
    identity = NAMED_BY_IDENTITY.get(finding.resource_type)
    if identity and str(parameters.get(identity, "")) != finding.object_id:
        raise DomainError(
            _("“%(field)s”必须与云上对象的名称一致：%(name)s。") % {"field": identity, "name": finding.object_id},
            field=identity,
        )
    requester = agency_requester(agency)
    if requester is None:
        raise Conflict(_("该单位没有可代为申请的申请人。"))
    request = create_draft(
        offering=offering, parameters=parameters, requester=requester, actor=actor, agency=agency, title=title,
        justification=justification, data_classification=data_classification, lease_months=lease_months,
        details={"adopts": finding.pk, "object": finding.object_id, "asked_by": actor.get_username()},
        adopts=finding,
    )
    workspace = Workspace(
        cloud=offering.cloud, module=offering.module, agency=agency, variables=request.parameters,
        imports=[{"address": address, "id": finding.object_id}],
    )
    workspace.secret_variables = request.secret_parameters
    workspace.save()
    Request.objects.filter(pk=request.pk).update(workspace=workspace)
    request.workspace = workspace
    return submit_draft(Request.objects.select_for_update().get(pk=request.pk), actor=actor)


def finding_adopted(request: Request) -> None:
    """The adopting create completed: its finding is closed as adopted; audited."""
    closed = CloudFinding.objects.filter(pk=request.adopts_id, resolved_at__isnull=True).update(
        resolved_at=timezone.now(), resolution="adopted", instance=request.instance
    )
    if closed:
        audit_record(actor=None, action="cloud.finding_adopted", obj=request.adopts, agency=request.agency, details={
            "request": request.pk, "instance": request.instance_id, "object": request.adopts.object_id,
        })
