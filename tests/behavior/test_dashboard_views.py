"""The dashboard, its CSV, the overview, the stats API and plotly.js served by the application."""

from __future__ import annotations

import csv
import io
import json
import re
import urllib.request

import pytest
from django.contrib.staticfiles import finders
from django.core.cache import caches
from django.urls import reverse
from rest_framework.test import APIClient

from behavior.services import entries_save
from studies.services import animal_set_status
from tests.behavior.dashboard_data import add_von_frey, populated_study, session_for, sleep_study

pytestmark = pytest.mark.django_db


def dashboard_url(slug: str, **query) -> str:
    url = reverse("behavior:dashboard", kwargs={"slug": slug})
    if query:
        url += "?" + "&".join(f"{k}={v}" for k, v in query.items())
    return url


def login(client, user):
    client.force_login(user)
    return client


def figure_of(html: str, element_id: str) -> dict:
    match = re.search(rf'<script type="application/json" id="{element_id}">(.*?)</script>', html)
    assert match, f"no figure {element_id}"
    return json.loads(match.group(1))


# --- access ------------------------------------------------------------------------------


def test_it_shows_the_dashboard_to_the_pi(client, alice, study):
    add_von_frey(study, day=21, values={"R01": 15.0, "R02": 15.5, "R04": 8.0, "R05": 8.5})
    response = login(client, alice).get(dashboard_url(study.slug))
    assert response.status_code == 200
    html = response.content.decode()
    assert "Paw withdrawal threshold (g)" in html
    assert "uncorrected (as in the paper)" in html
    assert "/static/vendor/plotly.min.js" in html


@pytest.mark.parametrize("who", ["dave", "bob", "root"])
def test_viewers_technicians_and_staff_may_read_it(client, study, who, request):
    user = request.getfixturevalue(who)
    assert login(client, user).get(dashboard_url(study.slug)).status_code == 200


def test_it_hides_the_study_from_an_outsider(client, eve, study):
    assert login(client, eve).get(dashboard_url(study.slug)).status_code == 404


def test_it_sends_an_anonymous_visitor_to_the_login(client, study):
    response = client.get(dashboard_url(study.slug))
    assert response.status_code == 302
    assert response.url.startswith(reverse("login"))


def test_a_blinded_technician_sees_coded_labels_only(client, bob, blinded_study):
    add_von_frey(blinded_study, day=21, values={"R01": 15.0, "R02": 15.5, "R04": 8.0, "R05": 8.5})
    html = login(client, bob).get(dashboard_url(blinded_study.slug)).content.decode()
    assert "coded labels" in html
    for code in ("VEH", "PTX-SAL", "PTX-IVIG", "PTX + SAL"):
        assert code not in html
    assert "/dashboard/curves/" not in html  # no per-animal curves
    figure = figure_of(html, "fig-von_frey")
    assert {trace["name"].split(" (")[0] for trace in figure["data"]} == {"Group A", "Group B"}


def test_the_pi_of_a_blinded_study_sees_the_groups(client, alice, blinded_study):
    add_von_frey(blinded_study, day=21, values={"R01": 15.0, "R02": 15.5, "R04": 8.0, "R05": 8.5})
    html = login(client, alice).get(dashboard_url(blinded_study.slug)).content.decode()
    assert "PTX-SAL" in html
    assert "/dashboard/curves/?assay=von_frey" in html


# --- content ------------------------------------------------------------------------------


def test_the_table_names_the_test_and_shows_r_values(client, alice):
    sleep_study(slug="sleep", members={alice: "pi"})
    html = login(client, alice).get(dashboard_url("sleep")).content.decode()
    # R: t.test(extra ~ group, data = sleep, var.equal = TRUE) -> t = -1.8608, df = 18, p = 0.07919
    assert "Student&#x27;s two-sided t-test" in html or "Student's two-sided t-test" in html
    assert "-1.861" in html
    assert "0.0792" in html
    welch = login(client, alice).get(dashboard_url("sleep", test="welch")).content.decode()
    # R: t.test(extra ~ group, data = sleep) -> df = 17.776
    assert "17.78" in welch


def test_holm_correction_is_named_on_the_page(client, alice, study):
    add_von_frey(study, day=21, values={"R01": 15.0, "R02": 15.5, "R04": 8.0, "R05": 8.5})
    html = login(client, alice).get(dashboard_url(study.slug, correction="holm")).content.decode()
    assert "Holm-corrected" in html
    assert "P (Holm)" in html


