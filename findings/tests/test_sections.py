"""The whitepaper section tree: complete, well-formed and consistent."""

import re
from pathlib import Path

import pytest

from findings.controls import REGISTRY
from findings.controls.base import Severity, control, passed
from findings.sections import (
    KINDS,
    SECTIONS,
    Section,
    ancestors,
    children,
    controls_in,
    get_section,
    is_checkable,
    top_level,
)

# CI checks the repository out beside the shared design folder.
REFERENCE = (
    Path(__file__).resolve().parents[2].parent / "shared" / "controls-reference.md"
)
TOP_LEVEL_ORDER = [
    "shared-responsibility",
    "business-continuity",
    "network",
    "account-security",
    "service",
]


def reference_rows() -> list[tuple[str, str, str]]:
    """(slug, title, kind word) of every row of the reference's section tree."""
    if not REFERENCE.exists():
        pytest.skip(f"{REFERENCE} not found; the section-tree check needs it")
    text = REFERENCE.read_text(encoding="utf-8")
    tree = text.split("## 1. Section tree", 1)[1].split("\n## ", 1)[0]
    rows = []
    for line in tree.splitlines():
        match = re.match(r"\|\s*`([^`]+)`\s*\|([^|]*)\|([^|]*)\|", line)
        if match:
            slug, title, kind = (part.strip() for part in match.groups())
            rows.append((slug, title, kind.split()[0]))
    assert len(rows) > 40, "the section tree table was not parsed"
    return rows


def test_every_reference_section_is_present_with_its_title_and_kind():
    for slug, title, kind in reference_rows():
        section = get_section(slug)
        assert section is not None, f"{slug} missing from SECTIONS"
        assert section.title == title
        assert section.kind == kind, slug


def test_slugs_are_unique():
    slugs = [s.slug for s in SECTIONS]
    assert len(slugs) == len(set(slugs))


def test_no_orphans_and_parents_come_first():
    position = {s.slug: i for i, s in enumerate(SECTIONS)}
    for section in SECTIONS:
        if section.depth == 0:
            continue
        assert section.parent_slug in position, f"{section.slug} has no parent"
        assert position[section.parent_slug] < position[section.slug]


def test_tree_is_grouped_by_top_level_area():
    assert [s.slug for s in top_level()] == TOP_LEVEL_ORDER
    areas = [s.slug.split("/")[0] for s in SECTIONS]
    # Each area is one contiguous run, in the documented order.
    runs = [area for i, area in enumerate(areas) if i == 0 or areas[i - 1] != area]
    assert runs == TOP_LEVEL_ORDER


def test_every_section_is_described():
    for section in SECTIONS:
        assert section.kind in KINDS, section.slug
        assert section.title and section.summary, section.slug
        if section.kind in ("informational", "checkable", "split"):
            assert section.aws_side, f"{section.slug} has no AWS side"
        if is_checkable(section):
            assert section.customer_side, f"{section.slug} has no customer side"


def test_informational_sections_leave_the_customer_side_empty():
    informational = [s for s in SECTIONS if s.kind == "informational"]
    assert informational
    assert all(not s.customer_side for s in informational)


def test_depth_and_parent_slug():
    section = get_section("service/compute/ec2/ebs")
    assert section.depth == 3
    assert section.parent_slug == "service/compute/ec2"
    assert get_section("network").depth == 0
    assert get_section("network").parent_slug == ""


def test_children_are_direct_and_in_tree_order():
    assert [s.slug for s in children("account-security/security-logs")] == [
        "account-security/security-logs/cloudtrail",
        "account-security/security-logs/cloudwatch",
    ]
    assert "network/vpc/default-vpc" not in [s.slug for s in children("network")]
    assert children("service/storage/s3") == []


def test_ancestors_build_a_breadcrumb():
    trail = ancestors("service/analytics/cloudsearch/opensearch")
    assert [s.slug for s in trail] == [
        "service",
        "service/analytics",
        "service/analytics/cloudsearch",
    ]


def test_get_section_of_unknown_slug_is_none():
    assert get_section("service/compute/lambda") is None


def test_is_checkable():
    assert is_checkable(get_section("account-security/credentials"))
    assert is_checkable("business-continuity/incident-response")  # split
    assert not is_checkable("service/compute/ec2/hypervisor")
    assert not is_checkable("network/transmission-protection")  # index
    assert not is_checkable("no/such/section")


def test_sections_are_frozen():
    with pytest.raises(AttributeError):
        get_section("network").title = "changed"
    assert isinstance(SECTIONS[0], Section)


@pytest.fixture
def temporary_controls():
    """Three throwaway controls, removed from the registry afterwards."""
    added = []
    for ident, slug in [
        ("zz.test.b", "network/vpc"),
        ("zz.test.a", "network/vpc"),
        ("zz.test.c", "network/vpc/security-groups"),
    ]:
        control(
            id=ident,
            title=ident,
            section=slug,
            severity=Severity.LOW,
            resource_type="AWS::EC2::VPC",
            rationale="test",
            remediation="test",
        )(lambda resource, ctx: passed("ok"))
        added.append(ident)
    yield
    for ident in added:
        REGISTRY.pop(ident, None)


def test_controls_in_a_section_sorted_by_id(temporary_controls):
    ids = [c.id for c in controls_in("network/vpc") if c.id.startswith("zz.")]
    assert ids == ["zz.test.a", "zz.test.b"]
    below = controls_in("network/vpc", include_descendants=True)
    assert "zz.test.c" in [c.id for c in below]
    assert "zz.test.c" not in [c.id for c in controls_in("network")]


def test_every_registered_control_names_a_known_checkable_section():
    for ctl in REGISTRY.values():
        section = get_section(ctl.section)
        assert section is not None, f"{ctl.id}: unknown section {ctl.section!r}"
        assert is_checkable(section), f"{ctl.id}: {ctl.section} scores nothing"
