"""The studies selectors: dose volumes, the dosing calendar, Today and the study page."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from behavior.models import MeasurementSession
from studies import selectors, services
from studies.models import Animal, BodyWeight, DoseRecord, DosingSchedule, Study
from tests.factories import add_schedule, make_study

# --- volumes ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("dose", "unit", "stock", "weight_g", "expected"),
    [
        # IVIg 1 g/kg, 5% solution, 250 g rat: 1000 mg/kg x 0.25 kg / 50 mg/mL = 5 mL
        (1, "g/kg", 50, 250, 5.0),
        # rat paclitaxel 1 mg/kg at 1 mg/mL, 320 g: 1 x 0.32 / 1 = 0.32 mL
        (1, "mg/kg", 1, 320, 0.32),
        # mouse paclitaxel 3 mg/kg at 0.3 mg/mL, 30 g: 3 x 0.03 / 0.3 = 0.3 mL
        (3, "mg/kg", 0.3, 30, 0.3),
        # 500 µg/kg at 0.1 mg/mL, 250 g: 0.5 mg/kg x 0.25 / 0.1 = 1.25 mL
        (500, "ug/kg", 0.1, 250, 1.25),
        # saline 5 mL/kg, 250 g: 1.25 mL, no stock needed
        (5, "mL/kg", None, 250, 1.25),
        # clodronate liposomes 5.6 mg/body at 5 mg/mL: 1.12 mL whatever the weight
        (5.6, "mg/body", 5, None, 1.12),
        (0.2, "mL/body", None, None, 0.2),
    ],
)
def test_dose_volume_matches_the_hand_computed_value(dose, unit, stock, weight_g, expected):
    schedule = DosingSchedule(dose=dose, unit=unit, stock_concentration=stock)
    assert selectors.dose_volume_ml(schedule=schedule, weight_g=weight_g) == pytest.approx(expected)
    assert selectors.volume_note(schedule=schedule, weight_g=weight_g) == ""


@pytest.mark.parametrize(
    ("unit", "stock", "weight_g", "note"),
    [
        ("g/kg", 50, None, "no weight"),
        ("mg/kg", None, 250, "no stock concentration"),
        ("mL/kg", None, None, "no weight"),
        ("mg/body", None, 250, "no stock concentration"),
    ],
)
def test_dose_volume_is_none_with_a_note_when_it_cannot_be_computed(unit, stock, weight_g, note):
    schedule = DosingSchedule(dose=1, unit=unit, stock_concentration=stock)
    assert selectors.dose_volume_ml(schedule=schedule, weight_g=weight_g) is None
    assert selectors.volume_note(schedule=schedule, weight_g=weight_g) == note


# --- the dosing calendar ----------------------------------------------------------------------

DAY0 = dt.date(2026, 1, 12)


@pytest.fixture
def fig1a(alice):
    """The paper's Figure 1a design with two weighed animals per group."""
    study = services.study_from_design(
        key="fig1a-rat-paclitaxel", slug="cal-fig1a", user=alice, day0=DAY0
    )
    text = "\n".join(f"R{i:02d} C{i // 2} male {240 + i * 5}" for i in range(1, 7))
    services.animals_register(study=study, text=text, user=alice)
    services.animals_allocate(study=study, seed=11, user=alice)
    return study


def _days_given(study: Study, group: str, agent: str, last_day: int = 40) -> list[int]:
    days = []
    for day in range(-2, last_day + 1):
        due = selectors.calendar_for_day(study=study, date=DAY0 + dt.timedelta(days=day))
        animals = [
            d.animal.code
            for d in due
            if d.schedule.group.code == group and d.schedule.agent.name == agent
        ]
        if animals:
            assert len(animals) == study.animals.filter(group__code=group).count()
            days.append(day)
    return days


