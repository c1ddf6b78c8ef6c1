"""The application-integration and analytics controls match the reference.

Every id, title, section, severity, CIS number and Security Hub id is read
from the controls reference itself, so a typo on either side fails here.
The behaviour of each control is tested in test_controls_<service>.py.
"""

import re
from pathlib import Path

import pytest

from findings.controls import REGISTRY
from findings.sections import get_section

# CI checks the repository out beside the shared design folder.
REFERENCE = (
    Path(__file__).resolve().parents[2].parent / "shared" / "controls-reference.md"
)
SECTIONS = (
    "service/app-integration/sqs",
    "service/app-integration/sns",
    "service/app-integration/swf",
    "service/app-integration/ses",
    "service/analytics/kinesis",
    "service/analytics/emr",
    "service/analytics/data-pipeline",
    "service/end-user-computing/workspaces",
    "service/analytics/cloudsearch",
    "service/analytics/cloudsearch/opensearch",
)
CONTROL_IDS = (
    "sqs.queue.sse",
    "sqs.queue.no-public-policy",
    "sns.topic.kms",
    "sns.topic.no-public-policy",
    "sns.subscription.https-only",
    "stepfunctions.state-machine.logging",
    "ses.identity.verified",
    "ses.domain.dkim",
    "ses.domain.custom-mail-from",
    "kinesis.stream.sse",
    "kinesis.stream.retention-7d",
    "emr.block-public-access",
    "emr.cluster.primary-no-public-ip",
    "emr.cluster.security-configuration",
    "emr.security-configuration.encryption",
    "datapipeline.pipeline.logging",
    "datapipeline.pipeline.roles-not-admin",
    "workspaces.user-volume-encrypted",
    "workspaces.root-volume-encrypted",
    "cloudsearch.domain.https-enforced",
    "cloudsearch.domain.no-public-access-policy",
    "opensearch.domain.encrypted",
    "opensearch.domain.in-vpc",
    "opensearch.domain.https-tls12",
)
# Resource types of the reference that name a pseudo-resource here: the
# per-region setting is a record type of its own (one finding per region),
# not the account-wide AWS::::Account that Security Hub reports it on.
RESOURCE_TYPE_OVERRIDES = {
    "emr.block-public-access": "AWS::EMR::BlockPublicAccessConfiguration",
}


def reference_rows() -> dict[str, dict]:
    """The reference's control rows of this group's sections, by control id."""
    if not REFERENCE.exists():
        pytest.skip(f"{REFERENCE} not found; the catalog check needs it")
    text = REFERENCE.read_text(encoding="utf-8")
    rows: dict[str, dict] = {}
    section = ""
    for line in text.splitlines():
        heading = re.match(r"### `([^`]+)`", line)
        if heading:
            section = heading.group(1)
            continue
        if section not in SECTIONS or not line.startswith("| `"):
            continue
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        rows[cells[0].strip("`")] = {
            "section": section,
            "title": cells[1].replace("\\*", "*"),
            "severity": cells[2],
            "resource_type": cells[3],
            "cis": cells[6],
            "security_hub": cells[7],
        }
    return rows


def expected_security_hub(cell: str) -> tuple[str, ...]:
    """'EMR.3; EMR.4' -> ('EMR.3', 'EMR.4'); 'SNS.1\\*' -> ('SNS.1*',)."""
    if cell in ("–", "-", ""):
        return ()
    ids = []
    for part in cell.replace("\\*", "*").split(";"):
        # Drop the reference's remarks, e.g. "Opensearch.8 (may require …?)".
        ids.append(part.split("(")[0].strip())
    return tuple(ids)


def test_the_reference_rows_are_exactly_this_groups_controls():
    assert sorted(reference_rows()) == sorted(CONTROL_IDS)


@pytest.mark.parametrize("control_id", CONTROL_IDS)
def test_catalog_entry_matches_the_reference(control_id):
    row = reference_rows()[control_id]
    ctl = REGISTRY[control_id]
    assert ctl.section == row["section"]
    assert get_section(ctl.section) is not None
    assert ctl.title == row["title"]
    assert ctl.severity.value == row["severity"]
    assert ctl.resource_type == RESOURCE_TYPE_OVERRIDES.get(
        control_id, row["resource_type"]
    )
    assert (ctl.cis_v3, ctl.cis_v4) == ("", "")  # none of these has a CIS number
    assert row["cis"] == "–"
    assert ctl.security_hub == expected_security_hub(row["security_hub"])


@pytest.mark.parametrize("control_id", CONTROL_IDS)
def test_every_control_explains_itself_and_its_fix(control_id):
    ctl = REGISTRY[control_id]
    assert 1 <= ctl.rationale.count(". ") + 1 <= 3, "rationale: 1-3 sentences"
    assert "→" in ctl.remediation or "console" in ctl.remediation
    assert ctl.remediation_cli.startswith("aws ")
