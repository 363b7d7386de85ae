"""The inventory and request lists as django-tables2 tables: columns, sorting, and the CSV rows of the same view.

Pages never count the whole list (LazyPaginator looks one page ahead) and never read deeper than MAX_ROWS into
it: past that, narrowing the filters or the CSV export is the way, and the page says so. The CSV export streams
the filtered queryset row by row with the table's own columns, in the reader's language (portal.tables).
"""
from collections.abc import Iterable
from functools import cached_property

import django_tables2 as tables
from django.db.models import OuterRef, Subquery
from django.urls import reverse
from django.utils.formats import date_format
from django.utils.html import escape
from django.utils.translation import gettext_lazy as _

from catalogue.choices import CloudTier, DataClassification
from portal.tables import NOWRAP, CellsInPython, badge, cached, labels, stamp, when

from .choices import DriftStatus, InstanceStatus, RequestKind, RequestStatus, RunStatus
from .filters import last_run
from .models import Instance, Request


def _money(value) -> str:
    return f"¥{value}"


class PageCells:
    """What a page's cells share, worked out once per page in the reader's language: the labels of each choice,
    and the names of the clouds, services and agencies (a page shows few of them, each many times)."""

    def __init__(self, **choices):
        self.labels = {name: labels(choice) for name, choice in choices.items()}
        self.name = cached(lambda obj: escape(obj.display_name))

    def label(self, kind: str, value) -> str:
        return escape(self.labels[kind].get(value, value)) if value not in (None, "") else DEFAULT

    def badge(self, kind: str, value) -> str:
        return badge(value, self.labels[kind].get(value, value)) if value not in (None, "") else DEFAULT


DEFAULT = "—"  # what django-tables2 shows for an empty value


class OfferingCells(CellsInPython):
    """The cells an instance's row and a request's row share: where it runs, what it is, whose, how sensitive."""

    def cell_cloud(self, record) -> str:
        return self.shared.name(record.offering.cloud)

    def cell_service(self, record) -> str:
        return self.shared.name(record.offering.service)

    def cell_agency(self, record) -> str:
        return self.shared.name(record.agency)

    def cell_data_classification(self, record) -> str:
        return self.shared.label("level", record.data_classification)


