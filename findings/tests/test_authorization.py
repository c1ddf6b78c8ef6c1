"""Every URL pattern, opened by every persona (issues #6 and #7).

The matrix walks the project's URL resolver, so a new page cannot ship without
an entry in ``findings/tests/authz_routes.py``: ``ROUTES`` says how to open
each pattern on an object of a given team, ``PUBLIC`` lists the few patterns
that need no login and why. Then, for each pattern:

- anonymous users are sent to the login page with ``?next=``;
- a team member (alice, carol the team admin, bob) gets 200 on their own
  team's objects (403 on team-admin pages when only a member, and no link or
  button leading there), 404 (never 403, never 200) on the other team's, and
  no response body, htmx partial or CSV names the other team's accounts or
  data (exceptions' reasons and approvers included), nor changes when the
  other team's data is deleted (pass rates and counts included);
- staff get 200 on both teams' objects and see both teams;
- guessed ids are 404 for everyone, staff included;
- POSTs without a CSRF token are refused (403); refused POSTs change nothing;
- exceptions on a whole control are changed by staff only;
- the admin is for staff only.

One database scene per module (``world``), rolled back at the end.
"""

import re
from collections.abc import Iterator
from types import SimpleNamespace
from unittest import mock

import pytest
from django.contrib import admin
from django.contrib.auth.views import redirect_to_login
from django.db import transaction
from django.http import HttpResponse
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils import timezone
from django_celery_beat.models import PeriodicTask

from accounts.models import Account, Organization
from collectors.models import Scan
from findings import digests
from findings.models import DigestSubscription, Suppression
from findings.tests.authz_routes import (
    CSRF_EXEMPT,
    NUMBERS_ONLY,
    PUBLIC,
    ROUTES,
    Route,
    Target,
    Team,
)
from findings.tests.factories import (
    add_two_team_exceptions,
    build_two_team_world,
    make_user,
)

pytestmark = pytest.mark.django_db

HX = {"HX-Request": "true"}
GUESSED_INT = 10**9
GUESSED_STR = "no-such-thing"
# Persona, their team, their role (carol is the team admin of Payments).
MEMBERS = [("alice", "a"), ("carol", "a"), ("bob", "b")]
ROLES = {"alice": "member", "carol": "admin", "bob": "member", "root": "staff"}
RANK = {"member": 0, "admin": 1, "staff": 2}
OTHER = {"a": "b", "b": "a"}
CSRF_TOKEN = re.compile(r'name="csrfmiddlewaretoken" value="[^"]*"')
# The admin is tested as a group: its index and each model's changelist.
ADMIN_NAMESPACE = "admin"


# -- Helpers -------------------------------------------------------------------------


def url_patterns(
    resolver: URLResolver | None = None, namespace: str = ""
) -> Iterator[tuple[str, str, URLPattern]]:
    """(namespace, name, pattern) of every pattern, through every include."""
    for entry in (resolver or get_resolver()).url_patterns:
        if isinstance(entry, URLResolver):
            inner = entry.namespace or ""
            nested = f"{namespace}:{inner}" if namespace and inner else inner
            yield from url_patterns(entry, nested or namespace)
        else:
            name = f"{namespace}:{entry.name}" if namespace and entry.name else ""
            yield namespace, name or entry.name or "", entry


def project_patterns() -> list[tuple[str, URLPattern]]:
    """Every pattern outside the admin, as (full name or '', pattern)."""
    return [
        (name, pattern)
        for namespace, name, pattern in url_patterns()
        if namespace.split(":")[0] != ADMIN_NAMESPACE
    ]


def url(name: str, target: Target) -> str:
    return reverse(name, kwargs=target.kwargs) + target.query


def content(response: HttpResponse) -> str:
    """The body (streamed or not) and the attachment's file name."""
    raw = (
        b"".join(response.streaming_content) if response.streaming else response.content
    )
    return raw.decode() + response.get("Content-Disposition", "")


