"""Systems Manager controls: instances are managed and patched (EC2 guest OS).

The customer fully controls the guest operating system, and in-guest state
(packages, patches) is invisible to the EC2 API. Systems Manager is the
control-plane view of it: an instance whose SSM Agent reports in can be
inventoried and patched; Patch Manager reports which patches are missing.
"""

from findings.controls.base import (
    Context,
    ResourceView,
    Result,
    Severity,
    control,
    failed,
    not_applicable,
    passed,
)

SECTION = "service/compute/ec2/guest-os"
INSTANCE = "AWS::EC2::Instance"
PATCH_COMPLIANCE = "AWS::SSM::PatchCompliance"


@control(
    id="ec2.instance.ssm-managed",
    title="Instances are managed by Systems Manager",
    section=SECTION,
    severity=Severity.MEDIUM,
    resource_type=INSTANCE,
    rationale=(
        "Customers fully control the guest operating system and must keep it "
        "patched and audited. An instance whose SSM Agent reports to Systems "
        "Manager can be inventoried, patched and reached without opening SSH "
        "or RDP."
    ),
    remediation=(
        "Attach an instance profile whose role has the "
        "AmazonSSMManagedInstanceCore policy (or turn on Default Host "
        "Management Configuration in Systems Manager → Fleet Manager), make "
        "sure the SSM Agent runs and can reach the ssm, ssmmessages and "
        "ec2messages endpoints, then check Fleet Manager for the instance."
    ),
    remediation_cli=(
        "aws ec2 associate-iam-instance-profile --instance-id <instance-id> "
        "--iam-instance-profile Name=<profile-with-AmazonSSMManagedInstanceCore>"
    ),
    security_hub=("SSM.1",),
)
def instance_ssm_managed(r: ResourceView, ctx: Context) -> Result:
    state = (r.config.get("State") or {}).get("Name")
    if state != "running":
        return not_applicable(f"instance is {state}, not running")
    managed = {v.resource_id: v for v in ctx.resources(PATCH_COMPLIANCE, r.region)}
    node = managed.get(r.resource_id)
    if node is None:
        return failed(
            "not registered with Systems Manager: no SSM Agent reports for it"
        )
    information = node.config.get("InstanceInformation") or {}
    ping = information.get("PingStatus")
    agent = information.get("AgentVersion")
    version = f" {agent}" if agent else ""
    if ping == "Online":
        return passed(f"SSM Agent{version} is Online")
    return failed(f"SSM Agent{version} ping status is {ping}, not Online")


@control(
    id="ec2.instance.patch-compliant",
    title="SSM-managed instances are patch compliant",
    section=SECTION,
    severity=Severity.HIGH,
    resource_type=PATCH_COMPLIANCE,
    rationale=(
        "The guest operating system is the customer's to patch. Patch Manager "
        "compares each managed instance against its patch baseline; missing or "
        "failed patches leave known vulnerabilities open."
    ),
    remediation=(
        "Systems Manager console → Patch Manager → Patch now (Scan and install) "
        "for the instance, or a patch policy / maintenance window running "
        "AWS-RunPatchBaseline with Operation Install; then check Compliance "
        "for patches that failed."
    ),
    remediation_cli=(
        "aws ssm send-command --document-name AWS-RunPatchBaseline "
        "--targets Key=InstanceIds,Values=<instance-id> "
        "--parameters Operation=Install"
    ),
    security_hub=("SSM.2",),
)
def instance_patch_compliant(r: ResourceView, ctx: Context) -> Result:
    state = r.field("PatchState")
    if state is None:
        return failed("no patch state: Patch Manager has never scanned this instance")
    missing = int(state.get("MissingCount") or 0)
    failures = int(state.get("FailedCount") or 0)
    baseline = state.get("BaselineId")
    against = f" against baseline {baseline}" if baseline else ""
    if missing or failures:
        parts = []
        if missing:
            parts.append(f"{missing} missing")
        if failures:
            parts.append(f"{failures} failed to install")
        return failed(f"patches {' and '.join(parts)}{against}")
    return passed(f"no missing or failed patches{against}")
