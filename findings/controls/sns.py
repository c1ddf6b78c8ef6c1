"""Amazon SNS controls: topic encryption, topic policies, subscription transport.

The whitepaper's SNS notes: topic owners set policies that say who may
publish and subscribe, and traffic can use HTTPS.
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
from findings.controls.policy import describe_public_grant, public_statements

SECTION = "service/app-integration/sns"
TOPIC = "AWS::SNS::Topic"
SUBSCRIPTION = "AWS::SNS::Subscription"


@control(
    id="sns.topic.kms",
    title="Topics are encrypted with KMS",
    section=SECTION,
    severity=Severity.MEDIUM,
    resource_type=TOPIC,
    rationale=(
        "All data can and should be encrypted. With a KMS key on the topic, "
        "messages are stored encrypted until delivered, under a key whose "
        "policy and CloudTrail record the customer controls."
    ),
    remediation=(
        "SNS console → Topics → choose the topic → Edit → Encryption → Enable "
        "encryption → choose a customer managed KMS key (or alias/aws/sns) → "
        "Save changes."
    ),
    remediation_cli=(
        "aws sns set-topic-attributes --topic-arn <topic-arn> "
        "--attribute-name KmsMasterKeyId --attribute-value <key-id-or-alias>"
    ),
    security_hub=("SNS.1*",),
)
def topic_kms(r: ResourceView, ctx: Context) -> Result:
    key = (r.field("Attributes") or {}).get("KmsMasterKeyId")
    if key:
        return passed(f"encrypted with KMS key {key}")
    return failed("server-side encryption is off: no KmsMasterKeyId on the topic")


@control(
    id="sns.topic.no-public-policy",
    title="Topic policies are not public",
    section=SECTION,
    severity=Severity.HIGH,
    resource_type=TOPIC,
    rationale=(
        "Topic owners set policies that say who may publish and subscribe. A "
        "policy that allows any principal without a condition lets anyone "
        "publish to the topic's subscribers or subscribe to its messages."
    ),
    remediation=(
        "SNS console → Topics → choose the topic → Edit → Access policy → "
        'replace Principal "*" with the accounts or services that need '
        "access, or add a condition such as aws:SourceOwner, aws:SourceArn or "
        "aws:PrincipalOrgID → Save changes."
    ),
    remediation_cli=(
        "aws sns set-topic-attributes --topic-arn <topic-arn> "
        "--attribute-name Policy --attribute-value file://topic-policy.json"
    ),
    security_hub=("SNS.4",),
)
def topic_no_public_policy(r: ResourceView, ctx: Context) -> Result:
    # A failed GetTopicAttributes leaves the policy unknown: ERROR, not PASS.
    r.field("Attributes")
    policy = r.field("Policy")
    if policy is None:
        return passed("topic has no access policy: only the owner may use it")
    public = public_statements(policy)
    if public:
        reasons = [describe_public_grant(policy, s, "topic policy") for s in public]
        return failed("; ".join(reasons))
    return passed("no topic policy statement allows everyone without a condition")


@control(
    id="sns.subscription.https-only",
    title="No subscription delivers over plain HTTP",
    section=SECTION,
    severity=Severity.MEDIUM,
    resource_type=SUBSCRIPTION,
    rationale=(
        "SSL/TLS for data in transit is a feature to always configure. A "
        "subscription with protocol http sends every message, and the "
        "subscription's confirmation token, in clear text across the internet."
    ),
    remediation=(
        "SNS console → Subscriptions → choose the subscription → Delete, then "
        "Create subscription on the same topic with protocol HTTPS and the "
        "endpoint's https:// URL, and confirm it from the endpoint."
    ),
    remediation_cli=(
        "aws sns subscribe --topic-arn <topic-arn> --protocol https "
        "--notification-endpoint https://<endpoint> && "
        "aws sns unsubscribe --subscription-arn <http-subscription-arn>"
    ),
)
def subscription_https_only(r: ResourceView, ctx: Context) -> Result:
    protocol = str(r.config.get("Protocol", "")).lower()
    endpoint = r.config.get("Endpoint", "")
    if protocol == "http":
        state = " (pending confirmation)" if r.config.get("PendingConfirmation") else ""
        return failed(f"subscription delivers over plain HTTP to {endpoint}{state}")
    return passed(f"subscription protocol is {protocol or 'unknown'}, not http")
