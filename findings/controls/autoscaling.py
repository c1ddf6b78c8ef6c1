"""EC2 Auto Scaling controls: zones, launch templates, and how instances start.

The whitepaper's Auto Scaling notes: groups are managed through the API, and
IAM roles simplify key management for the instances they launch. What those
instances get (metadata service version, public addresses) is set by the
launch template or launch configuration a group uses.

The two instance-settings rows name launch templates as their resource, yet
also cover launch configurations (Security Hub AutoScaling.3 and
Autoscaling.5). Their checks accept a launch configuration record as well, so
that half is evaluated as soon as a control can be declared for more than one
resource type; until then the engine runs them on launch templates only.
"""

from collections.abc import Callable

from findings.controls.base import (
    Context,
    NotEvaluable,
    ResourceView,
    Result,
    Severity,
    control,
    failed,
    not_applicable,
    passed,
)

SECTION = "service/compute/ec2/auto-scaling"
GROUP = "AWS::AutoScaling::AutoScalingGroup"
LAUNCH_TEMPLATE = "AWS::EC2::LaunchTemplate"
LAUNCH_CONFIGURATION = "AWS::AutoScaling::LaunchConfiguration"


@control(
    id="asg.multi-az",
    title="Auto Scaling groups span multiple AZs",
    section=SECTION,
    severity=Severity.MEDIUM,
    resource_type=GROUP,
    rationale=(
        "Spreading an application across Availability Zones makes it resilient "
        "to most failure modes; a group confined to one zone cannot replace "
        "its instances when that zone fails."
    ),
    remediation=(
        "EC2 console → Auto Scaling groups → choose the group → Details → "
        "Network → Edit → add subnets in at least one more Availability Zone → "
        "Update."
    ),
    remediation_cli=(
        "aws autoscaling update-auto-scaling-group --auto-scaling-group-name "
        "<group> --vpc-zone-identifier <subnet-in-az-a>,<subnet-in-az-b>"
    ),
    security_hub=("AutoScaling.2",),
)
def multi_az(r: ResourceView, ctx: Context) -> Result:
    zones = sorted(set(r.config.get("AvailabilityZones", [])))
    if len(zones) >= 2:
        return passed(f"spans {len(zones)} AZs: {', '.join(zones)}")
    return failed(f"launches into one AZ only: {', '.join(zones) or 'none'}")


@control(
    id="asg.uses-launch-template",
    title="Auto Scaling groups use launch templates",
    section=SECTION,
    severity=Severity.MEDIUM,
    resource_type=GROUP,
    rationale=(
        "Launch configurations are frozen at creation and miss newer instance "
        "settings such as IMDSv2 defaults; launch templates are versioned, so "
        "every change to what the group launches is recorded and reviewable."
    ),
    remediation=(
        "EC2 console → Launch templates → Create launch template (or Auto "
        "Scaling groups → Launch configurations → Copy to launch template) → "
        "then Auto Scaling groups → choose the group → Details → Launch "
        "template → Edit → choose the template and version → Update."
    ),
    remediation_cli=(
        "aws autoscaling update-auto-scaling-group --auto-scaling-group-name "
        "<group> --launch-template LaunchTemplateId=<lt-id>,Version='$Default'"
    ),
    security_hub=("AutoScaling.9",),
)
def uses_launch_template(r: ResourceView, ctx: Context) -> Result:
    configuration = r.config.get("LaunchConfigurationName")
    if configuration:
        return failed(f"launches from launch configuration {configuration}")
    template = r.config.get("LaunchTemplate") or (
        (r.config.get("MixedInstancesPolicy") or {}).get("LaunchTemplate") or {}
    ).get("LaunchTemplateSpecification")
    if template:
        name = template.get("LaunchTemplateName") or template.get("LaunchTemplateId")
        version = template.get("Version") or "$Default"
        return passed(f"launches from launch template {name} ({version})")
    return failed("names neither a launch template nor a launch configuration")


# -- launch settings --------------------------------------------------------------