def test_unverified_values_are_marked_plainly_when_included(client, alice, study):
    add_von_frey(study, day=21, values={"R01": 15.0}, state="unverified")
    plain = login(client, alice).get(dashboard_url(study.slug)).content.decode()
    assert "Values not yet verified are included" not in plain
    html = client.get(dashboard_url(study.slug, include_unverified="on")).content.decode()
    assert "Values not yet verified are included" in html


def test_a_bad_option_is_refused_with_its_name(client, alice, study):
    response = login(client, alice).get(dashboard_url(study.slug, test="mann"))
    assert response.status_code == 400
    assert "mann is not a test option" in response.content.decode()


def test_the_partial_carries_only_the_results(client, alice, study):
    add_von_frey(study, day=21, values={"R01": 15.0})
    html = login(client, alice).get(dashboard_url(study.slug, partial=1)).content.decode()
    assert "<html" not in html
    assert 'id="fig-von_frey"' in html
    assert "No hot plate (heat hyperalgesia) readings yet." in html


def test_the_figure_has_sem_error_bars_and_n_in_the_legend(client, alice, study):
    add_von_frey(study, day=21, values={"R01": 15.0, "R02": 16.0, "R03": 17.0})
    html = login(client, alice).get(dashboard_url(study.slug)).content.decode()
    trace = figure_of(html, "fig-von_frey")["data"][0]
    assert trace["name"] == "VEH (n = 3)"
    # SD of 15, 16, 17 is 1; SEM = 1 / sqrt(3)
    assert trace["error_y"]["array"] == pytest.approx([1 / 3**0.5])


def test_the_dashboard_shows_open_discrepancies_with_a_link(client, alice, study):
    add_von_frey(study, day=21, values={"R01": 15.0}, states={("R01", "left"): "disputed"})
    html = login(client, alice).get(dashboard_url(study.slug)).content.decode()
    assert "1 open discrepancy" in html
    assert reverse("behavior:discrepancies", kwargs={"slug": study.slug}) in html


def test_the_dashboard_shows_weights_doses_and_completeness(client, alice):
    study = populated_study(animals_per_group=2, slug="full", members={alice: "pi"})
    html = login(client, alice).get(dashboard_url(study.slug)).content.decode()
    assert 'id="fig-weights"' in html
    assert "PTX-SAL: paclitaxel 1 mg/kg ip" in html
    assert "Data completeness" in html
    assert "/dashboard/models/?assay=von_frey" in html


# --- the parts fetched when their section is opened ------------------------------------


def part_url(slug: str, part: str, **query) -> str:
    url = reverse("behavior:dashboard_part", kwargs={"slug": slug, "part": part})
    return url + "?" + "&".join(f"{k}={v}" for k, v in query.items())


def test_the_curves_part_draws_one_line_per_animal(client, alice):
    study = populated_study(animals_per_group=2, slug="full", members={alice: "pi"})
    html = (
        login(client, alice)
        .get(part_url(study.slug, "curves", assay="von_frey", partial=1))
        .content.decode()
    )
    assert "<html" not in html
    figure = figure_of(html, "fig-animals-von_frey")
    # Six animals, each with a value at the three timepoints.
    assert sorted(trace["text"][0] for trace in figure["data"]) == sorted(
        study.animals.values_list("code", flat=True)
    )
    assert all(trace["x"] == [-1, 21, 28] for trace in figure["data"])


def test_the_models_part_shows_the_mixed_model_and_the_anova(client, alice):
    study = populated_study(animals_per_group=3, slug="full", members={alice: "pi"})
    response = login(client, alice).get(part_url(study.slug, "models", assay="von_frey"))
    assert response.status_code == 200
    html = response.content.decode()
    assert "<html" in html  # without partial=1: a page of its own, for a browser without JS
    assert "Linear mixed model" in html
    assert "Repeated-measures ANOVA" in html
    assert 'data-mixed="von_frey"' in html or "Not available:" in html


def test_a_blinded_technician_gets_coded_models_and_no_curves(client, bob, blinded_study):
    add_von_frey(blinded_study, day=21, values={"R01": 15.0, "R02": 15.5, "R04": 8.0, "R05": 8.5})
    add_von_frey(blinded_study, day=-1, values={"R01": 15.0, "R02": 15.5, "R04": 15.0, "R05": 16})
    login(client, bob)
    curves = client.get(part_url(blinded_study.slug, "curves", assay="von_frey"))
    assert curves.status_code == 403
    models = client.get(part_url(blinded_study.slug, "models", assay="von_frey", partial=1))
    assert models.status_code == 200
    html = models.content.decode()
    for code in ("VEH", "PTX-SAL", "PTX-IVIG", "PTX + SAL"):
        assert code not in html


