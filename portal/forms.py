"""One wording for what is wrong in a form, the same in every form of the portal and in the module forms
(catalogue.module_forms, whose "此项为必填项。" is also what the API says of a missing parameter)."""
from django import forms
from django.utils.translation import gettext_lazy as _

from catalogue.models import Cloud

from .choices import Role
from .models import Agency

MESSAGES = {
    "required": _("此项为必填项。"),
    "invalid_choice": _("请从列表中选择一项。"),
    "max_length": _("不能超过 %(limit_value)d 个字符（现有 %(show_value)d 个）。"),
    "min_value": _("不能小于 %(limit_value)s。"),
    "max_value": _("不能大于 %(limit_value)s。"),
}
INVALID = {forms.IntegerField: _("请输入整数。"), forms.DecimalField: _("请输入数字。"), forms.FloatField: _("请输入数字。")}


def _defaults(field: forms.Field) -> dict:
    """Django's own messages for this kind of field (a message a form gave the field itself differs from these)."""
    messages: dict = {}
    for cls in reversed(type(field).__mro__):
        messages.update(getattr(cls, "default_error_messages", {}))
    return messages


def use_portal_messages(field: forms.Field) -> None:
    defaults = _defaults(field)
    wording = dict(MESSAGES)
    for field_class, message in INVALID.items():
        if isinstance(field, field_class):
            wording["invalid"] = message
            break
    checked = {getattr(validator, "code", None) for validator in field.validators}
    for code, message in wording.items():
        if code in field.error_messages:
            if field.error_messages[code] is defaults.get(code):
                field.error_messages[code] = message
        elif code in checked:
            # A length or range check speaks through the field's messages when the field has one for its code.
            field.error_messages[code] = message


class PortalFormMixin:
    """Forms that say what is wrong in the portal's words, unless a field was given messages of its own."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            use_portal_messages(field)


class RoleGrantForm(PortalFormMixin, forms.Form):
    """角色分配: one role, with the agency or cloud it applies to where the role is scoped."""

    role = forms.ChoiceField(label=_("角色"))
    agency = forms.ModelChoiceField(label=_("单位"), queryset=Agency.objects.none(), required=False,
                                    help_text=_("申请人和单位审批人须指定单位；留空则为该用户所属单位。"))
    cloud = forms.ModelChoiceField(label=_("云"), queryset=Cloud.objects.none(), required=False,
                                   help_text=_("云主管部门须指定云。"))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["role"].choices = Role.choices
        self.fields["agency"].queryset = Agency.objects.filter(is_active=True).order_by("code")
        self.fields["agency"].label_from_instance = lambda agency: agency.display_name
        self.fields["cloud"].queryset = Cloud.objects.order_by("tier", "slug")
        self.fields["cloud"].label_from_instance = lambda cloud: cloud.display_name
