"""Leases: a default per offering and a longest one, warnings 7 and 1 days before the end to the owner and the
agency's approvers, a decommission raised at expiry that follows its policy, an extension that stops it, and a
sweep that does nothing twice."""
from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from portal.choices import Role
from portal.errors import DomainError
from portal.models import AuditEvent
from provisioning.choices import InstanceStatus, RequestKind, RequestStatus, RunKind
from provisioning.models import Instance, Notification, Request
from provisioning.services import requests as svc
from provisioning.services.leases import lease_sweep
from tests.portal.factories import UserFactory
from tests.provisioning.clients import signed_in
from tests.provisioning.conftest import VM, finish_run
from tests.provisioning.test_requests import approve_all, awaiting

pytestmark = pytest.mark.django_db


@pytest.fixture
def instance(journey, no_broker):
    request = approve_all(awaiting(journey["requester"], journey["offering"]), journey)
    finish_run(request.apply_run)
    return Instance.objects.get()


def ends_in(instance, days: int) -> Instance:
    Instance.objects.filter(pk=instance.pk).update(lease_end=timezone.localdate() + timedelta(days=days))
    instance.refresh_from_db()
    return instance


def lease_messages(journey):
    return {
        (note.recipient.username, note.subject)
        for note in Notification.objects.filter(subject__startswith="租期").select_related("recipient")
    }


def test_a_request_gets_the_offerings_default_lease_and_no_more_than_its_longest(journey):
    offering = journey["offering"]
    offering.lease_default_months, offering.lease_max_months = 6, 24
    offering.save()
    request = svc.request_create(actor=journey["requester"], offering=offering, parameters=dict(VM), justification="x")
    assert request.lease_months == 6
    with pytest.raises(DomainError, match="1 到 24 个月之间") as refused:
        svc.request_create(actor=journey["requester"], offering=offering, parameters=dict(VM), justification="x",
                           lease_months=25)
    assert refused.value.field == "lease_months"
    assert Request.objects.count() == 1


def test_the_default_lease_cannot_pass_the_longest(journey):
    offering = journey["offering"]
    offering.lease_default_months, offering.lease_max_months = 30, 24
    with pytest.raises(ValidationError, match="默认租期不能超过最长租期"):
        offering.full_clean()


def test_warnings_seven_and_one_day_before_each_once(journey, instance):
    ends_in(instance, 6)
    assert lease_sweep() == {"warned": 1, "raised": 0, "waiting": 0}
    assert lease_sweep() == {"warned": 0, "raised": 0, "waiting": 0}  # twice sends nothing twice
    owner, approver = journey["requester"].username, journey["approver"].username
    assert lease_messages(journey) == {(owner, f"租期即将到期：{instance.name}"), (approver, f"租期即将到期：{instance.name}")}
    note = Notification.objects.filter(recipient=journey["requester"], subject__startswith="租期").get()
    assert note.instance_id == instance.pk and "还剩 6 天" in note.body

    ends_in(instance, 1)
    assert lease_sweep()["warned"] == 1
    assert lease_sweep()["warned"] == 0
    assert Notification.objects.filter(subject__startswith="租期即将到期").count() == 4
    assert AuditEvent.objects.filter(action="instance.lease_warned").count() == 2


def test_an_extension_starts_the_new_lease_with_nothing_sent(journey, instance):
    ends_in(instance, 5)
    lease_sweep()
    extend = svc.request_create_day2(actor=journey["requester"], instance=instance, kind=RequestKind.EXTEND,
                                     lease_months=12, justification="继续使用")
    extend = approve_all(svc.request_submit(actor=journey["requester"], request=extend), journey)
    instance.refresh_from_db()
    assert extend.status == RequestStatus.COMPLETED and instance.lease_end > timezone.localdate() + timedelta(days=300)
    ends_in(instance, 7)  # the new lease, seven days before its end
    assert lease_sweep()["warned"] == 1


def test_at_expiry_a_decommission_is_raised_once_and_follows_its_policy(journey, instance):
    ends_in(instance, 0)
    assert lease_sweep() == {"warned": 0, "raised": 1, "waiting": 0}
    assert lease_sweep() == {"warned": 0, "raised": 0, "waiting": 0}
    down = Request.objects.get(kind=RequestKind.DECOMMISSION)
    assert down.requester == journey["requester"] and down.status == RequestStatus.PLANNING
    assert down.plan_run.kind == RunKind.PLAN and down.plan_run.plan_mode == "destroy"
    created = AuditEvent.objects.get(action="request.create", object_id=str(down.pk))
    assert created.actor is None and created.details["reason"] == "lease_expired"
    assert AuditEvent.objects.filter(action="instance.lease_expired", details__decommission=down.number).count() == 1
    assert Notification.objects.filter(request=down, subject__startswith="租期已到期").count() == 2

    # It goes through the approvers like any decommission, then destroys.
    finish_run(down.plan_run, sha="d" * 64)
    down.refresh_from_db()
    assert down.status == RequestStatus.AWAITING_APPROVAL
    down = approve_all(down, journey)
    assert down.apply_run.kind == RunKind.DESTROY
    finish_run(down.apply_run)
    instance.refresh_from_db()
    assert instance.status == InstanceStatus.DESTROYED


def test_a_submitted_extension_stops_the_expiry(journey, instance):
    ends_in(instance, 1)
    extend = svc.request_create_day2(actor=journey["requester"], instance=instance, kind=RequestKind.EXTEND,
                                     lease_months=6, justification="继续使用")
    svc.request_submit(actor=journey["requester"], request=extend)
    ends_in(instance, 0)  # the day comes before the approvers sign
    assert lease_sweep()["waiting"] == 1
    assert not Request.objects.filter(kind=RequestKind.DECOMMISSION).exists()
    extend.refresh_from_db()
    approve_all(extend, journey)
    instance.refresh_from_db()
    assert instance.lease_end > timezone.localdate()
    assert lease_sweep() == {"warned": 0, "raised": 0, "waiting": 0}


def test_a_draft_left_open_is_cancelled_at_expiry(journey, instance):
    draft = svc.request_create_day2(actor=journey["requester"], instance=instance, kind=RequestKind.MODIFY,
                                    parameters={"flavor": "large"}, justification="扩容")
    ends_in(instance, -1)
    assert lease_sweep()["raised"] == 1
    draft.refresh_from_db()
    assert draft.status == RequestStatus.CANCELLED


def test_the_owner_who_left_is_replaced_by_an_agency_requester(journey, instance, agency):

    stand_in = UserFactory(username="requester-b", agency=agency, roles=[Role.REQUESTER])
    journey["requester"].is_active = False
    journey["requester"].save()
    ends_in(instance, 0)
    lease_sweep()
    assert Request.objects.get(kind=RequestKind.DECOMMISSION).requester == stand_in


def test_the_forms_offer_the_default_and_refuse_past_the_longest(journey, instance):
    offering = journey["offering"]
    offering.lease_default_months, offering.lease_max_months = 6, 24
    offering.save()
    client = signed_in(journey["requester"])
    page = client.get(f"/catalogue/offerings/{offering.pk}/").content.decode()
    field = page[page.index('name="r-lease_months"') - 200:page.index('name="r-lease_months"') + 200]
    assert 'value="6"' in field and 'max="24"' in field
    answer = client.post(f"/instances/{instance.pk}/extend/", {"lease_months": "25", "justification": "继续"})
    assert answer.status_code == 200 and "24" in answer.content.decode()
    assert not Request.objects.filter(kind=RequestKind.EXTEND).exists()
