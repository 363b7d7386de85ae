"""Plan summaries in plain words: the action's name, and each attribute's before and after as a person reads
them (objects as "key: value" lines, lists of objects as tables), never a Python repr."""
from django import template
from django.utils.translation import gettext as _

from catalogue.templatetags.readable import plain
from provisioning.choices import ResourceAction
from provisioning.plan_summary import UNKNOWN

register = template.Library()


@register.filter
def action_label(action: str) -> str:
    return ResourceAction(action).label if action in ResourceAction.values else action


@register.filter
def plan_value(value) -> str:
    if value == UNKNOWN:
        return _("（执行后可知）")
    return plain(value)
