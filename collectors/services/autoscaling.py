"""EC2 Auto Scaling: groups, and the launch templates and configurations they use.

Groups are read first, so each launch template and launch configuration record
can say which groups launch instances from it (``UsedBy``). For a template in
use, the versions the groups ask for ($Default, $Latest or a number) are
resolved into ``VersionsInUse``; a template or configuration no group uses is
still recorded, and the controls treat it as not applicable.

User data is never stored: it is where bootstrap secrets tend to live, and the
controls need none of it.
"""

from collections import defaultdict
from collections.abc import Iterable, Iterator
from typing import Any

from botocore.client import BaseClient
from botocore.exceptions import UnknownRegionError

from collectors.base import (
    ERRORS_KEY,
    Collector,
    ResourceRecord,
    register,
    to_jsonable,
)

GROUP = "AWS::AutoScaling::AutoScalingGroup"
LAUNCH_TEMPLATE = "AWS::EC2::LaunchTemplate"
LAUNCH_CONFIGURATION = "AWS::AutoScaling::LaunchConfiguration"

DEFAULT_VERSION = "$Default"
LATEST_VERSION = "$Latest"
# Group fields that move with every scaling event, not with a configuration
# change: kept, they would write a new snapshot on almost every scan.
VOLATILE_GROUP_FIELDS = ("Instances", "DesiredCapacity")
SECRET_FIELDS = ("UserData",)


def _tag_dict(tags: Iterable[dict] | None) -> dict[str, str]:
    return {t["Key"]: t.get("Value", "") for t in tags or ()}


def _template_specs(group: dict) -> list[dict]:
    """Every launch template specification a group launches from."""
    specs = []
    if group.get("LaunchTemplate"):
        specs.append(group["LaunchTemplate"])
    mixed = (group.get("MixedInstancesPolicy") or {}).get("LaunchTemplate") or {}
    if mixed.get("LaunchTemplateSpecification"):
        specs.append(mixed["LaunchTemplateSpecification"])
    for override in mixed.get("Overrides") or []:
        if override.get("LaunchTemplateSpecification"):
            specs.append(override["LaunchTemplateSpecification"])
    return specs


class _Usage:
    """Which groups use which template versions and launch configurations."""

    def __init__(self) -> None:
        # template id or name -> requested version -> group names
        self.templates: dict[str, dict[str, set[str]]] = defaultdict(
            lambda: defaultdict(set)
        )
        self.configurations: dict[str, set[str]] = defaultdict(set)

    def add(self, group: dict) -> None:
        name = group["AutoScalingGroupName"]
        for spec in _template_specs(group):
            key = spec.get("LaunchTemplateId") or spec.get("LaunchTemplateName", "")
            self.templates[key][spec.get("Version") or DEFAULT_VERSION].add(name)
        if group.get("LaunchConfigurationName"):
            self.configurations[group["LaunchConfigurationName"]].add(name)

    def of_template(self, template: dict) -> dict[str, set[str]]:
        merged: dict[str, set[str]] = defaultdict(set)
        for key in (template["LaunchTemplateId"], template["LaunchTemplateName"]):
            for version, groups in self.templates.get(key, {}).items():
                merged[version] |= groups
        return merged


