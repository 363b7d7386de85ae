"""Pages of the request journey: request form, my requests, request detail with live run log, approvals
inbox, the inventory with its day-2 changes and drift checks, the inbox, and the operators' page that closes
runs which lost their worker. Views read through selectors and write through services; a DomainError becomes
a message beside the field or at the top of the page."""
from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import Http404, HttpResponseRedirect, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views import View
from django.views.generic import ListView, TemplateView

from catalogue.forms import offering_parameters_form_class
from catalogue.module_schema import ModuleSchemaError
from catalogue.pricing import priced_parameters
from catalogue.selectors import offering_get_for_user
from catalogue.views import estimate_fields
from portal.errors import DomainError
from portal.lists import FilteredTableView
from portal.permissions import user_can, user_can_request
from portal.services import audit_record
from portal.tables import MAX_ROWS, PER_PAGE, rows_as_csv

from .choices import InstanceStatus, RequestKind, RequestStatus, RunStatus, StageStatus
from .filters import InstanceFilter, RequestFilter
from .forms import (
    AdoptForm,
    DecisionForm,
    DecommissionForm,
    ExtendForm,
    ModifyJustificationForm,
    ReconcileForm,
    RequestForm,
    change_parameters_form_class,
)
from .plan_summary import action_counts
from .reports import overview_for_user, showback_for_user
from .selectors import (
    approval_inbox_for_user,
    capacity_for_user,
    failed_requests_for_user,
    finding_get_for_adopter,
    instance_attention_list_for_user,
    instance_get_for_drift_check,
    instance_get_for_user,
    instance_latest_refresh_for_user,
    instance_list_for_user,
    instance_polls,
    instance_timeline,
    leases_ending_for_user,
    notification_list_for_user,
    open_findings_for_user,
    reconciliation_list_for_user,
    request_detail_context,
    request_estimate,
    request_get_for_user,
    request_list_for_user,
    request_polls,
    run_get_for_reconciler,
    run_get_for_user,
)
from .services import reconcile as reconcile_services
from .services import requests as request_services
from .services.adopt import NAMED_BY_IDENTITY, adoption_offerings, finding_adopt
from .services.bulk import decommission_bulk, instance_reapply
from .services.costs import Month
from .services.notifications import notification_mark_all_read, notification_mark_read
from .services.requests import ParameterErrors
from .tables import (
    INSTANCE_CSV_FIELDS,
    InstanceTable,
    RequestTable,
    instance_csv_columns,
    request_csv_columns,
    with_last_run,
)

# The approval inbox's page (oldest first), as long as the other lists'; filters narrow it.
INBOX_PER_PAGE = PER_PAGE
# What the inbox reads of a request's plan run: its status and summary, not its log, state or variables.
INBOX_RUN_UNREAD = ("log", "error", "variables", "secret_variables_token", "outputs", "resources", "timings")
# Instances one bulk decommission may take.
MAX_BULK = 100

# The page template of a view that htmx polls, rendered without the site around it: only its content block.
LIVE_FRAGMENT = "provisioning/_live.html"


def apply_domain_error(exc: DomainError, *forms_by_field) -> bool:
    """Put the error beside its field when one of the forms has that field; True when it was placed."""
    if isinstance(exc, ParameterErrors):
        form = forms_by_field[0]
        for name, errors in exc.errors.items():
            for error in errors:
                form.add_error(name if name in form.fields else None, error)
        return True
    for form in forms_by_field:
        if exc.field and exc.field in form.fields:
            form.add_error(exc.field, exc.message)
            return True
    return False


