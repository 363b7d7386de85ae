"""What every list page shares (the inventory, the request list, the audit trail): how deep a page reads, the
cells' formats, and the streamed CSV; and the audit trail's own table and CSV columns.

Pages never count the whole list (LazyPaginator looks one page ahead) and never read deeper than MAX_ROWS into
it. The CSV export streams the filtered queryset row by row, in the reader's language.
"""
import csv
import json
from collections.abc import Iterable, Iterator

import django_tables2 as tables
from django.apps import apps
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.html import conditional_escape, format_html
from django.utils.safestring import mark_safe
from django.utils.translation import gettext_lazy as _

from .audit import action_label, detail_value_label
from .choices import AuditOutcome
from .models import AuditEvent

# The deepest row a page reaches with OFFSET; past it the page asks for narrower filters.
MAX_ROWS = 10_000
PER_PAGE = 50
# Rows fetched per round trip while a CSV streams.
CSV_CHUNK = 2_000


def badge(value: str, label) -> str:
    return format_html('<span class="badge {}">{}</span>', value, label)


def when(value) -> str:
    return date_format(timezone.localtime(value), "Y-m-d H:i") if value else "—"


def stamp(value) -> str:
    return timezone.localtime(value).strftime("%Y-%m-%d %H:%M") if value else ""


def labels(choices) -> dict:
    """A choices class's labels in the active language, read once per export rather than once per cell."""
    return {value: str(label) for value, label in choices.choices}


def cached(name_of):
    """name_of(obj) once per object: the export's clouds, services and agencies are few."""
    seen: dict = {}

    def name(obj) -> str:
        key = (type(obj), obj.pk)
        if key not in seen:
            seen[key] = name_of(obj)
        return seen[key]

    return name


class CellsInPython:
    """A django-tables2 table whose body a list page renders in Python, cell by cell, with what a page shares
    worked out once (labels in the reader's language, names of clouds and agencies): django-tables2 renders each
    cell through signature introspection, `get_FOO_display` and template nodes, most of a list page's time.

    A column with a `cell_<name>(record)` method is rendered by it (its result is HTML: escape what it shows);
    any other column by django-tables2 itself. Headers, sorting and paging stay django-tables2's, and
    tests/portal/test_table_cells.py holds the body to be the same HTML as django-tables2's own rendering."""

    def body_html(self) -> str:
        columns = list(self.columns)
        if not columns:
            return ""
        rows = list(self.paginated_rows)
        if not rows:
            return format_html('<tr><td colspan="{}">{}</td></tr>', len(columns), self.empty_text) if self.empty_text else ""
        cells = [(column.name, getattr(self, f"cell_{column.name}", None), column.attrs["td"].as_html()) for column in columns]
        lines = []
        for row in rows:
            attrs = row.attrs.as_html()
            lines.append(f"<tr {attrs}>" + "".join(
                f"<td {td}>{cell(row.record) if cell else conditional_escape(row.get_cell(name))}</td>"
                for name, cell, td in cells
            ) + "</tr>")
        return mark_safe("".join(lines))  # noqa: S308 - every cell is escaped by its cell_ method or above


class _Echo:
    """A file whose write returns the line, for csv.writer inside a streaming response."""

    def write(self, value: str) -> str:
        return value


def csv_lines(queryset: QuerySet, *, columns: list[tuple[str, object]]) -> Iterator[str]:
    """The header and one line per row of `queryset`, `columns` being (header, value of a row) pairs; rows are
    read CSV_CHUNK at a time (a server-side cursor on PostgreSQL), so memory stays flat however long it is."""
    return rows_as_csv(queryset.iterator(chunk_size=CSV_CHUNK), columns)


def rows_as_csv(rows: Iterable, columns: list[tuple[str, object]]) -> Iterator[str]:
    writer = csv.writer(_Echo())
    yield "\ufeff"  # so that spreadsheet programs read the Chinese as UTF-8
    yield writer.writerow([str(header) for header, _value in columns])
    for row in rows:
        yield writer.writerow([value(row) for _header, value in columns])


