"""The studies pages: what they show, what their forms do, and how they report bad input."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from studies import services
from studies.models import (
    Allocation,
    Animal,
    BodyWeight,
    ChangeRecord,
    Comparison,
    DoseRecord,
    DosingSchedule,
    Membership,
    Study,
    Timepoint,
    TreatmentGroup,
)
from tests.factories import add_schedule, make_study


@pytest.fixture
def as_alice(client, alice):
    client.force_login(alice)
    return client


@pytest.fixture
def as_bob(client, bob):
    client.force_login(bob)
    return client


def _messages(response) -> list[str]:
    return [str(m) for m in response.wsgi_request._messages]


# --- lists and the study page -----------------------------------------------------------------


def test_my_studies_lists_each_study_with_status_species_animals_and_role(as_bob, study):
    response = as_bob.get(reverse("studies:list"))
    html = response.content.decode()
    assert response.status_code == 200
    assert study.title in html and "Technician" in html and "Running" in html
    assert '<td class="num">9</td>' in html


def test_the_study_page_shows_groups_timepoints_comparisons_and_schedules(as_alice, study):
    add_schedule(study, "PTX-IVIG", "IVIg", stock_concentration=50)
    html = as_alice.get(reverse("studies:detail", args=[study.slug])).content.decode()
    for text in (
        "PTX-IVIG",
        "week 3",
        "IVIg 1 g/kg",
        "0, 7, 14, 21",
        "50 mg/mL",
        "<strong>#</strong>",
    ):
        assert text in html


def test_the_login_page_comes_first_for_an_anonymous_visitor(client, study):
    for url in (reverse("studies:today"), reverse("studies:detail", args=[study.slug])):
        response = client.get(url)
        assert response.status_code == 302 and response.url.startswith(reverse("login"))


# --- creating studies -------------------------------------------------------------------------


def test_a_study_created_from_scratch_has_its_creator_as_pi(as_alice, alice):
    response = as_alice.post(
        reverse("studies:new"),
        {
            "slug": "scratch",
            "title": "From scratch",
            "species": "mouse",
            "von_frey": "on",
            "vf_applications": 10,
            "vf_max_force": 26,
            "vf_double_entry": "on",
            "hp_temperature": 54.5,
            "hp_cutoff": 30,
        },
    )
    assert response.status_code == 302
    study = Study.objects.get(slug="scratch")
    assert response.url == reverse("studies:edit", args=["scratch"])
    assert list(study.assays.values_list("assay", flat=True)) == ["von_frey"]
    assert Membership.objects.get(study=study, user=alice).role == "pi"


def test_a_study_form_with_a_taken_slug_names_the_field(as_alice, study):
    response = as_alice.post(
        reverse("studies:new"),
        {
            "slug": study.slug,
            "title": "x",
            "species": "rat",
            "vf_applications": 10,
            "vf_max_force": 26,
            "hp_temperature": 54.5,
            "hp_cutoff": 30,
        },
    )
    assert response.status_code == 200
    assert "Slug: Study with this Slug already exists." in response.content.decode()


def test_the_new_study_page_offers_the_four_designs(as_alice):
    html = as_alice.get(reverse("studies:new")).content.decode()
    for key in (
        "fig1a-rat-paclitaxel",
        "fig1b-rat-doxorubicin",
        "fig2-mouse-paclitaxel",
        "fig3-rat-clodronate",
    ):
        assert reverse("studies:new_from_design", args=[key]) in html


def test_a_study_from_a_design_gets_the_papers_groups(as_alice, alice):
    response = as_alice.post(
        reverse("studies:new_from_design", args=["fig2-mouse-paclitaxel"]),
        {"slug": "mouse-1", "title": "", "day0": "2026-02-02"},
    )
    assert response.status_code == 302
    study = Study.objects.get(slug="mouse-1")
    assert study.species == "mouse" and study.day0 == dt.date(2026, 2, 2)
    assert study.groups.count() >= 3
    assert Membership.objects.get(study=study, user=alice).role == "pi"


def test_an_unknown_design_is_not_found(as_alice):
    assert as_alice.get(reverse("studies:new_from_design", args=["fig9"])).status_code == 404


# --- editing ----------------------------------------------------------------------------------


def _edit_data(study: Study, **changes) -> dict:
    data = {
        "title": study.title,
        "description": "",
        "strain": "",
        "sex": "",
        "supplier": "",
        "day0": "",
        "version": study.version,
    }
    data.update(changes)
    return data


def test_editing_the_study_saves_and_bumps_the_version(as_alice, study):
    response = as_alice.post(
        reverse("studies:edit", args=[study.slug]), _edit_data(study, title="New title")
    )
    assert response.status_code == 302
    study.refresh_from_db()
    assert (study.title, study.version) == ("New title", 2)


def test_editing_a_study_someone_else_changed_shows_the_conflict(as_alice, alice, study):
    stale = _edit_data(study, title="Mine")
    services.study_update(study=study, user=alice, expected_version=1, title="Theirs")
    response = as_alice.post(reverse("studies:edit", args=[study.slug]), stale)
    assert response.status_code == 400
    assert "was changed by someone else" in response.content.decode()
    assert Study.objects.get(pk=study.pk).title == "Theirs"


def test_the_design_forms_add_a_group_timepoint_comparison_and_schedule(as_alice, study):
    url = lambda item: reverse("studies:design_item_add", args=[study.slug, item])  # noqa: E731
    assert (
        as_alice.post(url("group"), {"group-code": "CLO", "group-name": "Clodronate"}).status_code
        == 302
    )
    assert (
        as_alice.post(
            url("timepoint"), {"timepoint-label": "week 4", "timepoint-day": 28}
        ).status_code
        == 302
    )
    ref, grp = study.groups.get(code="VEH"), study.groups.get(code="CLO")
    assert (
        as_alice.post(
            url("comparison"),
            {"comparison-reference": ref.pk, "comparison-group": grp.pk, "comparison-symbol": "$"},
        ).status_code
        == 302
    )
    response = as_alice.post(
        url("schedule"),
        {
            "schedule-group": grp.pk,
            "schedule-agent": "clodronate liposome",
            "schedule-dose": 5.6,
            "schedule-unit": "mg/body",
            "schedule-route": "iv",
            "schedule-days": "2, 5, 12, 19",
            "schedule-stock_concentration": 5,
        },
    )
    assert response.status_code == 302
    assert TreatmentGroup.objects.filter(study=study, code="CLO").exists()
    assert Timepoint.objects.filter(study=study, day=28).exists()
    assert Comparison.objects.filter(study=study, symbol="$").exists()
    assert DosingSchedule.objects.get(study=study).days == [2, 5, 12, 19]


def test_a_schedule_with_bad_days_names_the_field_and_adds_nothing(as_alice, study):
    response = as_alice.post(
        reverse("studies:design_item_add", args=[study.slug, "schedule"]),
        {
            "schedule-group": study.groups.first().pk,
            "schedule-agent": "IVIg",
            "schedule-dose": 1,
            "schedule-unit": "g/kg",
            "schedule-route": "iv",
            "schedule-days": "0, week 1",
        },
    )
    assert response.status_code == 400
    assert "Days: &#x27;week&#x27; is not a whole number of days." in response.content.decode()
    assert not DosingSchedule.objects.exists()


def test_a_duplicate_timepoint_day_is_refused_with_the_reason(as_alice, study):
    response = as_alice.post(
        reverse("studies:design_item_add", args=[study.slug, "timepoint"]),
        {"timepoint-label": "again", "timepoint-day": 21},
    )
    assert response.status_code == 400
    assert "The study already has a timepoint on that day." in response.content.decode()


def test_the_stock_concentration_form_saves_it(as_alice, study):
    schedule = add_schedule(study, "PTX-IVIG", "IVIg")
    as_alice.post(
        reverse("studies:schedule_stock", args=[study.slug, schedule.pk]),
        {f"stock{schedule.pk}-stock_concentration": "50"},
    )
    schedule.refresh_from_db()
    assert schedule.stock_concentration == 50


# --- members, animals, allocation -------------------------------------------------------------


def test_the_members_page_adds_a_user_by_name_and_names_an_unknown_one(as_alice, eve, study):
    url = reverse("studies:members", args=[study.slug])
    assert as_alice.post(url, {"username": "eve", "role": "viewer"}).status_code == 302
    assert Membership.objects.get(study=study, user=eve).role == "viewer"
    response = as_alice.post(url, {"username": "zed", "role": "viewer"})
    assert response.status_code == 400
    assert "No user is called &#x27;zed&#x27;." in response.content.decode()


def test_pasted_animals_are_registered_with_their_weights(as_alice, study):
    response = as_alice.post(
        reverse("studies:animals", args=[study.slug]),
        {"text": "A1\tC9\tmale\t251\nA2\tC9\tmale\t249"},
    )
    assert response.status_code == 302
    assert "2 animals registered." in _messages(response)
    assert BodyWeight.objects.filter(animal__study=study, grams__in=[251, 249]).count() == 2


def test_pasted_animals_with_bad_lines_show_each_problem_and_save_nothing(as_alice, study):
    before = Animal.objects.filter(study=study).count()
    response = as_alice.post(
        reverse("studies:animals", args=[study.slug]), {"text": "A1 C1 male 250\nR01\nA3 x y z w v"}
    )
    html = response.content.decode()
    assert response.status_code == 400
    assert "Nothing was saved." in html
    assert "line 2: animal R01 is already in the study" in html
    assert "line 3: too many fields (6)" in html
    assert Animal.objects.filter(study=study).count() == before


def test_an_animal_can_be_excluded_from_the_animals_page(as_alice, study):
    animal = study.animals.get(code="R01")
    as_alice.post(
        reverse("studies:animal_status", args=[study.slug, animal.pk]),
        {"status": "excluded", "reason": "wound"},
    )
    animal.refresh_from_db()
    assert (animal.status, animal.status_reason) == ("excluded", "wound")


def test_the_allocation_page_prefills_a_seed_and_records_the_allocation(as_alice, alice):
    study = make_study(slug="to-allocate", animals_per_group=0, members={alice: "pi"})
    services.animals_register(
        study=study, text="\n".join(f"A{i} C1 male {200 + i}" for i in range(6)), user=alice
    )
    url = reverse("studies:allocate", args=[study.slug])
    form = as_alice.get(url).context["form"]
    assert isinstance(form.initial["seed"], int)
    assert [form[f"n_{code}"].value() for code in ("VEH", "PTX-SAL", "PTX-IVIG")] == [2, 2, 2]
    response = as_alice.post(
        url, {"seed": 42, "balance_on": "weight", "n_VEH": 2, "n_PTX-SAL": 2, "n_PTX-IVIG": 2}
    )
    assert response.status_code == 302
    allocation = Allocation.objects.get(study=study)
    assert allocation.seed == 42
    html = as_alice.get(url).content.decode()
    assert "seed <strong>42</strong>" in html


def test_an_allocation_that_cannot_be_made_says_why(as_alice, alice):
    study = make_study(slug="unweighed", animals_per_group=0, members={alice: "pi"})
    services.animals_register(study=study, text="A1\nA2\nA3", user=alice)
    response = as_alice.post(
        reverse("studies:allocate", args=[study.slug]),
        {"seed": 1, "balance_on": "weight", "n_VEH": 1, "n_PTX-SAL": 1, "n_PTX-IVIG": 1},
    )
    assert response.status_code == 400
    assert "No body weight for A1, A2, A3: weigh them first." in response.content.decode()


# --- status and locking -----------------------------------------------------------------------


def test_locking_from_the_study_page_makes_writes_fail_with_a_message(as_alice, study):
    as_alice.post(reverse("studies:status", args=[study.slug]), {"status": "locked"})
    assert Study.objects.get(pk=study.pk).is_locked
    response = as_alice.post(reverse("studies:animals", args=[study.slug]), {"text": "Z1"})
    assert response.status_code == 302
    assert f"Study {study.slug} is locked: it is read-only." in _messages(response)
    assert not Animal.objects.filter(code="Z1").exists()


# --- Today ------------------------------------------------------------------------------------


@pytest.fixture
def dosing_today(alice, bob, carol, dave):
    study = make_study(
        slug="dosing",
        day0=timezone.localdate(),
        members={alice: "pi", bob: "technician", dave: "viewer"},
    )
    add_schedule(study, "PTX-IVIG", "IVIg", stock_concentration=50)
    for animal in study.animals.all():
        BodyWeight.objects.create(animal=animal, date=timezone.localdate(), grams=250)
    return study


def test_today_shows_each_due_dose_with_its_volume_and_a_button(as_bob, dosing_today):
    html = as_bob.get(reverse("studies:today")).content.decode()
    assert html.count("5.00 mL</strong>") == 3
    assert html.count('value="given"') == 3


def test_one_post_records_a_dose_given_and_returns_to_today(as_bob, bob, dosing_today):
    schedule = dosing_today.schedules.get()
    animal = dosing_today.animals.get(code="R07")
    response = as_bob.post(
        reverse("studies:dose_record", args=[dosing_today.slug]),
        {
            "schedule": schedule.pk,
            "animal": animal.pk,
            "day": 0,
            "status": "given",
            "next": reverse("studies:today"),
        },
    )
    assert response.status_code == 302 and response.url == reverse("studies:today")
    record = DoseRecord.objects.get()
    assert (record.animal, record.status, record.volume_ml, record.recorded_by) == (
        animal,
        "given",
        5.0,
        bob,
    )


def test_a_missed_dose_without_a_reason_is_refused_with_the_reason(as_bob, dosing_today):
    schedule = dosing_today.schedules.get()
    animal = dosing_today.animals.get(code="R07")
    url = reverse("studies:dose_record", args=[dosing_today.slug])
    data = {"schedule": schedule.pk, "animal": animal.pk, "day": 0, "status": "missed"}
    response = as_bob.post(url, data)
    assert "R07: Say why the dose was missed." in _messages(response)
    assert not DoseRecord.objects.exists()
    as_bob.post(url, data | {"reason": "tail vein collapsed"})
    assert DoseRecord.objects.get().reason == "tail vein collapsed"


def test_a_weight_is_recorded_from_today(as_bob, dosing_today):
    animal = dosing_today.animals.get(code="R01")
    BodyWeight.objects.filter(animal=animal).delete()
    response = as_bob.post(
        reverse("studies:weight_record", args=[dosing_today.slug]),
        {"animal": animal.pk, "grams": "262.5"},
    )
    assert response.status_code == 302 and response.url.endswith("?focus=weight")
    assert BodyWeight.objects.get(animal=animal).grams == 262.5
    assert ChangeRecord.objects.filter(study=dosing_today, entity="weight").exists()


def test_a_weight_out_of_range_names_the_reason(as_bob, dosing_today):
    animal = dosing_today.animals.get(code="R01")
    response = as_bob.post(
        reverse("studies:weight_record", args=[dosing_today.slug]),
        {"animal": animal.pk, "grams": "-4"},
    )
    assert "R01: A body weight must be between 0 and 5000 g." in _messages(response)


# --- query counts of the pages ----------------------------------------------------------------


def _page_queries(client, url: str) -> int:
    with CaptureQueriesContext(connection) as queries:
        assert client.get(url).status_code == 200
    return len(queries)


def test_the_study_page_and_today_take_as_many_queries_for_a_big_study_as_a_small_one(
    client, alice
):
    counts = []
    for slug, per_group in (("small", 2), ("big", 25)):
        study = make_study(
            slug=slug, animals_per_group=per_group, day0=timezone.localdate(), members={alice: "pi"}
        )
        add_schedule(study, "PTX-IVIG", "IVIg", stock_concentration=50)
        for animal in study.animals.all():
            BodyWeight.objects.create(animal=animal, date=timezone.localdate(), grams=250)
        client.force_login(alice)
        client.get(reverse("studies:list"))  # a new login's first request moves its expiry
        counts.append(
            (
                _page_queries(client, reverse("studies:detail", args=[slug])),
                _page_queries(client, reverse("studies:list")),
            )
        )
        services.study_lock(study=study, user=alice)  # so Today sees one study at a time
    assert counts[0] == counts[1]


@pytest.mark.parametrize("per_group", [2, 25])
def test_today_takes_the_same_queries_at_two_study_sizes(client, alice, per_group):
    study = make_study(
        slug="t", animals_per_group=per_group, day0=timezone.localdate(), members={alice: "pi"}
    )
    add_schedule(study, "PTX-IVIG", "IVIg", stock_concentration=50)
    client.force_login(alice)
    # The selector's 7, plus the session, the user, and, this being the login's first request,
    # the session's expiry moved (a savepoint, the update, its release).
    assert _page_queries(client, reverse("studies:today")) == 12


# --- admin ------------------------------------------------------------------------------------


def test_the_admin_lists_every_studies_model_for_staff(client, root, study):
    from django.contrib import admin

    from studies import models

    client.force_login(root)
    for model in admin.site._registry:
        if model._meta.app_label != "studies":
            continue
        url = reverse(f"admin:studies_{model._meta.model_name}_changelist")
        assert client.get(url).status_code == 200, url
    assert models.ChangeRecord in admin.site._registry


def test_the_audit_trail_cannot_be_changed_in_the_admin(client, root, alice, study):
    services.study_update(study=study, user=alice, expected_version=1, title="Changed")
    record = ChangeRecord.objects.get(study=study, entity="study")
    client.force_login(root)
    url = reverse("admin:studies_changerecord_change", args=[record.pk])
    assert client.get(url).status_code == 200  # readable
    client.post(url, {"reason": "rewritten"})
    client.post(reverse("admin:studies_changerecord_delete", args=[record.pk]), {"post": "yes"})
    record.refresh_from_db()
    assert record.reason == ""
    assert client.get(reverse("admin:studies_changerecord_add")).status_code == 403
