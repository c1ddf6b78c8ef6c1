"""The resource page (configuration tree, findings, history, status changes) and
the side-by-side diff of two snapshots."""

import html as html_lib
import re
from datetime import timedelta

import pytest
from django.urls import reverse

from findings import history
from findings.templatetags.history import MAX_NODES, MAX_STRING, tree_nodes
from findings.tests.factories import (
    CTL_S3,
    HOSTILE,
    T0,
    build_world,
    make_change,
    make_finding,
    make_resource,
    make_scan,
    make_snapshot,
)

pytestmark = pytest.mark.django_db

CTL_TLS = "s3.bucket.tls-only"


@pytest.fixture
def world():
    return build_world()


def get(client, user, name, *args, query=""):
    client.force_login(user)
    response = client.get(reverse(name, args=args) + query)
    return response, response.content.decode()


def diff_url(resource, old, new) -> str:
    url = reverse("findings:resource_diff", args=[resource.pk])
    return f"{url}?from={old.pk}&amp;to={new.pk}"


def busy_bucket(world, snapshots: int = 30, changes: int = 20):
    """A bucket whose policy changed every scan, with status changes along the way."""
    bucket = make_resource(world.payments, name="busy-bucket")
    scans, snaps = [], []
    for n in range(snapshots):
        scan = make_scan(world.org, at=T0 + timedelta(hours=n))
        scans.append(scan)
        config = {
            "Policy": {"Statement": [{"Effect": "Allow", "Sid": f"s{n}"}]},
            "Versioning": {"Status": "Enabled" if n % 2 else "Suspended"},
        }
        snaps.append(make_snapshot(bucket, config, at=scan.started_at, scan=scan))
    controls = [f"{CTL_S3}-{n}" for n in range(changes)]
    for n, control_id in enumerate(controls):
        finding = make_finding(bucket, control_id, "FAIL", snapshot=snaps[n + 1])
        make_change(finding, scans[n + 1], "PASS", "FAIL", snapshot=snaps[n + 1])
    return bucket, snaps


# -- Resource page ------------------------------------------------------------------


def test_configuration_tree_shows_nested_keys_and_escapes_hostile_data(client, world):
    hostile = {
        HOSTILE: "{{ request.user }}",
        "Nested": {"Deeper": {"Template": "{% debug %}", "Flag": True}},
        "{% load static %}": [1, None, "<b>x</b>"],
    }
    make_snapshot(world.bucket, hostile, at=T0 + timedelta(days=2))
    response, html = get(client, world.alice, "findings:resource", world.bucket.pk)
    assert response.status_code == 200
    tree = html[html.index('class="json-tree"') : html.index('<details class="config"')]
    # Nested keys are in nested lists, each container a <details>.
    assert re.search(
        r"Nested</span>.*?<ul>.*?Deeper</span>.*?<ul>.*?Template", tree, re.S
    )
    assert tree.count("<details") == 3
    assert '<span class="jt-boolean">true</span>' in tree
    assert '<span class="jt-null">null</span>' in tree
    # Keys and values are text, never markup or template code.
    assert HOSTILE not in html and "<b>x</b>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in tree
    assert "{{ request.user }}" in html_lib.unescape(tree)
    assert "{% debug %}" in html_lib.unescape(tree)
    assert "{% load static %}" in html_lib.unescape(tree)
    assert "alice" not in tree  # {{ request.user }} was not evaluated


def test_tree_of_a_huge_configuration_is_cut_with_a_note(client, world):
    huge = {"Items": [{"Name": f"item-{n}", "Value": "x" * 5000} for n in range(5000)]}
    make_snapshot(world.bucket, huge, at=T0 + timedelta(days=2))
    response, html = get(client, world.alice, "findings:resource", world.bucket.pk)
    assert response.status_code == 200
    assert "too large to show in full" in html
    assert "not shown" in html
    # ~25 MB of configuration; the page stays small.
    assert len(html) < 2_000_000


def test_tree_limits():
    nodes, truncated = tree_nodes({"a": list(range(MAX_NODES * 2))})
    assert truncated
    assert sum(n.kind == "leaf" for n in nodes) < MAX_NODES
    assert nodes[-2].kind == "more"
    (leaf,), truncated = tree_nodes({"s": "y" * (MAX_STRING + 10)})
    assert "(10 more characters)" in leaf.text and not truncated
    nodes, _ = tree_nodes({"big": list(range(50)), "small": [1, 2]})
    opened = {n.key: n.expanded for n in nodes if n.kind == "open"}
    assert opened == {"big": False, "small": True}  # large arrays start collapsed