def test_calendar_gives_paclitaxel_and_ivig_on_the_papers_days(fig1a):
    assert _days_given(fig1a, "PTX-IVIG", "paclitaxel") == [0, 1, 2, 3, 4, 7, 8, 9, 10, 11, 14, 15]
    assert _days_given(fig1a, "PTX-IVIG", "IVIg") == [0, 7, 14, 21]
    assert _days_given(fig1a, "PTX-SAL", "saline") == [0, 7, 14, 21]
    assert _days_given(fig1a, "PTX-SAL", "IVIg") == []


def test_calendar_volume_comes_from_the_latest_weight_on_or_before_the_day(fig1a):
    animal = fig1a.animals.filter(group__code="PTX-IVIG").first()
    BodyWeight.objects.filter(animal=animal).delete()
    BodyWeight.objects.create(animal=animal, date=DAY0 - dt.timedelta(days=2), grams=250)
    BodyWeight.objects.create(animal=animal, date=DAY0 + dt.timedelta(days=5), grams=300)
    due = selectors.calendar_for_day(study=fig1a, date=DAY0)
    ivig = next(d for d in due if d.animal == animal and d.schedule.agent.name == "IVIg")
    assert (ivig.weight_g, ivig.volume_ml, ivig.note) == (250, pytest.approx(5.0), "")
    due = selectors.calendar_for_day(study=fig1a, date=DAY0 + dt.timedelta(days=7))
    ivig = next(d for d in due if d.animal == animal and d.schedule.agent.name == "IVIg")
    assert ivig.volume_ml == pytest.approx(6.0)  # 1000 x 0.3 / 50


def test_calendar_says_no_weight_for_an_animal_never_weighed(fig1a):
    animal = fig1a.animals.filter(group__code="PTX-IVIG").first()
    BodyWeight.objects.filter(animal=animal).delete()
    due = selectors.calendar_for_day(study=fig1a, date=DAY0)
    ivig = next(d for d in due if d.animal == animal and d.schedule.agent.name == "IVIg")
    assert (ivig.volume_ml, ivig.note) == (None, "no weight")


def test_calendar_leaves_out_excluded_animals_and_shows_recorded_doses(fig1a, alice):
    out, recorded = fig1a.animals.filter(group__code="PTX-IVIG")[:2]
    services.animal_set_status(animal=out, status="excluded", reason="injury", user=alice)
    schedule = fig1a.schedules.get(group__code="PTX-IVIG", agent__name="IVIg")
    services.dose_record(schedule=schedule, animal=recorded, day=0, status="given", user=alice)
    due = [d for d in selectors.calendar_for_day(study=fig1a, date=DAY0) if d.schedule == schedule]
    assert [(d.animal, d.done) for d in due] == [(recorded, True)]


def test_calendar_for_a_blinded_reader_names_no_agent_and_no_group(fig1a):
    due = selectors.calendar_for_day(study=fig1a, date=DAY0, sees_allocation=False)
    assert due
    for dose in due:
        assert dose.group_label.startswith("Group ")
        assert dose.product.startswith("Solution ")
        for word in ("VEH", "PTX", "IVIg", "paclitaxel", "saline", "vehicle"):
            assert word not in dose.group_label + dose.product


# --- Today ------------------------------------------------------------------------------------


def _running(slug: str, *, blinded=False, per_group=3, members=None) -> Study:
    """A study whose day 0 is today: the IVIg group's day-0 dose is due, the baseline (day -1)
    measurement too."""
    study = make_study(
        slug=slug,
        blinded=blinded,
        animals_per_group=per_group,
        day0=timezone.localdate(),
        members=members,
    )
    add_schedule(study, "PTX-IVIG", "IVIg", stock_concentration=50, days=[0, 7])
    add_schedule(study, "PTX-SAL", "saline", dose=5, unit="mL/kg", days=[0, 7])
    return study


