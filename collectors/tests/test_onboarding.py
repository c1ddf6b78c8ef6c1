"""Connecting an organization: the organization list, the onboarding page with
the filled-in audit role template, and the connection test.

Personas (on top of build_world): alice is a team admin of Payments (an Acme
account), bob a plain member of Data (Acme), carol an admin of a team in
another organization, root is staff.
"""

import html
import json
import os
import re
import shlex
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
import yaml
from django.test import Client
from django.urls import reverse

from accounts import onboarding
from accounts.models import ConnectionTest, Membership
from findings.testing import deny
from findings.tests.factories import (
    T0,
    build_world,
    make_account,
    make_org,
    make_scan,
    make_team,
    make_user,
)

pytestmark = pytest.mark.django_db

SCANNER = "arn:aws:iam::111111111111:role/parapet"
EXTERNAL_ID = "acme:parapet/2025=ok"
REPO = Path(__file__).resolve().parents[2]
ORIGINAL = yaml.safe_load(onboarding.TEMPLATE_PATH.read_text(encoding="utf-8"))


@pytest.fixture
def world(settings):
    settings.PARAPET_SCANNER_PRINCIPAL_ARN = SCANNER
    world = build_world()
    world.org.external_id = EXTERNAL_ID
    world.org.save()
    Membership.objects.filter(user=world.alice).update(role=Membership.Role.ADMIN)
    globex = make_org("Globex")
    world.carol = make_user("carol")
    team = make_team("Globex ops", accounts=[make_account(globex, "globex-prod")])
    Membership.objects.create(team=team, user=world.carol, role="admin")
    world.globex = globex
    return world


def url(name: str, org) -> str:
    return reverse(f"organizations:{name}", args=[org.pk])


def get(client, user, path: str):
    client.force_login(user)
    response = client.get(path)
    return response, response.content.decode()


def post_test(client, user, org, account_id: str, headers=None):
    client.force_login(user)
    return client.post(
        url("connection_test", org), {"account": account_id}, headers=headers
    )


def page_template(page: str) -> dict:
    """The audit role template as the page shows it (the first code block)."""
    block = re.search(
        r'<pre class="code" tabindex="0"><code>(.*?)</code></pre>', page, re.S
    )
    return yaml.safe_load(html.unescape(block.group(1)))


# -- The template ------------------------------------------------------------------


def test_rendered_and_downloaded_template_carry_this_organizations_values(
    client, world
):
    response, page = get(client, world.alice, url("onboarding", world.org))
    assert response.status_code == 200
    download = client.get(url("audit_role_template", world.org))
    assert download.status_code == 200
    assert download["Content-Disposition"] == (
        'attachment; filename="parapet-audit-role-acme.yaml"'
    )
    assert "no-store" in download["Cache-Control"]
    for template in (page_template(page), yaml.safe_load(download.content)):
        params = template["Parameters"]
        assert params["ExternalId"]["Default"] == EXTERNAL_ID
        assert params["ScannerPrincipalArn"]["Default"] == SCANNER
        assert params["RoleName"]["Default"] == "ParapetAudit"
        # Only defaults were added: the role itself is the reviewed one.
        assert template["Resources"] == ORIGINAL["Resources"]
        for name, spec in params.items():
            assert {k: v for k, v in spec.items() if k != "Default"} == {
                k: v for k, v in ORIGINAL["Parameters"][name].items() if k != "Default"
            }
    # The commands name the same file and values.
    assert "--template-body file://parapet-audit-role-acme.yaml" in page
    shown = html.unescape(page)
    for command in (
        onboarding.stack_set_commands(world.org),
        onboarding.management_stack_command(world.org),
    ):
        assert command in shown
        assert parameters_of(command) == {
            "ScannerPrincipalArn": SCANNER,
            "ExternalId": EXTERNAL_ID,
            "RoleName": "ParapetAudit",
        }
    assert (
        "create-stack-instances" in page
        and "aws cloudformation create-stack \\" in page
    )


