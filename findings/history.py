"""A resource's configuration history: snapshot diffs and what they caused.

The resource page shows each snapshot's changed paths, a side-by-side diff
of any two snapshots, and every finding status change next to the snapshot
that caused it. The CSV history export uses the same path diff, so the
page and the file name the same paths.
"""

import difflib
import json
from dataclasses import dataclass, field
from datetime import datetime
from itertools import groupby
from typing import Any

from django.db.models import OuterRef, QuerySet, Subquery

from collectors.models import Resource, Snapshot
from findings.models import FindingChange

#: Equal lines shown around a change; longer equal runs are folded.
CONTEXT_LINES = 3
#: Lines compared per side: difflib is quadratic at worst, and a 1 MB policy
#: pretty-prints to tens of thousands of lines.
MAX_DIFF_LINES = 5_000
#: Characters of one line shown; the comparison uses the whole line.
MAX_LINE_CHARS = 2_000
#: Characters of HTML the side-by-side rows' text may take once escaped; past
#: it the rows stop. Text full of ``<`` or ``"`` grows four to six times when
#: escaped, so a bound in characters of AWS data alone does not bound the page.
MAX_DIFF_HTML = 800_000
#: Status changes listed on the resource page, newest first.
CHANGES_LIMIT = 100


# -- Path diff -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ConfigChange:
    path: str
    old: Any
    new: Any

    @property
    def kind(self) -> str:
        if self.old is _MISSING:
            return "added"
        if self.new is _MISSING:
            return "removed"
        return "changed"


class _Missing:
    def __repr__(self) -> str:
        return "—"


_MISSING: Any = _Missing()


def _flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    """Nested dicts as dotted paths; lists and scalars are leaves."""
    if isinstance(value, dict) and value:
        flat: dict[str, Any] = {}
        for key, inner in value.items():
            flat.update(_flatten(inner, f"{prefix}.{key}" if prefix else str(key)))
        return flat
    return {prefix or "(root)": value}


def config_diff(old: Any, new: Any, limit: int = 50) -> list[ConfigChange]:
    """Changed leaf paths between two canonical configurations."""
    before, after = _flatten(old or {}), _flatten(new or {})
    paths = sorted(set(before) | set(after))
    diff = [
        ConfigChange(p, before.get(p, _MISSING), after.get(p, _MISSING))
        for p in paths
        if before.get(p, _MISSING) != after.get(p, _MISSING)
    ]
    # An empty dict that gained (or lost) keys shows as those keys only.
    parents = {c.path.rpartition(".")[0] for c in diff}
    diff = [
        c
        for c in diff
        if not (c.path in parents and {} in (c.old, c.new) and c.kind != "changed")
    ]
    return diff[:limit]


def diffable(snapshot: Snapshot) -> dict[str, Any]:
    """What a diff compares: the configuration and the tags, under stable names."""
    return {"config": snapshot.config, "tags": snapshot.tags}


# -- Timeline ------------------------------------------------------------------------


@dataclass
class TimelineEntry:
    snapshot: Snapshot
    diff: list[ConfigChange]
    previous: Snapshot | None  # None: the oldest snapshot kept

    @property
    def earlier_pruned(self) -> bool:
        """The oldest snapshot kept, yet newer than the resource: retention
        pruned the ones before it (findings/retention.py)."""
        return _earlier_pruned(self.snapshot, self.previous, self.snapshot.resource)

    @property
    def is_first(self) -> bool:
        return self.previous is None and not self.earlier_pruned


def _earlier_pruned(
    snapshot: Snapshot | None, previous: Snapshot | None, resource: Resource
) -> bool:
    # A resource's first snapshot is written at its first_seen.
    return (
        snapshot is not None
        and previous is None
        and snapshot.valid_from > resource.first_seen
    )


