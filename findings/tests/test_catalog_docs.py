"""docs/controls.md is generated from the catalog and must not go stale."""

from pathlib import Path

from findings.catalog_docs import catalog_markdown
from findings.controls import REGISTRY

DOC = Path(__file__).resolve().parents[2] / "docs" / "controls.md"


def test_checked_in_catalog_is_current():
    assert DOC.read_text(encoding="utf-8") == catalog_markdown(), (
        "docs/controls.md is stale: run `make docs` (python manage.py controls "
        "--format markdown --output docs/controls.md) and commit it"
    )


def test_every_control_is_listed_under_its_section():
    text = catalog_markdown()
    for control_id in REGISTRY:
        assert f"| `{control_id}` |" in text


def test_every_checkable_section_has_controls():
    from findings.sections import SECTIONS, controls_in

    empty = [
        s.slug
        for s in SECTIONS
        if s.kind in ("checkable", "split") and not controls_in(s.slug)
    ]
    assert not empty, f"checkable sections without controls: {empty}"
    assert len(REGISTRY) >= 170
