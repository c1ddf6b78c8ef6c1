"""The resource page and the side-by-side diff of two of its snapshots.

Both reach the resource through ``_get_resource_for_user`` (404 outside the
user's scope); a snapshot is looked up among the resource's own, so a
snapshot id of another resource is a 404 too.
"""

from django.conf import settings
from django.db.models import Case, IntegerField, Value, When
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render

from collectors.models import Resource, Snapshot
from findings import history, retention, suppressions
from findings.models import Finding
from findings.views import Crumb, _context_control, _crumbs, _get_resource_for_user

#: Snapshots offered in the diff view's selects, newest first.
SNAPSHOT_CHOICES = 200
#: Changed paths listed above the side-by-side table.
PATHS_LIMIT = 100
_STATUS_ORDER = Case(
    When(status="FAIL", then=Value(0)),
    When(status="ERROR", then=Value(1)),
    When(status="PASS", then=Value(2)),
    default=Value(3),
    output_field=IntegerField(),
)


def resource_detail(request: HttpRequest, resource_pk: int) -> HttpResponse:
    resource = _get_resource_for_user(request, resource_pk)
    control = _context_control(request)
    findings = (
        Finding.objects.filter(resource=resource)
        .annotate(excepted_until=suppressions.excepted_until())
        .order_by(_STATUS_ORDER, "control_id")
    )
    timeline = history.timeline(resource.snapshots.all())
    loaded = {e.snapshot.pk: e.snapshot for e in timeline}
    loaded |= {e.previous.pk: e.previous for e in timeline if e.previous}
    context = {
        "resource": resource,
        "account": resource.account,
        "snapshot": resource.current_snapshot,
        "findings": findings,
        "timeline": timeline,
        "change_groups": history.status_changes(resource, loaded),
        "pruned_before": retention.pruned_before(resource.first_seen),
        "retention_days": settings.PARAPET_RETENTION_DAYS,
        "from_control": control.id if control else "",
        "crumbs": _crumbs(control=control, account=resource.account),
    }
    return render(request, "findings/resource.html", context)


def _snapshot_param(request: HttpRequest, name: str) -> int | None:
    value = request.GET.get(name, "")
    if not value:
        return None
    if not value.isdigit():
        raise Http404("No such snapshot.")
    return int(value)


def _pair(
    resource: Resource, from_pk: int | None, to_pk: int | None
) -> tuple[Snapshot | None, Snapshot | None]:
    """The two snapshots asked for; by default the previous and the newest."""
    snapshots = resource.snapshots.order_by("-valid_from")
    new = snapshots.first() if to_pk is None else get_object_or_404(snapshots, pk=to_pk)
    if from_pk is not None:
        return get_object_or_404(snapshots, pk=from_pk), new
    old = snapshots.filter(valid_from__lt=new.valid_from).first() if new else None
    return old, new


def resource_diff(request: HttpRequest, resource_pk: int) -> HttpResponse:
    resource = _get_resource_for_user(request, resource_pk)
    old, new = _pair(
        resource, _snapshot_param(request, "from"), _snapshot_param(request, "to")
    )
    choices = list(
        resource.snapshots.order_by("-valid_from").values(
            "pk", "valid_from", "valid_to", "sha256"
        )[:SNAPSHOT_CHOICES]
    )
    control = _context_control(request)
    resource_url = resource.get_absolute_url()
    if control is not None:
        resource_url += f"?control={control.id}"
    context = {
        "resource": resource,
        "account": resource.account,
        "old": old,
        "new": new,
        "choices": _with_selected(choices, old, new),
        **(_comparison(old, new) if old and new else {}),
        "from_control": control.id if control else "",
        "crumbs": [
            *_crumbs(control=control, account=resource.account),
            Crumb(str(resource), resource_url),
        ],
    }
    return render(request, "findings/resource_diff.html", context)


def _comparison(old: Snapshot, new: Snapshot) -> dict:
    paths = history.config_diff(
        history.diffable(old), history.diffable(new), limit=PATHS_LIMIT
    )
    return {
        "paths": paths,
        "more_paths": len(paths) == PATHS_LIMIT,
        "diff": history.side_by_side(old, new),
    }


def _with_selected(
    choices: list[dict], old: Snapshot | None, new: Snapshot | None
) -> list[dict]:
    """The selects' options, with the chosen snapshots even when past the cap."""
    by_pk = {c["pk"]: c for c in choices}
    for snapshot in (old, new):
        if snapshot is not None and snapshot.pk not in by_pk:
            by_pk[snapshot.pk] = {
                "pk": snapshot.pk,
                "valid_from": snapshot.valid_from,
                "valid_to": snapshot.valid_to,
                "sha256": snapshot.sha256,
            }
    return sorted(by_pk.values(), key=lambda c: c["valid_from"], reverse=True)