def parameters_of(command: str) -> dict[str, str]:
    """The --parameters of a printed command, as the shell and the CLI read them."""
    words = shlex.split(command.replace("\\\n", " "))
    given = json.loads(words[words.index("--parameters") + 1])
    return {p["ParameterKey"]: p["ParameterValue"] for p in given}


def test_an_external_id_with_commas_and_quotes_reaches_the_stack_whole(world):
    # AWS allows , = + . @ : / - in an ExternalId; the CLI's shorthand splits
    # at commas, and a quote must survive the shell.
    world.org.external_id = "a,b=c+d.e@f:g/h-i's"
    for command in (
        onboarding.stack_set_commands(world.org),
        onboarding.management_stack_command(world.org),
    ):
        assert parameters_of(command)["ExternalId"] == "a,b=c+d.e@f:g/h-i's"


def test_template_survives_an_odd_organization_name_and_role(client, world):
    world.org.name = "Acme\nResources: {}  # <b>"
    world.org.member_role_name = "Audit.Role-2"
    world.org.save()
    download = get(client, world.root, url("audit_role_template", world.org))[0]
    template = yaml.safe_load(download.content)
    assert template["Resources"] == ORIGINAL["Resources"]
    assert template["Parameters"]["RoleName"]["Default"] == "Audit.Role-2"
    text = download.content.decode()
    assert text.startswith("# The read-only role Parapet assumes")
    # The file's generic header, with its placeholder commands, is replaced.
    assert "<the Organization's ExternalId>" not in text


def test_unset_scanner_principal_shows_a_placeholder_and_how_to_set_it(
    client, world, settings
):
    settings.PARAPET_SCANNER_PRINCIPAL_ARN = ""
    response, page = get(client, world.root, url("onboarding", world.org))
    assert "PARAPET_SCANNER_PRINCIPAL_ARN" in page
    assert html.escape(onboarding.SCANNER_PLACEHOLDER) in page
    template = page_template(page)
    assert "Default" not in template["Parameters"]["ScannerPrincipalArn"]
    assert template["Parameters"]["ExternalId"]["Default"] == EXTERNAL_ID


def test_a_malformed_scanner_principal_stops_startup():
    env = {**os.environ, "PARAPET_SCANNER_PRINCIPAL_ARN": "parapet-role"}
    env.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/parapet")
    result = subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode != 0
    assert "PARAPET_SCANNER_PRINCIPAL_ARN must be the ARN" in result.stderr


# -- Access ------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["onboarding", "audit_role_template"])
def test_only_staff_and_team_admins_see_the_onboarding_pages(client, world, name):
    path = url(name, world.org)
    assert get(client, world.root, path)[0].status_code == 200
    assert get(client, world.alice, path)[0].status_code == 200
    response, page = get(client, world.bob, path)  # sees Acme, not an admin
    assert response.status_code == 403
    assert EXTERNAL_ID not in page
    assert get(client, world.carol, path)[0].status_code == 404  # cannot see Acme
    client.logout()
    response = client.get(path)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_only_admins_may_run_a_test_and_only_on_their_accounts(client, world, aws):
    account = world.payments.account_id
    assert post_test(client, world.bob, world.org, account).status_code == 403
    assert post_test(client, world.carol, world.org, account).status_code == 404
    client.logout()
    assert client.post(url("connection_test", world.org)).status_code == 302
    # data-lake is not in alice's teams: not a choice, nothing is tried.
    response = post_test(client, world.alice, world.org, world.data.account_id)
    assert response.status_code == 302
    assert not ConnectionTest.objects.exists()
    assert client.get(url("connection_test", world.org)).status_code == 405