def test_today_lists_the_doses_due_with_volumes(alice, bob, carol, dave):
    study = _running("today-1", members={alice: "pi", bob: "technician"})
    animal = study.animals.filter(group__code="PTX-IVIG").first()
    BodyWeight.objects.create(animal=animal, date=timezone.localdate(), grams=250)
    today = selectors.today_for_user(user=bob, date=timezone.localdate())
    [row] = today.studies
    assert row.day == 0
    assert len(row.doses) == 6  # three IVIg, three saline
    ivig = next(d for d in row.doses if d.animal == animal)
    assert (ivig.volume_ml, ivig.group_label) == (pytest.approx(5.0), "PTX-IVIG")


def test_today_shows_coded_groups_to_a_technician_of_a_blinded_study(alice, bob):
    _running("today-blind", blinded=True, members={alice: "pi", bob: "technician"})
    [tech] = selectors.today_for_user(user=bob, date=timezone.localdate()).studies
    [pi] = selectors.today_for_user(user=alice, date=timezone.localdate()).studies
    assert {d.group_label for d in tech.doses} == {"Group B", "Group C"}
    assert {d.group_label for d in pi.doses} == {"PTX-SAL", "PTX-IVIG"}


def test_today_shows_nothing_of_other_peoples_or_locked_studies(alice, eve):
    study = _running("today-locked", members={alice: "pi"})
    assert selectors.today_for_user(user=eve, date=timezone.localdate()).studies == []
    services.study_lock(study=study, user=alice)
    assert selectors.today_for_user(user=alice, date=timezone.localdate()).studies == []


def test_today_asks_for_weights_not_taken_this_week_or_on_a_dosing_day(alice):
    study = _running("today-weights", members={alice: "pi"})
    today = timezone.localdate()
    fresh = study.animals.get(code="R01")  # VEH: no dose today, weighed 3 days ago
    BodyWeight.objects.create(animal=fresh, date=today - dt.timedelta(days=3), grams=250)
    old = study.animals.get(code="R02")  # VEH, weighed 8 days ago
    BodyWeight.objects.create(animal=old, date=today - dt.timedelta(days=8), grams=250)
    dosed = study.animals.get(code="R07")  # PTX-IVIG: dosed today, weighed yesterday
    BodyWeight.objects.create(animal=dosed, date=today - dt.timedelta(days=1), grams=250)
    done = study.animals.get(code="R08")  # PTX-IVIG: dosed today and weighed today
    BodyWeight.objects.create(animal=done, date=today, grams=250)
    [row] = selectors.today_for_user(user=alice, date=today).studies
    why = {w.animal.code: w.why for w in row.weights_due}
    assert "R01" not in why and "R08" not in why
    assert why["R02"].startswith("last weighed")
    assert why["R07"] == "dosing day"
    assert why["R03"] == "no weight yet"


def test_today_lists_measurement_sessions_due_in_the_last_two_days(alice):
    study = _running("today-sessions", members={alice: "pi"})  # baseline on day -1
    [row] = selectors.today_for_user(user=alice, date=timezone.localdate()).studies
    assert {(s.timepoint.label, s.assay) for s in row.sessions_due} == {
        ("baseline", "von_frey"),
        ("baseline", "hot_plate"),
    }
    von_frey = next(s for s in row.sessions_due if s.assay == "von_frey")
    assert von_frey.url == reverse(
        "behavior:session_entry", kwargs={"slug": study.slug, "day": -1, "assay": "von_frey"}
    )
    MeasurementSession.objects.create(
        study=study, timepoint=study.timepoints.get(day=-1), assay="von_frey", status="entered"
    )
    [row] = selectors.today_for_user(user=alice, date=timezone.localdate()).studies
    assert [s.assay for s in row.sessions_due] == ["hot_plate"]


# --- query counts at two study sizes ----------------------------------------------------------

# Today: memberships with their studies; animals with their latest weight; schedules; dose
# records; timepoints in the window; assays; sessions.
TODAY_QUERIES = 7
# The study page: groups with counts; schedules; timepoints; comparisons; animal counts; dose
# counts; recent weights; latest allocation; members; assays.
OVERVIEW_QUERIES = 10


