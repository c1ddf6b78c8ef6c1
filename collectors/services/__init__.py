"""One module per AWS service; importing this package registers them all."""

from collectors.services import cloudtrail, config, ec2, iam, s3  # noqa: F401
