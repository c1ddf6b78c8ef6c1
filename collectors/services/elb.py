"""Elastic Load Balancing: ALB/NLB/GWLB with their listeners, and Classic LBs.

One regional unit reads both APIs (``elbv2`` and the classic ``elb``): they
share the ``elasticloadbalancing:`` IAM namespace, so a scanner allowed to
read one can read the other, and ``scan --services elb`` covers every kind of
load balancer. Listeners of ALBs/NLBs are resources of their own (CloudFormation
models them so); Classic LB listeners stay inside the load balancer's record.

A listener listing that fails propagates (the unit fails) rather than leaving
the listeners out, which would read as "deleted"; per-resource settings
(attributes, rules, policies, web ACL, tags) go through ``optional`` into
``config["_errors"]``.
"""

from collections.abc import Iterable, Iterator
from typing import Any

from botocore.client import BaseClient
from botocore.exceptions import ClientError, UnknownRegionError

from accounts.aws_errors import error_code
from collectors.base import (
    ERRORS_KEY,
    Collector,
    ResourceRecord,
    register,
    to_jsonable,
)

LOAD_BALANCER = "AWS::ElasticLoadBalancingV2::LoadBalancer"
LISTENER = "AWS::ElasticLoadBalancingV2::Listener"
CLASSIC_LOAD_BALANCER = "AWS::ElasticLoadBalancing::LoadBalancer"

# Both APIs answer this code for a load balancer deleted since the listing.
NOT_FOUND = "LoadBalancerNotFound"
TAG_BATCH = 20  # DescribeTags takes at most 20 load balancers per call
TLS_PROTOCOLS = frozenset({"HTTPS", "TLS"})
CLASSIC_TLS_PROTOCOLS = frozenset({"HTTPS", "SSL"})
SSL_NEGOTIATION = "SSLNegotiationPolicyType"
# Of a classic TLS negotiation policy's ~100 attributes (mostly ciphers), the
# ones that say which protocol versions it accepts and which AWS policy it copies.
REFERENCE_POLICY = "Reference-Security-Policy"
PROTOCOL_PREFIX = "Protocol-"


def _chunks(items: Iterable[Any], size: int) -> Iterator[list[Any]]:
    chunk: list[Any] = []
    for item in items:
        chunk.append(item)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _tag_dict(tags: Iterable[dict] | None) -> dict[str, str]:
    return {t["Key"]: t.get("Value", "") for t in tags or ()}


