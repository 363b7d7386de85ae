"""The filters of the inventory, the request list and the approval inbox: one FilterSet each, shared by the
page, its CSV export and the API, so the three always narrow the same way.

Choices that name things (clouds, services, agencies) take their stable keys (slug, code), not database ids,
so a filtered URL can be read and shared. A value that is not one of the choices is a clear error, never an
empty list that looks like "nothing found".
"""
import django_filters
from django.db.models import OuterRef, QuerySet, Subquery
from django.forms import CheckboxInput
from django.utils.translation import gettext_lazy as _

from catalogue.choices import CloudTier, DataClassification
from catalogue.models import Cloud, Service
from portal.choices import Role
from portal.filters import ALL, words_search
from portal.models import Agency
from portal.permissions import agencies_where, has_role, user_can

from .choices import DriftStatus, InstanceStatus, RequestKind, RequestStatus, RunStatus
from .models import Instance, Request, Run

# The largest monthly cost the column holds (12 digits, 2 of them decimals).
MAX_COST = 10**10 - 1


class CommonFilters(django_filters.FilterSet):
    """What both lists are narrowed by: where, whose, what, how sensitive and how costly."""

    q = django_filters.CharFilter(label=_("搜索"), method="search", max_length=100)
    tier = django_filters.ChoiceFilter(label=_("云类别"), field_name="offering__cloud__tier", choices=CloudTier.choices, empty_label=ALL)
    cloud = django_filters.ModelChoiceFilter(
        label=_("云"), field_name="offering__cloud", to_field_name="slug", queryset=Cloud.objects.order_by("tier", "name"), empty_label=ALL,
    )
    service = django_filters.ModelChoiceFilter(
        label=_("服务"), field_name="offering__service", to_field_name="slug",
        queryset=Service.objects.order_by("sort_order", "name"), empty_label=ALL,
    )
    agency = django_filters.ModelChoiceFilter(
        label=_("单位"), field_name="agency", to_field_name="code", queryset=Agency.objects.order_by("code"), empty_label=ALL,
    )
    data_classification = django_filters.ChoiceFilter(label=_("数据分级"), choices=DataClassification.choices, empty_label=ALL)
    cost_min = django_filters.NumberFilter(
        label=_("月费用不低于"), method="filter_cost", lookup_expr="gte", min_value=0, max_value=MAX_COST, decimal_places=2
    )
    cost_max = django_filters.NumberFilter(
        label=_("月费用不高于"), method="filter_cost", lookup_expr="lte", min_value=0, max_value=MAX_COST, decimal_places=2
    )

    search_fields: list[str] = []

    # The global permission that shows every agency's rows on this list.
    view_all = ""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name in ("cloud", "service", "agency"):
            self.form.fields[name].label_from_instance = lambda obj: obj.display_name
        user = getattr(self.request, "user", None)
        if user is not None and not user_can(user, self.view_all) and not has_role(user, Role.CLOUD_OWNER):
            # An agency's staff choose among their own agencies, not every agency of the province.
            self.filters["agency"].queryset = self.form.fields["agency"].queryset = Agency.objects.filter(
                pk__in=agencies_where(user, "portal.request_for_agency", "portal.approve_for_agency")
            ).order_by("code")

    def search(self, queryset, name, value):
        return words_search(queryset, self.search_fields, value)

    def filter_cost(self, queryset, name, value):
        return queryset.filter(**{f"monthly_cost__{self.filters[name].lookup_expr}": value})


class InstanceFilter(CommonFilters):
    view_all = "provisioning.view_instance"
    status = django_filters.ChoiceFilter(label=_("状态"), choices=InstanceStatus.choices, empty_label=ALL)
    drift_status = django_filters.ChoiceFilter(label=_("漂移"), choices=DriftStatus.choices, empty_label=ALL)
    lease_end_after = django_filters.DateFilter(label=_("租期截止不早于"), field_name="lease_end", lookup_expr="gte")
    lease_end_before = django_filters.DateFilter(label=_("租期截止不晚于"), field_name="lease_end", lookup_expr="lte")
    last_run = django_filters.ChoiceFilter(label=_("最近运行"), choices=RunStatus.choices, method="filter_last_run", empty_label=ALL)

    search_fields = [
        "name", "agency__name", "agency__name_en", "agency__code", "offering__cloud__name", "offering__cloud__name_en",
        "offering__service__name", "offering__service__name_en",
    ]

    class Meta:
        model = Instance
        fields = []

    def filter_cost(self, queryset, name, value):
        """What a resource costs now: a destroyed one costs nothing any more, whatever it cost before."""
        return super().filter_cost(queryset, name, value).exclude(status=InstanceStatus.DESTROYED)

    def filter_last_run(self, queryset, name, value):
        return queryset.annotate(last_run_status=Subquery(last_run(OuterRef("workspace")).values("status")[:1])).filter(
            last_run_status=value
        )


class RequestFilter(CommonFilters):
    view_all = "provisioning.view_request"
    status = django_filters.ChoiceFilter(label=_("状态"), choices=RequestStatus.choices, empty_label=ALL)
    kind = django_filters.ChoiceFilter(label=_("类型"), choices=RequestKind.choices, empty_label=ALL)
    submitted_after = django_filters.DateFilter(label=_("提交不早于"), field_name="submitted_at", lookup_expr="date__gte")
    submitted_before = django_filters.DateFilter(label=_("提交不晚于"), field_name="submitted_at", lookup_expr="date__lte")
    mine = django_filters.BooleanFilter(label=_("只看我提交的"), method="filter_mine", widget=CheckboxInput)

    search_fields = [
        "title", "agency__name", "agency__name_en", "agency__code", "offering__cloud__name",
        "offering__cloud__name_en", "offering__service__name", "offering__service__name_en",
    ]

    class Meta:
        model = Request
        fields = []

    def search(self, queryset, name, value):
        """A request number (REQ-000042, or 42) finds that request; any other words search the names."""
        number = value.strip().upper().removeprefix("REQ-")
        if number.isdigit() and len(number) <= 12:
            return queryset.filter(pk=int(number))
        return super().search(queryset, name, value)

    def filter_mine(self, queryset, name, value):
        return queryset.filter(requester=self.request.user) if value and self.request else queryset


def last_run(workspace) -> QuerySet[Run]:
    """The runs of a workspace, latest first (OuterRef-able)."""
    return Run.objects.filter(workspace=workspace).order_by("-queued_at", "-id")
