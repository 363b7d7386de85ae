"""Catalogue pages: the whole 1+14+N on one page, and one offering with its request form."""
from collections import OrderedDict

from django.contrib.auth.mixins import LoginRequiredMixin
from django.views.generic import TemplateView

from portal.permissions import user_can, user_can_request

from .choices import CloudTier
from .forms import CatalogueFilterForm, offering_parameters_form_class
from .module_schema import ModuleSchemaError
from .pricing import priced_parameters
from .selectors import cloud_list_for_user, offering_get_for_user, offering_list_for_user, service_list

# What the catalogue page never shows of an offering: its module's files (the Terraform source, parsed only for a
# request form) and its cloud's offers and credentials.
CATALOGUE_UNREAD = ("module__files", "cloud__offers", "cloud__credentials_token")

TIER_MARK = {CloudTier.GOVERNMENT: "1", CloudTier.INDUSTRY: "14", CloudTier.SPECIALTY: "N"}


def estimate_fields(user, offering) -> str:
    """The request form's fields the live estimate posts (htmx hx-params): the CSRF token, the priced parameters
    and the lease; empty for a user who may not request for an agency, who gets no estimate."""
    if user.agency is None or not user_can(user, "portal.request_for_agency", user.agency):
        return ""
    priced = [f"p-{name}" for name in priced_parameters(offering.usage_rules)]
    return ",".join(["csrfmiddlewaretoken", *priced, "r-lease_months"])


class CatalogueView(LoginRequiredMixin, TemplateView):
    template_name = "catalogue/index.html"

    def get_context_data(self, **kwargs):
        user = self.request.user
        clouds = list(cloud_list_for_user(user))
        form = CatalogueFilterForm(self.request.GET or None, clouds=clouds, services=service_list())
        filters = form.cleaned_data if form.is_valid() else {}
        offerings = offering_list_for_user(
            user,
            tier=filters.get("tier"),
            cloud=filters.get("cloud"),
            service=filters.get("service"),
            query=filters.get("q"),
        ).defer(*CATALOGUE_UNREAD)
        # Group as tier → cloud → offerings, keeping every visible cloud of a shown tier even with no match
        # only when nothing narrows the view; a filtered view lists just the clouds that matched.
        narrowed = any(filters.get(name) for name in ("cloud", "service", "q"))
        tiers: OrderedDict = OrderedDict(
            (tier, {"tier": tier, "label": tier.label, "mark": TIER_MARK[tier], "clouds": OrderedDict()})
            for tier in CloudTier
            if not filters.get("tier") or filters["tier"] == tier
        )
        if not narrowed:
            for cloud in clouds:
                if cloud.tier in tiers:
                    tiers[cloud.tier]["clouds"].setdefault(cloud.pk, {"cloud": cloud, "offerings": []})
        for offering in offerings:
            entry = tiers[offering.cloud.tier]["clouds"].setdefault(
                offering.cloud_id, {"cloud": offering.cloud, "offerings": []}
            )
            entry["offerings"].append(offering)
        for tier in tiers.values():
            tier["clouds"] = list(tier["clouds"].values())
        return super().get_context_data(
            form=form,
            tiers=list(tiers.values()),
            result_count=len(offerings),
            **kwargs,
        )


class OfferingDetailView(LoginRequiredMixin, TemplateView):
    template_name = "catalogue/offering_detail.html"

    def dispatch(self, request, *args, **kwargs):
        if request.user.is_authenticated:
            self.offering = offering_get_for_user(request.user, kwargs["pk"])
        return super().dispatch(request, *args, **kwargs)

    def get_context_data(self, **kwargs):
        from provisioning.forms import RequestForm

        context = {
            "offering": self.offering,
            "request_form": RequestForm(offering=self.offering, prefix="r"),
            "can_request": user_can_request(self.request.user),
        }
        try:
            context["form"] = offering_parameters_form_class(self.offering)(prefix="p")
            context["estimate_fields"] = estimate_fields(self.request.user, self.offering)
        except ModuleSchemaError as exc:
            context["module_error"] = exc
        return super().get_context_data(**context, **kwargs)