def leaked(text: str, team: Team) -> list[str]:
    return [s for s in team.leaks if s in text]


def header_variants(route: Route) -> list[dict]:
    """A plain request, and the htmx ones that get each partial."""
    return [{}] + [{**HX, "HX-Target": target} for target in route.hx_targets]


def names_data(route: Route, headers: dict) -> bool:
    """Whether the response must name the team's data (``Route.shows``)."""
    return route.shows and headers.get("HX-Target") not in NUMBERS_ONLY


def get(client: Client, path: str, headers: dict) -> tuple[HttpResponse, str]:
    response = client.get(path, headers=headers)
    return response, content(response)


def allowed(route: Route, persona: str) -> bool:
    return RANK[ROLES[persona]] >= RANK[route.access]


def refused_status(route: Route) -> int:
    """Staff pages do not exist for others (404); a team-admin page of an
    organization the member sees says it is not for them (403)."""
    return 404 if route.access == "staff" else 403


def other_team_status(route: Route) -> int | None:
    """What a member gets GETting the other team's target."""
    if "GET" not in route.methods:
        return 405
    # Above-member pages look the organization up among the visible ones first.
    return 404 if route.access != "member" else route.other_status


def form_data(route: Route, world: SimpleNamespace, team: Team) -> dict:
    return route.post_data(world, team) if route.post_data else {}


def own_status(route: Route, persona: str) -> int:
    """What ``persona`` gets GETting their own team's target."""
    if "GET" not in route.methods:
        return 405  # the method is checked before anything is looked up
    return 200 if allowed(route, persona) else refused_status(route)


@pytest.fixture(scope="module")
def world(django_db_setup, django_db_blocker) -> Iterator[SimpleNamespace]:
    """One scene for the whole module; each test runs in a savepoint inside it."""
    with django_db_blocker.unblock(), transaction.atomic():
        world = build_two_team_world()
        add_two_team_exceptions(world)
        yield world
        transaction.set_rollback(True)


def signed_in(world: SimpleNamespace, persona: str, **client_args) -> Client:
    client = Client(**client_args)
    client.force_login(getattr(world, persona))
    return client


# -- Every pattern is in the matrix ------------------------------------------------


def test_every_url_pattern_is_in_the_matrix():
    patterns = project_patterns()
    unnamed = [str(p.pattern) for name, p in patterns if not name]
    missing = sorted(
        name for name, _ in patterns if name and name not in ROUTES | PUBLIC
    )
    assert not unnamed, (
        f"Name these URL patterns so the matrix can list them: {unnamed}"
    )
    assert not missing, (
        f"URL patterns missing from the authorization matrix: {', '.join(missing)}. "
        "Add each one to ROUTES in findings/tests/authz_routes.py with a "
        "Route whose `own` builds the URL kwargs for an object of the given team "
        "(and `access`, `methods`, `post_data`, `hx_targets`, `shows`, "
        "`offered_on` as they apply), or, if it must work without signing in, "
        "to PUBLIC with the reason."
    )
    stale = sorted(set(ROUTES | PUBLIC) - {name for name, _ in patterns})
    assert not stale, f"Remove from ROUTES/PUBLIC, no such URL pattern: {stale}"


def test_only_the_public_patterns_skip_the_login():
    """``@login_not_required`` is what opens a view; only PUBLIC may carry it."""
    open_views = {
        name or str(pattern.pattern)
        for name, pattern in project_patterns()
        if getattr(pattern.callback, "login_required", True) is False
    }
    assert open_views == set(PUBLIC)


def test_only_the_listed_views_skip_csrf():
    exempt = {
        name
        for name, pattern in project_patterns()
        if getattr(pattern.callback, "csrf_exempt", False)
    }
    assert exempt == set(CSRF_EXEMPT)


