"""The control catalog: one module per service, mirroring collectors/services/."""

from findings.controls import cloudtrail, config, ec2, iam, s3  # noqa: F401
from findings.controls.base import REGISTRY, Control, controls_for_type

__all__ = ["REGISTRY", "Control", "controls_for_type"]
