from decimal import Decimal
from pathlib import Path

import factory
from django.conf import settings

from catalogue.choices import CloudStatus, CloudTier
from catalogue.models import Cloud, ModuleVersion, Offering, Service
from catalogue.services import module_publish
from portal.demo import LOCAL_ZONES
from tests.portal.factories import AgencyFactory


def published_module(name: str) -> ModuleVersion:
    """The module as it is in this checkout, published (idempotently) at the version its VERSION file gives."""
    directory = Path(settings.TERRAFORM_MODULES_DIR) / name
    version = (directory / "VERSION").read_text().strip()
    return module_publish(actor=None, name=name, version=version, directory=directory)


class CloudFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Cloud

    slug = factory.Sequence(lambda n: f"cloud-{n}")
    name = factory.Sequence(lambda n: f"测试云{n}")
    tier = CloudTier.INDUSTRY
    owner_agency = factory.SubFactory(AgencyFactory)
    endpoint = "http://127.0.0.1:5000"
    region = "cn-north-1"
    allowed_classifications = factory.LazyFunction(lambda: [1, 2, 3])
    # The zones the local cloud has; images and flavours are left to the modules unless a test narrows them.
    offers = factory.LazyFunction(lambda: {"zones": list(LOCAL_ZONES)})
    status = CloudStatus.ACTIVE


class ServiceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Service
        django_get_or_create = ("slug",)

    slug = "vm"
    name = factory.LazyAttribute(lambda s: {"vm": "云主机", "bucket": "对象存储", "database": "云数据库", "network": "专有网络"}.get(s.slug, s.slug))
    module_name = factory.LazyAttribute(lambda s: s.slug)


class OfferingFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Offering

    service = factory.SubFactory(ServiceFactory)
    cloud = factory.SubFactory(CloudFactory)
    module = factory.LazyAttribute(lambda o: published_module(o.service.module_name))
    enabled = True
    base_monthly_price = Decimal("30.00")
    unit_prices = factory.LazyFunction(lambda: {"vcpu": "45.00", "memory_gb": "20.00", "storage_gb": "0.50"})
    usage_rules = factory.LazyFunction(
        lambda: {
            "vcpu": {"from": "flavor", "map": {"small": 1, "medium": 2, "large": 4, "xlarge": 8}},
            "memory_gb": {"from": "flavor", "map": {"small": 2, "medium": 4, "large": 16, "xlarge": 32}},
            "storage_gb": {"sum": ["system_disk_gb", "data_disk_gb"]},
            "instances": {"value": 1},
        }
    )