def timeline(snapshots: QuerySet, limit: int = 50) -> list[TimelineEntry]:
    """A resource's newest snapshots, each with its difference from the previous."""
    newest = list(snapshots.order_by("-valid_from")[: limit + 1])
    entries = []
    for i, snap in enumerate(newest[:limit]):
        previous = newest[i + 1] if i + 1 < len(newest) else None
        diff = config_diff(diffable(previous), diffable(snap)) if previous else []
        entries.append(TimelineEntry(snap, diff, previous))
    return entries


# -- Status changes and their cause ---------------------------------------------------


@dataclass
class Cause:
    """The snapshot a status change was recorded with, and what it changed."""

    snapshot: Snapshot | None
    previous: Snapshot | None
    # True when the scan that changed the status also wrote the snapshot: the
    # configuration changed then. False: the status changed on an unchanged
    # configuration (a related resource, or the control itself, changed).
    new_in_scan: bool
    diff: list[ConfigChange] = field(default_factory=list)
    # No previous snapshot because retention pruned it, not because this
    # was the first one collected.
    previous_pruned: bool = False

    @property
    def comparable(self) -> bool:
        return self.snapshot is not None and self.previous is not None


@dataclass
class ChangeGroup:
    """The status changes one scan made on the resource, with their cause."""

    scan_id: int
    at: datetime
    cause: Cause
    changes: list[FindingChange]
    collapsed: bool = False  # long and old, or only first evaluations


#: A group with more status changes than this starts collapsed, unless it is
#: the newest group and not merely the resource's first evaluation.
OPEN_GROUP_SIZE = 5


def status_changes(
    resource: Resource,
    loaded: dict[int, Snapshot],
    limit: int = CHANGES_LIMIT,
) -> list[ChangeGroup]:
    """A resource's newest status changes, grouped by scan, each with its cause.

    ``loaded`` holds snapshots the caller already has (the timeline's); those
    the changes need besides are read in one more query, whatever their number.
    """
    before = (
        Snapshot.objects.filter(
            resource=resource, valid_from__lt=OuterRef("snapshot__valid_from")
        )
        .order_by("-valid_from")
        .values("pk")[:1]
    )
    changes = list(
        FindingChange.objects.filter(finding__resource=resource)
        .select_related("finding")
        .annotate(previous_snapshot_id=Subquery(before))
        .order_by("-at", "-pk")[:limit]
    )
    snapshots = dict(loaded)
    wanted = {c.snapshot_id for c in changes} | {
        c.previous_snapshot_id for c in changes
    }
    missing = wanted - set(snapshots) - {None}
    if missing:
        snapshots |= Snapshot.objects.filter(resource=resource).in_bulk(missing)
    groups: list[ChangeGroup] = []
    for (scan_id, _), grouped in groupby(
        changes, key=lambda c: (c.scan_id, c.snapshot_id)
    ):
        rows = list(grouped)
        newest = not groups
        first_evaluation = all(not c.old_status for c in rows)
        collapsed = len(rows) > OPEN_GROUP_SIZE and (not newest or first_evaluation)
        cause = _cause(rows[0], snapshots, resource)
        groups.append(ChangeGroup(scan_id, rows[0].at, cause, rows, collapsed))
    return groups


def _cause(
    change: FindingChange, snapshots: dict[int, Snapshot], resource: Resource
) -> Cause:
    snapshot = snapshots.get(change.snapshot_id)
    previous = snapshots.get(change.previous_snapshot_id)
    cause = Cause(
        snapshot,
        previous,
        new_in_scan=snapshot is not None and snapshot.scan_id == change.scan_id,
        previous_pruned=_earlier_pruned(snapshot, previous, resource),
    )
    if cause.new_in_scan and cause.comparable:
        cause.diff = config_diff(diffable(cause.previous), diffable(snapshot))
    return cause


# -- Side-by-side diff -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DiffRow:
    """One row of the side-by-side table; a fold stands for ``folded`` equal lines."""

    kind: str  # "equal", "changed", "removed", "added" or "fold"
    old_number: int | None = None
    old_text: str = ""
    new_number: int | None = None
    new_text: str = ""
    folded: int = 0


