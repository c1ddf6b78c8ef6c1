"""AWS Config controls (whitepaper: AWS Config security checks)."""

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


# -- organization aggregator ---------------------------------------------------

AGGREGATOR = "AWS::Config::ConfigurationAggregator"


def _organization_aggregators(r: ResourceView) -> list[dict]:
    return [
        a
        for a in r.config.get("ConfigurationAggregators", [])
        if a.get("OrganizationAggregationSource")
    ]


def _all_regions(aggregator: dict) -> bool:
    return bool(aggregator["OrganizationAggregationSource"].get("AllAwsRegions"))


@control(
    id="config.aggregator.organization",
    title="An organization-wide Config aggregator covers all regions",
    section=SECTION,
    severity=Severity.MEDIUM,
    resource_type=AGGREGATOR,
    rationale=(
        "An organization aggregator collects every account's and region's AWS "
        "Config data into one view, so the security team can see a resource's "
        "configuration and compliance anywhere in the organization, including "
        "regions enabled later."
    ),
    remediation=(
        "In the management account (or the Config delegated administrator): "
        "AWS Config console → Aggregators → Create aggregator → Add my "
        "organization, choose an IAM role with AWSConfigRoleForOrganizations, "
        "select Include all AWS Regions → Create aggregator."
    ),
    remediation_cli=(
        "aws configservice put-configuration-aggregator "
        "--configuration-aggregator-name organization "
        "--organization-aggregation-source RoleArn=<role-arn>,AllAwsRegions=true"
    ),
)
def aggregator_organization(r: ResourceView, ctx: Context) -> Result:
    # Every region's record gives the same account-wide verdict, as for the
    # multi-region trail: one aggregator covers all regions.
    unknown, partial = [], []
    for region in ctx.regions:
        try:
            records = ctx.resources(AGGREGATOR, region=region)
        except NotEvaluable as exc:
            unknown.append(str(exc))
            continue
        for record in records:
            for aggregator in _organization_aggregators(record):
                name = aggregator.get("ConfigurationAggregatorName", "")
                if _all_regions(aggregator):
                    return passed(
                        f"organization aggregator {name} in {record.region} "
                        "aggregates all AWS regions"
                    )
                regions = aggregator["OrganizationAggregationSource"].get(
                    "AwsRegions", []
                )
                partial.append(
                    f"organization aggregator {name} in {record.region} covers only "
                    f"{', '.join(regions) or 'no regions'} (AllAwsRegions=false)"
                )
    if unknown:
        raise NotEvaluable("; ".join(unknown))
    if partial:
        return failed("; ".join(partial))
    organization = r.field("Organization")
    if organization is None and "Organization" not in r.config:
        raise NotEvaluable("the account's organization was not collected")
    if organization is None:
        return not_applicable(
            "the account is not in an AWS Organization: there is no organization "
            "to aggregate"
        )
    management = organization.get("MasterAccountId")
    if management != r.account_id:
        return not_applicable(
            f"member account; organization aggregators belong in the management "
            f"account {management} or the Config delegated administrator"
        )
    return failed(
        "no organization aggregator in any scanned region of the management "
        "account: nothing gives one view of every account's configuration"
    )