# -- Anonymous -----------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(ROUTES))
def test_anonymous_is_sent_to_login(client, world, name):
    route = ROUTES[name]
    for team in world.teams.values():
        path = url(name, route.own(world, team))
        for headers in [*header_variants(route), {**HX, "HX-Target": "main"}]:
            for method in (client.get, client.post):
                response = method(path, headers=headers)
                assert response.status_code == 302, (name, method, headers)
                assert response["Location"] == redirect_to_login(path)["Location"]


@pytest.mark.parametrize("name", sorted(PUBLIC))
def test_public_patterns_answer_anonymous(client, world, name):
    public = PUBLIC[name]
    response = client.get(url(name, public.target))
    assert response.status_code == public.anonymous_status
    text = content(response)
    for team in world.teams.values():
        assert not leaked(text, team), name


def test_unsubscribe_link_shows_no_account_data(client, world):
    subscription = DigestSubscription.objects.create(user=world.bob)
    subscription.accounts.set([world.teams["b"].account])
    path = reverse(
        "findings:digest_unsubscribe", args=[digests.unsubscribe_token(subscription)]
    )
    for response in (client.get(path), client.post(path)):
        assert response.status_code == 200
        for team in world.teams.values():
            assert not leaked(content(response), team)
    subscription.refresh_from_db()
    assert not subscription.active
    # A token signed for bob cannot be bent to another subscription: alice's
    # payload under bob's signature is refused and changes nothing.
    theirs = DigestSubscription.objects.create(user=world.alice)
    _, bobs_signature = digests.unsubscribe_token(subscription).rsplit(":", 1)
    alices_payload, _ = digests.unsubscribe_token(theirs).rsplit(":", 1)
    forged = reverse(
        "findings:digest_unsubscribe", args=[f"{alices_payload}:{bobs_signature}"]
    )
    assert client.post(forged).status_code == 404
    theirs.refresh_from_db()
    assert theirs.active


# -- Team members --------------------------------------------------------------------


@pytest.mark.parametrize(("persona", "team_key"), MEMBERS)
@pytest.mark.parametrize("name", sorted(ROUTES))
def test_member_sees_their_team_only(world, name, persona, team_key):
    route = ROUTES[name]
    mine, theirs = world.teams[team_key], world.teams[OTHER[team_key]]
    client = signed_in(world, persona)
    expected = own_status(route, persona)
    for headers in header_variants(route):
        case = (name, persona, headers)
        shows = expected == 200 and names_data(route, headers)
        response, text = get(client, url(name, route.own(world, mine)), headers)
        assert response.status_code == expected, case
        assert not leaked(text, theirs), case
        if shows:
            assert leaked(text, mine), f"{case}: own data missing, check is vacuous"
        if expected == 200 and headers:
            assert "<html" not in text, f"{case}: htmx should get the partial only"
        if expected == 200 and route.csv:
            assert response["Content-Type"].startswith("text/csv"), case
            # Scoped data: never kept by a shared cache or the browser.
            assert "no-store" in response["Cache-Control"], case
        if route.other_status is not None:
            response, text = get(client, url(name, route.own(world, theirs)), headers)
            assert response.status_code == other_team_status(route), (
                *case,
                "other team",
            )
            assert not leaked(text, theirs), (*case, "other team")
        if route.shared is not None:
            response, text = get(client, url(name, route.shared(world, mine)), headers)
            assert response.status_code == expected, (*case, "shared")
            assert not leaked(text, theirs), (*case, "shared")
            if shows:
                assert leaked(text, mine), (*case, "shared")


ISOLATION_CASES = [
    (name, persona, team_key)
    for name, route in sorted(ROUTES.items())
    for persona, team_key in MEMBERS
    if own_status(route, persona) == 200
]


def without_csrf_token(text: str) -> str:
    return CSRF_TOKEN.sub("", text)


