"""The product's URLs plus one bare authenticated page, the baseline of figure 5.

Used only by the benchmark (``override_settings(ROOT_URLCONF="bench.urls")``).
"""

from django.http import HttpRequest, HttpResponse
from django.template import engines
from django.urls import include, path

BARE_TEMPLATE = '{% extends "base.html" %}{% block content %}ok{% endblock %}'


def bare(request: HttpRequest) -> HttpResponse:
    """Session, login and the base layout, and nothing else."""
    template = engines["django"].from_string(BARE_TEMPLATE)
    return HttpResponse(template.render({}, request))


urlpatterns = [
    path("bench/bare/", bare, name="bench_bare"),
    path("", include("config.urls")),
]
