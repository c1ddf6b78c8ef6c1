"""AWS Config controls (whitepaper: AWS Config security checks)."""

from findings.controls.base import (
    Context,
    NotEvaluable,
    ResourceView,
    Result,
    Severity,
    control,
    failed,
    passed,
)

SECTION = "account-security/config-security-checks"
RECORDER = "AWS::Config::ConfigurationRecorder"


def _recorder_problems(recorder: dict, statuses: dict[str, dict]) -> list[str]:
    """Why a recorder does not record everything continuously ([] = it does)."""
    problems = []
    group = recorder.get("recordingGroup") or {}
    strategy = (group.get("recordingStrategy") or {}).get("useOnly")
    if not (group.get("allSupported") or strategy == "ALL_SUPPORTED_RESOURCE_TYPES"):
        if strategy == "EXCLUSION_BY_RESOURCE_TYPES":
            excluded = (group.get("exclusionByResourceTypes") or {}).get(
                "resourceTypes", []
            )
            problems.append(f"excludes {len(excluded)} resource types")
        else:
            selected = group.get("resourceTypes") or []
            problems.append(
                f"records only {len(selected)} selected resource types, "
                "not all supported ones"
            )
    name = recorder.get("name", "")
    status = statuses.get(name)
    if status is None:
        raise NotEvaluable(f"no status returned for recorder {name}")
    if not status.get("recording"):
        problems.append("is not recording (stopped)")
    if status.get("lastStatusFailed"):
        code = status.get("lastErrorCode") or "unknown error"
        problems.append(f"last recording attempt failed ({code})")
    return problems


def _statuses(r: ResourceView) -> dict[str, dict]:
    statuses = r.field("ConfigurationRecordersStatus")
    if statuses is None:
        raise NotEvaluable("recorder status was not collected")
    return {s.get("name", ""): s for s in statuses}


def _healthy_recorders(r: ResourceView) -> list[dict]:
    statuses = _statuses(r)
    return [
        rec
        for rec in r.config.get("ConfigurationRecorders", [])
        if not _recorder_problems(rec, statuses)
    ]


def _records_global_types(recorder: dict) -> bool:
    return bool(
        (recorder.get("recordingGroup") or {}).get("includeGlobalResourceTypes")
    )


def _region_recording_global_types(ctx: Context, skip: str) -> str | None:
    """Another scanned region whose healthy recorder records global types."""
    unknown = []
    for region in ctx.regions:
        if region == skip:
            continue
        try:
            records = ctx.resources(RECORDER, region=region)
            healthy = [rec for other in records for rec in _healthy_recorders(other)]
        except NotEvaluable as exc:
            unknown.append(f"{region}: {exc}")
            continue
        if any(_records_global_types(rec) for rec in healthy):
            return region
    if unknown:
        raise NotEvaluable(
            "cannot tell whether another region records global resource types "
            f"({'; '.join(unknown)})"
        )
    return None


@control(
    id="config.recorder.all-regions",
    title="AWS Config records all resources in every enabled region",
    section=SECTION,
    severity=Severity.HIGH,
    resource_type=RECORDER,
    rationale=(
        "AWS Config keeps the configuration history of every resource and the "
        "relationships between them; a region or resource type it does not "
        "record has no history to audit, compare or restore to a known good state."
    ),
    remediation=(
        "AWS Config console (in each region) → Settings → Edit: Recording "
        "strategy 'All resource types with customizable overrides' without "
        "exclusions, choose a delivery channel bucket and an IAM role → Save, "
        "and make sure recording is on. In one region also include globally "
        "recorded IAM resource types."
    ),
    remediation_cli=(
        "aws configservice put-configuration-recorder --configuration-recorder "
        "name=default,roleARN=<role-arn> --recording-group "
        "allSupported=true,includeGlobalResourceTypes=true && "
        "aws configservice start-configuration-recorder "
        "--configuration-recorder-name default"
    ),
    cis=("3.3", "3.3"),
    security_hub=("Config.1",),
)
def recorder_all_regions(r: ResourceView, ctx: Context) -> Result:
    recorders = r.config.get("ConfigurationRecorders", [])
    if not recorders:
        return failed(f"no AWS Config configuration recorder in {r.region}")
    statuses = _statuses(r)
    problems = []
    for recorder in recorders:
        why = _recorder_problems(recorder, statuses)
        if why:
            problems.append(f"recorder {recorder.get('name', '')} {', '.join(why)}")
            continue
        name = recorder.get("name", "")
        if _records_global_types(recorder):
            return passed(
                f"recorder {name} records all supported resource types in "
                f"{r.region}, including global (IAM) types"
            )
        if other := _region_recording_global_types(ctx, skip=r.region):
            return passed(
                f"recorder {name} records all supported resource types in "
                f"{r.region}; global (IAM) types are recorded in {other}"
            )
        problems.append(
            f"recorder {name} records all supported resource types, but no "
            "region records global (IAM) resource types "
            "(includeGlobalResourceTypes is off everywhere)"
        )
    return failed("; ".join(problems))
