"""The blocks a digest is made of: plain data the email templates render.

``findings.digest_content`` fills them from the database; nothing here
queries it.
"""

from dataclasses import dataclass, field
from datetime import datetime

from accounts.models import Organization
from collectors.models import Scan
from findings.controls.base import Severity
from findings.dashboard import Counts
from findings.models import DigestSubscription
from findings.templatetags.parapet import pct

#: Sections listed when there is nothing to compare with.
WEAKEST = 5
#: A pass-rate move smaller than this (0.05 points) is "no change".
RATE_EPSILON = 0.0005


@dataclass
class RateChange:
    """A pass rate at the start and the end of the period."""

    label: str
    url: str
    before: Counts | None
    after: Counts | None
    depth: int = 0

    @property
    def rate_before(self) -> float | None:
        return self.before.rate if self.before else None

    @property
    def rate_after(self) -> float | None:
        return self.after.rate if self.after else None

    @property
    def delta(self) -> float | None:
        if self.rate_before is None or self.rate_after is None:
            return None
        return self.rate_after - self.rate_before

    @property
    def direction(self) -> str:
        """up, down, same, new (no earlier figure) or gone (no current figure)."""
        if self.rate_after is None:
            return "gone" if self.rate_before is not None else "none"
        if self.rate_before is None:
            return "new"
        if abs(self.delta) < RATE_EPSILON:
            return "same"
        return "up" if self.delta > 0 else "down"

    @property
    def points(self) -> str:
        """The change in percentage points, signed: "+4.5", "-12.0"."""
        if self.delta is None:
            return ""
        return f"{self.delta * 100:+.1f}".replace("-", "\u2212")

    @property
    def moved(self) -> bool:
        return self.direction in {"up", "down", "new", "gone"}

    @property
    def marker(self) -> str:
        """A symbol for the change; words accompany it wherever it is shown."""
        return _MARKERS[self.direction]

    @property
    def words(self) -> str:
        """The change in words: "up 4.5 pts from 70%", "no change"."""
        was = _pct(self.rate_before)
        if self.direction in {"up", "down"}:
            return f"{self.direction} {abs(self.delta) * 100:.1f} pts from {was}"
        return {
            "same": "no change",
            "new": "first figure",
            "gone": f"no current figure (was {was})",
            "none": "no figure",
        }[self.direction]

    @property
    def color(self) -> str:
        return _COLORS[self.direction]


_MARKERS = {
    "up": "\u25b2",
    "down": "\u25bc",
    "same": "=",
    "new": "\u2022",
    "gone": "\u2013",
    "none": "\u2013",
}
_COLORS = {
    "up": "#067647",
    "down": "#b42318",
    "same": "#667085",
    "new": "#175cd3",
    "gone": "#667085",
    "none": "#667085",
}


@dataclass
class Example:
    label: str
    account: str
    region: str
    reason: str
    url: str


@dataclass
class ControlGroup:
    control_id: str
    title: str
    severity: str
    count: int
    url: str
    examples: list[Example] = field(default_factory=list)

    @property
    def more(self) -> int:
        return self.count - len(self.examples)


@dataclass
class FindingList:
    groups: list[ControlGroup] = field(default_factory=list)
    total: int = 0
    more_controls: int = 0
    more_findings: int = 0

    def __bool__(self) -> bool:
        return self.total > 0


@dataclass
class Gap:
    organization: str
    account: str
    account_url: str
    region: str
    services: list[str]
    reasons: list[str]
    scan_url: str


@dataclass
class Expiring:
    control_id: str
    title: str
    target: str
    account: str
    owner: str
    reason: str
    expires_at: datetime
    url: str


@dataclass
class OrganizationState:
    organization: Organization
    before: Scan | None
    after: Scan | None
    scans_in_period: int

    @property
    def stale(self) -> bool:
        return self.scans_in_period == 0


@dataclass
class DigestContent:
    subscription: DigestSubscription
    period_start: datetime
    period_end: datetime
    overall: RateChange
    organizations: list[RateChange]
    sections: list[RateChange]
    states: list[OrganizationState]
    new_failures: FindingList
    resolved: FindingList
    gaps: list[Gap]
    more_gaps: int
    # None: there is no exception (suppression) model yet; the block is left out.
    expiring: list[Expiring] | None
    account_count: int
    scope_chosen: bool
    links: dict[str, str]

    @property
    def finding_blocks(self) -> list[dict]:
        return [
            {
                "title": "New failures",
                "list": self.new_failures,
                "color": "#b42318",
                "none": "No finding started failing.",
            },
            {
                "title": "Resolved",
                "list": self.resolved,
                "color": "#067647",
                "none": "No failing finding was fixed.",
            },
        ]

    @property
    def scope_line(self) -> str:
        n = self.account_count
        noun = f"{n} account{'s' if n != 1 else ''}"
        if self.scope_chosen:
            return f"{noun} of your chosen teams and accounts"
        return f"all {noun} you may see"

    @property
    def has_baseline(self) -> bool:
        """Whether any figure existed at the period's start to compare with."""
        return self.overall.before is not None

    @property
    def changed_sections(self) -> list[RateChange]:
        if not self.has_baseline:
            return []
        return [row for row in self.sections if row.moved]

    @property
    def steady_sections(self) -> int:
        return len(self.sections) - len(self.changed_sections)

    @property
    def weakest_sections(self) -> list[RateChange]:
        """Without a baseline (a first scan), the lowest rates instead."""
        if self.has_baseline:
            return []
        rated = [row for row in self.sections if row.rate_after is not None]
        return sorted(rated, key=lambda row: (row.rate_after, row.label))[:WEAKEST]

    @property
    def scans_in_period(self) -> int:
        return sum(s.scans_in_period for s in self.states)

    @property
    def is_empty(self) -> bool:
        """Nothing worth a report: the digest is one line (or not sent)."""
        return not (
            self.new_failures
            or self.resolved
            or self.gaps
            or self.expiring
            or self.overall.moved
            or self.changed_sections
        )

    @property
    def empty_line(self) -> str:
        when = f"since the previous digest ({_local(self.period_start, self)})"
        if not self.account_count:
            return "Your digest covers no AWS accounts: your teams grant none."
        if not self.scans_in_period:
            latest = max(
                (s.after.finished_at for s in self.states if s.after), default=None
            )
            tail = (
                f"; the latest finished {_local(latest, self)}"
                if latest
                else "; no scan has finished yet"
            )
            return f"No scan finished {when}{tail}."
        rate = self.overall.rate_after
        steady = f" Pass rate steady at {_pct(rate)}." if rate is not None else ""
        return f"Nothing changed in your accounts {when}.{steady}"

    @property
    def severity_note(self) -> str:
        minimum = self.subscription.min_severity
        if minimum == Severity.LOW.value:
            return ""
        return f"Lists show findings of {minimum} severity or above."

    @property
    def sections_note(self) -> str:
        from findings import sections

        slugs = self.subscription.sections
        if not slugs:
            return ""
        titles = [getattr(sections.get_section(s), "title", s) for s in slugs]
        return "Sections: " + ", ".join(titles) + "."


def _pct(rate: float | None) -> str:
    return pct(rate)


def _local(value: datetime, content: DigestContent) -> str:
    zone = content.subscription.zone
    return f"{value.astimezone(zone):%a %d %b %Y %H:%M} {content.subscription.timezone}"