def test_findings_failing_first_with_reason_control_and_since(client, world):
    make_finding(world.bucket, CTL_TLS, "PASS", reason="TLS is enforced")
    _, html = get(client, world.alice, "findings:resource", world.bucket.pk)
    findings = html[html.index('id="findings-title"') : html.index('id="config-title"')]
    assert findings.index("Fail") < findings.index("TLS is enforced")
    assert reverse("findings:control", args=[CTL_S3]) in findings
    assert "since <time" in findings and "Mar 2, 2025" in findings
    assert "BlockPublicAcls is off on &lt;script&gt;" in findings


def test_status_change_says_which_path_changed_and_links_its_diff(client, world):
    _, html = get(client, world.alice, "findings:resource", world.bucket.pk)
    changes = html[html.index('id="changes-title"') : html.index('id="history-title"')]
    # The scan that made the bucket fail also changed BlockPublicAcls.
    assert "changed <code" in changes
    assert "config.PublicAccessBlock.BlockPublicAcls" in changes
    assert diff_url(world.bucket, world.first, world.second) in changes
    assert 'became <span class="badge badge-fail">Fail</span>' in changes
    assert "(was Pass)" in changes
    # The first evaluation came with the first snapshot: nothing to compare.
    assert "First collected" in changes


def test_status_change_without_a_config_change_says_so(client, world):
    _, html = get(client, world.alice, "findings:resource", world.root_account.pk)
    changes = html[html.index('id="changes-title"') : html.index('id="history-title"')]
    assert "Configuration unchanged since" in changes
    assert "changed <code" not in changes
    assert 'became <span class="badge badge-pass">Pass</span>' in changes


def test_change_links_the_snapshot_before_its_own_even_outside_the_timeline(
    client, world
):
    bucket, snaps = busy_bucket(world, snapshots=60, changes=3)
    _, html = get(client, world.alice, "findings:resource", bucket.pk)
    # The timeline shows the newest 50; the changes are older and still linked.
    assert diff_url(bucket, snaps[0], snaps[1]) in html
    assert diff_url(bucket, snaps[2], snaps[3]) in html
    assert "config.Policy.Statement" in html


def test_timeline_links_each_snapshot_to_its_diff(client, world):
    _, html = get(client, world.alice, "findings:resource", world.bucket.pk)
    timeline = html[html.index('id="history-title"') :]
    assert diff_url(world.bucket, world.first, world.second) in timeline
    assert "Compare with previous" in timeline
    assert "First collected." in timeline


def test_resource_page_empty_states(client, world):
    bare = make_resource(world.payments, name="never-collected")
    _, html = get(client, world.alice, "findings:resource", bare.pk)
    assert "No configuration has been collected." in html
    assert "No control evaluates this resource." in html
    assert "No status changes recorded." in html
    assert "No snapshots." in html
    assert "Compare snapshots" not in html


def test_resource_page_query_count(client, world, django_assert_max_num_queries):
    bucket, _ = busy_bucket(world, snapshots=30, changes=20)
    client.force_login(world.alice)
    url = reverse("findings:resource", args=[bucket.pk])
    with django_assert_max_num_queries(9):
        response = client.get(url)
    assert response.status_code == 200
    assert response.content.decode().count("became <span") == 20


# -- Diff view --------------------------------------------------------------------


def test_diff_shows_old_and_new_of_a_changed_value(client, world):
    query = f"?from={world.first.pk}&to={world.second.pk}"
    response, html = get(
        client, world.alice, "findings:resource_diff", world.bucket.pk, query=query
    )
    assert response.status_code == 200
    assert "<del>      &quot;BlockPublicAcls&quot;: true</del>" in html
    assert "<ins>      &quot;BlockPublicAcls&quot;: false</ins>" in html
    # The added tag and owner are on the new side only; hostile text is escaped.
    assert "<ins>" in html and HOSTILE not in html
    # Path summary, and both snapshots chosen in the form.
    assert "config.PublicAccessBlock.BlockPublicAcls" in html
    assert f'<option value="{world.first.pk}" selected>' in html
    assert f'<option value="{world.second.pk}" selected>' in html


def test_diff_defaults_to_previous_against_current(client, world):
    third = make_snapshot(
        world.bucket, {"PublicAccessBlock": {}}, at=T0 + timedelta(days=3)
    )
    _, html = get(client, world.alice, "findings:resource_diff", world.bucket.pk)
    assert f'<option value="{world.second.pk}" selected>' in html
    assert f'<option value="{third.pk}" selected>' in html
    assert f'<option value="{world.first.pk}" selected>' not in html