class RequestCreateView(LoginRequiredMixin, TemplateView):
    """The offering page's form: the module's parameters plus the request's own fields."""

    template_name = "catalogue/offering_detail.html"

    def dispatch(self, request, *args, **kwargs):
        if request.user.is_authenticated:
            self.offering = offering_get_for_user(request.user, kwargs["offering_pk"])
        return super().dispatch(request, *args, **kwargs)

    def get(self, request, *args, **kwargs):
        return redirect("catalogue:offering_detail", pk=self.offering.pk)

    def post(self, request, *args, **kwargs):
        try:
            parameters_form = offering_parameters_form_class(self.offering)(request.POST, prefix="p")
        except ModuleSchemaError as exc:
            messages.error(request, str(exc))
            return redirect("catalogue:offering_detail", pk=self.offering.pk)
        request_form = RequestForm(request.POST, offering=self.offering, prefix="r")
        if parameters_form.is_valid() and request_form.is_valid():
            data = request_form.cleaned_data
            try:
                created = request_services.request_create(
                    actor=request.user,
                    offering=self.offering,
                    parameters=parameters_form.cleaned_data,
                    title=data["title"],
                    justification=data["justification"],
                    data_classification=data["data_classification"],
                    lease_months=data["lease_months"],
                )
                if "save_draft" not in request.POST:
                    request_services.request_submit(actor=request.user, request=created)
                    messages.success(request, _("申请 %(number)s 已提交，正在生成执行计划。") % {"number": created.number})
                else:
                    messages.success(request, _("申请 %(number)s 已保存为草稿。") % {"number": created.number})
                return redirect("provisioning:request_detail", pk=created.pk)
            except DomainError as exc:
                if not apply_domain_error(exc, parameters_form, request_form):
                    request_form.add_error(None, exc.message)
        return self.render_to_response({
            "offering": self.offering, "form": parameters_form, "request_form": request_form,
            "can_request": user_can_request(request.user),
            "estimate_fields": estimate_fields(request.user, self.offering),
        })


class RequestListView(FilteredTableView):
    template_name = "provisioning/request_list.html"
    filterset_class = RequestFilter
    table_class = RequestTable
    export_name = "requests"

    def visible(self):
        return request_list_for_user(self.request.user)

    def csv_columns(self):
        return request_csv_columns()


class RequestDetailView(LoginRequiredMixin, TemplateView):
    template_name = "provisioning/request_detail.html"
    base_template = "base.html"

    def get_context_data(self, **kwargs):
        request_obj = request_get_for_user(self.request.user, kwargs["pk"])
        return super().get_context_data(
            **request_detail_context(self.request.user, request_obj),
            base_template=self.base_template, polling=request_polls(request_obj), **kwargs,
        )


class RequestLiveView(RequestDetailView):
    """The request page's content without the page around it; htmx polls it while the request moves on, so a
    page left open shows the plan, each approval and the apply as they happen. Seen by whoever sees the page."""

    base_template = LIVE_FRAGMENT


class RequestEstimateView(LoginRequiredMixin, TemplateView):
    """估算: the monthly cost and quota effect of the request form's values as they stand, for the offering page
    (htmx posts the priced fields on every change). Figures come from the function submit records them with;
    a priced field not filled in yet gets a note naming it, not an error. Only for those who may request for
    their agency; anybody else gets 404."""

    template_name = "provisioning/_estimate.html"
    http_method_names = ["post"]

    def dispatch(self, request, *args, **kwargs):
        if request.user.is_authenticated:
            self.offering = offering_get_for_user(request.user, kwargs["offering_pk"])
            self.agency = request.user.agency
            if self.agency is None or not user_can(request.user, "portal.request_for_agency", self.agency):
                raise Http404
        return super().dispatch(request, *args, **kwargs)

    def post(self, request, *args, **kwargs):
        context = {"offering": self.offering}
        try:
            form = offering_parameters_form_class(self.offering)(request.POST, prefix="p")
        except ModuleSchemaError as exc:
            return self.render_to_response({**context, "error": str(exc)})
        form.is_valid()
        unfilled = [
            str(form[name].label) for name in priced_parameters(self.offering.usage_rules)
            if name in form.fields and name not in form.cleaned_data
        ]
        if unfilled:
            return self.render_to_response({**context, "unfilled": unfilled})
        try:
            context["estimate"] = request_estimate(
                offering=self.offering, parameters=form.cleaned_data, agency=self.agency
            )
        except DomainError as exc:
            return self.render_to_response({**context, "error": exc.message})
        request_form = RequestForm(request.POST, offering=self.offering, prefix="r")
        request_form.is_valid()
        if "lease_months" in request_form.cleaned_data:  # the lease's total, once the lease reads right
            context["lease_months"] = request_form.cleaned_data["lease_months"]
            context["lease_total"] = context["estimate"]["monthly_cost"] * context["lease_months"]
        return self.render_to_response(context)


