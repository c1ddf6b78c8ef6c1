"""The audit log page (staff only): sign-ins and changes, filtered and exported.

The log itself (``accounts.AuditEvent``, written by ``accounts.audit.record``)
lives in ``accounts``, which imports nothing of ours; the page lives here to
share the CSV code of ``findings.exports`` (usernames typed at the login page
are attacker-controlled text, so cells are neutralised like AWS data). Others
get 404, as for any page outside their scope.
"""

from collections.abc import Iterator
from datetime import UTC, datetime, time

from django import forms
from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse

from accounts.models import AuditEvent
from findings.views import _render
from findings.views_exceptions import _query_without_page
from findings.views_exports import csv_response

EVENTS_PER_PAGE = 50
CSV_COLUMNS = [
    "at",
    "actor",
    "action",
    "target_type",
    "target_id",
    "target",
    "ip",
    "details",
]


class AuditFilterForm(forms.Form):
    """The page's query-string filters; the CSV export reads the same ones."""

    action = forms.ChoiceField(
        required=False, choices=[("", "Any action"), *AuditEvent.Action.choices]
    )
    actor = forms.CharField(required=False, max_length=150, label="By")
    since = forms.DateField(
        required=False, label="From", widget=forms.DateInput(attrs={"type": "date"})
    )
    until = forms.DateField(
        required=False, label="To", widget=forms.DateInput(attrs={"type": "date"})
    )

    @property
    def filtered(self) -> bool:
        return self.is_valid() and any(self.cleaned_data.values())

    def filter(self, events: QuerySet) -> QuerySet:
        if not self.is_valid():
            return events
        data = self.cleaned_data
        if data["action"]:
            events = events.filter(action=data["action"])
        if data["actor"]:
            events = events.filter(actor_label__icontains=data["actor"].strip())
        if data["since"]:
            events = events.filter(
                at__gte=datetime.combine(data["since"], time.min, UTC)
            )
        if data["until"]:
            events = events.filter(
                at__lte=datetime.combine(data["until"], time.max, UTC)
            )
        return events


def _events_for_staff(request: HttpRequest) -> tuple[AuditFilterForm, QuerySet]:
    if not request.user.is_staff:
        raise Http404("No such page.")
    form = AuditFilterForm(request.GET)
    return form, form.filter(AuditEvent.objects.order_by("-at", "-pk"))


def audit_log(request: HttpRequest) -> HttpResponse:
    form, events = _events_for_staff(request)
    page = Paginator(events, EVENTS_PER_PAGE).get_page(request.GET.get("page"))
    context = {
        "page": page,
        "events": page.object_list,
        "form": form,
        "filtered": form.filtered,
        "query": _query_without_page(request),
    }
    return _render(request, "audit/audit.html", "audit/_events.html", context, "audit")


def _csv_rows(events: QuerySet) -> Iterator[list]:
    for e in events.iterator(chunk_size=2000):
        details = "; ".join(f"{k}: {_cell(v)}" for k, v in e.details.items())
        yield [
            e.at,
            e.actor_label,
            e.get_action_display(),
            e.target_type,
            e.target_id,
            e.target_label,
            e.ip,
            details,
        ]


def _cell(value) -> str:
    if isinstance(value, list) and len(value) == 2:
        return f"{value[0]} -> {value[1]}"
    return str(value)


def audit_csv(request: HttpRequest) -> StreamingHttpResponse:
    """The filtered log, every page of it."""
    _, events = _events_for_staff(request)
    return csv_response(
        request, CSV_COLUMNS, _csv_rows(events), organization="", subject="audit-log"
    )