# The audit trail ---------------------------------------------------------------------------------------------


def seconds(value) -> str:
    """An event's time to the second in Beijing time (the trail stores UTC)."""
    return timezone.localtime(value).strftime("%Y-%m-%d %H:%M:%S") if value else ""


# What the common keys of an event's details are called on the page (the JSON keeps the keys).
DETAIL_LABELS = {
    "path": _("路径"), "method": _("方法"), "status": _("状态码"), "arguments": _("参数"),
    "reason": _("原因"), "comment": _("意见"), "suppressed": _("此前未记录的拒绝次数"), "from": _("原状态"),
    "kind": _("类型"), "stage": _("环节"), "order": _("次序"),
    "filters": _("筛选条件"), "sort": _("排序"), "checked": _("已校验事件数"), "broken_id": _("断开的事件"),
    "fields": _("修改的字段"), "role": _("角色"), "scope": _("范围"), "months": _("月数"), "note": _("说明"),
    "digest": _("摘要"), "plan_sha256": _("计划哈希"),
    # Runs, requests and instances
    "run": _("运行"), "request": _("申请"), "instance": _("资源"), "apply": _("执行运行"), "refresh": _("核对运行"),
    "reconciles": _("核对的运行"), "outcome": _("结论"), "resources": _("资源数"), "stages": _("重置的环节"),
    "bulk": _("批量操作"), "reapply": _("重新执行"), "asked_by": _("发起人"), "decision": _("决定"),
    "lease_end": _("租期截止"), "days_left": _("剩余天数"), "decommission": _("退订申请"), "why": _("缘由"),
    "lock_id": _("锁编号"), "who": _("持锁方"), "policy": _("审批流程"), "name": _("名称"), "change": _("变更内容"),
    "month": _("月份"),
    # Cloud scans and adoption
    "objects": _("云上对象数"), "unmanaged": _("未纳管对象数"), "missing": _("缺失对象数"), "closed": _("已关闭的发现"),
    "error": _("错误"), "adopts": _("纳管的发现"), "object": _("云上对象"), "account_id": _("云账号"),
    # People, roles and sign-in
    "group": _("角色组"), "scopes": _("范围"), "left_out": _("未授予的范围"), "source": _("来源"),
    "directory_agency": _("目录中的单位"), "directory_value": _("目录中的值"), "to": _("新值"),
    "refused": _("锁定期间再次尝试"), "until": _("锁定至"), "expires_at": _("到期时间"),
    "host": _("目标主机"), "signed": _("已签名"),
    # The audit trail's own upkeep
    "days": _("保留天数"), "purged": _("清理的事件数"), "purged_total": _("累计清理"), "first_id": _("第一个事件"),
    "last_id": _("最后一个事件"), "oldest": _("最早时间"), "newest": _("最晚时间"), "start_prev_hash": _("新链起点哈希"),
    "checkpoint": _("检查点"), "checkpoint_error": _("检查点错误"), "count": _("事件数"), "head_id": _("链头事件"),
    "written_at": _("写入时间"), "problem": _("问题"), "broken_at": _("断开处时间"), "broken_action": _("断开处操作"),
}


# Keys for machines (URL names, error codes, function names): in the CSV's JSON, not on the page.
DETAIL_FOR_MACHINES = {"view", "code", "service"}


def details_text(details: dict, action: str = "") -> str:
    """An event's details as `name: value` pairs, for people (the JSON itself stays the record)."""
    if not details:
        return ""
    return "; ".join(
        f"{DETAIL_LABELS.get(key, key)}: {detail_value_label(action, key, value) or _plain(value)}"
        for key, value in details.items() if value not in (None, "", {}, []) and key not in DETAIL_FOR_MACHINES
    )