class RequestActionView(LoginRequiredMixin, View):
    """POST-only actions on a request: submit, cancel, retry, replan, approve, reject.

    Cancel asks first: GET shows what will be cancelled, and a POST without `confirm` only leads there."""

    ACTIONS = {"submit", "cancel", "retry", "replan", "approve", "reject"}

    def get(self, request, pk, action):
        if action != "cancel":
            return self.http_method_not_allowed(request)
        request_obj = request_get_for_user(request.user, pk)
        if not request_detail_context(request.user, request_obj)["can_cancel"]:
            messages.error(request, _("申请 %(number)s 当前不能撤销。") % {"number": request_obj.number})
            return redirect("provisioning:request_detail", pk=pk)
        return TemplateResponse(request, "provisioning/request_cancel.html", {"req": request_obj})

    def post(self, request, pk, action):
        request_obj = request_get_for_user(request.user, pk)
        if action not in self.ACTIONS:
            return redirect("provisioning:request_detail", pk=pk)
        if action == "cancel" and request.POST.get("confirm") != "yes":
            return redirect("provisioning:request_action", pk=pk, action="cancel")
        form = DecisionForm(request.POST)
        if not form.is_valid():
            for errors in form.errors.values():
                for error in errors:
                    messages.error(request, error)
            return self.back(request, pk)
        comment = form.cleaned_data["comment"]
        # The stage a decision is about, named in the message: once signed it may no longer be the open one.
        stage = request_obj.stages.filter(status=StageStatus.OPEN).first()
        try:
            if action == "submit":
                request_services.request_submit(actor=request.user, request=request_obj)
            elif action == "cancel":
                request_services.request_cancel(actor=request.user, request=request_obj)
            elif action == "retry":
                request_services.request_retry(actor=request.user, request=request_obj)
            elif action == "replan":
                request_services.request_replan(actor=request.user, request=request_obj)
            elif action == "approve":
                request_services.request_approve(actor=request.user, request=request_obj, comment=comment)
            elif action == "reject":
                request_services.request_reject(actor=request.user, request=request_obj, comment=comment)
            messages.success(request, self.done_message(action, request_obj, stage))
        except DomainError as exc:
            messages.error(request, exc.message)
        return self.back(request, pk)

    @staticmethod
    def done_message(action: str, request_obj, stage) -> str:
        """What just happened, in words: 已同意 REQ-000006 第 1 环节“单位审批”。"""
        number = {"number": request_obj.number}
        if action in ("approve", "reject") and stage is not None:
            decided = {**number, "order": stage.order, "stage": stage.display_name}
            if action == "approve":
                return _("已同意 %(number)s 第 %(order)s 环节“%(stage)s”。") % decided
            return _("已驳回 %(number)s 第 %(order)s 环节“%(stage)s”。") % decided
        return {
            "submit": _("已提交 %(number)s，正在生成执行计划。"),
            "cancel": _("已撤销 %(number)s。"),
            "retry": _("已重试 %(number)s，正在重新生成执行计划。"),
            "replan": _("已为 %(number)s 重新生成执行计划。"),
            "approve": _("已同意 %(number)s。"),
            "reject": _("已驳回 %(number)s。"),
        }[action] % number

    @staticmethod
    def back(request, pk):
        if request.POST.get("next") == "inbox":
            return redirect("provisioning:approval_inbox")
        return redirect("provisioning:request_detail", pk=pk)


