"""Blinding: a technician of a blinded study finds no group code or name, nor an agent that
would tell the groups apart, in any page, API response or export they can reach.

The crawl takes every URL of the permission matrix (which in turn must name every URL the
resolver knows), with the blinded study's objects, as the technician; then a few more
addresses that show other data (the hot plate, a day with doses due, every option of the
dashboard). Every response body is scanned, errors and refusals included.

Coded labels must not follow the design order either: "A" for the control group would give
the allocation away, so labels not given explicitly are a random permutation.
"""

from __future__ import annotations

import datetime as dt
import json
import random
import re

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from studies import services
from studies.interchange import study_import
from studies.models import Study, TreatmentGroup
from tests.factories import make_study
from tests.security import scenario
from tests.security.test_permission_matrix import MATRIX, all_url_names

pytestmark = pytest.mark.django_db


@pytest.fixture
def blinded(alice, bob, carol, dave):
    """A blinded study whose day 7 is today: doses of every group are due."""
    study = make_study(
        slug="rat-blind",
        blinded=True,
        day0=timezone.localdate() - dt.timedelta(days=7),
        members={alice: "pi", bob: "technician", carol: "technician", dave: "viewer"},
    )
    return scenario.build(study, pi=alice, first=bob, second=carol)


def _pattern(secret: str) -> re.Pattern:
    # Not inside a longer word or token: "VEH" inside a random CSRF token is not a leak.
    return re.compile(rf"(?<![A-Za-z0-9]){re.escape(secret)}(?![A-Za-z0-9])")


def _leaks(text: str, secrets: list[str]) -> list[str]:
    found = []
    for secret in secrets:
        match = _pattern(secret).search(text)
        if match:
            start = max(0, match.start() - 80)
            found.append(f"{secret!r} in …{text[start : match.end() + 80]}…")
    return found


def _requests(scn: scenario.Scenario) -> list[tuple[str, str, dict | None, bool]]:
    """(method, url, data, json) for every matrix row and the extra addresses."""
    calls = []
    for row in MATRIX:
        if row.method == "post" and not row.study_scoped and row.name != "logout":
            # Creating a study makes the technician its PI: that study is not blinded to them.
            continue
        if row.kwargs is not None:
            kwargs = row.kwargs(scn)
        else:
            kwargs = {"slug": scn.study.slug} if row.study_scoped else {}
        url = reverse(row.name, kwargs=kwargs) + (f"?{row.query}" if row.query else "")
        calls.append((row.method, url, row.data(scn) if row.method == "post" else None, row.json))
    slug = scn.study.slug
    today = timezone.localdate().isoformat()
    extra_gets = [
        reverse("behavior:session_entry", args=[slug, -1, "hot_plate"]),
        reverse("behavior:session_progress", args=[slug, -1, "hot_plate"]),
        reverse("behavior:discrepancies", args=[slug]) + "?show=all",
        reverse("studies:reading_history", args=[slug, scn.resolved_discrepancy.reading_id]),
        reverse("studies:today") + "?focus=weight",
        reverse("api-calendar", args=[slug]) + f"?date={today}",
        reverse("api-session", args=[slug, scn.hot_plate.pk]),
        reverse("api-session-readings", args=[slug, scn.hot_plate.pk]),
        reverse("api-discrepancies", args=[slug]) + "?status=resolved",
        reverse("api-study-stats", args=[slug]) + "?assay=hot_plate&test=welch",
    ]
    for query in (
        "assay=hot_plate",
        "assay=von_frey&outcome=percent_baseline&footpads=left",
        "assay=von_frey&test=welch&correction=holm&include_unverified=on",
    ):
        extra_gets.append(reverse("behavior:dashboard", args=[slug]) + f"?{query}")
        extra_gets.append(reverse("behavior:dashboard_csv", args=[slug]) + f"?{query}")
        extra_gets.append(reverse("behavior:dashboard_part", args=[slug, "models"]) + f"?{query}")
        extra_gets.append(reverse("behavior:dashboard_part", args=[slug, "curves"]) + f"?{query}")
    for kind in ("json", "csv", "xlsx", "pzfx"):
        extra_gets.append(reverse("studies:export", args=[slug, kind]))
    calls += [("get", url, None, False) for url in extra_gets]
    # Logging out ends the crawl: everything after it would only answer "log in".
    return sorted(calls, key=lambda call: call[1] == reverse("logout"))


