"""Compliance frameworks as views over the same findings.

CIS AWS Foundations Benchmark v3.0.0 and v4.0.1 and AWS Foundational Security
Best Practices (FSBP) are not evaluated separately: each requirement is the set
of catalog controls that reference it, and its pass rate is summed from those
controls' rollups. An FSBP score and a CIS score therefore diverge exactly
where the two standards differ (see section 5 of the controls reference).
"""

import re
from collections.abc import Callable
from dataclasses import dataclass, field

from findings.controls import REGISTRY, Control


@dataclass(frozen=True)
class Framework:
    slug: str
    name: str
    version: str
    description: str
    references: Callable[[Control], list[str]] = field(repr=False)

    def __str__(self) -> str:
        return f"{self.name} {self.version}"


@dataclass(frozen=True)
class Requirement:
    id: str
    controls: tuple[Control, ...]


def _cis(attribute: str) -> Callable[[Control], list[str]]:
    def references(control: Control) -> list[str]:
        value = getattr(control, attribute).strip()
        # "5.1.2 (445/CIFS part)" -> "5.1.2"
        return [value.split()[0]] if value else []

    return references


FRAMEWORKS: dict[str, Framework] = {
    f.slug: f
    for f in (
        Framework(
            "cis-v3",
            "CIS AWS Foundations Benchmark",
            "v3.0.0",
            "The Center for Internet Security's baseline for an AWS account: "
            "identity, storage, logging, monitoring and networking.",
            _cis("cis_v3"),
        ),
        Framework(
            "cis-v4",
            "CIS AWS Foundations Benchmark",
            "v4.0.1",
            "Version 4 renumbers the storage and networking sections "
            "(EBS moves to 5.1.x) and adds EC2 recommendations.",
            _cis("cis_v4"),
        ),
        Framework(
            "fsbp",
            "AWS Foundational Security Best Practices",
            "v1.0.0",
            "The AWS Security Hub standard of controls that detect when "
            "accounts and resources deviate from AWS's security best practices.",
            lambda control: list(control.fsbp),
        ),
    )
}


def _natural(requirement_id: str) -> tuple:
    """'1.10' after '1.9'; 'EC2.19' after 'EC2.3'."""
    return tuple(
        (0, int(part), "") if part.isdigit() else (1, 0, part)
        for part in re.split(r"[.\s]", requirement_id)
    )


def requirements(framework: Framework) -> list[Requirement]:
    mapped: dict[str, list[Control]] = {}
    for control in REGISTRY.values():
        for ref in framework.references(control):
            mapped.setdefault(ref, []).append(control)
    return [
        Requirement(ref, tuple(sorted(controls, key=lambda c: c.id)))
        for ref, controls in sorted(mapped.items(), key=lambda item: _natural(item[0]))
    ]


def mapped_control_ids(framework: Framework) -> set[str]:
    return {c.id for c in REGISTRY.values() if framework.references(c)}