class RunLogView(LoginRequiredMixin, TemplateView):
    """The run's log and status as a fragment; htmx polls it while the run is active."""

    template_name = "provisioning/_run_log.html"

    def get_context_data(self, **kwargs):
        run = run_get_for_user(self.request.user, kwargs["pk"])
        return super().get_context_data(run=run, active=run.status in RunStatus.active(), **kwargs)

    def render_to_response(self, context, **response_kwargs):
        response = super().render_to_response(context, **response_kwargs)
        if self.request.headers.get("HX-Request") and not context["active"]:
            # The run ended while the page polled it: the request around it (status, plan, approvals, instance)
            # has moved on too, so htmx reloads the whole page rather than only this fragment.
            response["HX-Refresh"] = "true"
        return response


class ApprovalInboxView(LoginRequiredMixin, TemplateView):
    """What waits for the user's signature, narrowed by the request list's filters, each row with what an
    approver judges by: data classification, monthly cost and what the plan will do."""

    template_name = "provisioning/approval_inbox.html"

    def get_context_data(self, **kwargs):
        filters = RequestFilter(self.request.GET or None, queryset=approval_inbox_for_user(self.request.user),
                                request=self.request)
        valid = filters.is_valid() if filters.is_bound else True
        rows = filters.qs if valid else filters.queryset.none()
        try:
            page = max(int(self.request.GET.get("page") or 1), 1)
        except ValueError:
            page = 1
        start = (page - 1) * INBOX_PER_PAGE
        if start >= MAX_ROWS:
            rows, start = rows.none(), 0
        # One row past the page says whether there is a next one, without counting the whole inbox.
        requests = list(
            rows.select_related("plan_run").defer(*(f"plan_run__{name}" for name in INBOX_RUN_UNREAD))
            .prefetch_related("stages")[start:start + INBOX_PER_PAGE + 1]
        )
        has_next, requests = len(requests) > INBOX_PER_PAGE, requests[:INBOX_PER_PAGE]
        for row in requests:
            plan = row.plan_run
            row.plan_counts = action_counts(plan.plan_summary) if plan and plan.status == RunStatus.SUCCEEDED else None
        return super().get_context_data(
            filters=filters, requests=requests, page=page, has_previous=page > 1, has_next=has_next, **kwargs
        )


class InstanceListView(FilteredTableView):
    """资源清单: every resource the user may see, filtered, sorted, one page at a time, or all of it as CSV."""

    template_name = "provisioning/instance_list.html"
    filterset_class = InstanceFilter
    table_class = InstanceTable
    export_name = "inventory"

    def visible(self):
        return instance_list_for_user(self.request.user)

    def csv_columns(self):
        return instance_csv_columns()

    def export_rows(self, rows):
        return rows.only(*INSTANCE_CSV_FIELDS)

    def page_rows(self, rows):
        with_last_run(rows)

    def can_bulk(self) -> bool:
        return user_can(self.request.user, "provisioning.decommission_instance")

    def table_kwargs(self):
        return {} if self.can_bulk() else {"exclude": ("select",)}

    def get_context_data(self, **kwargs):
        return super().get_context_data(can_bulk=self.can_bulk(), max_bulk=MAX_BULK, **kwargs)


