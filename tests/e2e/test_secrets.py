"""Secrets stay secret, with nothing faked: known values are planted (a database's administrator password, then
a changed one; the cloud's secret key; the state store's), a database is provisioned and changed through its
approvals by a real worker, and every place a person or a log could read is searched for them: the worker's
log, the run logs, plan summaries and outputs, the audit trail, notifications, every page and API answer of
the journey for each role, the CSV exports, and a dump of the whole database. The state in the bucket, which
must hold the password, is encrypted at rest."""
import pytest
from django.core.management import call_command
from django.test import Client
from rest_framework.authtoken.models import Token

from catalogue.choices import CloudTier
from portal.choices import Role
from portal.cloud_clients import state_client
from portal.demo import OFFERING_TERMS
from portal.models import AuditEvent
from provisioning.choices import RequestKind, RequestStatus
from provisioning.models import Notification, Run
from provisioning.services import requests as svc
from tests.catalogue.factories import CloudFactory, OfferingFactory, ServiceFactory
from tests.e2e.test_lifecycle import through_approval
from tests.portal.factories import UserFactory
from tests.provisioning.conftest import make_policy

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]
PASSWORD = "Planted-S3cret-9xQ#"
CHANGED = "Changed-S3cret-4kZ%"


def read(user, url: str, *, api: bool = False) -> str:
    client = Client()
    if api:
        token, _ = Token.objects.get_or_create(user=user)
        response = client.get(url, HTTP_AUTHORIZATION=f"Token {token.key}")
    else:
        client.force_login(user)
        response = client.get(url)
    assert response.status_code == 200, (url, response.status_code)
    if response.streaming:
        return b"".join(response.streaming_content).decode()
    return response.content.decode()


def test_planted_secrets_are_nowhere_a_person_or_a_log_can_read(
    celery_worker_process, local_clouds, requester, agency_approver, settings, caplog, capfd
):
    caplog.set_level("DEBUG")
    cloud = CloudFactory(slug="edu-secrets", name="教育云", tier=CloudTier.INDUSTRY, allowed_classifications=[1, 2, 3])
    local_clouds(cloud)
    cloud.refresh_from_db()
    base, unit_prices, usage_rules, _capabilities = OFFERING_TERMS["database"]
    offering = OfferingFactory(cloud=cloud, service=ServiceFactory(slug="database"), base_monthly_price=base,
                               unit_prices=unit_prices, usage_rules=usage_rules)
    owner = UserFactory(username="cloud_owner", roles=[(Role.CLOUD_OWNER, cloud)])
    operator = UserFactory(username="operator", roles=[Role.OPERATOR])
    auditor = UserFactory(username="auditor", roles=[Role.AUDIT_ADMIN])
    make_policy()
    worker = celery_worker_process()

    created = svc.request_create(actor=requester, offering=offering, justification="e2e", parameters={
        "identifier": "e2e-secret-db", "engine": "mysql", "instance_class": "db.t3.small", "storage_gb": 20,
        "admin_password": PASSWORD,
    })
    through_approval(created, requester, [agency_approver, owner])
    instance = created.instance
    change = svc.request_create_day2(actor=requester, instance=instance, kind=RequestKind.MODIFY,
                                     parameters={"admin_password": CHANGED}, justification="轮换密码")
    through_approval(change, requester, [agency_approver, owner])
    assert change.status == RequestStatus.COMPLETED

    # The secret must be somewhere, or the search proves nothing: the state holds the changed password,
    # and the bucket keeps it encrypted at rest.
    s3 = state_client("s3")
    state = s3.get_object(Bucket=settings.STATE_BUCKET, Key=instance.workspace.state_key)
    assert CHANGED in state["Body"].read().decode()
    assert state["ServerSideEncryption"] == "AES256"
    rules = s3.get_bucket_encryption(Bucket=settings.STATE_BUCKET)["ServerSideEncryptionConfiguration"]["Rules"]
    assert rules[0]["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"

    secrets = [PASSWORD, CHANGED, cloud.get_credentials()["secret_access_key"], settings.STATE_SECRET_ACCESS_KEY]
    assert all(len(secret) >= 16 for secret in secrets)

    places: dict[str, str] = {"worker log": worker.output()}
    for run in Run.objects.filter(workspace=instance.workspace):
        places[f"run {run.pk} log"] = run.log
        places[f"run {run.pk} record"] = repr((run.plan_summary, run.outputs, run.resources, run.error))
    places["audit trail"] = repr(list(AuditEvent.objects.values()))
    places["notifications"] = repr(list(Notification.objects.values("subject", "body")))
    for user in (requester, agency_approver, owner, operator, auditor):
        for request in (created, change):
            places[f"{user} request page {request.pk}"] = read(user, f"/requests/{request.pk}/")
            places[f"{user} request API {request.pk}"] = read(user, f"/api/v1/requests/{request.pk}/", api=True)
            places[f"{user} runs API {request.pk}"] = read(user, f"/api/v1/requests/{request.pk}/runs/", api=True)
        places[f"{user} instance page"] = read(user, f"/instances/{instance.pk}/")
        places[f"{user} instance API"] = read(user, f"/api/v1/instances/{instance.pk}/", api=True)
        places[f"{user} inventory CSV"] = read(user, "/instances/?export=csv")
    for run in Run.objects.filter(workspace=instance.workspace):
        places[f"run {run.pk} log page"] = read(operator, f"/runs/{run.pk}/log/")
        places[f"run {run.pk} log API"] = read(operator, f"/api/v1/runs/{run.pk}/log/", api=True)
        places[f"run {run.pk} API"] = read(operator, f"/api/v1/runs/{run.pk}/", api=True)
    call_command("dumpdata", "portal", "catalogue", "provisioning", stdout=(dump := _Text()))
    places["database dump"] = dump.text
    captured = capfd.readouterr()
    places["portal's own log"] = "\n".join(record.getMessage() for record in caplog.records) + captured.out + captured.err

    leaks = [(place, secret[:4] + "…") for place, text in places.items() for secret in secrets if secret in text]
    assert not leaks, leaks
    assert len(places) > 40


class _Text:
    def __init__(self):
        self.text = ""

    def write(self, chunk: str) -> None:
        self.text += chunk