def _crawl(client: Client, scn: scenario.Scenario) -> tuple[dict[str, int], list[str]]:
    statuses, leaks = {}, []
    for method, url, data, as_json in _requests(scn):
        if method == "get":
            response = client.get(url, follow=True)
        elif as_json:
            response = client.post(url, json.dumps(data), content_type="application/json")
        else:
            response = client.post(url, data, follow=True)
        statuses[f"{method.upper()} {url}"] = response.status_code
        body = b"".join(response) if response.streaming else response.content
        text = body.decode("utf-8", errors="replace")
        leaks += [f"{method.upper()} {url}: {leak}" for leak in _leaks(text, scn.secrets)]
    return statuses, leaks


def test_the_crawl_reaches_every_url_the_application_has():
    crawled = {row.name for row in MATRIX}
    assert all_url_names() <= crawled


def test_a_technician_of_a_blinded_study_finds_no_group_or_agent_anywhere(client, bob, blinded):
    client.force_login(bob)

    statuses, leaks = _crawl(client, blinded)

    assert not leaks, "\n".join(leaks)
    # The crawl read real pages, not only refusals: the study's pages and data opened.
    reached = [what for what, status in statuses.items() if status == 200]
    assert len(reached) > 40, statuses
    assert f"GET {reverse('behavior:dashboard', args=[blinded.study.slug])}" in reached


def test_the_scan_finds_the_groups_and_agents_where_the_pi_sees_them(client, alice, blinded):
    """The crawl's scan is not blind itself: the PI's pages name every group and agent."""
    client.force_login(alice)

    _statuses, leaks = _crawl(client, blinded)

    found = {leak.split(": ", 1)[1].split(" in ")[0].strip("'") for leak in leaks}
    assert found == set(blinded.secrets)


def test_the_technician_sees_the_coded_labels_instead(client, bob, blinded):
    client.force_login(bob)
    html = client.get(reverse("studies:detail", args=[blinded.study.slug])).content.decode()

    for label in blinded.study.groups.values_list("blind_label", flat=True):
        assert _pattern(label).search(html), label


# --- coded labels -----------------------------------------------------------------------------


def _design(n_groups: int, **extra) -> dict:
    return {
        "format": "cipn-study/1",
        "slug": extra.pop("slug", "coded"),
        "title": "Coded labels",
        "species": "rat",
        "blinded": True,
        "assays": {"hot_plate": {"cutoff_s": 30}},
        "groups": [{"code": f"G{i}", "name": f"Group {i}"} for i in range(n_groups)],
        **extra,
    }


def test_imported_groups_get_coded_labels_in_a_random_order_not_the_design_order():
    orders = set()
    for attempt in range(12):
        study, _ = study_import(data=_design(4, slug=f"coded-{attempt}"))
        labels = list(study.groups.order_by("order").values_list("blind_label", flat=True))
        assert sorted(labels) == ["A", "B", "C", "D"]
        orders.add(tuple(labels))
    # Twelve imports in the design order would give one order; at random, 24 are possible.
    assert len(orders) > 1
    assert orders != {("A", "B", "C", "D")}


def test_an_import_with_a_seed_gives_the_same_coded_labels_again(monkeypatch):
    from studies import interchange

    monkeypatch.setattr(interchange, "label_seed", lambda: 20260112)
    first, _ = study_import(data=_design(5, slug="seeded-1"))
    second, _ = study_import(data=_design(5, slug="seeded-2"))

    def labels(study):
        return list(study.groups.order_by("order").values_list("blind_label", flat=True))

    assert labels(first) == labels(second)
    expected = ["A", "B", "C", "D", "E"]
    random.Random(20260112).shuffle(expected)
    assert labels(first) == expected


def test_an_import_keeps_explicit_coded_labels_as_given():
    data = _design(3)
    for group, label in zip(data["groups"], ["Q", "R", "S"], strict=True):
        group["blind_label"] = label

    study, _ = study_import(data=data)

    assert list(study.groups.order_by("order").values_list("blind_label", flat=True)) == [
        "Q",
        "R",
        "S",
    ]


def test_groups_added_one_by_one_get_coded_labels_in_a_random_order(alice):
    orders = set()
    for attempt in range(12):
        study = Study.objects.create(slug=f"one-by-one-{attempt}", title="t", species="rat")
        for i in range(3):
            services.group_add(study=study, code=f"G{i}", name=f"Group {i}", user=alice)
        labels = tuple(study.groups.order_by("order").values_list("blind_label", flat=True))
        assert len(set(labels)) == 3
        orders.add(labels)
    assert len(orders) > 1


def test_group_add_keeps_an_explicit_coded_label(alice, study):
    group = services.group_add(
        study=study, code="CLO", name="Clodronate", user=alice, blind_label="Z"
    )
    assert TreatmentGroup.objects.get(pk=group.pk).blind_label == "Z"