def seen_before_and_after_deleting(
    client: Client, requests: list[tuple[str, dict]], theirs: Team
) -> tuple[list[str], list[str]]:
    """Each (path, headers) response, then again with the other team's
    accounts and private organization deleted (at one frozen moment)."""
    with mock.patch("django.utils.timezone.now", return_value=timezone.now()):
        before = [without_csrf_token(get(client, p, h)[1]) for p, h in requests]
        # Deleted by query: the module's ``world`` objects keep their pks.
        Organization.objects.filter(pk=theirs.private.org.pk).delete()
        Account.objects.filter(pk=theirs.account.pk).delete()
        after = [without_csrf_token(get(client, p, h)[1]) for p, h in requests]
    return before, after


@pytest.mark.parametrize(("name", "persona", "team_key"), ISOLATION_CASES)
def test_the_other_teams_data_changes_nothing_a_member_sees(
    world, name, persona, team_key
):
    """The page and its partials are the same with the other team's accounts
    deleted.

    This catches what the leak strings cannot: pass rates, counts and trends
    that include accounts outside the member's teams.
    """
    route = ROUTES[name]
    mine, theirs = world.teams[team_key], world.teams[OTHER[team_key]]
    targets = [route.own(world, mine)]
    if route.shared is not None:
        targets.append(route.shared(world, mine))
    requests = [
        (url(name, target), headers)
        for target in targets
        for headers in header_variants(route)
    ]
    client = signed_in(world, persona)
    before, after = seen_before_and_after_deleting(client, requests, theirs)
    for request, old, new in zip(requests, before, after, strict=True):
        assert old == new, f"{request} changes with the other team's data"


POST_ROUTES = sorted(name for name, route in ROUTES.items() if "POST" in route.methods)


def what_posts_change() -> list[list[tuple]]:
    """What the forms change: scopes, scans, schedules and exceptions."""
    return [
        list(Organization.objects.order_by("pk").values_list("services", "regions")),
        list(Scan.objects.order_by("pk").values_list("pk", "status")),
        list(PeriodicTask.objects.order_by("pk").values_list("enabled", "crontab")),
        list(
            Suppression.objects.order_by("pk").values_list(
                "reason", "approver", "expires_at", "revoked_at"
            )
        ),
    ]


@pytest.mark.parametrize(("persona", "team_key"), MEMBERS)
@pytest.mark.parametrize("name", POST_ROUTES)
def test_member_posts(world, name, persona, team_key):
    """Forms above a member's role, or on the other team's objects, refuse
    them and change nothing."""
    route = ROUTES[name]
    team = world.teams[team_key]
    client = signed_in(world, persona)
    path = url(name, route.own(world, team))
    data = form_data(route, world, team)
    if route.other_status is not None:
        theirs = world.teams[OTHER[team_key]]
        other = url(name, route.own(world, theirs))
        before = what_posts_change()
        response = client.post(other, form_data(route, world, theirs))
        assert response.status_code == 404, "other team"
        assert what_posts_change() == before, "other team"
    before = what_posts_change()
    response = client.post(path, data)
    if allowed(route, persona):
        assert response.status_code == 302, content(response)
    else:
        assert response.status_code == refused_status(route)
        assert what_posts_change() == before


def test_digest_form_refuses_another_teams_account(world):
    """A forged POST naming bob's account does not subscribe alice to it."""
    route = ROUTES["findings:digest_settings"]
    client = signed_in(world, "alice")
    response = client.post(
        reverse("findings:digest_settings"),
        route.post_data(world, world.teams["b"]),
    )
    assert response.status_code == 200
    assert "Select a valid choice" in content(response)
    assert not DigestSubscription.objects.filter(user=world.alice).exists()


def test_diff_refuses_another_teams_snapshot(world):
    """Alice's resource compared with a snapshot of bob's: 404, nothing shown."""
    client = signed_in(world, "alice")
    mine, theirs = world.teams["a"].resource, world.teams["b"].resource
    path = reverse("findings:resource_diff", args=[mine.pk])
    for param in ("from", "to"):
        response = client.get(f"{path}?{param}={theirs.current_snapshot_id}")
        assert response.status_code == 404, param
        assert not leaked(content(response), world.teams["b"]), param


