"""What the list pages' filters share, and the audit trail's own filters (the page and its CSV export).

Times are asked for as dates in the portal's time zone (Asia/Shanghai) and compared with the trail's UTC
timestamps as the exact instants those days begin and end, so the column's index does the work.
"""
import datetime

import django_filters
from django.apps import apps
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .audit import action_choices
from .choices import AuditOutcome
from .models import Agency, AuditEvent

ALL = _("全部")
# The apps whose objects the trail names (the object type choice list).
AUDITED_APPS = ("portal", "catalogue", "provisioning")


def words_search(queryset, fields: list[str], value: str):
    """Every word must match one of `fields` (Chinese or English names, numbers)."""
    for word in value.split()[:8]:
        match = Q()
        for field in fields:
            match |= Q(**{f"{field}__icontains": word})
        queryset = queryset.filter(match)
    return queryset


def day_start(day: datetime.date) -> datetime.datetime:
    """The instant `day` begins in the portal's time zone."""
    return timezone.make_aware(datetime.datetime.combine(day, datetime.time.min))


def object_type_choices() -> list[tuple[str, str]]:
    models = [model for name in AUDITED_APPS for model in apps.get_app_config(name).get_models()]
    return sorted(((model._meta.label_lower, str(model._meta.verbose_name)) for model in models), key=lambda c: c[1])


class AuditEventFilter(django_filters.FilterSet):
    actor = django_filters.CharFilter(label=_("操作人"), method="filter_actor", max_length=150)
    agency = django_filters.ModelChoiceFilter(
        label=_("单位"), field_name="agency", to_field_name="code", queryset=Agency.objects.order_by("code"), empty_label=ALL,
    )
    action = django_filters.ChoiceFilter(label=_("操作"), choices=action_choices, empty_label=ALL)
    outcome = django_filters.ChoiceFilter(label=_("结果"), choices=AuditOutcome.choices, empty_label=ALL)
    object_type = django_filters.ChoiceFilter(label=_("对象类型"), choices=object_type_choices, empty_label=ALL)
    object_id = django_filters.CharFilter(label=_("对象 ID"), max_length=64)
    object = django_filters.CharFilter(label=_("对象名称"), method="filter_object", max_length=100)
    occurred_after = django_filters.DateFilter(label=_("日期不早于"), method="filter_after")
    occurred_before = django_filters.DateFilter(label=_("日期不晚于"), method="filter_before")

    class Meta:
        model = AuditEvent
        fields = []

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.form.fields["agency"].label_from_instance = lambda obj: obj.display_name

    def filter_actor(self, queryset, name, value):
        """The account name or the person's name, word by word."""
        return words_search(queryset, ["actor_username", "actor__full_name"], value)

    def filter_object(self, queryset, name, value):
        return words_search(queryset, ["object_repr"], value)

    def filter_after(self, queryset, name, value):
        return queryset.filter(occurred_at__gte=day_start(value))

    def filter_before(self, queryset, name, value):
        return queryset.filter(occurred_at__lt=day_start(value + datetime.timedelta(days=1)))