class InstanceTable(OfferingCells, tables.Table):
    # For who may decommission in bulk (operators); left out for everybody else.
    select = tables.CheckBoxColumn(accessor="pk", attrs={"th__input": {"data-testid": "select-all", "aria-label": _("全选")},
                                                         "td__input": {"name": "instances"}})
    name = tables.Column(verbose_name=_("名称"), linkify=lambda record: reverse("provisioning:instance_detail", args=[record.pk]))
    cloud = tables.Column(verbose_name=_("云"), accessor="offering__cloud", order_by=("offering__cloud__name",))
    tier = tables.Column(verbose_name=_("类别"), accessor="offering__cloud__tier", order_by=("offering__cloud__tier",))
    service = tables.Column(verbose_name=_("服务"), accessor="offering__service", order_by=("offering__service__sort_order",))
    agency = tables.Column(verbose_name=_("单位"), order_by=("agency__code",))
    status = tables.Column(verbose_name=_("状态"))
    data_classification = tables.Column(verbose_name=_("数据分级"))
    monthly_cost = tables.Column(verbose_name=_("月费用"))
    lease_end = tables.DateColumn(verbose_name=_("租期截止"), format="Y-m-d")
    drift_status = tables.Column(verbose_name=_("漂移"))
    last_run = tables.Column(verbose_name=_("最近运行"), accessor="last_run_status", orderable=False, default="—")

    class Meta:
        model = Instance
        fields = []
        sequence = (
            "select", "name", "cloud", "tier", "service", "agency", "status", "data_classification", "monthly_cost", "lease_end",
            "drift_status", "last_run",
        )
        order_by = ("-created_at",)
        empty_text = _("暂无资源。")
        attrs = {"class": "inventory"}
        row_attrs = {"data-instance": lambda record: record.pk}

    def render_cloud(self, value):
        return value.display_name

    def render_service(self, value):
        return value.display_name

    def render_agency(self, value):
        return value.display_name

    def render_tier(self, record):
        return record.offering.cloud.get_tier_display()

    def render_status(self, record):
        return badge(record.status, record.get_status_display())

    def render_data_classification(self, record):
        return record.get_data_classification_display()

    def render_monthly_cost(self, record):
        return "—" if record.is_destroyed else _money(record.monthly_cost)

    def render_lease_end(self, record, value):
        return "—" if record.is_destroyed or value is None else date_format(value, "Y-m-d")

    def render_drift_status(self, record):
        return "—" if record.is_destroyed else record.get_drift_status_display()

    def render_last_run(self, record, value):
        return badge(value, RunStatus(value).label)

    # The page's cells (portal.tables.CellsInPython); the render_ methods above are the same cells for
    # django-tables2's own rendering, which the tests compare them with.
    @cached_property
    def shared(self) -> PageCells:
        return PageCells(status=InstanceStatus, level=DataClassification, drift=DriftStatus, tier=CloudTier, run=RunStatus)

    def cell_name(self, record) -> str:
        if record.name in (None, ""):
            return DEFAULT
        return f'<a href="{reverse("provisioning:instance_detail", args=[record.pk])}">{escape(record.name)}</a>'

    def cell_tier(self, record) -> str:
        return self.shared.label("tier", record.offering.cloud.tier)

    def cell_status(self, record) -> str:
        return self.shared.badge("status", record.status)

    def cell_monthly_cost(self, record) -> str:
        if record.monthly_cost in (None, ""):
            return DEFAULT
        return DEFAULT if record.is_destroyed else escape(_money(record.monthly_cost))

    def cell_lease_end(self, record) -> str:
        if record.lease_end is None or record.is_destroyed:
            return DEFAULT
        return date_format(record.lease_end, "Y-m-d")

    def cell_drift_status(self, record) -> str:
        return DEFAULT if record.is_destroyed else self.shared.label("drift", record.drift_status)

    def cell_last_run(self, record) -> str:
        return self.shared.badge("run", record.last_run_status)


class RequestTable(OfferingCells, tables.Table):
    number = tables.Column(verbose_name=_("编号"), linkify=lambda record: reverse("provisioning:request_detail", args=[record.pk]),
                           attrs=NOWRAP)
    title = tables.Column(verbose_name=_("标题"))
    kind = tables.Column(verbose_name=_("类型"))
    cloud = tables.Column(verbose_name=_("云"), accessor="offering__cloud", order_by=("offering__cloud__name",))
    service = tables.Column(verbose_name=_("服务"), accessor="offering__service", order_by=("offering__service__sort_order",))
    agency = tables.Column(verbose_name=_("单位"), order_by=("agency__code",))
    data_classification = tables.Column(verbose_name=_("数据分级"))
    monthly_cost = tables.Column(verbose_name=_("月费用"))
    status = tables.Column(verbose_name=_("状态"))
    created_at = tables.Column(verbose_name=_("创建时间"), attrs=NOWRAP)

    class Meta:
        model = Request
        fields = []
        sequence = (
            "number", "title", "kind", "cloud", "service", "agency", "data_classification", "monthly_cost", "status",
            "created_at",
        )
        order_by = ("-created_at",)
        empty_text = _("暂无申请。可在服务目录中选择服务发起申请。")
        row_attrs = {"data-request": lambda record: record.pk}

    def render_cloud(self, value):
        return value.display_name

    def render_service(self, value):
        return value.display_name

    def render_agency(self, value):
        return value.display_name

    def render_kind(self, record):
        return record.get_kind_display()

    def render_status(self, record):
        return badge(record.status, record.get_status_display())

    def render_data_classification(self, record):
        return record.get_data_classification_display()

    def render_monthly_cost(self, value):
        return _money(value)

    def render_created_at(self, value):
        return when(value)

    # The page's cells (portal.tables.CellsInPython), the same as the render_ methods above.
    @cached_property
    def shared(self) -> PageCells:
        return PageCells(kind=RequestKind, status=RequestStatus, level=DataClassification)

    def cell_number(self, record) -> str:
        if record.number in (None, ""):
            return DEFAULT
        return f'<a href="{reverse("provisioning:request_detail", args=[record.pk])}">{escape(record.number)}</a>'

    def cell_title(self, record) -> str:
        return escape(record.title) if record.title not in (None, "") else DEFAULT

    def cell_kind(self, record) -> str:
        return self.shared.label("kind", record.kind)

    def cell_monthly_cost(self, record) -> str:
        return escape(_money(record.monthly_cost)) if record.monthly_cost not in (None, "") else DEFAULT

    def cell_status(self, record) -> str:
        return self.shared.badge("status", record.status)

    def cell_created_at(self, record) -> str:
        return when(record.created_at) if record.created_at is not None else DEFAULT