# -- Team admins' actions -------------------------------------------------------------


OFFERED = sorted(name for name, route in ROUTES.items() if route.offered_on)


@pytest.mark.parametrize("persona", ["alice", "carol", "bob", "root"])
@pytest.mark.parametrize("name", OFFERED)
def test_actions_are_offered_only_to_who_may_use_them(world, name, persona):
    """A member sees no button or link that would only answer 403."""
    route = ROUTES[name]
    page, target = route.offered_on
    team = world.teams["b" if persona == "bob" else "a"]
    action = reverse(name, kwargs=route.own(world, team).kwargs)
    response, text = get(signed_in(world, persona), url(page, target(world, team)), {})
    assert response.status_code == 200
    assert (action in text) == allowed(route, persona), (page, action)


def exception_paths(exception: Suppression) -> dict[str, str]:
    return {
        name: reverse(f"findings:{name}", args=[exception.pk])
        for name in ("exception", "exception_edit", "exception_revoke")
    }


@pytest.mark.parametrize("persona", ["alice", "carol", "bob", "root"])
def test_control_wide_exceptions_are_changed_by_staff_only(world, persona):
    """One waives a control for accounts no single team owns: the teams of
    its organization see it, only staff edit or revoke it."""
    client = signed_in(world, persona)
    initech = world.teams["a"].org_exception  # team a's private organization
    for exception, visible in [
        (world.shared_exception, True),
        (initech, persona != "bob"),
    ]:
        paths = exception_paths(exception)
        before = what_posts_change()
        detail = client.get(paths["exception"])
        edit = client.get(paths["exception_edit"])
        revoke = client.post(paths["exception_revoke"])
        if not visible:
            assert [detail.status_code, edit.status_code, revoke.status_code] == [
                404,
                404,
                404,
            ]
            assert what_posts_change() == before
            continue
        assert detail.status_code == 200
        offered = paths["exception_edit"] in content(detail)
        assert offered == (persona == "root")
        if persona == "root":
            assert (edit.status_code, revoke.status_code) == (200, 302)
        else:
            assert (edit.status_code, revoke.status_code) == (403, 403)
            assert what_posts_change() == before


@pytest.mark.parametrize(("persona", "team_key"), MEMBERS)
def test_a_shared_exception_counts_only_the_members_findings(world, persona, team_key):
    """Acme's control-wide exception covers both teams' findings; each team's
    view of it (its page, the lists) counts only its own."""
    exception = world.shared_exception
    query = f"?control={exception.control_id}&state=all"
    requests = [
        (reverse("findings:exception", args=[exception.pk]), {}),
        (reverse("findings:exceptions") + query, {}),
        (reverse("findings:exceptions_log") + query, {}),
    ]
    client = signed_in(world, persona)
    theirs = world.teams[OTHER[team_key]]
    before, after = seen_before_and_after_deleting(client, requests, theirs)
    for request, old, new in zip(requests, before, after, strict=True):
        assert exception.reason in old, request
        assert old == new, f"{request} changes with the other team's data"


# -- Staff ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(ROUTES))
def test_staff_see_every_team(world, name):
    route = ROUTES[name]
    client = signed_in(world, "root")
    expected = own_status(route, "root")
    for headers in header_variants(route):
        texts = {}
        for key, team in world.teams.items():
            response, text = get(client, url(name, route.own(world, team)), headers)
            assert response.status_code == expected, (name, key, headers)
            texts[key] = text
            if route.shared is not None:
                response, shared = get(
                    client, url(name, route.shared(world, team)), headers
                )
                assert response.status_code == expected, (name, "shared", headers)
                texts[f"shared-{key}"] = shared
        if expected != 200 or not names_data(route, headers):
            continue
        for key, team in world.teams.items():
            assert leaked(texts[key], team), (name, key, headers)
            if route.other_status is None or route.shared is not None:
                page = texts[f"shared-{key}"] if route.shared else texts[key]
                other = world.teams[OTHER[key]]
                assert leaked(page, other), f"{name}: staff should see both teams"


