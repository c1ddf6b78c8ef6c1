"""AWS Step Functions controls (whitepaper: Amazon SWF, with Step Functions).

SWF access is granted through IAM, which the IAM rows cover, and SWF has no
security setting of its own to score; Step Functions, its successor, has
execution logging.
"""

from findings.controls.base import (
    Context,
    ResourceView,
    Result,
    Severity,
    control,
    failed,
    passed,
)

SECTION = "service/app-integration/swf"
STATE_MACHINE = "AWS::StepFunctions::StateMachine"

LOGGING_LEVELS = ("ALL", "ERROR", "FATAL")


@control(
    id="stepfunctions.state-machine.logging",
    title="Step Functions state machines log execution history",
    section=SECTION,
    severity=Severity.MEDIUM,
    resource_type=STATE_MACHINE,
    rationale=(
        "User-activity logging is a feature to always configure. Execution "
        "logs in CloudWatch Logs record what each workflow run did and why it "
        "failed, long after the console's execution history is gone."
    ),
    remediation=(
        "Step Functions console → State machines → choose the state machine → "
        "Edit → Config → Logging: Log level ALL, ERROR or FATAL → choose or "
        "create a CloudWatch Logs log group → Save."
    ),
    remediation_cli=(
        "aws stepfunctions update-state-machine --state-machine-arn "
        "<state-machine-arn> --logging-configuration "
        "'level=ERROR,includeExecutionData=false,destinations=[{cloudWatchLogsLogGroup"
        "={logGroupArn=<log-group-arn>:*}}]'"
    ),
    security_hub=("StepFunctions.1",),
)
def state_machine_logging(r: ResourceView, ctx: Context) -> Result:
    machine = r.field("StateMachine") or {}
    logging = machine.get("loggingConfiguration") or {}
    level = str(logging.get("level") or "OFF").upper()
    destinations = [
        (d.get("cloudWatchLogsLogGroup") or {}).get("logGroupArn", "")
        for d in logging.get("destinations") or []
    ]
    destinations = [d for d in destinations if d]
    if level not in LOGGING_LEVELS:
        return failed(f"execution logging level is {level}")
    if not destinations:
        return failed(f"logging level is {level} but no log group is configured")
    return passed(f"logs {level} events to {destinations[0]}")