class InstanceBulkDecommissionView(LoginRequiredMixin, View):
    """POST the instances ticked on the inventory and why: one decommission request each, following its policy."""

    def post(self, request):
        back = request.POST.get("next", "")
        if not back.startswith(reverse("provisioning:instance_list")) or not url_has_allowed_host_and_scheme(
            back, allowed_hosts={request.get_host()}
        ):
            back = reverse("provisioning:instance_list")
        if not user_can(request.user, "provisioning.decommission_instance"):
            raise PermissionDenied
        ids = [value for value in request.POST.getlist("instances") if value.isdigit()][: MAX_BULK + 1]
        if not ids:
            messages.error(request, _("请先勾选要退订的资源。"))
            return HttpResponseRedirect(back)
        if len(ids) > MAX_BULK:
            messages.error(request, _("一次最多退订 %(max)s 个资源，请分批提交。") % {"max": MAX_BULK})
            return HttpResponseRedirect(back)
        instances = list(instance_list_for_user(request.user).filter(pk__in=ids))
        try:
            outcome = decommission_bulk(
                actor=request.user, instances=instances, justification=request.POST.get("justification", "")
            )
        except DomainError as exc:
            messages.error(request, exc.message)
            return HttpResponseRedirect(back)
        if outcome.raised:
            messages.success(request, ngettext(
                "已为 %(count)s 个资源发起退订申请：%(numbers)s。", "已为 %(count)s 个资源发起退订申请：%(numbers)s。",
                len(outcome.raised),
            ) % {"count": len(outcome.raised), "numbers": "、".join(r.number for r in outcome.raised)})
        for instance, why in outcome.refused:
            messages.warning(request, _("“%(name)s”未发起退订：%(why)s") % {"name": instance.name, "why": why})
        return HttpResponseRedirect(back)


class OverviewView(LoginRequiredMixin, TemplateView):
    """概览: charts of what the user may see (by tier, cloud, agency; cost by month; quota and capacity use),
    each bar linking to the filtered inventory behind it. Drawn by ECharts from the page's JSON, no internet."""

    template_name = "provisioning/overview.html"

    def get_context_data(self, **kwargs):
        labels = {"count": _("资源数"), "cost": _("月费用（元）"), "used": _("已使用"), "reserved": _("已预留"),
                  "free": _("剩余")}
        return super().get_context_data(overview=overview_for_user(self.request.user), labels=labels, **kwargs)