def test_a_part_is_refused_to_an_outsider_and_needs_an_assay(client, alice, eve, study):
    assert login(client, eve).get(part_url(study.slug, "models", assay="von_frey")).status_code == (
        404
    )
    login(client, alice)
    missing = client.get(part_url(study.slug, "models"))
    assert missing.status_code == 400
    assert "assay: Name the assay" in missing.content.decode()
    assert client.get(part_url(study.slug, "heatmap", assay="von_frey")).status_code == 404


@pytest.mark.parametrize("part", ["curves", "models"])
def test_a_part_takes_a_fixed_number_of_queries(client, alice, part, django_assert_num_queries):
    small = populated_study(animals_per_group=2, slug="small", members={alice: "pi"})
    large = populated_study(animals_per_group=12, slug="large", members={alice: "pi"})
    login(client, alice)
    client.get(part_url(small.slug, part, assay="von_frey", partial=1))
    # session, user, study with the membership; assays, groups, timepoints, comparisons; sessions,
    # animals, footpad summaries (the session's expiry was moved by the first request)
    for study in (small, large):
        with django_assert_num_queries(10):
            response = client.get(part_url(study.slug, part, assay="von_frey", partial=1))
        assert response.status_code == 200


# --- query counts ------------------------------------------------------------------------


def test_the_dashboard_takes_a_fixed_number_of_queries(client, alice, django_assert_num_queries):
    small = populated_study(animals_per_group=2, slug="small", members={alice: "pi"})
    large = populated_study(animals_per_group=12, slug="large", members={alice: "pi"})
    login(client, alice)
    client.get(dashboard_url(small.slug))  # the session's expiry moved: not part of the page
    caches["statistics"].clear()
    for study in (small, large):
        # session, user, study with the membership; assays, groups, timepoints, comparisons;
        # animals, sessions, footpad summaries; body weights; schedules with their doses
        with django_assert_num_queries(12):
            assert client.get(dashboard_url(study.slug)).status_code == 200
        # Again: the statistics were computed from the same summaries, so they are not read.
        with django_assert_num_queries(11):
            assert client.get(dashboard_url(study.slug)).status_code == 200


def test_the_overview_takes_a_fixed_number_of_queries(client, alice, django_assert_num_queries):
    populated_study(animals_per_group=2, slug="small", members={alice: "pi"})
    login(client, alice)
    client.get(reverse("behavior:overview"))
    # session, user; studies with counts; assay settings; latest entries
    with django_assert_num_queries(5):
        assert client.get(reverse("behavior:overview")).status_code == 200
    populated_study(animals_per_group=10, slug="large", members={alice: "pi"})
    with django_assert_num_queries(5):
        response = client.get(reverse("behavior:overview"))
    assert [s.slug for s in response.context["studies"]] == ["large", "small"]


def test_the_stats_api_takes_a_fixed_number_of_queries(alice, django_assert_num_queries):
    small = populated_study(animals_per_group=2, slug="small", members={alice: "pi"})
    large = populated_study(animals_per_group=12, slug="large", members={alice: "pi"})
    api = APIClient()
    api.force_authenticate(alice)
    # study with the membership, assays; then the document's seven
    for study in (small, large):
        with django_assert_num_queries(9):
            response = api.get(f"/api/studies/{study.slug}/stats/", {"assay": "von_frey"})
        assert response.status_code == 200


# --- computed once, until something it was computed from changes --------------------------


def summary_row(response, assay: str, group: str, day: int) -> dict:
    section = next(s for s in response.context["sections"] if s["assay"] == assay)
    return next(r for r in section["summary"] if r["group"] == group and r["day"] == day)


def test_a_value_saved_after_a_visit_is_in_the_next_one(client, alice, bob, carol, study):
    add_von_frey(study, day=21, values={"R01": 15.0, "R02": 15.5, "R04": 8.0, "R05": 8.5})
    login(client, alice)
    assert summary_row(client.get(dashboard_url(study.slug)), "von_frey", "VEH", 21)["n"] == 2
    session = session_for(study, day=21, assay="von_frey")
    r03 = study.animals.get(code="R03")
    values = [
        {"footpad": footpad, "application": n, "value": 20.0}
        for footpad in ("left", "right")
        for n in range(1, 11)
    ]
    entries_save(session=session, animal=r03, experimenter="bob", user=bob, values=values)
    # One experimenter's values do not count yet: the numbers stay, whether cached or not.
    row = summary_row(client.get(dashboard_url(study.slug)), "von_frey", "VEH", 21)
    assert (row["n"], row["mean"]) == (2, 15.25)
    entries_save(session=session, animal=r03, experimenter="carol", user=carol, values=values)
    row = summary_row(client.get(dashboard_url(study.slug)), "von_frey", "VEH", 21)
    assert (row["n"], row["mean"]) == (3, pytest.approx((15.0 + 15.5 + 20.0) / 3))


