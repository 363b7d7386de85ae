from datetime import date, timedelta
from decimal import Decimal

import factory

from provisioning.choices import PlanMode, RunKind, RunStatus
from provisioning.models import Instance, Run, Workspace
from tests.catalogue.factories import CloudFactory, OfferingFactory, published_module
from tests.portal.factories import AgencyFactory

VM_PARAMETERS = {
    "name": "web-01",
    "flavor": "small",
    "os_image": "kylin-v10",
    "system_disk_gb": 40,
    "data_disk_gb": 0,
}


class WorkspaceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Workspace

    cloud = factory.SubFactory(CloudFactory)
    module = factory.LazyFunction(lambda: published_module("vm"))
    agency = factory.SubFactory(AgencyFactory)
    variables = factory.LazyFunction(lambda: dict(VM_PARAMETERS))


class RunFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Run

    workspace = factory.SubFactory(WorkspaceFactory)
    module = factory.LazyAttribute(lambda run: run.workspace.module)
    variables = factory.LazyAttribute(lambda run: dict(run.workspace.variables))
    kind = RunKind.PLAN
    plan_mode = PlanMode.NORMAL
    status = RunStatus.QUEUED


class InstanceFactory(factory.django.DjangoModelFactory):
    """An instance as the inventory lists it, without the journey that would have made it."""

    class Meta:
        model = Instance

    name = factory.Sequence(lambda n: f"res-{n:04d}")
    agency = factory.SubFactory(AgencyFactory)
    offering = factory.SubFactory(OfferingFactory)
    workspace = factory.LazyAttribute(
        lambda instance: WorkspaceFactory(cloud=instance.offering.cloud, agency=instance.agency)
    )
    data_classification = 2
    monthly_cost = Decimal("100.00")
    lease_end = factory.LazyFunction(lambda: date.today() + timedelta(days=200))
