"""The control framework.

A control is a declarative object (id, title, whitepaper section, severity,
resource type, rationale, remediation, references) plus a pure function from
one resource's configuration, and lookups into the same account, to a status
and a human reason. Control functions import nothing that talks to AWS or the
database, which keeps the catalog testable without either.
"""

from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol, TypeVar

ERRORS_KEY = "_errors"

T = TypeVar("T")


class Status(StrEnum):
    PASS = "PASS"
    FAIL = "FAIL"
    ERROR = "ERROR"
    NOT_APPLICABLE = "NOT_APPLICABLE"


class Severity(StrEnum):
    CRITICAL = "critical"
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"

    @property
    def rank(self) -> int:
        return _SEVERITY_RANK[self]


_SEVERITY_RANK = {
    Severity.CRITICAL: 4,
    Severity.HIGH: 3,
    Severity.MEDIUM: 2,
    Severity.LOW: 1,
}


@dataclass(frozen=True, slots=True)
class Result:
    status: Status
    reason: str


def passed(reason: str) -> Result:
    return Result(Status.PASS, reason)


def failed(reason: str) -> Result:
    return Result(Status.FAIL, reason)


def not_applicable(reason: str) -> Result:
    return Result(Status.NOT_APPLICABLE, reason)


def error(reason: str) -> Result:
    return Result(Status.ERROR, reason)


class NotEvaluable(Exception):
    """The data a control needs was not collected; the finding becomes ERROR."""


@dataclass(frozen=True, slots=True)
class ResourceView:
    """What a control sees of one resource (its current snapshot)."""

    account_id: str
    region: str
    resource_type: str
    resource_id: str
    config: dict
    arn: str = ""
    name: str = ""
    tags: dict = field(default_factory=dict)

    def field(self, key: str, default: Any = None) -> Any:
        """``config[key]``, or NotEvaluable when its sub-call failed.

        Use this for every value a collector fetched with a separate call
        (bucket policy, encryption, ...), so an AccessDenied on that call is
        reported as ERROR instead of being read as "not configured".
        """
        problem = self.config.get(ERRORS_KEY, {}).get(key)
        if problem:
            raise NotEvaluable(f"{key} could not be read ({problem})")
        return self.config.get(key, default)

    @property
    def label(self) -> str:
        return self.name or self.resource_id


class Context(Protocol):
    """Lookups a control may make beyond its own resource (same account)."""

    account_id: str
    now: datetime
    #: The regions this scan covers for the account (enabled ones).
    regions: list[str]

    def resources(
        self, resource_type: str, region: str | None = None
    ) -> list[ResourceView]:
        """Current resources of a type; NotEvaluable if it was not collected."""
        ...

    def memo(self, fn: Callable[..., T], *args: Hashable) -> T:
        """``fn(*args)``, computed once per context (one account's evaluation).

        For pure work that many resources or controls of an account repeat,
        such as parsing the same filter pattern for each of the controls
        that read it.
        """
        ...


@dataclass(frozen=True)
class Control:
    id: str
    title: str
    section: str
    severity: Severity
    resource_type: str
    check: Callable[[ResourceView, Context], Result]
    rationale: str
    remediation: str
    remediation_cli: str = ""
    cis_v3: str = ""
    cis_v4: str = ""
    # Security Hub control ids; a trailing "*" marks one outside FSBP.
    security_hub: tuple[str, ...] = ()

    @property
    def fsbp(self) -> tuple[str, ...]:
        return tuple(sh for sh in self.security_hub if not sh.endswith("*"))

    @property
    def cis(self) -> str:
        if not (self.cis_v3 or self.cis_v4):
            return ""
        return f"v3.0 {self.cis_v3 or '-'} / v4.0 {self.cis_v4 or '-'}"

    def evaluate(self, resource: ResourceView, ctx: Context) -> Result:
        try:
            result = self.check(resource, ctx)
        except NotEvaluable as exc:
            return error(f"Not evaluable: {exc}")
        if not isinstance(result, Result):
            raise TypeError(f"control {self.id} returned {result!r}, not a Result")
        return result


REGISTRY: dict[str, Control] = {}


def control(
    *,
    id: str,
    title: str,
    section: str,
    severity: Severity,
    resource_type: str,
    rationale: str,
    remediation: str,
    remediation_cli: str = "",
    cis: tuple[str, str] = ("", ""),
    security_hub: Iterable[str] = (),
) -> Callable[[Callable[[ResourceView, Context], Result]], Control]:
    """Declare a control; the decorated function is its check."""

    def register(fn: Callable[[ResourceView, Context], Result]) -> Control:
        if id in REGISTRY:
            raise ValueError(f"control {id!r} declared twice")
        ctl = Control(
            id=id,
            title=title,
            section=section,
            severity=severity,
            resource_type=resource_type,
            check=fn,
            rationale=rationale,
            remediation=remediation,
            remediation_cli=remediation_cli,
            cis_v3=cis[0],
            cis_v4=cis[1],
            security_hub=tuple(security_hub),
        )
        REGISTRY[id] = ctl
        return ctl

    return register


def controls_for_type(resource_type: str) -> list[Control]:
    return [c for c in REGISTRY.values() if c.resource_type == resource_type]


@dataclass
class StaticContext:
    """A Context over resources held in memory (the engine and tests use it).

    ``uncollected`` maps a resource type to the reason it is unknown for this
    account, or a region-qualified ``(type, region)`` key.
    """

    account_id: str
    now: datetime
    regions: list[str]
    by_type: dict[str, list[ResourceView]] = field(default_factory=dict)
    uncollected: dict[Any, str] = field(default_factory=dict)
    _memo: dict[tuple, Any] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    def memo(self, fn: Callable[..., T], *args: Hashable) -> T:
        key = (fn, *args)
        try:
            return self._memo[key]
        except KeyError:
            value = self._memo[key] = fn(*args)
            return value

    def resources(
        self, resource_type: str, region: str | None = None
    ) -> list[ResourceView]:
        reason = self.uncollected.get(resource_type) or (
            region and self.uncollected.get((resource_type, region))
        )
        if reason:
            raise NotEvaluable(f"{resource_type} not collected: {reason}")
        if region is None:
            # Any region missing makes an account-wide lookup incomplete.
            for key, why in self.uncollected.items():
                if isinstance(key, tuple) and key[0] == resource_type:
                    raise NotEvaluable(
                        f"{resource_type} not collected in {key[1]}: {why}"
                    )
        items = self.by_type.get(resource_type, [])
        if region is not None:
            items = [r for r in items if r.region == region]
        return list(items)