def test_an_animal_excluded_after_a_visit_is_left_out_of_the_next_one(client, alice, study):
    add_von_frey(study, day=21, values={"R01": 15.0, "R02": 15.5, "R04": 8.0, "R05": 8.5})
    login(client, alice)
    assert summary_row(client.get(dashboard_url(study.slug)), "von_frey", "VEH", 21)["n"] == 2
    animal_set_status(
        animal=study.animals.get(code="R01"), status="excluded", reason="ulcer", user=alice
    )
    response = client.get(dashboard_url(study.slug))
    assert summary_row(response, "von_frey", "VEH", 21)["n"] == 1
    assert "R01, day 21, left paw: animal excluded from the study" in response.content.decode()


def test_a_group_renamed_after_a_visit_is_named_so_in_the_next_one(client, alice, study):
    add_von_frey(study, day=21, values={"R01": 15.0, "R02": 15.5, "R04": 8.0, "R05": 8.5})
    login(client, alice)
    client.get(dashboard_url(study.slug))
    study.groups.filter(code="VEH").update(name="Vehicle (saline 1 ml/kg)")
    response = client.get(dashboard_url(study.slug))
    assert summary_row(response, "von_frey", "VEH", 21)["name"] == "Vehicle (saline 1 ml/kg)"
    figure = figure_of(response.content.decode(), "fig-von_frey")
    assert any(t["name"].startswith("Vehicle (saline 1 ml/kg)") for t in figure["data"])


def test_the_pis_visit_does_not_show_a_blinded_technician_the_groups(
    client, alice, bob, blinded_study
):
    add_von_frey(blinded_study, day=21, values={"R01": 15.0, "R02": 15.5, "R04": 8.0, "R05": 8.5})
    pi_html = login(client, alice).get(dashboard_url(blinded_study.slug)).content.decode()
    assert "PTX-SAL" in pi_html
    html = login(client, bob).get(dashboard_url(blinded_study.slug)).content.decode()
    for code in ("VEH", "PTX-SAL", "PTX-IVIG"):
        assert code not in html
    assert "/dashboard/curves/" not in html
    # And the other way round: the technician's coded page is not the PI's.
    assert "PTX-SAL" in login(client, alice).get(dashboard_url(blinded_study.slug)).content.decode()


def test_other_options_are_computed_apart(client, alice, study):
    add_von_frey(study, day=21, values={"R01": 15.0, "R02": 15.5, "R04": 8.0, "R05": 8.5})
    login(client, alice)
    plain = client.get(dashboard_url(study.slug))
    left = client.get(dashboard_url(study.slug, footpads="left", correction="holm"))
    assert "P (Holm)" not in plain.content.decode()
    assert "P (Holm)" in left.content.decode()
    # Footpad means alternate value - 0.5 and value + 0.5: the left paw alone gives the same
    # means; the option still shows in every link of the section.
    section = next(s for s in left.context["sections"] if s["assay"] == "von_frey")
    assert "footpads=left" in section["csv_url"]
    assert "footpads=left" not in plain.context["sections"][0]["csv_url"]


# --- overview -----------------------------------------------------------------------------


def test_the_overview_lists_only_the_users_studies(client, alice, eve):
    populated_study(animals_per_group=2, slug="mine", members={alice: "pi"})
    populated_study(animals_per_group=2, slug="theirs", members={eve: "pi"})
    response = login(client, alice).get(reverse("behavior:overview"))
    rows = response.context["studies"]
    assert [row.slug for row in rows] == ["mine"]
    mine = rows[0]
    # 6 animals x 3 timepoints x (20 von Frey + 1 hot plate) slots
    assert mine.expected == 6 * 3 * 21
    # one disputed and one unverified von Frey slot per timepoint
    assert (mine.disputed, mine.unverified) == (3, 3)
    assert mine.counted == mine.expected - 6


def test_the_overview_shows_no_entered_values(client, alice):
    populated_study(animals_per_group=2, slug="mine", members={alice: "pi"})
    html = login(client, alice).get(reverse("behavior:overview")).content.decode()
    assert "Latest entries" in html or "No entries yet" in html
    assert "15.5" not in html