class ShowbackView(LoginRequiredMixin, TemplateView):
    """费用分摊: a month's cost of what the user may see, by tier, cloud and agency, as a page or CSV."""

    template_name = "provisioning/showback.html"

    def get(self, request, *args, **kwargs):
        try:
            month, error = Month.asked(request.GET.get("month")), ""
        except DomainError as exc:
            month, error = None, exc.message
        report = showback_for_user(request.user, month) if month else None
        if report and request.GET.get("export") == "csv":
            return self.export(report)
        return self.render_to_response(self.get_context_data(report=report, error=error, month=month))

    def export(self, report):
        with transaction.atomic():
            audit_record(actor=self.request.user, action="showback.exported", details={"month": str(report["month"])})
        columns = [
            (_("月份"), lambda line: line["month"]),
            (_("单位"), lambda line: line["agency"].display_name),
            (_("单位代码"), lambda line: line["agency"].code),
            (_("云"), lambda line: line["cloud"].display_name),
            (_("类别"), lambda line: str(line["tier"])),
            (_("资源数"), lambda line: line["instances"]),
            (_("费用（元）"), lambda line: str(line["cost"])),
        ]
        response = StreamingHttpResponse(rows_as_csv(report["lines"], columns), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="showback-{report["month"]}.csv"'
        return response


class InstanceDetailView(LoginRequiredMixin, TemplateView):
    template_name = "provisioning/instance_detail.html"
    base_template = "base.html"

    def get_context_data(self, **kwargs):
        instance = instance_get_for_user(self.request.user, kwargs["pk"])
        requests = request_list_for_user(self.request.user).filter(instance=instance)
        return super().get_context_data(
            instance=instance,
            requests=requests,
            # Day-2 buttons only for those the service lets ask on the instance's agency's behalf, and not while
            # another change to it is in flight (either would only be refused).
            can_change=instance.status == InstanceStatus.ACTIVE
            and user_can(self.request.user, "portal.request_for_agency", instance.agency),
            change_in_flight=requests.filter(status__in=RequestStatus.active()).first(),
            refresh=instance_latest_refresh_for_user(self.request.user, instance),
            can_check_drift=user_can(self.request.user, "provisioning.reconcile_run"),
            drift_to_accept=reconcile_services.drift_to_accept(instance)
            if instance.status == InstanceStatus.ACTIVE else None,
            findings=instance.findings.filter(resolved_at__isnull=True),
            timeline=instance_timeline(instance),
            base_template=self.base_template,
            polling=instance_polls(instance),
            **kwargs,
        )


class InstanceLiveView(InstanceDetailView):
    """The instance page's content alone; htmx polls it while a change is on its way to the instance."""

    base_template = LIVE_FRAGMENT


class InstanceDriftCheckView(LoginRequiredMixin, View):
    """检查漂移: an operator asks for a refresh-only plan of one instance now, rather than at beat's next pass."""

    def post(self, request, pk):
        instance = instance_get_for_drift_check(request.user, pk)
        try:
            run = reconcile_services.instance_drift_check(actor=request.user, instance=instance)
            messages.success(request, _("已发起漂移检查（运行 #%(id)s）。") % {"id": run.pk})
        except DomainError as exc:
            messages.error(request, exc.message)
        return redirect("provisioning:instance_detail", pk=instance.pk)


class InstanceDriftActionView(LoginRequiredMixin, View):
    """An operator acts on a drifted instance: accept the cloud's values, or re-apply the approved ones."""

    def post(self, request, pk, action):
        instance = instance_get_for_drift_check(request.user, pk)
        try:
            if action == "accept":
                run = reconcile_services.instance_accept_drift(
                    actor=request.user, instance=instance, note=request.POST.get("note", "")
                )
                messages.success(request, _("已接受云上现状，正在写入状态（运行 #%(id)s）。") % {"id": run.pk})
            elif action == "reapply":
                change = instance_reapply(
                    actor=request.user, instance=instance, justification=request.POST.get("note", "")
                )
                messages.success(request, _("已发起重新执行的变更申请 %(number)s，审批后恢复为已批准的配置。")
                                 % {"number": change.number})
                return redirect("provisioning:request_detail", pk=change.pk)
            else:
                raise Http404
        except DomainError as exc:
            messages.error(request, exc.message)
        return redirect("provisioning:instance_detail", pk=instance.pk)


class InstanceChangeView(LoginRequiredMixin, TemplateView):
    """Day-2: modify parameters, extend the lease, or decommission, as a new request on the same path."""

    template_name = "provisioning/instance_change.html"

    def dispatch(self, request, *args, **kwargs):
        if request.user.is_authenticated:
            self.instance = instance_get_for_user(request.user, kwargs["pk"])
            if kwargs["kind"] not in (RequestKind.MODIFY, RequestKind.EXTEND, RequestKind.DECOMMISSION):
                return redirect("provisioning:instance_detail", pk=self.instance.pk)
            if not user_can(request.user, "portal.request_for_agency", self.instance.agency):
                # They may see the instance (an operator, an auditor), so 403, not 404: nothing is leaked.
                raise PermissionDenied(_("只有该资源所属单位的申请人可以发起变更。"))
        return super().dispatch(request, *args, **kwargs)

    def forms(self, data=None):
        kind = self.kwargs["kind"]
        if kind == RequestKind.MODIFY:
            form_class = change_parameters_form_class(self.instance)
            return form_class(data, prefix="p", initial=self.instance.parameters), ModifyJustificationForm(data)
        if kind == RequestKind.EXTEND:
            return None, ExtendForm(data, offering=self.instance.offering)
        return None, DecommissionForm(data, instance_name=self.instance.name)

    def get_context_data(self, **kwargs):
        parameters_form, form = kwargs.pop("forms", None) or self.forms()
        kwargs.pop("kind", None)  # the URL's kind is replaced by the RequestKind below
        return super().get_context_data(
            instance=self.instance, kind=RequestKind(self.kwargs["kind"]), parameters_form=parameters_form, form=form,
            **kwargs,
        )

    def post(self, request, *args, **kwargs):
        parameters_form, form = self.forms(request.POST)
        if form.is_valid() and (parameters_form is None or parameters_form.is_valid()):
            try:
                created = request_services.request_create_day2(
                    actor=request.user,
                    instance=self.instance,
                    kind=kwargs["kind"],
                    parameters=parameters_form.cleaned_data if parameters_form else None,
                    lease_months=form.cleaned_data.get("lease_months", 12),
                    justification=form.cleaned_data["justification"],
                )
                request_services.request_submit(actor=request.user, request=created)
                submitted = {
                    RequestKind.MODIFY: _("已提交变更申请 %(number)s。"),
                    RequestKind.EXTEND: _("已提交续期申请 %(number)s。"),
                    RequestKind.DECOMMISSION: _("已提交退订申请 %(number)s。"),
                }[kwargs["kind"]]
                messages.success(request, submitted % {"number": created.number})
                return redirect("provisioning:request_detail", pk=created.pk)
            except DomainError as exc:
                targets = [f for f in (parameters_form, form) if f is not None]
                if not apply_domain_error(exc, *targets):
                    form.add_error(None, exc.message)
        return self.render_to_response(self.get_context_data(forms=(parameters_form, form)))


class CapacityView(LoginRequiredMixin, TemplateView):
    """云容量: each cloud's capacity per dimension, what is used and reserved, and the headroom; for the clouds'
    owners (their own clouds) and for operators (every cloud)."""

    template_name = "provisioning/capacity.html"

    def get_context_data(self, **kwargs):
        sheets = capacity_for_user(self.request.user)
        if sheets is None:
            raise PermissionDenied(_("云容量只对云主管部门和运维人员开放。"))
        return super().get_context_data(sheets=sheets, **kwargs)


class OperationsView(LoginRequiredMixin, TemplateView):
    """运维核对: runs that lost their worker, each with what its reconciliation refresh found and a form to close
    it; and the instances that drifted or wait for such a verdict. Only for those who may close runs."""

    template_name = "provisioning/operations.html"

    def get_context_data(self, bound: ReconcileForm | None = None, bound_run_id: int | None = None, **kwargs):
        reconciliations = reconciliation_list_for_user(self.request.user)
        cards = [
            (
                check,
                bound if check.run.pk == bound_run_id
                else ReconcileForm(prefix=f"run-{check.run.pk}", why_not_succeeded=check.why_not_succeeded),
            )
            for check in reconciliations
        ]
        user = self.request.user
        return super().get_context_data(
            cards=cards, instances=instance_attention_list_for_user(user), failed=failed_requests_for_user(user),
            leases=leases_ending_for_user(user), findings=open_findings_for_user(user), **kwargs
        )


class RunReconcileView(OperationsView):
    """POST an operator's verdict on one run; a refused one shows on the page beside the field it concerns."""

    http_method_names = ["post"]

    def post(self, request, pk):
        run = run_get_for_reconciler(request.user, pk)
        check = reconcile_services.reconciliation_of(run)
        form = ReconcileForm(request.POST, prefix=f"run-{run.pk}", why_not_succeeded=check.why_not_succeeded)
        if form.is_valid():
            try:
                reconcile_services.run_reconcile(
                    actor=request.user, run=run, outcome=form.cleaned_data["outcome"], note=form.cleaned_data["note"]
                )
                messages.success(request, _("运行 #%(id)s 已处置。") % {"id": run.pk})
                return redirect("provisioning:operations")
            except DomainError as exc:
                if not apply_domain_error(exc, form):
                    messages.error(request, exc.message)
                    return redirect("provisioning:operations")
        return self.render_to_response(self.get_context_data(bound=form, bound_run_id=run.pk))


class FindingAdoptView(LoginRequiredMixin, TemplateView):
    """纳管: an operator takes an object a cloud scan found unmanaged into a new instance of an agency. First the
    agency and the offering (a GET form), then the offering's parameters, which must describe the object as it
    is; the request goes through the agency's approvals, and its plan shows the object taken over."""

    template_name = "provisioning/finding_adopt.html"

    def dispatch(self, request, *args, **kwargs):
        if request.user.is_authenticated:
            self.finding = finding_get_for_adopter(request.user, kwargs["pk"])
            self.offerings = adoption_offerings(self.finding)
        return super().dispatch(request, *args, **kwargs)

    def forms_for(self, data, offering):
        initial = {NAMED_BY_IDENTITY[self.finding.resource_type]: self.finding.object_id} \
            if self.finding.resource_type in NAMED_BY_IDENTITY else {}
        parameters = offering_parameters_form_class(offering)(data, prefix="p", initial=initial)
        return parameters, RequestForm(data, offering=offering, prefix="r")

    def get(self, request, *args, **kwargs):
        choice = AdoptForm(request.GET or None, offerings=self.offerings)
        parameters = details = None
        if choice.is_bound and choice.is_valid():
            parameters, details = self.forms_for(None, choice.cleaned_data["offering"])
        return self.render_to_response(self.get_context_data(choice=choice, form=parameters, request_form=details))

    def post(self, request, *args, **kwargs):
        choice = AdoptForm(request.POST, offerings=self.offerings)
        if not choice.is_valid():
            return self.render_to_response(self.get_context_data(choice=choice))
        offering = choice.cleaned_data["offering"]
        parameters, details = self.forms_for(request.POST, offering)
        if parameters.is_valid() and details.is_valid():
            data = details.cleaned_data
            try:
                adoption = finding_adopt(
                    actor=request.user, finding=self.finding, agency=choice.cleaned_data["agency"], offering=offering,
                    parameters=parameters.cleaned_data, justification=data["justification"], title=data["title"],
                    data_classification=data["data_classification"], lease_months=data["lease_months"],
                )
                messages.success(request, _("已发起纳管申请 %(number)s，审批通过后执行导入。") % {"number": adoption.number})
                return redirect("provisioning:request_detail", pk=adoption.pk)
            except DomainError as exc:
                if not apply_domain_error(exc, parameters, details, choice):
                    details.add_error(None, exc.message)
        return self.render_to_response(self.get_context_data(choice=choice, form=parameters, request_form=details))

    def get_context_data(self, **kwargs):
        return super().get_context_data(finding=self.finding, offerings=self.offerings, **kwargs)


class RunRecheckView(LoginRequiredMixin, View):
    """重新核对: another reconciliation refresh, when the last one failed or is stale."""

    def post(self, request, pk):
        run = run_get_for_reconciler(request.user, pk)
        try:
            refresh = reconcile_services.run_recheck(actor=request.user, run=run)
            messages.success(request, _("已重新发起核对刷新（运行 #%(id)s）。") % {"id": refresh.pk})
        except DomainError as exc:
            messages.error(request, exc.message)
        return redirect("provisioning:operations")


class NotificationListView(LoginRequiredMixin, ListView):
    template_name = "provisioning/notification_list.html"
    context_object_name = "notifications"
    paginate_by = 50

    def get_queryset(self):
        return notification_list_for_user(self.request.user)


class NotificationOpenView(LoginRequiredMixin, View):
    def post(self, request, pk):
        notification = get_object_or_404(notification_list_for_user(request.user), pk=pk)
        notification_mark_read(actor=request.user, notification=notification)
        if notification.request_id:
            return redirect("provisioning:request_detail", pk=notification.request_id)
        if notification.instance_id:
            return redirect("provisioning:instance_detail", pk=notification.instance_id)
        return HttpResponseRedirect(reverse("provisioning:notification_list"))



class NotificationMarkAllReadView(LoginRequiredMixin, View):
    """全部标为已读: only the signed-in user's own inbox."""

    def post(self, request):
        count = notification_mark_all_read(actor=request.user)
        messages.success(
            request, ngettext("已将 %(count)s 条消息标为已读。", "已将 %(count)s 条消息标为已读。", count) % {"count": count}
        )
        return redirect("provisioning:notification_list")