@dataclass
class SideBySide:
    rows: list[DiffRow]
    changed_lines: int
    old_lines: int
    new_lines: int
    truncated: bool  # only the first MAX_DIFF_LINES lines of a side were compared


#: What Django's ``escape`` writes for the characters it replaces.
_HTML_ESCAPES = {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#x27;"}


def html_length(text: str) -> int:
    """The length of ``text`` once escaped for HTML, without escaping it."""
    return len(text) + sum(
        text.count(char) * (len(escaped) - 1) for char, escaped in _HTML_ESCAPES.items()
    )


def pretty_lines(snapshot: Snapshot) -> list[str]:
    return json.dumps(
        diffable(snapshot), indent=2, sort_keys=True, ensure_ascii=False, default=str
    ).splitlines()


def _cut(line: str) -> str:
    if len(line) <= MAX_LINE_CHARS:
        return line
    return f"{line[:MAX_LINE_CHARS]}… ({len(line) - MAX_LINE_CHARS:,} more characters)"


def _equal_rows(a: list[str], b: list[str], i1: int, i2: int, j1: int) -> list[DiffRow]:
    return [
        DiffRow("equal", i + 1, _cut(a[i]), j1 + k + 1, _cut(b[j1 + k]))
        for k, i in enumerate(range(i1, i2))
    ]


def _changed_rows(
    a: list[str], b: list[str], i1: int, i2: int, j1: int, j2: int
) -> list[DiffRow]:
    """Old and new lines side by side; the longer side runs on alone."""
    rows = []
    for k in range(max(i2 - i1, j2 - j1)):
        i, j = i1 + k, j1 + k
        if i < i2 and j < j2:
            rows.append(DiffRow("changed", i + 1, _cut(a[i]), j + 1, _cut(b[j])))
        elif i < i2:
            rows.append(DiffRow("removed", old_number=i + 1, old_text=_cut(a[i])))
        else:
            rows.append(DiffRow("added", new_number=j + 1, new_text=_cut(b[j])))
    return rows


def side_by_side(old: Snapshot, new: Snapshot) -> SideBySide:
    """Pretty-printed JSON of two snapshots, old | new, equal runs folded."""
    a, b = pretty_lines(old), pretty_lines(new)
    truncated = len(a) > MAX_DIFF_LINES or len(b) > MAX_DIFF_LINES
    a, b = a[:MAX_DIFF_LINES], b[:MAX_DIFF_LINES]
    opcodes = difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes()
    rows: list[DiffRow] = []
    changed = 0
    for n, (tag, i1, i2, j1, j2) in enumerate(opcodes):
        if tag != "equal":
            rows += _changed_rows(a, b, i1, i2, j1, j2)
            changed += max(i2 - i1, j2 - j1)
            continue
        # Context after the previous change and before the next one.
        head = CONTEXT_LINES if n > 0 else 0
        tail = CONTEXT_LINES if n < len(opcodes) - 1 else 0
        if i2 - i1 <= head + tail + 1:
            rows += _equal_rows(a, b, i1, i2, j1)
            continue
        rows += _equal_rows(a, b, i1, i1 + head, j1)
        rows.append(DiffRow("fold", folded=i2 - i1 - head - tail))
        rows += _equal_rows(a, b, i2 - tail, i2, j2 - tail)
    rows, cut = _within_page(rows)
    return SideBySide(rows, changed, len(a), len(b), truncated or cut)


def _within_page(rows: list[DiffRow]) -> tuple[list[DiffRow], bool]:
    """The first rows whose escaped text fits in ``MAX_DIFF_HTML``, and whether
    any were left out."""
    size = 0
    for n, row in enumerate(rows):
        size += html_length(row.old_text) + html_length(row.new_text)
        if size > MAX_DIFF_HTML:
            return rows[:n], True
    return rows, False
