"""CloudWatch controls (whitepaper: Security logs: CloudWatch Logs and alarms;
Network monitoring and protection).

The fifteen CIS 4.x alarm controls share one check, evaluated once per
account on ``AWS::CloudWatch::CISAlarmCoverage``: a logging multi-region trail
that records management events delivers to a log group with a metric filter
matching the CIS pattern, an enabled alarm on the filter's metric sends to an
SNS topic, and someone has confirmed a subscription to that topic.

Filter patterns are compared by meaning, not text: both the CIS pattern and
the account's are parsed into a disjunction of conjunctions of comparisons
(``$.eventName = CreateTrail``), so whitespace, quoting, parentheses and
order do not matter. A filter matches when, for every conjunction the CIS
pattern requires, it has one with exactly those comparisons, give or take the
narrowing conditions some CIS versions add (an ``eventSource``, for example).
Extra alternatives are allowed (they only raise more alarms); extra
conditions that would let a required event through unalarmed are not.
"""

import re
from dataclasses import dataclass
from functools import cache

from findings.controls.base import (
    ERRORS_KEY,
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
from findings.controls.cloudtrail import (
    _management_events,
    _owner,
    _status,
    _trail_view,
)

SECTION = "account-security/security-logs/cloudwatch"
MONITORING = "network/monitoring-and-protection"
CIS_ALARM_COVERAGE = "AWS::CloudWatch::CISAlarmCoverage"
LOG_GROUP = "AWS::Logs::LogGroup"
ALARM = "AWS::CloudWatch::Alarm"
MIN_RETENTION_DAYS = 365

# -- filter patterns ----------------------------------------------------------

Atom = tuple[str, str, str]  # (selector, operator, value), quotes removed
Terms = frozenset[frozenset[Atom]]  # OR of ANDs
MAX_TERMS = 1024  # beyond this a pattern is not worth expanding

_TOKEN = re.compile(
    r"""\s*(?:
        (?P<punct>[{}()]|&&|\|\|)
      | (?P<selector>\$[^\s=!<>()&|{}]*)\s*
        (?: (?P<keyword>NOT\s+EXISTS|IS\s+NULL|IS\s+TRUE|IS\s+FALSE|EXISTS)
          | (?P<op>!=|<=|>=|=|<|>)\s*(?P<value>"(?:[^"\\]|\\.)*"|[^\s()&|{}]+)
        )
    )""",
    re.VERBOSE | re.IGNORECASE,
)


class PatternError(ValueError):
    """Not a JSON filter pattern this module can read."""


def _tokens(text: str) -> list[str | Atom]:
    tokens: list[str | Atom] = []
    text, pos = text.strip(), 0
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if not match:
            raise PatternError(f"cannot read {text[pos : pos + 20]!r}")
        if match["punct"]:
            tokens.append(match["punct"])
        elif match["keyword"]:
            keyword = " ".join(match["keyword"].upper().split())
            tokens.append((match["selector"], keyword, ""))
        else:
            value = match["value"]
            if len(value) > 1 and value.startswith('"') and value.endswith('"'):
                value = re.sub(r"\\(.)", r"\1", value[1:-1])
            tokens.append((match["selector"], match["op"], value))
        pos = match.end()
    return tokens


class _Parser:
    """``||`` binds looser than ``&&``; parentheses group."""

    def __init__(self, tokens: list[str | Atom]) -> None:
        self.tokens, self.pos = tokens, 0

    def peek(self) -> str | Atom | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def take(self, expected: str | None = None) -> str | Atom:
        token = self.peek()
        if token is None or (expected is not None and token != expected):
            raise PatternError(f"expected {expected or 'more'}, found {token!r}")
        self.pos += 1
        return token

    def any_of(self) -> Terms:
        terms = set(self.all_of())
        while self.peek() == "||":
            self.take()
            terms |= self.all_of()
        return frozenset(terms)

    def all_of(self) -> Terms:
        terms = self.operand()
        while self.peek() == "&&":
            self.take()
            right = self.operand()
            terms = frozenset(a | b for a in terms for b in right)
            if len(terms) > MAX_TERMS:
                raise PatternError("too many alternatives to compare")
        return terms

    def operand(self) -> Terms:
        token = self.take()
        if token == "(":
            terms = self.any_of()
            self.take(")")
            return terms
        if isinstance(token, tuple):
            return frozenset([frozenset([token])])
        raise PatternError(f"unexpected {token!r}")


def parse_pattern(text: str) -> Terms:
    """A JSON metric filter pattern as an OR of ANDs of comparisons."""
    tokens = _tokens(text)
    if len(tokens) < 3 or tokens[0] != "{" or tokens[-1] != "}":
        raise PatternError("not a JSON filter pattern ({ ... })")
    parser = _Parser(tokens[1:-1])
    terms = parser.any_of()
    if parser.peek() is not None:
        raise PatternError(f"unexpected {parser.peek()!r}")
    return terms


def _atoms(*comparisons: str) -> frozenset[Atom]:
    return frozenset(
        token
        for text in comparisons
        for token in _tokens(text)
        if isinstance(token, tuple)
    )


def _describe(term: frozenset[Atom]) -> str:
    def one(atom: Atom) -> str:
        selector, op, value = atom
        return f"{selector.removeprefix('$.')} {op} {value}".strip()

    return " and ".join(sorted(map(one, term)))


# -- the CIS alarms -------------------------------------------------------------


@dataclass(frozen=True)
class CISAlarm:
    key: str
    title: str
    severity: Severity
    cis: str
    security_hub: tuple[str, ...]
    watches: str  # what the alarm is about, for reasons
    rationale: str
    pattern: str  # as the CIS benchmark documents it
    # Conditions some CIS versions add to narrow the match (an eventSource,
    # the exclusion of log delivery): a filter may have them or not.
    optional: tuple[str, ...] = ()
    # Event names that can no longer occur: a filter need not list them.
    retired: str = ""
    metric: str = ""

    @property
    def id(self) -> str:
        return f"cloudwatch.cis-alarm.{self.key}"


def _events(names: str, source: str = "") -> str:
    """The CIS form of "any of these events" (optionally from one source)."""
    alternatives = " || ".join(f"($.eventName = {name})" for name in names.split())
    if source:
        return f"{{ ($.eventSource = {source}) && ({alternatives}) }}"
    return f"{{ {alternatives} }}"


def _source(service: str) -> str:
    return f"$.eventSource = {service}.amazonaws.com"


@cache
def _required(spec: CISAlarm) -> list[frozenset[Atom]]:
    optional = _atoms(*spec.optional)
    required = []
    for term in sorted(parse_pattern(spec.pattern), key=_describe):
        if any(a[0] == "$.eventName" and a[2] in spec.retired.split() for a in term):
            continue
        required.append(term - optional)
    return required


def missing_terms(spec: CISAlarm, pattern: str) -> list[str]:
    """What the filter pattern fails to match of the CIS pattern ([] = none).

    Raises PatternError when the pattern cannot be read.
    """
    return _missing(spec, parse_pattern(pattern))


def _missing(spec: CISAlarm, terms: Terms) -> list[str]:
    optional = _optional(spec)
    return [
        _describe(need)
        for need in _required(spec)
        if not any(need <= have and have - need <= optional for have in terms)
    ]


@cache
def _optional(spec: CISAlarm) -> frozenset[Atom]:
    return _atoms(*spec.optional)


def _readable(pattern: str) -> Terms | None:
    """``parse_pattern``, or None for a pattern this module cannot read.

    The fifteen alarm controls read the same filters of an account: they
    parse each pattern once, through ``ctx.memo``.
    """
    try:
        return parse_pattern(pattern)
    except PatternError:
        return None


def _fetched(r: ResourceView, kind: str, key: str) -> object:
    """``config[kind][key]``; NotEvaluable when its sub-call failed."""
    problem = r.config.get(ERRORS_KEY, {}).get(f"{kind}:{key}")
    if problem:
        raise NotEvaluable(f"{kind} of {key} could not be read ({problem})")
    return (r.config.get(kind) or {}).get(key)


def _short(arn: str) -> str:
    return arn.rsplit(":", 1)[-1]


def _alarm_notifies(r: ResourceView, alarm: dict) -> tuple[bool, str]:
    if not alarm.get("ActionsEnabled"):
        return False, "has its actions disabled (ActionsEnabled=false)"
    topics = [a for a in alarm.get("AlarmActions", []) if a.split(":")[2:3] == ["sns"]]
    if not topics:
        return False, "has no SNS topic among its alarm actions"
    problems, unknown = [], []
    for topic in topics:
        try:
            subscriptions = _fetched(r, "TopicSubscriptions", topic)
        except NotEvaluable as exc:
            unknown.append(str(exc))
            continue
        if subscriptions is None:
            problems.append(f"notifies topic {topic}, which does not exist")
            continue
        confirmed = [s["Protocol"] for s in subscriptions if s.get("Confirmed")]
        if confirmed:
            return True, (
                f"notifies SNS topic {_short(topic)} ({len(confirmed)} confirmed "
                f"subscription(s): {', '.join(sorted(set(confirmed)))})"
            )
        pending = len(subscriptions)
        problems.append(
            f"notifies SNS topic {_short(topic)}, which has no confirmed subscription"
            + (f" ({pending} pending confirmation)" if pending else "")
        )
    if unknown:
        raise NotEvaluable("; ".join(unknown))
    return False, "; ".join(problems)


def _log_group_result(
    r: ResourceView, ctx: Context, spec: CISAlarm, arn: str
) -> tuple[bool, str]:
    group = _fetched(r, "LogGroups", arn)
    if not group:
        raise NotEvaluable(f"log group {arn} was not collected")
    name = group["LogGroupName"]
    if group.get("Exists") is False:
        return False, f"delivers to log group {name}, which does not exist"
    matching, closest = [], None
    for metric_filter in group.get("MetricFilters") or []:
        terms = ctx.memo(_readable, metric_filter.get("filterPattern", ""))
        if terms is None:
            continue
        missing = _missing(spec, terms)
        if not missing:
            matching.append(metric_filter)
        elif len(missing) < len(_required(spec)) and (
            closest is None or len(missing) < len(closest[1])
        ):
            closest = (metric_filter["filterName"], missing)
    if not matching:
        detail = (
            f"delivers to log group {name}, which has no metric filter matching "
            f"the CIS {spec.cis} pattern for {spec.watches}"
        )
        if closest:
            shown = "; ".join(closest[1][:4])
            more = f" and {len(closest[1]) - 4} more" if len(closest[1]) > 4 else ""
            detail += f" (filter {closest[0]} misses {shown}{more})"
        return False, detail
    alarms = _fetched(r, "Alarms", group["Region"]) or []
    problems, unknown = [], []
    for metric_filter in matching:
        for metric in metric_filter.get("metricTransformations", []):
            wanted = {
                "Namespace": metric.get("metricNamespace"),
                "MetricName": metric.get("metricName"),
            }
            shown = f"{wanted['Namespace']}/{wanted['MetricName']}"
            watching = [a for a in alarms if wanted in a.get("Metrics", [])]
            if not watching:
                problems.append(
                    f"filter {metric_filter['filterName']} feeds {shown}, "
                    "but no alarm watches that metric"
                )
            for alarm in watching:
                try:
                    ok, detail = _alarm_notifies(r, alarm)
                except NotEvaluable as exc:
                    unknown.append(str(exc))
                    continue
                if ok:
                    return True, (
                        f"delivers to log group {name}: filter "
                        f"{metric_filter['filterName']} feeds {shown} and alarm "
                        f"{alarm['AlarmName']} {detail}"
                    )
                problems.append(f"alarm {alarm['AlarmName']} on {shown} {detail}")
    if unknown:
        raise NotEvaluable("; ".join(unknown))
    return False, f"delivers to log group {name}, but {'; '.join(problems)}"


def _cis_alarm_result(r: ResourceView, ctx: Context, spec: CISAlarm) -> Result:
    trails = [t for t in r.config.get("Trails", []) if t.get("IsMultiRegionTrail")]
    if not trails:
        return failed(
            f"no multi-region trail, so nothing alarms on {spec.watches}: the CIS "
            f"{spec.cis} alarm needs a logging multi-region trail that delivers "
            "management events to CloudWatch Logs"
        )
    failures: list[str] = []
    unknown: list[str] = []
    elsewhere: list[str] = []
    for summary in trails:
        label = summary.get("Name") or summary.get("TrailARN", "")
        try:
            trail = _trail_view(summary, ctx)
            if not _status(trail).get("IsLogging"):
                failures.append(f"multi-region trail {label} is not logging")
                continue
            logs_management, detail = _management_events(trail)
            if not logs_management:
                failures.append(f"multi-region trail {label} {detail}")
                continue
            group_arn = summary.get("CloudWatchLogsLogGroupArn")
            if not group_arn:
                failures.append(
                    f"multi-region trail {label} does not deliver to CloudWatch Logs"
                )
                continue
            owner = _owner(group_arn)
            if owner and owner != r.account_id:
                elsewhere.append(f"trail {label} delivers to account {owner}")
                continue
            ok, detail = _log_group_result(r, ctx, spec, group_arn)
        except NotEvaluable as exc:
            unknown.append(str(exc))
            continue
        if ok:
            return passed(f"multi-region trail {label} {detail}")
        failures.append(f"multi-region trail {label} {detail}")
    if unknown:
        raise NotEvaluable("; ".join(unknown))
    if elsewhere:
        return not_applicable(
            f"{'; '.join(elsewhere)} (an organization trail): the alarm on "
            f"{spec.watches} belongs to that account's log group and is evaluated there"
        )
    return failed("; ".join(failures))


def _register_cis_alarm(spec: CISAlarm) -> None:
    metric = spec.metric or "".join(w.title() for w in spec.key.split("-"))

    def check(r: ResourceView, ctx: Context) -> Result:
        return _cis_alarm_result(r, ctx, spec)

    check.__name__ = spec.key.replace("-", "_")
    control(
        id=spec.id,
        title=spec.title,
        section=SECTION,
        severity=spec.severity,
        resource_type=CIS_ALARM_COVERAGE,
        rationale=spec.rationale,
        remediation=(
            "CloudWatch console → Log groups → the log group of the multi-region "
            "trail → Metric filters → Create metric filter with the pattern "
            f"{spec.pattern} (namespace CISBenchmark, metric {metric}, value 1). "
            "Then Alarms → Create alarm on that metric (Sum >= 1 in 5 minutes) "
            "with an SNS topic as the alarm action, and confirm a subscription "
            "to that topic."
        ),
        remediation_cli=(
            "aws logs put-metric-filter --log-group-name <trail-log-group> "
            f"--filter-name {spec.key} --metric-transformations "
            f"metricName={metric},metricNamespace=CISBenchmark,metricValue=1 "
            f"--filter-pattern '{spec.pattern}' && aws cloudwatch put-metric-alarm "
            f"--alarm-name {spec.key} --metric-name {metric} --namespace CISBenchmark "
            "--statistic Sum --period 300 --evaluation-periods 1 --threshold 1 "
            "--comparison-operator GreaterThanOrEqualToThreshold "
            "--alarm-actions <sns-topic-arn>"
        ),
        cis=(spec.cis, spec.cis),
        security_hub=spec.security_hub,
    )(check)


_UNNOTICED = "Without an alarm that reaches someone, the events go unnoticed."
_EC2 = (_source("ec2"),)

# key, title, severity, CIS, Security Hub, what it watches, rationale, pattern.
CIS_ALARMS = (
    CISAlarm(
        "unauthorized-api-calls",
        "Alarm on unauthorized API calls",
        Severity.MEDIUM,
        "4.1",
        ("CloudWatch.2*",),
        "unauthorized API calls",
        "A burst of AccessDenied errors is often the first sign of stolen "
        f"credentials probing what they can reach. {_UNNOTICED}",
        '{ ($.errorCode = "*UnauthorizedOperation") || ($.errorCode = '
        '"AccessDenied*") && ($.sourceIPAddress != "delivery.logs.amazonaws.com")'
        ' && ($.eventName != "HeadBucket") }',
        optional=(
            '$.sourceIPAddress != "delivery.logs.amazonaws.com"',
            '$.eventName != "HeadBucket"',
        ),
        metric="UnauthorizedAPICalls",
    ),
    CISAlarm(
        "console-signin-without-mfa",
        "Alarm on console sign-in without MFA",
        Severity.MEDIUM,
        "4.2",
        ("CloudWatch.3*",),
        "console sign-ins without MFA",
        "A console sign-in protected by a password alone is the easiest way in "
        f"once that password leaks. {_UNNOTICED}",
        '{ ($.eventName = "ConsoleLogin") && '
        '($.additionalEventData.MFAUsed != "Yes") }',
        optional=(
            '$.userIdentity.type = "IAMUser"',
            '$.responseElements.ConsoleLogin = "Success"',
        ),
        metric="ConsoleSigninWithoutMFA",
    ),
    CISAlarm(
        "root-usage",
        "Alarm on root user usage",
        Severity.HIGH,
        "4.3",
        ("CloudWatch.1*",),
        "root user activity",
        "The root user's access cannot be limited by any policy and daily work "
        f"never needs it, so every use deserves a look. {_UNNOTICED}",
        '{ $.userIdentity.type = "Root" && $.userIdentity.invokedBy NOT EXISTS '
        '&& $.eventType != "AwsServiceEvent" }',
        metric="RootAccountUsage",
    ),
    CISAlarm(
        "iam-policy-changes",
        "Alarm on IAM policy changes",
        Severity.MEDIUM,
        "4.4",
        ("CloudWatch.4*",),
        "IAM policy changes",
        "IAM policies decide who may do what; one changed policy can grant an "
        f"attacker lasting access. {_UNNOTICED}",
        _events(
            "DeleteGroupPolicy DeleteRolePolicy DeleteUserPolicy PutGroupPolicy "
            "PutRolePolicy PutUserPolicy CreatePolicy DeletePolicy "
            "CreatePolicyVersion DeletePolicyVersion AttachRolePolicy "
            "DetachRolePolicy AttachUserPolicy DetachUserPolicy AttachGroupPolicy "
            "DetachGroupPolicy"
        ),
        optional=(_source("iam"),),
    ),
    CISAlarm(
        "cloudtrail-changes",
        "Alarm on CloudTrail configuration changes",
        Severity.HIGH,
        "4.5",
        ("CloudWatch.5*",),
        "CloudTrail configuration changes",
        "Stopping or changing a trail is how an intruder blinds the audit log "
        f"before acting. {_UNNOTICED}",
        _events("CreateTrail UpdateTrail DeleteTrail StartLogging StopLogging"),
        optional=(_source("cloudtrail"),),
        metric="CloudTrailChanges",
    ),
    CISAlarm(
        "console-auth-failures",
        "Alarm on console authentication failures",
        Severity.LOW,
        "4.6",
        ("CloudWatch.6*",),
        "failed console sign-ins",
        f"Repeated failed console sign-ins point to password guessing. {_UNNOTICED}",
        "{ ($.eventName = ConsoleLogin) && "
        '($.errorMessage = "Failed authentication") }',
        optional=(_source("signin"),),
        metric="ConsoleSigninFailures",
    ),
    CISAlarm(
        "cmk-disable-or-deletion",
        "Alarm on disabling or scheduled deletion of customer KMS keys",
        Severity.MEDIUM,
        "4.7",
        ("CloudWatch.7*",),
        "disabled or scheduled-for-deletion KMS keys",
        "Data encrypted under a disabled key cannot be read, and a deleted key "
        f"is gone for good once its waiting period ends. {_UNNOTICED}",
        _events("DisableKey ScheduleKeyDeletion", source="kms.amazonaws.com"),
        optional=(_source("kms"),),
        metric="DisableOrDeleteCMK",
    ),
    CISAlarm(
        "s3-bucket-policy-changes",
        "Alarm on S3 bucket policy changes",
        Severity.MEDIUM,
        "4.8",
        ("CloudWatch.8*",),
        "S3 bucket policy and ACL changes",
        "Bucket policies, ACLs and CORS rules decide who can read the data; one "
        f"changed statement can make a bucket public. {_UNNOTICED}",
        _events(
            "PutBucketAcl PutBucketPolicy PutBucketCors PutBucketLifecycle "
            "PutBucketReplication DeleteBucketPolicy DeleteBucketCors "
            "DeleteBucketLifecycle DeleteBucketReplication",
            source="s3.amazonaws.com",
        ),
        optional=(_source("s3"),),
        metric="S3BucketPolicyChanges",
    ),
    CISAlarm(
        "config-changes",
        "Alarm on AWS Config configuration changes",
        Severity.MEDIUM,
        "4.9",
        ("CloudWatch.9*",),
        "AWS Config recorder and delivery channel changes",
        "AWS Config keeps the configuration history; a stopped recorder leaves "
        f"later changes unrecorded. {_UNNOTICED}",
        _events(
            "StopConfigurationRecorder DeleteDeliveryChannel PutDeliveryChannel "
            "PutConfigurationRecorder",
            source="config.amazonaws.com",
        ),
        optional=(_source("config"),),
        metric="AWSConfigChanges",
    ),
    CISAlarm(
        "security-group-changes",
        "Alarm on security group changes",
        Severity.MEDIUM,
        "4.10",
        ("CloudWatch.10*",),
        "security group changes",
        "Security groups are the instances' firewall; an opened rule exposes a "
        f"service at once. {_UNNOTICED}",
        _events(
            "AuthorizeSecurityGroupIngress AuthorizeSecurityGroupEgress "
            "RevokeSecurityGroupIngress RevokeSecurityGroupEgress "
            "CreateSecurityGroup DeleteSecurityGroup"
        ),
        optional=_EC2,
    ),
    CISAlarm(
        "nacl-changes",
        "Alarm on network ACL changes",
        Severity.LOW,
        "4.11",
        ("CloudWatch.11*",),
        "network ACL changes",
        "Network ACLs filter all traffic of a subnet; one changed entry can open "
        f"the whole subnet. {_UNNOTICED}",
        _events(
            "CreateNetworkAcl CreateNetworkAclEntry DeleteNetworkAcl "
            "DeleteNetworkAclEntry ReplaceNetworkAclEntry "
            "ReplaceNetworkAclAssociation"
        ),
        optional=_EC2,
        metric="NACLChanges",
    ),
    CISAlarm(
        "network-gateway-changes",
        "Alarm on network gateway changes",
        Severity.LOW,
        "4.12",
        ("CloudWatch.12*",),
        "network gateway changes",
        "Internet and customer gateways are the VPC's ways in and out; a new or "
        f"moved gateway changes what can reach it. {_UNNOTICED}",
        _events(
            "CreateCustomerGateway DeleteCustomerGateway AttachInternetGateway "
            "CreateInternetGateway DeleteInternetGateway DetachInternetGateway"
        ),
        optional=_EC2,
    ),
    CISAlarm(
        "route-table-changes",
        "Alarm on route table changes",
        Severity.LOW,
        "4.13",
        ("CloudWatch.13*",),
        "route table changes",
        "Route tables decide where a subnet's traffic goes; a changed route can "
        f"send it past inspection or out to the internet. {_UNNOTICED}",
        _events(
            "CreateRoute CreateRouteTable ReplaceRoute ReplaceRouteTableAssociation "
            "DeleteRouteTable DeleteRoute DisassociateRouteTable",
            source="ec2.amazonaws.com",
        ),
        optional=_EC2,
    ),
    CISAlarm(
        "vpc-changes",
        "Alarm on VPC changes",
        Severity.LOW,
        "4.14",
        ("CloudWatch.14*",),
        "VPC changes",
        "A new VPC, peering connection or attribute change alters which networks "
        f"can talk to each other. {_UNNOTICED}",
        _events(
            "CreateVpc DeleteVpc ModifyVpcAttribute AcceptVpcPeeringConnection "
            "CreateVpcPeeringConnection DeleteVpcPeeringConnection "
            "RejectVpcPeeringConnection AttachClassicLinkVpc DetachClassicLinkVpc "
            "DisableVpcClassicLink EnableVpcClassicLink"
        ),
        optional=_EC2,
        # EC2-Classic, and ClassicLink with it, was retired in 2022.
        retired=(
            "AttachClassicLinkVpc DetachClassicLinkVpc DisableVpcClassicLink "
            "EnableVpcClassicLink"
        ),
        metric="VPCChanges",
    ),
    CISAlarm(
        "organizations-changes",
        "Alarm on AWS Organizations changes",
        Severity.MEDIUM,
        "4.15",
        (),
        "AWS Organizations changes",
        "Organizations changes move accounts, detach service control policies or "
        f"let an account leave the organization's guardrails. {_UNNOTICED}",
        _events(
            "AcceptHandshake AttachPolicy CreateAccount CreateOrganizationalUnit "
            "CreatePolicy DeclineHandshake DeleteOrganization "
            "DeleteOrganizationalUnit DeletePolicy DetachPolicy DisablePolicyType "
            "EnablePolicyType InviteAccountToOrganization LeaveOrganization "
            "MoveAccount RemoveAccountFromOrganization UpdatePolicy "
            "UpdateOrganizationalUnit",
            source="organizations.amazonaws.com",
        ),
        optional=(_source("organizations"),),
    ),
)

for _spec in CIS_ALARMS:
    _register_cis_alarm(_spec)


# -- log groups and alarms ------------------------------------------------------


@control(
    id="logs.log-group.retention-1y",
    title="CloudWatch log groups retain data for 1 year or more",
    section=SECTION,
    severity=Severity.LOW,
    resource_type=LOG_GROUP,
    rationale=(
        "Logs are the record an investigation reconstructs events from, and "
        "intrusions are often found months later; a log group that expires "
        "its events sooner loses that evidence."
    ),
    remediation=(
        "CloudWatch console → Log groups → select the log group → Actions → "
        "Edit retention setting → choose 1 year (or more, or Never expire) → Save."
    ),
    remediation_cli=(
        "aws logs put-retention-policy --log-group-name <log-group> "
        "--retention-in-days 365"
    ),
    security_hub=("CloudWatch.16*",),
)
def log_group_retention(r: ResourceView, ctx: Context) -> Result:
    days = r.config.get("retentionInDays")
    if days is None:
        return passed(f"log group {r.label} never expires its events")
    if days >= MIN_RETENTION_DAYS:
        return passed(f"log group {r.label} keeps events for {days} days")
    return failed(
        f"log group {r.label} keeps events for only {days} days "
        f"(less than {MIN_RETENTION_DAYS})"
    )


@control(
    id="cloudwatch.alarm.has-actions",
    title="CloudWatch alarms notify someone",
    section=MONITORING,
    severity=Severity.MEDIUM,
    resource_type=ALARM,
    rationale=(
        "An alarm is only monitoring if crossing its threshold reaches the "
        "people or automation that respond; an alarm without actions, or with "
        "actions disabled, changes colour on a dashboard nobody is watching."
    ),
    remediation=(
        "CloudWatch console → Alarms → select the alarm → Actions → Edit → "
        "under Notification add an SNS topic for the In alarm state → Update "
        "alarm. If actions were disabled, Actions → Enable actions."
    ),
    remediation_cli=(
        "aws cloudwatch enable-alarm-actions --alarm-names <alarm> "
        "(and add --alarm-actions <sns-topic-arn> with put-metric-alarm or "
        "put-composite-alarm)"
    ),
    security_hub=("CloudWatch.15*",),
)
def alarm_has_actions(r: ResourceView, ctx: Context) -> Result:
    kind = (
        "composite alarm" if r.config.get("AlarmType") == "CompositeAlarm" else "alarm"
    )
    actions = r.config.get("AlarmActions") or []
    if not actions:
        return failed(
            f"{kind} {r.label} has no alarm actions: going into ALARM notifies no one"
        )
    if not r.config.get("ActionsEnabled"):
        return failed(
            f"{kind} {r.label} has its actions disabled (ActionsEnabled=false), "
            f"so {', '.join(_short(a) for a in actions)} is never notified"
        )
    return passed(
        f"{kind} {r.label} notifies {', '.join(_short(a) for a in actions)} in ALARM"
    )