@register
class ELBCollector(Collector):
    service = "elb"
    resource_types = (LOAD_BALANCER, LISTENER, CLASSIC_LOAD_BALANCER)
    #: DescribeLoadBalancers page size, the maximum of both APIs.
    page_size = 400

    def collect(self) -> Iterator[ResourceRecord]:
        self._ssl_policies: dict[str, tuple[list[str] | None, str | None]] = {}
        elbv2 = self.client("elbv2")
        balancers = self.paginate(
            elbv2,
            "describe_load_balancers",
            "LoadBalancers",
            PaginationConfig={"PageSize": self.page_size},
        )
        for batch in _chunks(balancers, TAG_BATCH):
            tags = self._tags(
                elbv2, "ResourceArns", [lb["LoadBalancerArn"] for lb in batch]
            )
            for balancer in batch:
                yield from self._load_balancer(elbv2, balancer, tags)

        elb = self.client("elb")
        classics = self.paginate(
            elb,
            "describe_load_balancers",
            "LoadBalancerDescriptions",
            PaginationConfig={"PageSize": self.page_size},
        )
        for batch in _chunks(classics, TAG_BATCH):
            tags = self._tags(
                elb, "LoadBalancerNames", [lb["LoadBalancerName"] for lb in batch]
            )
            for balancer in batch:
                record = self._classic(elb, balancer, tags)
                if record is not None:
                    yield record

    # -- helpers

    def _tags(
        self, client: BaseClient, argument: str, names: list[str]
    ) -> dict[str, Any]:
        """Tags by ARN or name for one batch; ``{"_error": ...}`` on failure."""
        errors: dict[str, str] = {}
        response = self.optional(
            errors, "Tags", client.describe_tags, **{argument: names}
        )
        if response is None:
            return {"_error": errors.get("Tags", "")}
        key = "ResourceArn" if argument == "ResourceArns" else "LoadBalancerName"
        return {
            item[key]: _tag_dict(item.get("Tags"))
            for item in response.get("TagDescriptions", [])
        }

    def _partition(self) -> str:
        try:
            return self.session.get_partition_for_region(self.client_region)
        except UnknownRegionError:
            return "aws"  # a region newer than this botocore

    # -- ALB / NLB / GWLB

    def _load_balancer(
        self, elbv2: BaseClient, balancer: dict, tags: dict[str, Any]
    ) -> Iterator[ResourceRecord]:
        arn = balancer["LoadBalancerArn"]
        try:
            listeners = list(
                self.paginate(
                    elbv2, "describe_listeners", "Listeners", LoadBalancerArn=arn
                )
            )
        except ClientError as exc:
            if error_code(exc) == NOT_FOUND:
                return  # deleted between the listing and now
            raise

        errors: dict[str, str] = {}
        if "_error" in tags:
            errors["Tags"] = tags["_error"]
        config: dict[str, Any] = to_jsonable(balancer)
        response = self.optional(
            errors,
            "Attributes",
            elbv2.describe_load_balancer_attributes,
            LoadBalancerArn=arn,
        )
        config["Attributes"] = (
            None
            if response is None
            else {a["Key"]: a.get("Value", "") for a in response.get("Attributes", [])}
        )
        # AWS always names the scheme; internet-facing is its default.
        scheme = balancer.get("Scheme") or "internet-facing"
        if balancer.get("Type") == "application" and scheme == "internet-facing":
            config["WebACL"] = self._web_acl(errors, arn)
        if errors:
            config[ERRORS_KEY] = errors
        yield ResourceRecord(
            resource_type=LOAD_BALANCER,
            resource_id=arn,
            config=config,
            arn=arn,
            name=balancer.get("LoadBalancerName", ""),
            tags=tags.get(arn, {}),
        )
        for listener in listeners:
            yield self._listener(elbv2, balancer, listener)

    def _web_acl(self, errors: dict[str, str], arn: str) -> dict | None:
        response = self.optional(
            errors,
            "WebACL",
            self.client("wafv2").get_web_acl_for_resource,
            ResourceArn=arn,
        )
        acl = (response or {}).get("WebACL")
        if not acl:
            return None
        # Name and ARN only: the rules change without the ALB changing.
        return {key: acl[key] for key in ("Name", "Id", "ARN") if key in acl}

    def _listener(
        self, elbv2: BaseClient, balancer: dict, listener: dict
    ) -> ResourceRecord:
        errors: dict[str, str] = {}
        config: dict[str, Any] = to_jsonable(listener)
        config["LoadBalancer"] = {
            key: balancer.get(key) for key in ("LoadBalancerName", "Type", "Scheme")
        }
        protocol = listener.get("Protocol", "")
        if protocol in TLS_PROTOCOLS:
            config["SslPolicyProtocols"] = self._ssl_protocols(
                elbv2, errors, listener.get("SslPolicy")
            )
        elif protocol == "HTTP" and balancer.get("Type") == "application":
            rules = self.gather(
                errors,
                "Rules",
                elbv2,
                "describe_rules",
                "Rules",
                ListenerArn=listener["ListenerArn"],
            )
            config["Rules"] = to_jsonable(rules)
        if errors:
            config[ERRORS_KEY] = errors
        name = balancer.get("LoadBalancerName", "")
        return ResourceRecord(
            resource_type=LISTENER,
            resource_id=listener["ListenerArn"],
            config=config,
            arn=listener["ListenerArn"],
            name=f"{name} {protocol}:{listener.get('Port', '')}",
        )

    def _ssl_protocols(
        self, elbv2: BaseClient, errors: dict[str, str], policy: str | None
    ) -> list[str] | None:
        """The protocol versions a named security policy offers (cached)."""
        if not policy:
            return None
        if policy not in self._ssl_policies:
            found: dict[str, str] = {}
            response = self.optional(
                found,
                "SslPolicyProtocols",
                elbv2.describe_ssl_policies,
                Names=[policy],
            )
            described = (response or {}).get("SslPolicies") or [{}]
            protocols = described[0].get("SslProtocols")
            self._ssl_policies[policy] = (
                sorted(protocols) if protocols is not None else None,
                found.get("SslPolicyProtocols"),
            )
        protocols, problem = self._ssl_policies[policy]
        if problem:
            errors["SslPolicyProtocols"] = problem
        return protocols

    # -- Classic Load Balancers

    def _classic(
        self, elb: BaseClient, balancer: dict, tags: dict[str, Any]
    ) -> ResourceRecord | None:
        name = balancer["LoadBalancerName"]
        errors: dict[str, str] = {}
        if "_error" in tags:
            errors["Tags"] = tags["_error"]
        response = self.optional(
            errors,
            "LoadBalancerAttributes",
            elb.describe_load_balancer_attributes,
            absent=(NOT_FOUND,),
            LoadBalancerName=name,
        )
        if response is None and "LoadBalancerAttributes" not in errors:
            return None  # deleted between the listing and now
        # Registered instances churn with every scaling event; they are not
        # the load balancer's configuration.
        config: dict[str, Any] = to_jsonable(
            {k: v for k, v in balancer.items() if k != "Instances"}
        )
        config["LoadBalancerAttributes"] = (
            None
            if response is None
            else to_jsonable(response.get("LoadBalancerAttributes"))
        )
        protocols = {
            (d.get("Listener") or {}).get("Protocol", "").upper()
            for d in balancer.get("ListenerDescriptions", [])
        }
        if protocols & CLASSIC_TLS_PROTOCOLS:
            policies = self.optional(
                errors,
                "PolicyDescriptions",
                elb.describe_load_balancer_policies,
                LoadBalancerName=name,
            )
            config["PolicyDescriptions"] = (
                None
                if policies is None
                else _negotiation_policies(policies.get("PolicyDescriptions", []))
            )
        if errors:
            config[ERRORS_KEY] = errors
        return ResourceRecord(
            resource_type=CLASSIC_LOAD_BALANCER,
            resource_id=name,
            config=config,
            arn=(
                f"arn:{self._partition()}:elasticloadbalancing:{self.client_region}:"
                f"{self.account_id}:loadbalancer/{name}"
            ),
            name=name,
            tags=tags.get(name, {}),
        )


def _negotiation_policies(descriptions: list[dict]) -> list[dict]:
    """The TLS negotiation policies, with only their protocol attributes."""
    return [
        {
            "PolicyName": policy.get("PolicyName", ""),
            "PolicyTypeName": SSL_NEGOTIATION,
            "PolicyAttributeDescriptions": [
                attribute
                for attribute in policy.get("PolicyAttributeDescriptions", [])
                if attribute.get("AttributeName") == REFERENCE_POLICY
                or str(attribute.get("AttributeName", "")).startswith(PROTOCOL_PREFIX)
            ],
        }
        for policy in descriptions
        if policy.get("PolicyTypeName") == SSL_NEGOTIATION
    ]