# --- CSV ----------------------------------------------------------------------------------


def test_the_csv_holds_the_plotted_numbers(client, alice, study):
    add_von_frey(study, day=21, values={"R01": 15.0, "R02": 16.0, "R03": 17.0})
    add_von_frey(study, day=21, values={"R04": 8.0, "R05": 9.0, "R06": 10.0})
    url = reverse("behavior:dashboard_csv", kwargs={"slug": study.slug})
    response = login(client, alice).get(url, {"assay": "von_frey"})
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    ptx = next(r for r in rows if r["group"] == "PTX-SAL")
    assert (ptx["n"], float(ptx["mean"]), ptx["compared_with"]) == ("3", 9.0, "VEH")
    assert ptx["marker"] == "##"


def test_the_csv_of_a_blinded_technician_is_coded(client, bob, blinded_study):
    add_von_frey(blinded_study, day=21, values={"R01": 15.0, "R04": 8.0})
    url = reverse("behavior:dashboard_csv", kwargs={"slug": blinded_study.slug})
    text = login(client, bob).get(url, {"assay": "von_frey"}).content.decode()
    assert "VEH" not in text and "PTX" not in text


def test_the_csv_needs_an_assay(client, alice, study):
    url = reverse("behavior:dashboard_csv", kwargs={"slug": study.slug})
    response = login(client, alice).get(url)
    assert response.status_code == 400
    assert "assay" in response.content.decode()


def test_the_csv_is_refused_to_an_outsider(client, eve, study):
    url = reverse("behavior:dashboard_csv", kwargs={"slug": study.slug})
    assert login(client, eve).get(url, {"assay": "von_frey"}).status_code == 404


# --- stats API ----------------------------------------------------------------------------


def api_for(user) -> APIClient:
    api = APIClient()
    api.force_authenticate(user)
    return api


def test_the_api_returns_the_document_to_members(alice, dave, study):
    add_von_frey(study, day=21, values={"R01": 15.0, "R02": 16.0})
    for user in (alice, dave):
        response = api_for(user).get(f"/api/studies/{study.slug}/stats/", {"assay": "von_frey"})
        assert response.status_code == 200
        assert response.json()["study"] == study.slug


def test_the_api_hides_the_study_from_an_outsider(eve, study):
    response = api_for(eve).get(f"/api/studies/{study.slug}/stats/", {"assay": "von_frey"})
    assert response.status_code == 404


def test_the_api_refuses_an_anonymous_caller(study):
    response = APIClient().get(f"/api/studies/{study.slug}/stats/", {"assay": "von_frey"})
    assert response.status_code in (401, 403)


def test_the_api_names_a_bad_assay(alice, study):
    response = api_for(alice).get(f"/api/studies/{study.slug}/stats/", {"assay": "tail_flick"})
    assert response.status_code == 400
    body = response.json()
    assert body["extra"]["fields"]["assay"] == [
        "tail_flick is not an assay of this study; it has hot_plate, von_frey."
    ]
    assert body["message"].startswith("assay: ")


def test_the_api_names_a_missing_assay_and_a_bad_test(alice, study):
    response = api_for(alice).get(f"/api/studies/{study.slug}/stats/", {"test": "mann"})
    assert response.status_code == 400
    fields = response.json()["extra"]["fields"]
    assert set(fields) == {"assay", "test"}


def test_the_api_gives_a_blinded_technician_coded_labels(bob, blinded_study):
    add_von_frey(blinded_study, day=21, values={"R01": 15.0, "R04": 8.0, "R05": 8.2})
    response = api_for(bob).get(f"/api/studies/{blinded_study.slug}/stats/", {"assay": "von_frey"})
    assert response.status_code == 200
    text = response.content.decode()
    assert "VEH" not in text and "PTX" not in text
    assert {s["group"] for s in response.json()["summary"]} == {"A", "B"}


# --- plotly.js ------------------------------------------------------------------------------


def test_the_finder_locates_plotly_in_the_installed_package():
    found = finders.find("vendor/plotly.min.js")
    assert found and found.endswith("plotly/package_data/plotly.min.js")
    listed = [
        path
        for finder in finders.get_finders()
        for path, storage in finder.list([])
        if getattr(storage, "prefix", None) == "vendor"
    ]
    assert listed == ["plotly.min.js"]


def test_plotly_is_served_by_the_application(live_server):
    with urllib.request.urlopen(f"{live_server.url}/static/vendor/plotly.min.js") as response:
        assert response.status == 200
        head = response.read(4096).decode("utf-8", "replace")
    assert "plotly.js" in head
