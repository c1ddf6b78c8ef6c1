"""AWS Config: the configuration recorder of each region, with its status.

One ``AWS::Config::ConfigurationRecorder`` record per region (resource id =
the region) holds the region's customer-managed recorders and their status,
so a region without a recorder still yields a record and the control can
FAIL there. Service-linked recorders (created by other AWS services for their
own use, ``recordingScope`` INTERNAL) are not listed: without a
``ServicePrincipal`` argument AWS returns only the customer-managed recorder,
which is the one CIS 3.3 and Security Hub Config.1 are about.
"""

from collections.abc import Iterator

from collectors.base import (
    ERRORS_KEY,
    Collector,
    ResourceRecord,
    register,
    to_jsonable,
)

RECORDER = "AWS::Config::ConfigurationRecorder"

# lastStatus cycles Pending -> Success with every batch of recorded changes,
# and lastStatusChangeTime with it; stored as they are, they would write a
# new snapshot on almost every scan. Only "the last attempt failed" matters.
VOLATILE_STATUS_FIELDS = ("lastStatus", "lastStatusChangeTime")


@register
class ConfigCollector(Collector):
    service = "config"
    resource_types = (RECORDER,)

    def collect(self) -> Iterator[ResourceRecord]:
        client = self.client("config")
        recorders = to_jsonable(
            list(
                self.paginate(
                    client,
                    "describe_configuration_recorders",
                    "ConfigurationRecorders",
                )
            )
        )
        errors: dict[str, str] = {}
        status = self.optional(
            errors,
            "ConfigurationRecordersStatus",
            client.describe_configuration_recorder_status,
            absent=("NoSuchConfigurationRecorderException",),
        )
        config: dict = {
            "ConfigurationRecorders": recorders,
            "ConfigurationRecordersStatus": (
                None
                if "ConfigurationRecordersStatus" in errors
                else [
                    _stable_status(s)
                    for s in (status or {}).get("ConfigurationRecordersStatus", [])
                ]
            ),
        }
        if errors:
            config[ERRORS_KEY] = errors
        names = ", ".join(r.get("name", "") for r in recorders)
        yield ResourceRecord(
            resource_type=RECORDER,
            resource_id=self.region,
            # At most one customer-managed recorder per region, so its ARN
            # (when AWS returns one) names this record.
            arn=recorders[0].get("arn", "") if len(recorders) == 1 else "",
            name=f"AWS Config recorder {names or '(none)'} in {self.region}",
            config=config,
        )


def _stable_status(status: dict) -> dict:
    stable = {k: v for k, v in status.items() if k not in VOLATILE_STATUS_FIELDS}
    stable["lastStatusFailed"] = str(status.get("lastStatus", "")).upper() == "FAILURE"
    return to_jsonable(stable)


# -- configuration aggregators -------------------------------------------------
#
# A separate unit from the recorder's: a denied aggregator listing must not
# cost the recorder findings, and the recorder unit keeps its single record.

AGGREGATOR = "AWS::Config::ConfigurationAggregator"


@register
class ConfigAggregatorCollector(Collector):
    """The region's configuration aggregators, one record per region.

    The record (resource id = the region) also carries the organization's
    management account id, because an organization-wide aggregator is only
    expected in the management (or delegated administrator) account.
    """

    service = "config-aggregator"
    resource_types = (AGGREGATOR,)

    def collect(self) -> Iterator[ResourceRecord]:
        aggregators = sorted(
            to_jsonable(
                list(
                    self.paginate(
                        self.client("config"),
                        "describe_configuration_aggregators",
                        "ConfigurationAggregators",
                    )
                )
            ),
            key=lambda a: a.get("ConfigurationAggregatorName", ""),
        )
        errors: dict[str, str] = {}
        organization = self.optional(
            errors,
            "Organization",
            self.client("organizations").describe_organization,
            absent=("AWSOrganizationsNotInUseException",),
        )
        config: dict = {
            "ConfigurationAggregators": aggregators,
            # None: the account is in no organization (or the call failed,
            # then recorded in _errors).
            "Organization": (
                {
                    k: organization["Organization"].get(k)
                    for k in ("Id", "MasterAccountId")
                }
                if organization
                else None
            ),
        }
        if errors:
            config[ERRORS_KEY] = errors
        yield ResourceRecord(
            resource_type=AGGREGATOR,
            resource_id=self.region,
            name=f"AWS Config aggregators in {self.region}",
            config=config,
        )
