"""Forms of the catalogue: the filter bar, and the request form built from an offering's module."""
from django import forms
from django.utils.translation import gettext_lazy as _

from portal.forms import PortalFormMixin

from .choices import CloudTier
from .models import Offering
from .module_forms import build_form_class
from .module_i18n import translate_module_text
from .selectors import offering_variables


class CatalogueFilterForm(PortalFormMixin, forms.Form):
    tier = forms.ChoiceField(label=_("类别"), required=False, choices=[("", _("全部类别")), *CloudTier.choices])
    cloud = forms.ChoiceField(label=_("云"), required=False)
    service = forms.ChoiceField(label=_("服务"), required=False)
    q = forms.CharField(label=_("搜索"), required=False, max_length=64)

    def __init__(self, *args, clouds, services, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["cloud"].choices = [("", _("全部云")), *((c.slug, c.display_name) for c in clouds)]
        self.fields["service"].choices = [("", _("全部服务")), *((s.slug, s.display_name) for s in services)]
        self.fields["q"].widget.attrs["placeholder"] = _("云、服务或主管部门")


def offering_parameters_form_class(offering: Offering) -> type[forms.Form]:
    """The request form for this offering, generated from its module version's variables.tf and narrowed to
    what its cloud offers."""
    return build_form_class(offering_variables(offering), translate=translate_module_text)
