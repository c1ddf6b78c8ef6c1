"""AWS Data Pipeline: pipelines, their log location and the IAM roles they use.

Only the parts of a definition the controls read are stored: every object's
id, name and type, and its ``role``, ``resourceRole`` and ``pipelineLogUri``
fields. Definitions also hold database passwords (``*password``), connection
strings and scripts, which must not reach the database. Roles written as a
``#{parameter}`` are resolved from the pipeline's parameter values.

For each role a pipeline names, its attached managed policies and its inline
policy documents are read from IAM once per unit and stored on every pipeline
that uses it, so the controls need nothing beyond the pipeline's own record.
"""

import json
import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import unquote

from botocore.client import BaseClient
from botocore.exceptions import ClientError

from accounts.aws_errors import classify, error_code
from collectors.base import (
    ERRORS_KEY,
    Collector,
    ResourceRecord,
    register,
    to_jsonable,
)

PIPELINE = "AWS::DataPipeline::Pipeline"

ROLE_FIELDS = ("role", "resourceRole")
KEPT_FIELDS = ("type", *ROLE_FIELDS, "pipelineLogUri")
PARAMETER = re.compile(r"#\{\s*([A-Za-z0-9_]+)\s*\}")

# The pipeline was deleted between the listing and the sub-call.
PIPELINE_GONE = ("PipelineDeletedException", "PipelineNotFoundException")
NO_SUCH_ROLE = "NoSuchEntity"


@register
class DataPipelineCollector(Collector):
    service = "datapipeline"
    resource_types = (PIPELINE,)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # role name -> (what IAM says about it, or the error reading it)
        self._roles: dict[str, tuple[dict | None, str]] = {}

    def collect(self) -> Iterator[ResourceRecord]:
        if not self.offered_here("datapipeline"):
            return
        client = self.client("datapipeline")
        for listed in self.paginate(client, "list_pipelines", "pipelineIdList"):
            record = self._pipeline(client, listed)
            if record is not None:
                yield record

    def _pipeline(self, client: BaseClient, listed: dict) -> ResourceRecord | None:
        pipeline_id = listed["id"]
        errors: dict[str, str] = {}
        definition = self.optional(
            errors,
            "PipelineObjects",
            client.get_pipeline_definition,
            absent=PIPELINE_GONE,
            pipelineId=pipeline_id,
        )
        if definition is None and "PipelineObjects" not in errors:
            return None  # deleted after the listing
        config: dict[str, Any] = {
            "PipelineId": pipeline_id,
            "Name": listed.get("name", ""),
            "PipelineObjects": None,
            "Roles": None,
        }
        if definition is not None:
            objects = _reduced_objects(definition)
            config["PipelineObjects"] = objects
            config["Roles"] = self._role_details(_role_names(objects), errors)
        else:
            errors["Roles"] = "other: not read (the definition could not be read)"
        if errors:
            config[ERRORS_KEY] = errors
        partition = self.partition() or "aws"
        return ResourceRecord(
            resource_type=PIPELINE,
            resource_id=pipeline_id,
            config=config,
            arn=(
                f"arn:{partition}:datapipeline:{self.client_region}:"
                f"{self.account_id}:pipeline/{pipeline_id}"
            ),
            name=listed.get("name", ""),
        )

    # -- IAM roles

    def _role_details(self, names: list[str], errors: dict[str, str]) -> dict:
        roles: dict[str, Any] = {}
        problems = []
        for name in names:
            if name not in self._roles:
                self._roles[name] = self._read_role(name)
            details, problem = self._roles[name]
            roles[name] = details
            if problem:
                problems.append(f"{problem} (role {name})")
        if problems:
            errors["Roles"] = "; ".join(problems)
        return roles

    def _read_role(self, name: str) -> tuple[dict | None, str]:
        iam = self.client("iam")
        try:
            attached = list(
                self.paginate(
                    iam,
                    "list_attached_role_policies",
                    "AttachedPolicies",
                    RoleName=name,
                )
            )
            inline_names = list(
                self.paginate(iam, "list_role_policies", "PolicyNames", RoleName=name)
            )
            inline = {
                policy: _document(
                    iam.get_role_policy(RoleName=name, PolicyName=policy).get(
                        "PolicyDocument"
                    )
                )
                for policy in inline_names
            }
        except ClientError as exc:
            if error_code(exc) == NO_SUCH_ROLE:
                return {"Exists": False}, ""
            kind, _message = classify(exc)
            operation = getattr(exc, "operation_name", "call")
            return None, f"{kind}: {operation} {error_code(exc)}".strip()
        return (
            to_jsonable(
                {
                    "Exists": True,
                    "AttachedPolicies": sorted(
                        attached, key=lambda p: p.get("PolicyArn", "")
                    ),
                    "InlinePolicies": inline,
                }
            ),
            "",
        )


def _value(field: dict) -> str:
    return str(field.get("stringValue", field.get("refValue", "")))


def _reduced_objects(definition: dict) -> list[dict]:
    parameters = _parameters(definition)
    objects = []
    for item in definition.get("pipelineObjects", []):
        fields: dict[str, str] = {}
        for field in item.get("fields", []):
            key = field.get("key")
            if key in KEPT_FIELDS:
                value = _value(field)
                if key in ROLE_FIELDS:
                    value = _resolve(value, parameters)
                fields[key] = value
        objects.append(
            {"id": item.get("id", ""), "name": item.get("name", ""), **fields}
        )
    return sorted(objects, key=lambda o: (o["id"] != "Default", o["id"]))


def _parameters(definition: dict) -> dict[str, str]:
    """Parameter values by id: explicit values over declared defaults."""
    values: dict[str, str] = {}
    for parameter in definition.get("parameterObjects", []):
        for attribute in parameter.get("attributes", []):
            if attribute.get("key") == "default":
                values[parameter.get("id", "")] = attribute.get("stringValue", "")
    for value in definition.get("parameterValues", []):
        values[value.get("id", "")] = value.get("stringValue", "")
    return values


def _resolve(value: str, parameters: dict[str, str]) -> str:
    return PARAMETER.sub(lambda m: parameters.get(m.group(1), m.group(0)), value)


def _role_names(objects: list[dict]) -> list[str]:
    names = set()
    for item in objects:
        for key in ROLE_FIELDS:
            value = item.get(key, "").strip()
            if value and "#{" not in value:
                # A role given as an ARN is named by its last path segment.
                names.add(value.rsplit("/", 1)[-1])
    return sorted(names)


def _document(document: Any) -> Any:
    # boto3 decodes IAM policy documents itself; the raw API sends them
    # URL-encoded, so accept that shape too.
    if isinstance(document, str):
        try:
            return json.loads(unquote(document))
        except ValueError:
            return document
    return document
