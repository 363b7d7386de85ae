"""Reads of the catalogue, filtered to what the user may see."""
from django.db.models import Q, QuerySet
from django.http import Http404

from portal.permissions import objects_for_user, user_can

from .choices import CloudStatus
from .models import Cloud, ModuleVersion, Offering, Service
from .module_schema import Variable
from .offers import restrict_to_offers


def cloud_list_for_user(user) -> QuerySet[Cloud]:
    clouds = objects_for_user(user, "catalogue.view_cloud", Cloud.objects.select_related("owner_agency"))
    if not user_can(user, "catalogue.change_cloud"):
        clouds = clouds.exclude(status=CloudStatus.RETIRED)
    return clouds


def service_list() -> QuerySet[Service]:
    return Service.objects.all()


def offering_list_for_user(
    user,
    *,
    tier: str | None = None,
    cloud: str | None = None,
    service: str | None = None,
    query: str | None = None,
) -> QuerySet[Offering]:
    offerings = Offering.objects.filter(cloud__in=cloud_list_for_user(user)).select_related(
        "cloud", "cloud__owner_agency", "service", "module"
    )
    if not user_can(user, "catalogue.change_offering"):
        offerings = offerings.filter(enabled=True)
    if tier:
        offerings = offerings.filter(cloud__tier=tier)
    if cloud:
        offerings = offerings.filter(cloud__slug=cloud)
    if service:
        offerings = offerings.filter(service__slug=service)
    if query:
        offerings = offerings.filter(
            Q(cloud__name__icontains=query)
            | Q(cloud__name_en__icontains=query)
            | Q(service__name__icontains=query)
            | Q(service__name_en__icontains=query)
            | Q(summary__icontains=query)
            | Q(cloud__description__icontains=query)
            | Q(service__description__icontains=query)
            | Q(cloud__owner_agency__name__icontains=query)
            | Q(cloud__owner_agency__name_en__icontains=query)
        )
    return offerings.order_by("cloud__sort_order", "cloud__slug", "service__sort_order")


def offering_get_for_user(user, pk: int) -> Offering:
    """The offering, or 404 when it does not exist or the user may not see it (no existence leak)."""
    try:
        return offering_list_for_user(user).get(pk=pk)
    except (Offering.DoesNotExist, ValueError, TypeError) as exc:
        raise Http404 from exc


def cloud_get_for_user(user, slug: str) -> Cloud:
    try:
        return cloud_list_for_user(user).get(slug=slug)
    except Cloud.DoesNotExist as exc:
        raise Http404 from exc


def module_variables(module: ModuleVersion) -> list[Variable]:
    """The module version's variables, parsed once per published digest (raises ModuleSchemaError)."""
    return module.variables()


def offering_variables(offering: Offering) -> list[Variable]:
    """What a request for this offering may set: the module's variables narrowed to the zones, images and
    flavours its cloud offers. The form, the JSON Schema and the server-side check all read this."""
    return restrict_to_offers(module_variables(offering.module), offering.cloud.offers, cloud=offering.cloud.name)