def test_nav_and_list_offer_connecting_to_admins_only(client, world):
    _, page = get(client, world.alice, reverse("findings:overview"))
    assert f'href="{reverse("organizations:organizations")}"' in page
    _, page = get(client, world.bob, reverse("findings:overview"))
    assert f'href="{reverse("organizations:organizations")}"' not in page

    response, page = get(client, world.bob, reverse("organizations:organizations"))
    assert response.status_code == 200
    assert "Acme" in page and "Globex" not in page
    assert url("onboarding", world.org) not in page
    _, page = get(client, world.alice, reverse("organizations:organizations"))
    assert url("onboarding", world.org) in page
    _, page = get(client, world.root, reverse("organizations:organizations"))
    assert "Acme" in page and "Globex" in page


# -- The connection test -----------------------------------------------------------


def test_successful_test_shows_the_assumed_identity_and_is_recorded(
    client, world, aws, monkeypatch
):
    issued = []
    real_session = onboarding.new_session

    def spy(**kwargs):
        issued.append(kwargs)
        return real_session(**kwargs)

    monkeypatch.setattr(onboarding, "new_session", spy)
    account = world.payments.account_id
    response = post_test(client, world.alice, world.org, account)
    assert response.status_code == 302
    assert response["Location"].endswith("#connection-test")

    test = ConnectionTest.objects.get()
    assert (test.ok, test.step, test.tested_by, test.error_kind) == (
        True,
        ConnectionTest.Step.READ,
        world.alice,
        "",
    )
    assert test.aws_account_id == account
    assert test.identity_arn.startswith(
        f"arn:aws:sts::{account}:assumed-role/ParapetAudit/"
    )
    _, page = get(client, world.alice, url("onboarding", world.org))
    assert "Connected" in page and test.identity_arn in page

    # Secrets stay in memory: neither the page nor the row carries them.
    secrets = [issued[0]["aws_secret_access_key"], issued[0]["aws_session_token"]]
    secrets.append(issued[0]["aws_access_key_id"])
    stored = " ".join(
        str(value) for value in ConnectionTest.objects.values().get().values()
    )
    for secret in secrets:
        assert secret not in page
        assert secret not in stored


def test_htmx_gets_the_result_card_only(client, world, aws):
    response = post_test(
        client,
        world.root,
        world.org,
        world.data.account_id,
        headers={"HX-Request": "true", "HX-Target": "connection-test"},
    )
    assert response.status_code == 200
    card = response.content.decode()
    assert "<html" not in card
    assert card.lstrip().startswith('<section class="card step" id="connection-test"')
    assert "Connected" in card and world.data.account_id in card


def test_denied_assume_role_shows_access_denied_and_what_to_fix(
    client, world, aws, monkeypatch
):
    denied = onboarding.new_session(region_name="us-east-1")
    deny(denied, "sts", "AssumeRole")
    monkeypatch.setattr(onboarding, "base_session", lambda: denied)
    response = post_test(client, world.alice, world.org, world.payments.account_id)
    assert response.status_code == 302

    test = ConnectionTest.objects.get()
    assert (test.ok, test.error_kind, test.step) == (False, "access_denied", "assume")
    assert "AssumeRole: AccessDenied" in test.message
    _, page = get(client, world.alice, url("onboarding", world.org))
    assert "Access denied" in page
    assert "sts:ExternalId equal to this organization" in page
    assert SCANNER in page.split("What to fix")[1]


def test_denied_read_points_at_the_roles_policies(client, world, aws, monkeypatch):
    real_session = onboarding.new_session

    def assumed(**kwargs):
        session = real_session(**kwargs)
        deny(session, "iam", "GetAccountSummary")
        return session

    monkeypatch.setattr(onboarding, "new_session", assumed)
    post_test(client, world.root, world.org, world.payments.account_id)
    test = ConnectionTest.objects.get()
    assert (test.ok, test.step) == (False, "read")
    _, page = get(client, world.root, url("onboarding", world.org))
    assert "SecurityAudit and ViewOnlyAccess" in page


