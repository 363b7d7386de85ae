"""A filtered, sorted list page with its CSV export: the inventory, the request list, the audit trail.

The view supplies what the user may see; its FilterSet narrows it (the same one the API uses), its Table shows
one page of it, and `?export=csv` streams every filtered row. An export is audited with the filters it used.
"""
from django.contrib.auth.mixins import LoginRequiredMixin
from django.db import transaction
from django.http import StreamingHttpResponse
from django.utils import timezone
from django.views.generic import TemplateView
from django_tables2 import RequestConfig
from django_tables2.paginators import LazyPaginator

from .services import audit_record
from .tables import MAX_ROWS, PER_PAGE, csv_lines


class FilteredTableView(LoginRequiredMixin, TemplateView):
    filterset_class = None
    table_class = None
    export_name = ""  # the CSV file's name, and the audit action's object ("inventory", "requests", …)
    per_page = PER_PAGE

    def visible(self):
        """Everything the user may see on this list, before filters."""
        raise NotImplementedError

    def csv_columns(self) -> list:
        raise NotImplementedError

    def page_rows(self, rows: list) -> None:
        """Complete the records of the shown page in a query or two (e.g. each one's last run)."""

    def get(self, request, *args, **kwargs):
        filters = self.filterset_class(request.GET or None, queryset=self.visible(), request=request)
        valid = filters.is_valid() if filters.is_bound else True
        rows = filters.qs if valid else filters.queryset.none()
        if request.GET.get("export") == "csv" and valid:
            return self.export(filters, rows)
        return self.render_to_response(self.get_context_data(filters=filters, **self.table_context(rows)))

    def table_kwargs(self) -> dict:
        return {}

    def table_context(self, rows) -> dict:
        table = self.table_class(rows, **self.table_kwargs())
        try:
            page = int(self.request.GET.get("page") or 1)
        except ValueError:
            page = 1
        if page < 1 or (page - 1) * self.per_page >= MAX_ROWS:
            # Deep OFFSETs read and throw away every row before the page; narrowing the filters is the way.
            table = self.table_class(rows.none(), **self.table_kwargs())
            return {"table": table, "too_deep": True, "max_rows": MAX_ROWS}
        RequestConfig(self.request, paginate={"paginator_class": LazyPaginator, "per_page": self.per_page}).configure(
            table
        )
        self.page_rows([row.record for row in table.page.object_list])
        return {"table": table, "too_deep": False, "max_rows": MAX_ROWS}

    def export(self, filters, rows) -> StreamingHttpResponse:
        # The filters that narrow (a form sends its empty fields too), so the trail says what was taken out.
        used = {name: value for name, value in self.request.GET.items()
                if value != "" and name not in {"export", "page", "sort"}}
        with transaction.atomic():
            audit_record(
                actor=self.request.user, action=f"{self.export_name}.exported",
                details={"filters": used, "sort": self.request.GET.get("sort", "")},
            )
        ordered = self.export_rows(rows).order_by(*self.export_ordering())
        response = StreamingHttpResponse(csv_lines(ordered, columns=self.csv_columns()), content_type="text/csv; charset=utf-8")
        stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
        response["Content-Disposition"] = f'attachment; filename="{self.export_name}-{stamp}.csv"'
        return response

    def export_rows(self, rows):
        """The filtered rows as the export reads them (e.g. only the columns it writes)."""
        return rows

    def export_ordering(self) -> tuple[str, ...]:
        return ("-created_at", "-id")