def _in_use(r: ResourceView) -> list[tuple[str, dict]]:
    """(label, settings) of each launch template version or configuration in use.

    ``settings`` has the launch template data shape; a launch configuration's
    fields are mapped onto it.
    """
    if r.resource_type == LAUNCH_CONFIGURATION:
        public = r.config.get("AssociatePublicIpAddress")
        settings = {
            "MetadataOptions": r.config.get("MetadataOptions") or {},
            "NetworkInterfaces": [{"AssociatePublicIpAddress": public}],
        }
        return [(f"launch configuration {r.label}", settings)]
    versions = r.field("VersionsInUse")
    if versions is None:
        raise NotEvaluable("the template versions in use were not collected")
    return [
        (
            f"version {v.get('VersionNumber')} (used by {', '.join(v['UsedBy'])})",
            v.get("LaunchTemplateData") or {},
        )
        for v in versions
    ]


def _check_in_use(
    r: ResourceView, problem: Callable[[dict], str | None], ok: str
) -> Result:
    if not r.config.get("UsedBy"):
        kind = (
            "launch template"
            if r.resource_type == LAUNCH_TEMPLATE
            else "launch configuration"
        )
        return not_applicable(f"{kind} not used by any Auto Scaling group")
    problems = [
        f"{label}: {why}"
        for label, settings in _in_use(r)
        if (why := problem(settings))
    ]
    if problems:
        return failed("; ".join(problems))
    return passed(ok)


def _imds_problem(settings: dict) -> str | None:
    tokens = (settings.get("MetadataOptions") or {}).get("HttpTokens")
    if tokens == "required":
        return None
    if tokens:
        return f"HttpTokens is {tokens}, so IMDSv1 is allowed"
    return (
        "HttpTokens is not set, so IMDSv1 is allowed unless the AMI or the "
        "account default requires IMDSv2"
    )


def _public_ip_problem(settings: dict) -> str | None:
    public = [
        str(interface.get("DeviceIndex", 0))
        for interface in settings.get("NetworkInterfaces") or []
        if interface.get("AssociatePublicIpAddress") is True
    ]
    if public:
        return f"AssociatePublicIpAddress is true (device index {', '.join(public)})"
    return None


@control(
    id="asg.imdsv2-required",
    title="Instances launched by Auto Scaling require IMDSv2",
    section=SECTION,
    severity=Severity.HIGH,
    resource_type=LAUNCH_TEMPLATE,
    rationale=(
        "IAM roles give the instances a group launches their credentials "
        "through the instance metadata service. IMDSv1 hands them to any "
        "request, including one relayed by a server-side request forgery; "
        "IMDSv2 requires a session token."
    ),
    remediation=(
        "EC2 console → Launch templates → choose the template → Actions → "
        "Modify template (Create new version) → Advanced details → Metadata "
        "version: V2 only (token required) → Create template version; then "
        "make it the version the groups use (Set default version)."
    ),
    remediation_cli=(
        "aws ec2 create-launch-template-version --launch-template-id <lt-id> "
        "--source-version '$Default' --launch-template-data "
        '\'{"MetadataOptions": {"HttpTokens": "required"}}\' && '
        "aws ec2 modify-launch-template --launch-template-id <lt-id> "
        "--default-version <new-version>"
    ),
    security_hub=("EC2.170", "AutoScaling.3"),
)
def imdsv2_required(r: ResourceView, ctx: Context) -> Result:
    return _check_in_use(
        r, _imds_problem, "every launch setting in use requires IMDSv2 tokens"
    )


@control(
    id="asg.no-public-ip",
    title="Instances launched by Auto Scaling get no public IP",
    section=SECTION,
    severity=Severity.HIGH,
    resource_type=LAUNCH_TEMPLATE,
    rationale=(
        "Instances behind a load balancer need no public address; one assigned "
        "at launch makes every instance the group starts directly reachable "
        "from the internet, past the load balancer's defences."
    ),
    remediation=(
        "EC2 console → Launch templates → choose the template → Actions → "
        "Modify template (Create new version) → Network settings → Advanced "
        "network configuration → Auto-assign public IP: Disable → Create "
        "template version; then set it as the default version the groups use."
    ),
    remediation_cli=(
        "aws ec2 create-launch-template-version --launch-template-id <lt-id> "
        "--source-version '$Default' --launch-template-data "
        '\'{"NetworkInterfaces": [{"DeviceIndex": 0, '
        '"AssociatePublicIpAddress": false}]}\''
    ),
    security_hub=("EC2.25", "Autoscaling.5"),
)
def no_public_ip(r: ResourceView, ctx: Context) -> Result:
    return _check_in_use(
        r,
        _public_ip_problem,
        "no launch setting in use assigns a public IP address",
    )