def _plain(value) -> str:
    if isinstance(value, dict):
        return ", ".join(f"{DETAIL_LABELS.get(key, key)}={_plain(item)}" for key, item in value.items()) or "—"
    if isinstance(value, list | tuple):
        return ", ".join(_plain(item) for item in value) or "—"
    return "—" if value in (None, "") else str(value)


def object_type_label(label: str) -> str:
    """A model's name in the active language for its `app.model` label (the label itself if unknown)."""
    try:
        return str(apps.get_model(label)._meta.verbose_name)
    except (LookupError, ValueError):
        return label


NOWRAP = {"td": {"class": "nowrap"}}


class AuditEventTable(tables.Table):
    occurred_at = tables.Column(verbose_name=_("时间"), attrs=NOWRAP)
    actor = tables.Column(verbose_name=_("操作人"), accessor="actor_username", order_by=("actor_username", "-id"))
    source_ip = tables.Column(verbose_name=_("来源 IP"), default="—")
    action = tables.Column(verbose_name=_("操作"), order_by=("action", "-id"))
    outcome = tables.Column(verbose_name=_("结果"), attrs=NOWRAP)
    object = tables.Column(verbose_name=_("对象"), accessor="object_repr", orderable=False, empty_values=())
    agency = tables.Column(verbose_name=_("单位"), orderable=False, default="—")
    details = tables.Column(verbose_name=_("详情"), orderable=False, empty_values=(), attrs={"td": {"class": "details"}})

    class Meta:
        model = AuditEvent
        fields = []
        sequence = ("occurred_at", "actor", "source_ip", "action", "outcome", "object", "agency", "details")
        order_by = ("-occurred_at",)
        empty_text = _("没有符合条件的审计事件。")
        attrs = {"class": "audit"}
        row_attrs = {"data-event": lambda record: record.pk}

    def order_occurred_at(self, queryset, is_descending):
        # The id breaks ties (and is the chain's order): events in one second keep their sequence.
        order = ("-occurred_at", "-id") if is_descending else ("occurred_at", "id")
        return queryset.order_by(*order), True

    def render_occurred_at(self, value):
        return seconds(value)

    def render_actor(self, record):
        return record.actor_username or _("系统")

    def render_action(self, record):
        return format_html('<span title="{}" data-action="{}">{}</span>', record.action, record.action,
                           action_label(record.action))

    def render_outcome(self, record):
        return badge(record.outcome, record.get_outcome_display())

    def render_object(self, record):
        if not record.object_type:
            return "—"
        return format_html('{} <span class="muted" title="{}">{} #{}</span>', record.object_repr, record.object_type,
                           object_type_label(record.object_type), record.object_id)

    def render_agency(self, value):
        return value.display_name

    def render_details(self, record):
        return details_text(record.details, record.action) or "—"


def audit_csv_columns() -> list[tuple[str, object]]:
    outcomes = labels(AuditOutcome)
    agency_name = cached(lambda obj: obj.display_name)
    return [
        (_("编号"), lambda row: row.pk),
        (_("时间（北京时间）"), lambda row: seconds(row.occurred_at)),
        (_("操作人账号"), lambda row: row.actor_username),
        (_("来源 IP"), lambda row: row.source_ip or ""),
        (_("操作"), lambda row: action_label(row.action)),
        (_("操作代码"), lambda row: row.action),
        (_("结果"), lambda row: outcomes.get(row.outcome, row.outcome)),
        (_("对象类型"), lambda row: row.object_type),
        (_("对象 ID"), lambda row: row.object_id),
        (_("对象"), lambda row: row.object_repr),
        (_("单位"), lambda row: agency_name(row.agency) if row.agency_id else ""),
        (_("详情"), lambda row: json.dumps(row.details, ensure_ascii=False, sort_keys=True) if row.details else ""),
        (_("哈希"), lambda row: row.hash),
    ]
