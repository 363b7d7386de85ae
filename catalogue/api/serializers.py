from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from catalogue.models import Cloud, Offering, Service
from catalogue.module_schema import ModuleSchemaError, to_json_schema
from catalogue.selectors import offering_variables


class CloudSerializer(serializers.ModelSerializer):
    tier_display = serializers.CharField(source="get_tier_display", read_only=True)
    owner_agency = serializers.CharField(source="owner_agency.name", read_only=True)
    owner_agency_en = serializers.CharField(source="owner_agency.name_en", read_only=True)

    class Meta:
        model = Cloud
        fields = [
            "slug", "name", "name_en", "tier", "tier_display", "description", "owner_agency", "owner_agency_en",
            "endpoint", "region", "allowed_classifications", "offers", "status",
        ]


class ServiceSerializer(serializers.ModelSerializer):
    class Meta:
        model = Service
        fields = ["slug", "name", "name_en", "description", "module_name"]


class OfferingSerializer(serializers.ModelSerializer):
    service = ServiceSerializer(read_only=True)
    cloud = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    cloud_name = serializers.CharField(source="cloud.name", read_only=True)
    cloud_name_en = serializers.CharField(source="cloud.name_en", read_only=True)
    cloud_tier = serializers.CharField(source="cloud.tier", read_only=True)
    module = serializers.SerializerMethodField()
    allowed_classifications = serializers.ListField(source="effective_classifications", read_only=True)
    schema = serializers.SerializerMethodField()

    class Meta:
        model = Offering
        fields = [
            "id", "service", "cloud", "cloud_name", "cloud_name_en", "cloud_tier", "module", "summary", "enabled", "capabilities",
            "allowed_classifications", "base_monthly_price", "unit_prices", "schema",
        ]

    @extend_schema_field(OpenApiTypes.OBJECT)
    def get_module(self, offering: Offering) -> dict:
        return {"name": offering.module.name, "version": offering.module.version, "digest": offering.module.digest}

    @extend_schema_field(OpenApiTypes.OBJECT)
    def get_schema(self, offering: Offering) -> dict:
        """The JSON Schema of the request parameters; an unreadable module answers with its error instead."""
        try:
            return to_json_schema(offering_variables(offering))
        except ModuleSchemaError as exc:
            return {"error": str(exc)}