@register
class AutoScalingCollector(Collector):
    service = "autoscaling"
    resource_types = (GROUP, LAUNCH_TEMPLATE, LAUNCH_CONFIGURATION)
    #: Page sizes: the maxima of DescribeAutoScalingGroups / ...Configurations
    #: and of DescribeLaunchTemplates.
    page_size = 100
    template_page_size = 200

    def collect(self) -> Iterator[ResourceRecord]:
        autoscaling = self.client("autoscaling")
        usage = _Usage()
        groups = self.paginate(
            autoscaling,
            "describe_auto_scaling_groups",
            "AutoScalingGroups",
            PaginationConfig={"PageSize": self.page_size},
        )
        for group in groups:
            usage.add(group)
            yield self._group(group)

        ec2 = self.client("ec2")
        templates = self.paginate(
            ec2,
            "describe_launch_templates",
            "LaunchTemplates",
            PaginationConfig={"PageSize": self.template_page_size},
        )
        for template in templates:
            yield self._template(ec2, template, usage.of_template(template))

        configurations = self.paginate(
            autoscaling,
            "describe_launch_configurations",
            "LaunchConfigurations",
            PaginationConfig={"PageSize": self.page_size},
        )
        for configuration in configurations:
            name = configuration["LaunchConfigurationName"]
            yield self._configuration(configuration, usage.configurations.get(name))

    def _partition(self) -> str:
        try:
            return self.session.get_partition_for_region(self.client_region)
        except UnknownRegionError:
            return "aws"  # a region newer than this botocore

    def _group(self, group: dict) -> ResourceRecord:
        config = to_jsonable(
            {
                k: v
                for k, v in group.items()
                if k not in VOLATILE_GROUP_FIELDS and k != "Tags"
            }
        )
        return ResourceRecord(
            resource_type=GROUP,
            resource_id=group["AutoScalingGroupName"],
            config=config,
            arn=group.get("AutoScalingGroupARN", ""),
            name=group["AutoScalingGroupName"],
            tags=_tag_dict(group.get("Tags")),
        )

    def _template(
        self, ec2: BaseClient, template: dict, usage: dict[str, set[str]]
    ) -> ResourceRecord:
        errors: dict[str, str] = {}
        config: dict[str, Any] = to_jsonable(
            {k: v for k, v in template.items() if k != "Tags"}
        )
        config["UsedBy"] = sorted(set().union(*usage.values())) if usage else []
        if usage:
            config["VersionsInUse"] = self._versions_in_use(
                ec2, errors, template, usage
            )
        if errors:
            config[ERRORS_KEY] = errors
        template_id = template["LaunchTemplateId"]
        return ResourceRecord(
            resource_type=LAUNCH_TEMPLATE,
            resource_id=template_id,
            config=config,
            arn=(
                f"arn:{self._partition()}:ec2:{self.client_region}:"
                f"{self.account_id}:launch-template/{template_id}"
            ),
            name=template.get("LaunchTemplateName", ""),
            tags=_tag_dict(template.get("Tags")),
        )

    def _versions_in_use(
        self,
        ec2: BaseClient,
        errors: dict[str, str],
        template: dict,
        usage: dict[str, set[str]],
    ) -> list[dict] | None:
        """The template versions groups launch from, one entry per version."""

        def drain() -> dict:
            versions = self.paginate(
                ec2,
                "describe_launch_template_versions",
                "LaunchTemplateVersions",
                LaunchTemplateId=template["LaunchTemplateId"],
                Versions=sorted(usage),
            )
            return {"items": list(versions)}

        response = self.optional(errors, "VersionsInUse", drain)
        if response is None:
            return None
        by_number = {v["VersionNumber"]: v for v in response["items"]}
        used: dict[int, dict] = {}
        for requested, groups in sorted(usage.items()):
            number = _resolve(requested, template, by_number)
            if number not in by_number:
                errors["VersionsInUse"] = (
                    f"other: version {requested} of {template['LaunchTemplateId']} "
                    "was not returned"
                )
                return None
            entry = used.setdefault(
                number,
                {
                    "VersionNumber": number,
                    "RequestedAs": [],
                    "UsedBy": [],
                    "LaunchTemplateData": to_jsonable(
                        _without_secrets(by_number[number].get("LaunchTemplateData"))
                    ),
                },
            )
            entry["RequestedAs"] = sorted({*entry["RequestedAs"], requested})
            entry["UsedBy"] = sorted({*entry["UsedBy"], *groups})
        return [used[number] for number in sorted(used)]

    def _configuration(
        self, configuration: dict, used_by: set[str] | None
    ) -> ResourceRecord:
        config = to_jsonable(_without_secrets(configuration))
        config["UsedBy"] = sorted(used_by or ())
        name = configuration["LaunchConfigurationName"]
        return ResourceRecord(
            resource_type=LAUNCH_CONFIGURATION,
            resource_id=name,
            config=config,
            arn=configuration.get("LaunchConfigurationARN", ""),
            name=name,
        )


def _resolve(requested: str, template: dict, by_number: dict[int, dict]) -> int:
    """The version number a group's Version ($Default, $Latest, "3") means."""
    if requested == DEFAULT_VERSION:
        defaults = [n for n, v in by_number.items() if v.get("DefaultVersion")]
        return defaults[0] if defaults else int(template["DefaultVersionNumber"])
    if requested == LATEST_VERSION:
        # The newest version returned: a version created since the template
        # listing is the one the group launches from now.
        return max(by_number, default=int(template["LatestVersionNumber"]))
    try:
        return int(requested)
    except ValueError:
        return -1


def _without_secrets(item: dict | None) -> dict:
    return {k: v for k, v in (item or {}).items() if k not in SECRET_FIELDS}
