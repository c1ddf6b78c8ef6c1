"""The findings lists' rows are rendered in Python (``views._finding_rows``,
``explorer.rows_html``): the same HTML as the template loops they replaced
(but for whitespace between tags), every value from AWS escaped."""

import re
from types import SimpleNamespace

import pytest
from django.contrib.auth.models import AnonymousUser
from django.template import Context, Template
from django.urls import reverse
from django.utils import timezone

from findings import explorer, views
from findings.models import Finding
from findings.suppressions import covered
from findings.tests.factories import (
    CTL_S3,
    build_world,
    make_account,
    make_exception,
    make_finding,
    make_resource,
    make_team_admin,
)

pytestmark = pytest.mark.django_db

HOSTILE = "<script>alert('x')</script> & \"q\""

# The loop of templates/findings/_findings.html before it moved to Python.
FINDINGS_LOOP = """{% load parapet exceptions %}{% for finding in page.object_list %}
      <tr>
        <td><span class="badge badge-{{ finding.status|status_class }}">{{ finding.status|status_label }}</span></td>
        {% if not from_control %}
        <td>
          <a href="{% row_url 'findings:control' finding.control_id %}">{% if finding.control %}{{ finding.control.title }}{% else %}{{ finding.control_id }}{% endif %}</a>
          <div class="mono small muted">{{ finding.control_id }}</div>
        </td>
        {% endif %}
        <td>
          <a href="{% row_url 'findings:resource' finding.resource_id %}{% if from_control %}?control={{ from_control|urlencode }}{% endif %}">{{ finding.resource }}</a>
          <div class="small muted">{{ finding.resource.resource_type }} · {{ finding.resource.region }}</div>
        </td>
        {% if from_control %}
        <td><a href="{% row_url 'findings:account' finding.account_id %}?control={{ from_control|urlencode }}">{{ finding.account.name|default:finding.account.account_id }}</a>
          <div class="mono small muted">{{ finding.account.account_id }}</div></td>
        {% endif %}
        <td class="reason">{{ finding.reason }}
          {% if finding.excepted_until %}<div class="finding-exception"><span class="badge badge-suppressed">Excepted until {{ finding.excepted_until|date:"M j, Y" }}</span></div>{% elif finding.status == "FAIL" or finding.status == "ERROR" %}{% if user|may_except:finding.account_id %}<div class="finding-exception"><a href="{% row_url 'findings:exception_new' %}?control={{ finding.control_id|urlencode }}&amp;resource={{ finding.resource_id }}">Add exception</a></div>{% endif %}{% endif %}</td>
        <td class="nowrap small" title="{{ finding.last_changed|utc }} UTC">{{ finding.last_changed|since }} ago</td>
      </tr>
      {% endfor %}"""  # noqa: E501

# The loop of templates/findings/_explorer_table.html before it moved to Python.
EXPLORER_LOOP = """{% load parapet %}{% for finding in page.object_list %}
        {% with control=finding.control %}
        <tr>
          <td class="nowrap">
            <span class="badge badge-{{ finding.status|status_class }}">{{ finding.status|status_label }}</span>
            {% if finding.excepted %}<span class="badge badge-info" title="An exception in force covers this finding">Excepted</span>{% endif %}
          </td>
          <td>{% if control %}<span class="sev sev-{{ control.severity }}">{{ control.severity }}</span>{% endif %}</td>
          <td>
            <a href="{% row_url 'findings:control' finding.control_id %}">{% if control %}{{ control.title }}{% else %}{{ finding.control_id }}{% endif %}</a>
            <div class="mono small muted">{{ finding.control_id }}</div>
          </td>
          <td>
            <a href="{% row_url 'findings:account' finding.account_id %}">{{ finding.account.name|default:finding.account.account_id }}</a>
            <div class="mono small muted">{{ finding.account.account_id }}</div>
          </td>
          <td class="nowrap small">{{ finding.resource.region }}</td>
          <td class="break">
            <a href="{% row_url 'findings:resource' finding.resource_id %}?control={{ finding.control_id|urlencode }}">{{ finding.resource }}</a>
            <div class="small muted">{{ finding.resource.resource_type }}</div>
          </td>
          <td class="reason">{{ finding.reason }}</td>
          <td class="nowrap small" title="{{ finding.last_changed|utc }} UTC">{{ finding.last_changed|since }} ago</td>
        </tr>
        {% endwith %}
        {% endfor %}"""  # noqa: E501


@pytest.fixture
def varied():
    """Rows of every kind: a hostile resource, reason and account name, an
    unnamed account, a control the catalog no longer has, an error, a pass
    and a failure under an exception."""
    w = build_world()
    w.unnamed = make_account(w.org, "")
    w.payments.teams.get().accounts.add(w.unnamed)
    w.payments.name = HOSTILE
    w.payments.save()
    hostile = make_resource(w.payments, name=HOSTILE, region="eu-<west>-1")
    make_finding(hostile, CTL_S3, "FAIL", reason=HOSTILE)
    make_finding(hostile, "retired.<control>", "ERROR")
    plain = make_resource(w.unnamed)
    make_finding(plain, CTL_S3, "PASS")
    make_finding(plain, "s3.bucket.no-public-acl", "ERROR")
    excepted = make_resource(w.unnamed, name="excepted-bucket")
    make_finding(excepted, CTL_S3, "FAIL")
    make_exception(
        actor=w.root,
        control_id=CTL_S3,
        scope="resource",
        resource=excepted,
        reason="Public website",
        approver="ciso@example.com",
    )
    w.admin = make_team_admin(w.payments.teams.get(), "payments-admin")
    return w


def _normal(html: str) -> str:
    """``html`` with whitespace runs as one space and none between tags."""
    return re.sub(r">\s+<", "><", re.sub(r"\s+", " ", str(html))).strip()


def _request(user):
    return SimpleNamespace(user=user)


@pytest.mark.parametrize("who", ["root", "admin", "alice", "anonymous"])
@pytest.mark.parametrize("from_control", ["", CTL_S3])
def test_findings_rows_are_the_templates(varied, who, from_control):
    user = AnonymousUser() if who == "anonymous" else getattr(varied, who)
    rows = list(views._with_badges(Finding.objects.order_by("pk")))
    assert any(r.excepted_until for r in rows)
    expected = Template(FINDINGS_LOOP).render(
        Context(
            {
                "page": SimpleNamespace(object_list=rows),
                "from_control": from_control,
                "user": user,
            }
        )
    )
    html = views._finding_rows(_request(user), rows, from_control)
    assert _normal(html) == _normal(expected)
    assert "<script>" not in html
    if who in ("root", "admin"):
        assert "Add exception" in html


def test_explorer_rows_are_the_templates(varied):
    rows = list(
        Finding.objects.order_by("pk")
        .annotate(excepted=covered(timezone.now()))
        .select_related("resource", "account")
    )
    assert any(r.excepted for r in rows)
    expected = Template(EXPLORER_LOOP).render(
        Context({"page": SimpleNamespace(object_list=rows)})
    )
    html = explorer.rows_html(rows)
    assert _normal(html) == _normal(expected)
    assert "<script>" not in html
    escaped = "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; &amp; &quot;q&quot;"
    assert escaped in html


def test_the_pages_show_the_rows_escaped(client, varied):
    client.force_login(varied.root)
    for url in (
        reverse("findings:control", args=[CTL_S3]),
        reverse("findings:account", args=[varied.payments.pk]),
        reverse("findings:explorer"),
    ):
        html = client.get(url).content.decode()
        assert "<script>alert" not in html
        assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in html
