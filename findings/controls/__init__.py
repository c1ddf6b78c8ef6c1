"""The control catalog: one module per service, mirroring collectors/services/.

Importing this package registers every control module in it.
"""

import importlib
import pkgutil

from findings.controls.base import REGISTRY, Control, controls_for_type

for _module in pkgutil.iter_modules(__path__):
    importlib.import_module(f"{__name__}.{_module.name}")

__all__ = ["REGISTRY", "Control", "controls_for_type"]
