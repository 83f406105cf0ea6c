"""``python manage.py study_stats`` prints the same document as the stats API."""

from __future__ import annotations

import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from rest_framework.test import APIClient

from tests.behavior.dashboard_data import sleep_study

pytestmark = pytest.mark.django_db


def run(*args) -> dict:
    out = StringIO()
    call_command("study_stats", *args, stdout=out)
    return json.loads(out.getvalue())


def test_it_prints_the_document_with_r_values(alice):
    study = sleep_study(slug="sleep", members={alice: "pi"})
    document = run("sleep", "--assay", "von_frey")
    row = next(c for c in document["comparisons"] if c["day"] == 21)
    # R: t.test(extra ~ group, data = sleep, var.equal = TRUE) -> t = -1.8608, df = 18
    assert row["statistic"] == pytest.approx(-1.8608, abs=5e-5)
    assert row["df"] == 18
    assert document["study"] == study.slug


def test_the_command_and_the_api_give_the_same_document(alice):
    sleep_study(slug="sleep", members={alice: "pi"})
    client = APIClient()
    client.force_authenticate(alice)
    for test in ("student", "welch"):
        printed = run("sleep", "--assay", "von_frey", "--test", test)
        response = client.get("/api/studies/sleep/stats/", {"assay": "von_frey", "test": test})
        assert response.status_code == 200
        assert response.json() == printed


def test_it_takes_holm_and_percent_of_baseline(alice):
    sleep_study(slug="sleep", members={alice: "pi"})
    document = run(
        "sleep", "--assay", "von_frey", "--correction", "holm", "--outcome", "percent_baseline"
    )
    assert (document["correction"], document["outcome"], document["unit"]) == (
        "holm",
        "percent_baseline",
        "%",
    )


def test_an_unknown_slug_is_refused_by_name():
    with pytest.raises(CommandError, match="No study with slug 'nope'"):
        run("nope", "--assay", "von_frey")


def test_an_assay_the_study_lacks_is_refused_by_name(alice):
    sleep_study(slug="sleep", members={alice: "pi"}, hot_plate=False)
    with pytest.raises(CommandError, match="--assay: hot_plate is not an assay of this study"):
        run("sleep", "--assay", "hot_plate")


def test_an_unknown_test_is_refused_by_name(alice):
    sleep_study(slug="sleep", members={alice: "pi"})
    # A CommandError, not argparse's refusal: manage.py exits with its status 1, not 2.
    with pytest.raises(CommandError, match="--test: mann is not a test option") as refused:
        run("sleep", "--assay", "von_frey", "--test", "mann")
    assert refused.value.returncode == 1