@pytest.mark.parametrize("name", POST_ROUTES)
def test_staff_post_on_every_team(world, name):
    route = ROUTES[name]
    for team in world.teams.values():
        client = signed_in(world, "root")  # a new session: logout ends one
        response = client.post(
            url(name, route.own(world, team)), form_data(route, world, team)
        )
        assert response.status_code == 302, (name, team.marker, content(response))


# -- Guessed ids ---------------------------------------------------------------------


def guessed(target: Target) -> Target:
    return Target(
        {
            key: GUESSED_INT if isinstance(value, int) else GUESSED_STR
            for key, value in target.kwargs.items()
        },
        target.query,
    )


def _with_kwargs() -> list[str]:
    """Patterns whose URL names an object (the path has converters)."""
    return sorted(
        name
        for name, pattern in project_patterns()
        if name in ROUTES and pattern.pattern.converters
    )


@pytest.mark.parametrize("persona", ["alice", "carol", "bob", "root"])
@pytest.mark.parametrize("name", _with_kwargs())
def test_guessed_ids_are_404(world, name, persona):
    route = ROUTES[name]
    client = signed_in(world, persona)
    path = url(name, guessed(route.own(world, world.teams["a"])))
    team = world.teams["a"]
    if "GET" in route.methods:
        response = client.get(path)
    else:
        response = client.post(path, form_data(route, world, team))
    assert response.status_code == 404, path


# -- CSRF ----------------------------------------------------------------------------


@pytest.mark.parametrize("name", POST_ROUTES)
def test_posts_need_a_csrf_token(world, name):
    route = ROUTES[name]
    team = world.teams["a"]
    persona = {"member": "alice", "admin": "carol", "staff": "root"}[route.access]
    client = signed_in(world, persona, enforce_csrf_checks=True)
    path = url(name, route.own(world, team))
    data = form_data(route, world, team)
    assert client.post(path, data).status_code == 403
    # The same POST with the token goes through: the 403 was the missing token.
    client.get(reverse("findings:overview"))  # sets the CSRF cookie
    token = client.cookies["csrftoken"].value
    response = client.post(path, {**data, "csrfmiddlewaretoken": token})
    assert response.status_code == 302


def test_login_post_needs_a_csrf_token(world):
    client = Client(enforce_csrf_checks=True)
    response = client.post(reverse("login"), {"username": "alice", "password": "x"})
    assert response.status_code == 403


# -- Admin ---------------------------------------------------------------------------


ADMIN_PAGES = ["admin:index"] + sorted(
    f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist"
    for model in admin.site._registry
)


@pytest.mark.parametrize("name", ADMIN_PAGES)
def test_admin_is_for_staff_only(client, world, name):
    path = reverse(name)
    to_admin_login = redirect_to_login(path, reverse("admin:login"))["Location"]
    response = client.get(path)
    assert response.status_code == 302
    # The site's login (LoginRequiredMiddleware) or the admin's own.
    assert response["Location"] in {to_admin_login, redirect_to_login(path).url}
    for persona in ("alice", "carol", "bob"):
        response = signed_in(world, persona).get(path)
        assert response.status_code == 302, persona
        assert response["Location"] == to_admin_login, persona
    # Staff without model permissions see the index, not the data.
    response = signed_in(world, "root").get(path)
    assert response.status_code == (200 if name == "admin:index" else 403)
    superuser = make_user("superuser", staff=True)
    superuser.is_superuser = True
    superuser.save()
    superuser_client = Client()
    superuser_client.force_login(superuser)
    assert superuser_client.get(path).status_code == 200
