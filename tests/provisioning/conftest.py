"""The journey's cast: an offering on 教育云, a two-stage default policy, approvers of every kind, and a way
to finish a run the way the worker would (the worker itself is exercised in tests/e2e)."""
from unittest import mock

import pytest
from django.utils import timezone

from catalogue.choices import CloudTier
from portal.choices import Role
from provisioning.choices import RunStatus
from provisioning.models import ApprovalPolicy, PolicyStage, QuotaLimit, Run
from provisioning.outcomes import run_conclude
from provisioning.services.runs import run_claim
from tests.catalogue.factories import CloudFactory, OfferingFactory, ServiceFactory
from tests.portal.factories import UserFactory

PASSWORD = "Vm-Admin-Passw0rd!"
VM = {
    "name": "web-01",
    "flavor": "medium",
    "os_image": "kylin-v10",
    "zone": "cn-north-1a",
    "system_disk_gb": 40,
    "data_disk_gb": 100,
    "admin_password": PASSWORD,
}


@pytest.fixture(autouse=True)
def no_broker():
    """Runs and emails are enqueued through Celery; unit tests capture them instead of sending them."""
    with mock.patch("provisioning.tasks.run_execute.apply_async") as runs, mock.patch(
        "provisioning.tasks.notification_send.apply_async"
    ) as mails:
        yield {"runs": runs, "mails": mails}


@pytest.fixture
def cloud(db):
    return CloudFactory(slug="edu", name="教育云", tier=CloudTier.INDUSTRY, allowed_classifications=[1, 2, 3])


@pytest.fixture
def offering(cloud):
    return OfferingFactory(cloud=cloud, service=ServiceFactory(slug="vm"))


@pytest.fixture
def cloud_owner(cloud):
    return UserFactory(username="cloud_owner", roles=[(Role.CLOUD_OWNER, cloud)])


@pytest.fixture
def security_reviewer(db):
    return UserFactory(username="security_reviewer", roles=[Role.SECURITY_REVIEWER])


@pytest.fixture
def finance_reviewer(db):
    return UserFactory(username="finance_reviewer", roles=[Role.FINANCE_REVIEWER])


def make_policy(name="默认审批", *, is_default=True, stages=None, **scope) -> ApprovalPolicy:
    policy = ApprovalPolicy.objects.create(name=name, is_default=is_default, **scope)
    for order, stage in enumerate(
        stages or [{"name": "单位审批", "approver_role": "agency_approver"}, {"name": "云主管部门审批", "approver_role": "cloud_owner"}],
        start=1,
    ):
        PolicyStage.objects.create(policy=policy, order=order, **stage)
    return policy


@pytest.fixture
def default_policy(db):
    return make_policy()


@pytest.fixture
def quota(agency, cloud):
    def set_limit(dimension: str, limit, cloud_scope=cloud):
        return QuotaLimit.objects.create(agency=agency, cloud=cloud_scope, dimension=dimension, limit=limit)

    return set_limit


def finish_run(run: Run, status: str = RunStatus.SUCCEEDED, **fields) -> Run:
    """Claim the run and record its outcome through the runner's own outcome code (the worker itself is
    exercised in tests/e2e)."""
    claimed, why = run_claim(run_id=run.pk, worker="test-worker")
    assert claimed is not None, why
    defaults = {}
    if claimed.kind in ("plan", "refresh") and status == RunStatus.SUCCEEDED:
        defaults = {
            "has_changes": True,
            "planfile_token": b"",
            "planfile_sha256": fields.pop("sha", "a" * 64),
            "plan_summary": [{"address": "module.main.pcloud_instance.this", "type": "pcloud_instance",
                              "name": "this", "action": "create", "changes": []}],
        }
    elif status == RunStatus.SUCCEEDED:
        defaults = {
            "outputs": {"private_ip": "10.0.0.5"},
            "resources": [{"address": "module.main.pcloud_instance.this", "type": "pcloud_instance", "id": "i-1"}],
        }
    return run_conclude(
        claimed, status, actor_username="test-worker", finished_at=timezone.now(), **{**defaults, **fields}
    )


@pytest.fixture
def journey(requester, agency_approver, cloud_owner, offering, default_policy):
    return {"requester": requester, "approver": agency_approver, "owner": cloud_owner, "offering": offering}


@pytest.fixture
def other_approver(other_agency):
    return UserFactory(username="agency_approver2", agency=other_agency, roles=[Role.AGENCY_APPROVER])


@pytest.fixture
def operator(db):
    return UserFactory(username="operator", roles=[Role.OPERATOR])