def with_last_run(instances: Iterable[Instance]) -> list[Instance]:
    """The page's instances, each with `last_run_status` read in one query for the page (not per row, and not
    for the whole list before it is cut to a page)."""
    rows = list(instances)
    statuses = dict(
        Instance.objects.filter(pk__in=[row.pk for row in rows])
        .annotate(last_run_status=Subquery(last_run(OuterRef("workspace")).values("status")[:1]))
        .values_list("pk", "last_run_status")
    )
    for row in rows:
        row.last_run_status = statuses.get(row.pk)
    return rows


# CSV -------------------------------------------------------------------------------------------------------


def instance_csv_columns() -> list[tuple[str, object]]:
    statuses, levels, drifts, tiers = (
        labels(InstanceStatus), labels(DataClassification), labels(DriftStatus), labels(CloudTier)
    )
    display, code = cached(lambda obj: obj.display_name), cached(lambda obj: obj.code)

    def live(value_of):
        return lambda row: "" if row.status == InstanceStatus.DESTROYED else value_of(row)

    return [
        (_("编号"), lambda row: row.pk),
        (_("名称"), lambda row: row.name),
        (_("云"), lambda row: display(row.offering.cloud)),
        (_("类别"), lambda row: tiers[row.offering.cloud.tier]),
        (_("服务"), lambda row: display(row.offering.service)),
        (_("单位"), lambda row: display(row.agency)),
        (_("单位代码"), lambda row: code(row.agency)),
        (_("状态"), lambda row: statuses[row.status]),
        (_("数据分级"), lambda row: levels.get(row.data_classification, row.data_classification)),
        (_("月费用（元）"), live(lambda row: str(row.monthly_cost))),
        (_("租期截止"), live(lambda row: row.lease_end.isoformat() if row.lease_end else "")),
        (_("漂移"), live(lambda row: drifts[row.drift_status])),
        (_("创建时间"), lambda row: stamp(row.created_at)),
    ]


# What the export reads of each instance: not the JSON of parameters, resources, outputs and usage.
INSTANCE_CSV_FIELDS = (
    "id", "name", "status", "data_classification", "monthly_cost", "lease_end", "drift_status", "created_at",
    "agency__name", "agency__name_en", "agency__code", "offering__cloud__name", "offering__cloud__name_en",
    "offering__cloud__tier", "offering__service__name", "offering__service__name_en",
)


def request_csv_columns() -> list[tuple[str, object]]:
    return [
        (_("编号"), lambda row: row.number),
        (_("标题"), lambda row: row.title),
        (_("类型"), lambda row: row.get_kind_display()),
        (_("云"), lambda row: row.offering.cloud.display_name),
        (_("服务"), lambda row: row.offering.service.display_name),
        (_("单位"), lambda row: row.agency.display_name),
        (_("数据分级"), lambda row: row.get_data_classification_display()),
        (_("月费用（元）"), lambda row: str(row.monthly_cost)),
        (_("状态"), lambda row: row.get_status_display()),
        (_("创建时间"), lambda row: when(row.created_at)),
        (_("提交时间"), lambda row: when(row.submitted_at)),
    ]