@pytest.mark.parametrize("per_group", [2, 20])
def test_today_takes_the_same_queries_at_any_study_size(
    per_group, alice, bob, django_assert_num_queries
):
    study = _running("size", per_group=per_group, members={alice: "pi", bob: "technician"})
    for animal in study.animals.all()[:3]:
        BodyWeight.objects.create(animal=animal, date=timezone.localdate(), grams=250)
    schedule = study.schedules.get(agent__name="IVIg")
    DoseRecord.objects.create(
        schedule=schedule,
        animal=study.animals.filter(group=schedule.group).first(),
        day=0,
        status="given",
        given_at=timezone.now(),
    )
    with django_assert_num_queries(TODAY_QUERIES):
        today = selectors.today_for_user(user=bob, date=timezone.localdate())
        doses = [(d.animal.code, d.volume_ml, d.record) for s in today.studies for d in s.doses]
    assert len(doses) == 2 * per_group


@pytest.mark.parametrize("per_group", [2, 20])
def test_the_study_page_takes_the_same_queries_at_any_study_size(
    per_group, alice, django_assert_num_queries
):
    study = _running("size", per_group=per_group, members={alice: "pi"})
    for animal in study.animals.all():
        BodyWeight.objects.create(animal=animal, date=timezone.localdate(), grams=250)
    with django_assert_num_queries(OVERVIEW_QUERIES):
        overview = selectors.study_overview(study=study, role="pi", date=timezone.localdate())
        rows = [(g.label, g.n) for g in overview["groups"]]
        rows += [(s.product, s.days) for s in overview["schedules"]]
        [m.user.username for m in overview["members"]]
    assert overview["animals"]["total"] == 3 * per_group
    assert overview["weighed_recently"] == 3 * per_group
    assert overview["doses"]["due_so_far"] == 2 * per_group


# --- lists and hints --------------------------------------------------------------------------


def test_study_list_shows_members_their_studies_and_staff_all(alice, bob, eve, root, study):
    make_study(slug="other", members={eve: "pi"})
    assert [
        (r.study.slug, r.role, r.n_animals) for r in selectors.study_list_for_user(user=bob)
    ] == [("rat-ptx", "technician", 9)]
    assert {r.study.slug for r in selectors.study_list_for_user(user=root)} == {"rat-ptx", "other"}


def test_allocation_targets_follow_the_design_hints_when_they_fit(alice):
    study = services.study_from_design(key="fig1a-rat-paclitaxel", slug="hints", user=alice)
    assert selectors.allocation_targets(study=study, n_animals=40) == {
        "VEH": 10,
        "PTX-SAL": 15,
        "PTX-IVIG": 15,
    }
    assert selectors.allocation_targets(study=study, n_animals=7) == {
        "VEH": 3,
        "PTX-SAL": 2,
        "PTX-IVIG": 2,
    }


def test_baseline_values_average_footpads_then_the_animal(study):
    from behavior.models import Reading

    timepoint = study.timepoints.get(day=-1)
    session = MeasurementSession.objects.create(study=study, timepoint=timepoint, assay="von_frey")
    animal = study.animals.get(code="R01")
    # left: 10, 14 -> 12; right: 20 -> 20; animal: 16 (not the mean of all three values, 14.67)
    for footpad, application, value in (("left", 1, 10), ("left", 2, 14), ("right", 1, 20)):
        Reading.objects.create(
            session=session,
            animal=animal,
            assay="von_frey",
            footpad=footpad,
            application=application,
            value=value,
            state="verified",
        )
    Reading.objects.create(
        session=session,
        animal=animal,
        assay="von_frey",
        footpad="right",
        application=2,
        value=None,
        state="disputed",
    )
    assert selectors.baseline_values(study=study, timepoint=timepoint) == {animal.pk: 16.0}
    assert Animal.objects.count() == 9
