"""The request journey over HTTP: the same selectors and services as the pages."""
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.filters import OrderingFilter
from rest_framework.response import Response
from rest_framework.views import APIView

from catalogue.selectors import offering_get_for_user
from portal.api.lookups import IntegerIdMixin
from provisioning.choices import RunStatus
from provisioning.filters import InstanceFilter, RequestFilter
from provisioning.models import Instance, Request, Run
from provisioning.reports import showback_for_user
from provisioning.selectors import (
    approval_inbox_for_user,
    instance_get_for_drift_check,
    instance_get_for_user,
    instance_list_for_user,
    request_get_for_user,
    request_list_for_user,
    run_get_for_reconciler,
    run_get_for_user,
    run_list_for_user,
)
from provisioning.services import reconcile as reconcile_services
from provisioning.services import requests as request_services
from provisioning.services.costs import Month

from .serializers import (
    Day2Serializer,
    DecisionSerializer,
    InstanceSerializer,
    ReconcileSerializer,
    RejectSerializer,
    RequestCreateSerializer,
    RequestSerializer,
    RunSerializer,
)


class RequestViewSet(IntegerIdMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Requests the caller may read, narrowed by the same filters as the request list page."""

    serializer_class = RequestSerializer
    queryset = Request.objects.none()  # what the schema documents; get_queryset reads what the caller may see
    filter_backends = [DjangoFilterBackend, OrderingFilter]
    filterset_class = RequestFilter
    ordering_fields = ["created_at", "submitted_at", "monthly_cost", "number"]

    def get_queryset(self):
        return request_list_for_user(self.request.user).prefetch_related("stages__approvals__approver")

    def get_object(self):
        return request_get_for_user(self.request.user, self.kwargs["pk"])

    @extend_schema(request=RequestCreateSerializer, responses={201: RequestSerializer})
    def create(self, request):
        data = RequestCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        offering = offering_get_for_user(request.user, values["offering"])
        created = request_services.request_create(
            actor=request.user,
            offering=offering,
            parameters=values["parameters"],
            title=values["title"],
            justification=values["justification"],
            data_classification=values["data_classification"],
            lease_months=values["lease_months"],
        )
        if values["submit"]:
            request_services.request_submit(actor=request.user, request=created)
        created.refresh_from_db()
        return Response(RequestSerializer(created).data, status=status.HTTP_201_CREATED)

    def _act(self, service, **kwargs):
        target = self.get_object()
        service(actor=self.request.user, request=target, **kwargs)
        target.refresh_from_db()
        return Response(RequestSerializer(target).data)

    @extend_schema(request=None, responses=RequestSerializer)
    @action(detail=True, methods=["post"])
    def submit(self, request, pk=None):
        return self._act(request_services.request_submit)

    @extend_schema(request=DecisionSerializer, responses=RequestSerializer)
    @action(detail=True, methods=["post"])
    def approve(self, request, pk=None):
        decision = DecisionSerializer(data=request.data)
        decision.is_valid(raise_exception=True)
        return self._act(request_services.request_approve, comment=decision.validated_data["comment"])

    @extend_schema(request=RejectSerializer, responses=RequestSerializer)
    @action(detail=True, methods=["post"])
    def reject(self, request, pk=None):
        decision = RejectSerializer(data=request.data)
        decision.is_valid(raise_exception=True)
        return self._act(request_services.request_reject, comment=decision.validated_data["comment"])

    @extend_schema(request=None, responses=RequestSerializer)
    @action(detail=True, methods=["post"])
    def cancel(self, request, pk=None):
        return self._act(request_services.request_cancel)

    @extend_schema(request=None, responses=RequestSerializer)
    @action(detail=True, methods=["post"])
    def retry(self, request, pk=None):
        return self._act(request_services.request_retry)

    @extend_schema(responses=RunSerializer(many=True))
    @action(detail=True, methods=["get"])
    def runs(self, request, pk=None):
        """The request's runs, newest first, a page at a time like every list."""
        page = self.paginate_queryset(self.get_object().runs.order_by("-queued_at", "-id"))
        return self.get_paginated_response(RunSerializer(page, many=True).data)


class ApprovalInboxViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    """Requests waiting at a stage the caller may sign now, narrowed by the request list's filters."""

    serializer_class = RequestSerializer
    queryset = Request.objects.none()
    filter_backends = [DjangoFilterBackend]
    filterset_class = RequestFilter

    def get_queryset(self):
        return approval_inbox_for_user(self.request.user)


@extend_schema_view(list=extend_schema(parameters=[OpenApiParameter("status", enum=RunStatus.values)]))
class RunViewSet(IntegerIdMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """A run is read with its request; the list (and closing runs that lost their worker) is for operators."""

    serializer_class = RunSerializer
    queryset = Run.objects.none()  # objects come from the selectors; this only types the schema's id

    def get_queryset(self):
        return run_list_for_user(self.request.user, status=self.request.query_params.get("status") or None)

    def get_object(self):
        return run_get_for_user(self.request.user, self.kwargs["pk"])

    @extend_schema(request=ReconcileSerializer, responses=RunSerializer)
    @action(detail=True, methods=["post"])
    def reconcile(self, request, pk=None):
        """Close a run that lost its worker as failed or succeeded, with a note saying why."""
        run = run_get_for_reconciler(request.user, pk)
        verdict = ReconcileSerializer(data=request.data)
        verdict.is_valid(raise_exception=True)
        run = reconcile_services.run_reconcile(actor=request.user, run=run, **verdict.validated_data)
        run.refresh_from_db()
        return Response(RunSerializer(run).data)

    @extend_schema(request=None, responses={201: RunSerializer})
    @action(detail=True, methods=["post"])
    def recheck(self, request, pk=None):
        """Start another reconciliation refresh of a run that lost its worker; answers with that refresh."""
        refresh = reconcile_services.run_recheck(actor=request.user, run=run_get_for_reconciler(request.user, pk))
        refresh.refresh_from_db()
        return Response(RunSerializer(refresh).data, status=status.HTTP_201_CREATED)

    @extend_schema(responses={200: {"type": "object", "properties": {"status": {"type": "string"}, "log": {"type": "string"}, "next_offset": {"type": "integer"}}}})
    @action(detail=True, methods=["get"])
    def log(self, request, pk=None):
        """The run's (redacted) log from ?offset= on, for following a run as it goes."""
        run = self.get_object()
        try:
            offset = max(int(request.query_params.get("offset", 0)), 0)
        except ValueError:
            offset = 0
        return Response({"status": run.status, "log": run.log[offset:], "next_offset": len(run.log)})


class InstanceViewSet(IntegerIdMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """The inventory: resources the caller may read, narrowed by the same filters as the inventory page."""

    serializer_class = InstanceSerializer
    queryset = Instance.objects.none()
    filter_backends = [DjangoFilterBackend, OrderingFilter]
    filterset_class = InstanceFilter
    ordering_fields = ["created_at", "name", "monthly_cost", "lease_end"]

    def get_queryset(self):
        return instance_list_for_user(self.request.user)

    def get_object(self):
        return instance_get_for_user(self.request.user, self.kwargs["pk"])

    @extend_schema(request=Day2Serializer, responses={201: RequestSerializer})
    @action(detail=True, methods=["post"], url_path="requests")
    def change(self, request, pk=None):
        """Ask to modify, extend or decommission this instance (submitted at once)."""
        instance = self.get_object()
        data = Day2Serializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        created = request_services.request_create_day2(
            actor=request.user, instance=instance, kind=values["kind"], parameters=values["parameters"],
            lease_months=values["lease_months"], justification=values["justification"],
        )
        request_services.request_submit(actor=request.user, request=created)
        created.refresh_from_db()
        return Response(RequestSerializer(created).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=None, responses={201: RunSerializer})
    @action(detail=True, methods=["post"], url_path="drift-check")
    def drift_check(self, request, pk=None):
        """Check now whether the cloud still holds what the state says (a refresh-only plan); for operators."""
        instance = instance_get_for_drift_check(request.user, pk)
        run = reconcile_services.instance_drift_check(actor=request.user, instance=instance)
        run.refresh_from_db()
        return Response(RunSerializer(run).data, status=status.HTTP_201_CREATED)


class ShowbackLineSerializer(serializers.Serializer):
    agency = serializers.CharField(source="agency.name")
    agency_en = serializers.CharField(source="agency.name_en")
    agency_code = serializers.CharField(source="agency.code")
    cloud = serializers.CharField(source="cloud.slug")
    tier = serializers.CharField(source="cloud.tier")
    instances = serializers.IntegerField()
    cost = serializers.DecimalField(max_digits=14, decimal_places=2)


class ShowbackSerializer(serializers.Serializer):
    month = serializers.CharField()
    total = serializers.DecimalField(max_digits=16, decimal_places=2)
    lines = ShowbackLineSerializer(many=True)


class ShowbackApi(APIView):
    """A month's cost of what the caller may see, per agency and cloud: each resource's price prorated over the
    part of the month it existed at that price (the showback page's figures)."""

    @extend_schema(
        parameters=[OpenApiParameter("month", str, description="YYYY-MM; this month when left out", pattern=r"^\d{4}-\d{2}$")],
        responses={200: ShowbackSerializer},
    )
    def get(self, request):
        month = Month.asked(request.query_params.get("month"))
        report = showback_for_user(request.user, month)
        return Response(ShowbackSerializer({"month": str(month), "total": report["total"], "lines": report["lines"]}).data)
