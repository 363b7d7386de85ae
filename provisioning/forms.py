"""Forms of the request journey: the request's own fields beside the module's parameter form, decisions,
the day-2 changes, and an operator's verdict on a run that lost its worker."""
from django import forms
from django.core.validators import MaxValueValidator
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext

from catalogue.choices import DataClassification
from catalogue.forms import offering_parameters_form_class
from catalogue.models import Offering
from portal.choices import ChannelKind
from portal.forms import PortalFormMixin
from portal.models import Agency

from .services.reconcile import Outcome


class RequestForm(PortalFormMixin, forms.Form):
    title = forms.CharField(label=_("标题"), max_length=128, required=False, help_text=_("留空则自动生成。"))
    justification = forms.CharField(
        label=_("申请理由"), widget=forms.Textarea(attrs={"rows": 3}), max_length=2000,
        help_text=_("说明业务用途，审批人将据此审核。"),
    )
    data_classification = forms.TypedChoiceField(label=_("数据分级"), coerce=int)
    lease_months = forms.IntegerField(label=_("租期（月）"), min_value=1, max_value=60, initial=12)

    def __init__(self, *args, offering: Offering, **kwargs):
        super().__init__(*args, **kwargs)
        lease_within(self.fields["lease_months"], offering)
        self.fields["lease_months"].initial = offering.lease_default_months
        self.fields["data_classification"].choices = [
            (level, DataClassification(level).label) for level in offering.effective_classifications
        ]
        self.fields["data_classification"].help_text = _("此云允许：%(levels)s") % {
            "levels": pgettext("list separator", "、").join(offering.classification_labels())
        }


