from findings.controls.base import REGISTRY


def test_catalog_imports():
    assert isinstance(REGISTRY, dict)