def test_unreachable_endpoint_is_classified(client, world, monkeypatch):
    # Nothing listens on port 9 of the loopback: a refused connection.
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
    post_test(client, world.root, world.org, world.payments.account_id)
    test = ConnectionTest.objects.get()
    assert (test.ok, test.error_kind) == (False, "unreachable")
    _, page = get(client, world.root, url("onboarding", world.org))
    assert "Endpoint unreachable" in page and "outbound HTTPS" in page


def test_history_is_scoped_and_staff_may_test_the_management_account(
    client, world, aws
):
    # Staff: the management account (not discovered) is the default choice.
    _, page = get(client, world.root, url("onboarding", world.org))
    management = world.org.management_account_id
    assert f'<option value="{management}" selected>' in page
    post_test(client, world.root, world.org, management)
    post_test(client, world.root, world.org, world.data.account_id)
    alice = Client()  # root's "test succeeded" messages stay in root's cookies
    post_test(alice, world.alice, world.org, world.payments.account_id)
    assert ConnectionTest.objects.count() == 3

    _, page = get(alice, world.alice, url("onboarding", world.org))
    assert world.payments.account_id in page
    assert world.data.account_id not in page
    assert management not in page.split('id="connection-test"')[1]
    _, page = get(client, world.root, url("onboarding", world.org))
    assert world.data.account_id in page


# -- Lists and query counts --------------------------------------------------------


def _busy_world(world, n: int = 6) -> None:
    """More organizations, accounts, scans and tests, so an N+1 would show."""
    team = world.alice.teams.get()
    for i in range(n):
        org = make_org(f"Extra {i}")
        accounts = [make_account(org, f"extra-{i}-{j}") for j in range(3)]
        team.accounts.add(*accounts)
        for day in range(2):
            make_scan(org, at=T0 + timedelta(days=day))
        for account in accounts:
            ConnectionTest.objects.create(
                organization=org,
                aws_account_id=account.account_id,
                role_arn=org.member_role_arn(account.account_id),
                tested_by=world.alice,
                ok=False,
                step="assume",
                error_kind="access_denied",
                message="AssumeRole: AccessDenied: not authorized",
            )
    for account in (world.payments, world.data):
        for _ in range(5):
            ConnectionTest.objects.create(
                organization=world.org,
                aws_account_id=account.account_id,
                role_arn=world.org.member_role_arn(account.account_id),
                tested_by=world.root,
                ok=True,
                step="read",
                identity_arn="arn:aws:sts::1:assumed-role/ParapetAudit/x",
            )


def test_organization_list_shows_status_in_bounded_queries(
    client, world, django_assert_max_num_queries
):
    _busy_world(world)
    client.force_login(world.alice)
    with django_assert_max_num_queries(7):
        response = client.get(reverse("organizations:organizations"))
    page = response.content.decode()
    assert page.count("Connect</a>") == 7  # Acme and the six extras
    assert "Access denied" in page and "Connected" in page
    assert f"#{world.new.pk}</a>" in page  # Acme's newest scan
    client.force_login(world.root)
    with django_assert_max_num_queries(5):
        response = client.get(reverse("organizations:organizations"))
    assert response.content.decode().count("<tr>") == 1 + 8  # head, 8 orgs


def test_onboarding_page_in_bounded_queries(
    client, world, django_assert_max_num_queries
):
    _busy_world(world)
    client.force_login(world.alice)
    with django_assert_max_num_queries(7):
        response = client.get(url("onboarding", world.org))
    page = response.content.decode()
    # Alice sees her account's five tests, not data-lake's.
    assert page.count("assumed-role/ParapetAudit/x") == 5 + 1  # history + latest
    assert world.data.account_id not in page
    client.force_login(world.root)
    with django_assert_max_num_queries(5):
        response = client.get(url("onboarding", world.org))
    assert response.content.decode().count("assumed-role/ParapetAudit/x") == 10 + 1
