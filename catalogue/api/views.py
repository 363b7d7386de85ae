from rest_framework import viewsets

from catalogue.selectors import (
    cloud_get_for_user,
    cloud_list_for_user,
    offering_get_for_user,
    offering_list_for_user,
    service_list,
)
from portal.api.lookups import IntegerIdMixin

from .serializers import CloudSerializer, OfferingSerializer, ServiceSerializer


class CloudViewSet(viewsets.ReadOnlyModelViewSet):
    serializer_class = CloudSerializer
    lookup_field = "slug"

    def get_queryset(self):
        return cloud_list_for_user(self.request.user)

    def get_object(self):
        return cloud_get_for_user(self.request.user, self.kwargs["slug"])


class ServiceViewSet(viewsets.ReadOnlyModelViewSet):
    serializer_class = ServiceSerializer
    lookup_field = "slug"

    def get_queryset(self):
        return service_list()


class OfferingViewSet(IntegerIdMixin, viewsets.ReadOnlyModelViewSet):
    serializer_class = OfferingSerializer

    def get_queryset(self):
        params = self.request.query_params
        return offering_list_for_user(
            self.request.user,
            tier=params.get("tier"),
            cloud=params.get("cloud"),
            service=params.get("service"),
            query=params.get("q"),
        )

    def get_object(self):
        return offering_get_for_user(self.request.user, self.kwargs["pk"])
