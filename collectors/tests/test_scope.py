"""Per-organization scope: services and regions, from the CLI and the UI."""

import io

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse

from collectors import pipeline
from collectors.base import COLLECTORS
from findings.tests.factories import (
    CTL_MFA,
    CTL_S3,
    build_world,
    make_scan,
)

pytestmark = pytest.mark.django_db


def run(*args, **kwargs) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out, **kwargs)
    return out.getvalue()


def test_cli_sets_and_shows_scope():
    world = build_world()
    out = run("scope", organization="Acme", services="s3,iam", regions="eu-west-1")
    assert "Services: iam, s3" in out
    out_of_scope = next(line for line in out.splitlines() if "Out of scope" in line)
    assert "cloudtrail" in out_of_scope
    assert "s3" not in out_of_scope.split(": ", 1)[1].split(", ")
    world.org.refresh_from_db()
    assert world.org.services == ["iam", "s3"]
    assert world.org.regions == ["eu-west-1"]
    assert "Services: all" in run("scope", organization="Acme", services="all")
    with pytest.raises(CommandError, match="unknown services: lambda"):
        run("scope", organization="Acme", services="lambda")
    with pytest.raises(CommandError, match="unknown regions: mars-1"):
        run("scope", organization="Acme", regions="mars-1")


def test_scans_follow_the_organizations_scope():
    world = build_world()
    world.org.services = ["s3"]
    world.org.regions = ["eu-west-1"]
    world.org.save()
    # Only planned (the test transaction never commits, so nothing runs):
    # the units say what the scan would collect.
    scan = pipeline.plan_scan(world.org)
    assert scan.services == ["s3"]
    assert {u.service for u in scan.units.all()} == {"s3"}
    assert {u.region for u in scan.units.all()} == {"global"}


def test_staff_edit_scope_in_the_ui_and_errors_keep_input(client):
    world = build_world()
    url = reverse("collectors:scope", args=[world.org.pk])
    client.force_login(world.alice)
    assert client.get(url).status_code == 404  # not staff

    client.force_login(world.root)
    page = client.get(url)
    assert page.status_code == 200
    # No scope set means everything: every service box starts ticked.
    assert page.content.decode().count("checked") >= len(COLLECTORS)
    bad = client.post(url, {"services": ["s3", "lambda"], "regions": ["eu-west-1"]})
    assert bad.status_code == 200
    html = bad.content.decode()
    assert "lambda is not one of the available choices" in html
    # What was typed is kept: eu-west-1 stays ticked.
    assert 'value="eu-west-1"' in html and "checked" in html
    world.org.refresh_from_db()
    assert world.org.services == []

    saved = client.post(url, {"services": ["s3"], "regions": ["eu-west-1"]})
    assert saved.status_code == 302
    world.org.refresh_from_db()
    assert world.org.services == ["s3"]
    assert world.org.regions == ["eu-west-1"]


def test_out_of_scope_controls_are_not_shown_as_passing(client):
    world = build_world()
    # The latest scan covered S3 only: IAM controls are out of scope.
    latest = make_scan(world.org, at=world.new.started_at.replace(hour=9))
    latest.services = ["s3"]
    latest.save()
    client.force_login(world.alice)
    page = client.get(reverse("findings:control", args=[CTL_MFA])).content.decode()
    assert "Out of scope" in page
    page = client.get(reverse("findings:control", args=[CTL_S3])).content.decode()
    assert "Out of scope" not in page
