"""An instance's life after it is made: later runs start from what the last successful apply applied, a change
that changes nothing is not sent for approval, and a destroyed instance shows nothing as if current."""
import pytest

from provisioning.choices import (
    InstanceStatus,
    PlanMode,
    RequestKind,
    RequestStatus,
    RunKind,
    RunStatus,
    StageStatus,
)
from provisioning.models import Instance, Run
from provisioning.services import reconcile
from provisioning.services import requests as svc
from tests.provisioning.clients import Api, html
from tests.provisioning.conftest import PASSWORD, finish_run
from tests.provisioning.test_requests import approve_all, awaiting

pytestmark = pytest.mark.django_db


def provisioned(journey) -> Instance:
    request = approve_all(awaiting(journey["requester"], journey["offering"]), journey)
    finish_run(request.apply_run)
    return Instance.objects.get()


def modified(journey, instance: Instance, *, apply_status=RunStatus.SUCCEEDED, **parameters):
    change = svc.request_create_day2(
        actor=journey["requester"], instance=instance, kind=RequestKind.MODIFY, parameters=parameters
    )
    svc.request_submit(actor=journey["requester"], request=change)
    change.refresh_from_db()
    finish_run(change.plan_run, sha="e" * 64)
    change.refresh_from_db()
    change = approve_all(change, journey)
    finish_run(change.apply_run, apply_status, **({"error": "boom"} if apply_status == RunStatus.FAILED else {}))
    change.refresh_from_db()
    instance.refresh_from_db()
    return change


def test_a_modified_instance_is_retired_with_the_values_last_applied(journey):
    instance = provisioned(journey)
    assert instance.workspace.variables["data_disk_gb"] == 100
    modified(journey, instance, data_disk_gb=200)
    instance.workspace.refresh_from_db()
    assert instance.workspace.variables["data_disk_gb"] == 200
    assert instance.workspace.secret_variables == {"admin_password": PASSWORD}

    down = svc.request_create_day2(actor=journey["requester"], instance=instance, kind=RequestKind.DECOMMISSION)
    svc.request_submit(actor=journey["requester"], request=down)
    down.refresh_from_db()
    assert down.plan_run.plan_mode == PlanMode.DESTROY
    assert down.plan_run.variables["data_disk_gb"] == 200
    assert down.plan_run.secret_variables == {"admin_password": PASSWORD}


def test_drift_checks_and_later_changes_start_from_the_values_last_applied(journey, operator):
    instance = provisioned(journey)
    modified(journey, instance, data_disk_gb=200)
    refresh = reconcile.instance_drift_check(actor=operator, instance=instance)
    assert refresh.variables["data_disk_gb"] == 200
    finish_run(refresh, plan_summary=[])
    again = svc.request_create_day2(
        actor=journey["requester"], instance=instance, kind=RequestKind.MODIFY, parameters={"flavor": "large"}
    )
    assert again.parameters["data_disk_gb"] == 200


def test_a_failed_change_leaves_the_values_last_applied(journey):
    instance = provisioned(journey)
    change = modified(journey, instance, apply_status=RunStatus.FAILED, data_disk_gb=200)
    assert change.status == RequestStatus.FAILED
    instance.workspace.refresh_from_db()
    assert instance.workspace.variables["data_disk_gb"] == 100
    assert instance.status == InstanceStatus.ACTIVE and instance.parameters["data_disk_gb"] == 100


# A change that changes nothing ------------------------------------------------------------------------------


def unchanged_change(journey, instance):
    change = svc.request_create_day2(
        actor=journey["requester"], instance=instance, kind=RequestKind.MODIFY, parameters={"data_disk_gb": 100}
    )
    svc.request_submit(actor=journey["requester"], request=change)
    change.refresh_from_db()
    finish_run(change.plan_run, sha="f" * 64, has_changes=False, plan_summary=[])
    change.refresh_from_db()
    return change


def test_a_change_whose_plan_changes_nothing_is_not_sent_for_approval(journey):
    instance = provisioned(journey)
    change = unchanged_change(journey, instance)
    assert change.status == RequestStatus.UNCHANGED
    assert not change.stages.filter(status=StageStatus.OPEN).exists()
    assert not change.approvals.exists()
    assert not Run.objects.filter(request=change, kind=RunKind.APPLY).exists()
    instance.refresh_from_db()
    assert instance.status == InstanceStatus.ACTIVE
    # The instance is not locked: another change can be raised at once.
    svc.request_create_day2(actor=journey["requester"], instance=instance, kind=RequestKind.EXTEND, lease_months=3)
    assert change.requester.notifications.filter(subject__contains=change.number, subject__startswith="无需变更").exists()


def test_the_requester_is_told_no_change_on_the_page_and_in_the_api(journey):
    change = unchanged_change(journey, provisioned(journey))
    page = html(journey["requester"], f"/requests/{change.pk}/")
    assert 'data-testid="request-unchanged"' in page and "没有任何变化" in page
    assert "新建 0 · 变更 0 · 替换 0 · 删除 0" in page
    body = Api(journey["requester"]).get(f"/api/v1/requests/{change.pk}/").json()
    assert body["status"] == "unchanged"
    assert body["plan"]["plan_counts"] == {"create": 0, "update": 0, "replace": 0, "delete": 0, "import": 0}


def test_plan_counts_name_every_kind_of_action(journey):
    request = awaiting(journey["requester"], journey["offering"])
    body = Api(journey["requester"]).get(f"/api/v1/requests/{request.pk}/").json()
    assert body["plan"]["plan_counts"] == {"create": 1, "update": 0, "replace": 0, "delete": 0, "import": 0}


# Destroyed ---------------------------------------------------------------------------------------------------


def decommissioned(journey, instance):
    down = svc.request_create_day2(actor=journey["requester"], instance=instance, kind=RequestKind.DECOMMISSION)
    svc.request_submit(actor=journey["requester"], request=down)
    down.refresh_from_db()
    finish_run(down.plan_run, sha="d" * 64)
    down.refresh_from_db()
    down = approve_all(down, journey)
    finish_run(down.apply_run)
    instance.refresh_from_db()
    return instance


def test_a_destroyed_instance_shows_no_cost_lease_or_drift_as_if_current(journey, operator):
    instance = provisioned(journey)
    refresh = reconcile.instance_drift_check(actor=operator, instance=instance)
    finish_run(refresh, plan_summary=[])
    instance = decommissioned(journey, instance)
    assert instance.status == InstanceStatus.DESTROYED and instance.destroyed_at is not None
    page = html(journey["requester"], f"/instances/{instance.pk}/")
    assert 'data-testid="destroyed-at"' in page
    assert f"¥{instance.monthly_cost}" not in page and "一致" not in page
    listing = html(journey["requester"], "/instances/")
    assert f"¥{instance.monthly_cost}" not in listing
    body = Api(journey["requester"]).get(f"/api/v1/instances/{instance.pk}/").json()
    assert (body["monthly_cost"], body["lease_end"], body["drift_status"]) == (None, None, None)
    assert body["status"] == "destroyed"