def test_diff_folds_unchanged_lines(client, world):
    big = {f"Key{n:02d}": n for n in range(40)}
    old = make_snapshot(world.bucket, big, at=T0 + timedelta(days=2))
    new = make_snapshot(
        world.bucket, big | {"Key20": "changed"}, at=T0 + timedelta(days=3)
    )
    query = f"?from={old.pk}&to={new.pk}"
    _, html = get(
        client, world.alice, "findings:resource_diff", world.bucket.pk, query=query
    )
    assert re.search(r"⋯ \d+ unchanged lines", html)
    assert "<del>    &quot;Key20&quot;: 20,</del>" in html
    assert "<ins>    &quot;Key20&quot;: &quot;changed&quot;,</ins>" in html
    assert "1 line differs" in html


def test_diff_of_a_resource_with_one_snapshot(client, world):
    _, html = get(client, world.bob, "findings:resource_diff", world.lake.pk)
    assert "nothing to compare it with yet" in html
    assert "Side by side" not in html


def test_diff_404s_for_another_resources_snapshot_and_another_team(client, world):
    lake_snapshot = world.lake.current_snapshot
    for query in (
        f"?from={lake_snapshot.pk}&to={world.second.pk}",
        f"?from={world.first.pk}&to={lake_snapshot.pk}",
        "?from=abc",
        "?to=999999",
    ):
        response, _ = get(
            client, world.alice, "findings:resource_diff", world.bucket.pk, query=query
        )
        assert response.status_code == 404, query
    # bob's team does not see the bucket at all, whatever the snapshots.
    query = f"?from={world.first.pk}&to={world.second.pk}"
    response, _ = get(
        client, world.bob, "findings:resource_diff", world.bucket.pk, query=query
    )
    assert response.status_code == 404
    response, _ = get(client, world.root, "findings:resource_diff", world.bucket.pk)
    assert response.status_code == 200


def test_diff_breadcrumbs_keep_the_drill_down_path(client, world):
    query = f"?control={CTL_S3}"
    _, html = get(
        client, world.alice, "findings:resource_diff", world.bucket.pk, query=query
    )
    crumbs = html[
        html.index('class="breadcrumbs"') : html.index(
            "</nav>", html.index('class="breadcrumbs"')
        )
    ]
    assert reverse("findings:control", args=[CTL_S3]) in crumbs
    assert (
        f"{reverse('findings:resource', args=[world.bucket.pk])}?control={CTL_S3}"
        in crumbs
    )
    assert "Compare snapshots" in crumbs
    assert f'name="control" value="{CTL_S3}"' in html


def test_diff_query_count(client, world, django_assert_max_num_queries):
    bucket, snaps = busy_bucket(world, snapshots=30, changes=20)
    client.force_login(world.alice)
    url = reverse("findings:resource_diff", args=[bucket.pk])
    with django_assert_max_num_queries(8):
        response = client.get(f"{url}?from={snaps[3].pk}&to={snaps[20].pk}")
    assert response.status_code == 200
    assert response.content.decode().count("<option") == 60


# -- History functions --------------------------------------------------------------


def test_side_by_side_pairs_changed_lines_and_runs_on_the_longer_side(world):
    old = make_snapshot(world.lake, {"A": 1, "B": [1]}, at=T0 + timedelta(days=2))
    new = make_snapshot(world.lake, {"A": 2, "B": [1, 2, 3]}, at=T0 + timedelta(days=3))
    diff = history.side_by_side(old, new)
    kinds = [row.kind for row in diff.rows if row.kind != "equal"]
    assert kinds == ["changed", "changed", "added", "added"]
    changed = next(row for row in diff.rows if row.kind == "changed")
    assert (
        changed.old_text.strip() == '"A": 1,' and changed.new_text.strip() == '"A": 2,'
    )
    assert not diff.truncated


def test_status_changes_cost_two_queries_beyond_the_loaded_snapshots(
    world, django_assert_num_queries
):
    bucket, snaps = busy_bucket(world, snapshots=30, changes=20)
    with django_assert_num_queries(2):
        groups = history.status_changes(bucket, {})
    assert len(groups) == 20
    assert (
        groups[0].cause.previous == snaps[19] and groups[0].cause.snapshot == snaps[20]
    )
    loaded = {s.pk: s for s in snaps}
    with django_assert_num_queries(1):
        history.status_changes(bucket, loaded)


def test_a_long_first_evaluation_starts_collapsed(client, world):
    bucket = make_resource(world.payments, name="fresh-bucket")
    snapshot = make_snapshot(bucket, {"A": 1}, at=world.new.started_at, scan=world.new)
    for n in range(history.OPEN_GROUP_SIZE + 1):
        finding = make_finding(bucket, f"{CTL_S3}-{n}", "PASS", snapshot=snapshot)
        make_change(finding, world.new, "", "PASS", snapshot=snapshot)
    _, html = get(client, world.alice, "findings:resource", bucket.pk)
    summary = f"<summary>{history.OPEN_GROUP_SIZE + 1} status changes</summary>"
    assert f'<details class="change-group">{summary}' in html
