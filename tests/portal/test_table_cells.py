"""The list pages render their table bodies in Python (portal.tables.CellsInPython) rather than cell by cell
through django-tables2: these tests hold that body to be the very HTML django-tables2's own rendering gives,
for rows that reach every branch of every cell (empty values, destroyed instances, markup in names, each
status), in both languages."""
import re
from decimal import Decimal

import pytest
from django.test import RequestFactory
from django.utils import translation

from catalogue.choices import CloudTier
from portal.choices import Role
from provisioning.choices import DriftStatus, InstanceStatus, RequestKind, RequestStatus, RunStatus
from provisioning.models import Instance, Request
from provisioning.tables import InstanceTable, RequestTable
from tests.catalogue.factories import CloudFactory, OfferingFactory, ServiceFactory
from tests.portal.factories import AgencyFactory, UserFactory
from tests.provisioning.factories import InstanceFactory

pytestmark = pytest.mark.django_db


def tables2_body(table) -> str:
    """The <tbody> of django-tables2's own template, which renders every cell through the render_ methods."""
    html = table.as_html(RequestFactory().get("/"))
    return normalised(re.search(r"<tbody[^>]*>(.*)</tbody>", html, re.DOTALL).group(1))


def normalised(html: str) -> str:
    html = re.sub(r">\s+<", "><", html.strip())
    return re.sub(r"\s+>", ">", html)


@pytest.fixture
def estate():
    agency = AgencyFactory(name="教育厅<b>", name_en="Education & Co")
    other = AgencyFactory(name="卫健委", name_en="")
    gov = CloudFactory(name="政务云", name_en="Government Cloud", tier=CloudTier.GOVERNMENT)
    industry = CloudFactory(name="医疗行业云", name_en="Health Cloud", tier=CloudTier.INDUSTRY)
    vm, bucket = ServiceFactory(name="云主机", name_en="VM"), ServiceFactory(name="对象存储", name_en="")
    return {
        "agency": agency, "other": other,
        "offerings": [OfferingFactory(cloud=gov, service=vm), OfferingFactory(cloud=industry, service=bucket)],
    }


def instances(estate) -> list[Instance]:
    first, second = estate["offerings"]
    rows = [
        InstanceFactory(name="web<script>&", agency=estate["agency"], offering=first),
        InstanceFactory(agency=estate["other"], offering=second, status=InstanceStatus.DESTROYED,
                        drift_status=DriftStatus.DRIFTED),
        InstanceFactory(agency=estate["agency"], offering=second, lease_end=None, monthly_cost=Decimal("0"),
                        drift_status=DriftStatus.DRIFTED, data_classification=4),
        *[InstanceFactory(agency=estate["other"], offering=first, status=status)
          for status in InstanceStatus.values if status != InstanceStatus.DESTROYED],
    ]
    runs = [None, *RunStatus.values]
    for n, row in enumerate(rows):
        row.last_run_status = runs[n % len(runs)]
    return rows


def requests(estate) -> list[Request]:
    requester = UserFactory(agency=estate["agency"], roles=[Role.REQUESTER])
    first, second = estate["offerings"]
    rows = []
    for n, (kind, status) in enumerate(zip(RequestKind.values * 3, RequestStatus.values, strict=False)):
        rows.append(Request.objects.create(
            kind=kind, status=status, title=["数据库<扩容>", "", "a & b"][n % 3], requester=requester,
            agency=[estate["agency"], estate["other"]][n % 2], offering=[first, second][n % 2],
            data_classification=n % 5, monthly_cost=Decimal("12.50") * n,
        ))
    return rows


@pytest.mark.parametrize("language", ["zh-hans", "en"])
@pytest.mark.parametrize("table_class, rows_of", [(InstanceTable, instances), (RequestTable, requests)])
def test_the_python_body_is_django_tables2s_body(estate, language, table_class, rows_of):
    rows = rows_of(estate)
    with translation.override(language):
        ours = normalised(table_class(rows).body_html())
        theirs = tables2_body(table_class(rows))
    assert theirs.count("<tr") == len(rows)
    assert ours == theirs


def test_every_column_of_the_list_tables_has_its_python_cell():
    # A column without a cell_ method is still right (django-tables2 renders it), only slower: keep them all.
    for table_class in (InstanceTable, RequestTable):
        missing = [name for name in table_class.base_columns if name != "select" and not hasattr(table_class, f"cell_{name}")]
        assert not missing, (table_class.__name__, missing)


def test_the_bulk_selection_column_and_an_empty_list(estate):
    rows = instances(estate)[:2]
    with_select = InstanceTable(rows)
    assert normalised(with_select.body_html()) == tables2_body(InstanceTable(rows))
    assert 'name="instances"' in with_select.body_html()
    empty = InstanceTable(Instance.objects.none())
    assert normalised(empty.body_html()) == tables2_body(InstanceTable(Instance.objects.none()))
    assert "暂无资源" in empty.body_html()