class AdoptForm(PortalFormMixin, forms.Form):
    """Who an unmanaged object is adopted for, and as which offering of its cloud."""

    agency = forms.ModelChoiceField(label=_("归属单位"), queryset=Agency.objects.none(),
                                    help_text=_("纳管后资源归该单位，申请以该单位申请人的名义提交。"))
    offering = forms.ModelChoiceField(label=_("服务规格"), queryset=Offering.objects.none(),
                                      help_text=_("只列出此云上能管理这类对象的服务规格。"))

    def __init__(self, *args, offerings: list[Offering], **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["agency"].queryset = Agency.objects.order_by("code")
        self.fields["agency"].label_from_instance = lambda agency: agency.display_name
        self.fields["offering"].queryset = Offering.objects.filter(pk__in=[offering.pk for offering in offerings]).select_related("service")
        self.fields["offering"].label_from_instance = lambda offering: offering.service.display_name


class DecisionForm(PortalFormMixin, forms.Form):
    comment = forms.CharField(
        label=_("审批意见"), required=False, max_length=2000, widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("驳回时必填。"),
    )


class ExtendForm(PortalFormMixin, forms.Form):
    lease_months = forms.IntegerField(label=_("续期（月）"), min_value=1, max_value=60, initial=12)
    justification = forms.CharField(label=_("理由"), widget=forms.Textarea(attrs={"rows": 2}), max_length=2000)

    def __init__(self, *args, offering: Offering | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        if offering is not None:
            lease_within(self.fields["lease_months"], offering)
            self.fields["lease_months"].initial = min(offering.lease_default_months, offering.lease_max_months)


def lease_within(field: forms.IntegerField, offering: Offering) -> None:
    """Bound a lease field by the offering's longest lease, and say so under it."""
    field.max_value = offering.lease_max_months
    field.validators = [v for v in field.validators if not isinstance(v, MaxValueValidator)]
    field.validators.append(MaxValueValidator(offering.lease_max_months))
    field.widget.attrs["max"] = offering.lease_max_months
    field.help_text = _("1 到 %(max)s 个月。") % {"max": offering.lease_max_months}


class DecommissionForm(PortalFormMixin, forms.Form):
    confirm_name = forms.CharField(label=_("确认资源名称"), max_length=128, help_text=_("请输入资源名称以确认退订。"))
    justification = forms.CharField(label=_("理由"), widget=forms.Textarea(attrs={"rows": 2}), max_length=2000)

    def __init__(self, *args, instance_name: str, **kwargs):
        super().__init__(*args, **kwargs)
        self.instance_name = instance_name

    def clean_confirm_name(self):
        value = self.cleaned_data["confirm_name"].strip()
        if value != self.instance_name:
            raise forms.ValidationError(_("名称不符：请输入“%(name)s”。") % {"name": self.instance_name})
        return value


class ModifyJustificationForm(PortalFormMixin, forms.Form):
    justification = forms.CharField(label=_("变更理由"), widget=forms.Textarea(attrs={"rows": 2}), max_length=2000)


class OutcomeSelect(forms.RadioSelect):
    """Radio buttons where some choices show but cannot be picked, so the operator sees what is ruled out."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.disabled_choices: set[str] = set()

    def create_option(self, name, value, *args, **kwargs):
        option = super().create_option(name, value, *args, **kwargs)
        if value in self.disabled_choices:
            option["attrs"]["disabled"] = True
        return option


class ReconcileForm(PortalFormMixin, forms.Form):
    """Close a run that lost its worker. The service decides whether an outcome is allowed; the form only greys
    out 'succeeded' with the service's reason, so the reason is in front of the operator before they pick."""

    outcome = forms.ChoiceField(
        label=_("处置结果"), choices=Outcome.choices, widget=OutcomeSelect(attrs={"class": "choices"}),
        error_messages={"required": _("请选择处置结果。"), "invalid_choice": _("请选择处置结果。")},
    )
    note = forms.CharField(
        label=_("核对说明"), widget=forms.Textarea(attrs={"rows": 3}), max_length=2000,
        help_text=_("看到了什么，为何这样处置；记入运行的错误信息和审计记录。"),
        error_messages={
            "required": _("请填写核对说明：看到了什么，为何这样处置。"),
            "max_length": _("核对说明不能超过 2000 个字符。"),
        },
    )

    def __init__(self, *args, why_not_succeeded: str = "", **kwargs):
        super().__init__(*args, **kwargs)
        if why_not_succeeded:
            self.fields["outcome"].widget.disabled_choices = {Outcome.SUCCEEDED}
            self.fields["outcome"].help_text = why_not_succeeded
            self.fields["outcome"].initial = Outcome.FAILED


def change_parameters_form_class(instance) -> type[forms.Form]:
    """The offering's parameter form for changing an instance: a sensitive field left empty keeps the value
    the instance has (it is never shown, so it cannot be edited in place)."""
    base = offering_parameters_form_class(instance.offering)
    kept = instance.workspace.secret_variables

    class ChangeParametersForm(base):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            for name in kept:
                if name in self.fields:
                    self.fields[name].required = False
                    self.fields[name].widget.attrs.pop("required", None)
                    self.fields[name].help_text = format_lazy("{} {}", self.fields[name].help_text, _("留空则保持原值。"))

        def clean(self):
            for name, value in kept.items():
                if self.cleaned_data.get(name) in (None, ""):
                    self.cleaned_data[name] = value
            return super().clean()

    return ChangeParametersForm


class ChannelForm(PortalFormMixin, forms.Form):
    """A new DingTalk / WeCom robot or webhook; the URL and the secret are never shown again once saved."""

    kind = forms.ChoiceField(label=_("类型"))
    name = forms.CharField(label=_("名称"), max_length=64, help_text=_("例如：本单位运维群。"))
    url = forms.CharField(
        label=_("Webhook 地址"), max_length=1000,
        help_text=_("机器人或接收方提供的完整地址，以 http:// 或 https:// 开头。保存后不再显示。"),
    )
    secret = forms.CharField(
        label=_("签名密钥"), max_length=256, required=False, widget=forms.PasswordInput(render_value=False),
        help_text=_("钉钉机器人“加签”的密钥（可选）；通用 Webhook 必填，用于计算 X-Portal-Signature。企业微信无需填写。"),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)

        self.fields["kind"].choices = [
            (kind.value, kind.label) for kind in (ChannelKind.DINGTALK, ChannelKind.WECOM, ChannelKind.WEBHOOK)
        ]
