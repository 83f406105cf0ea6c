"""The studies services: every write checked, all or nothing, and kept in the audit trail."""

from __future__ import annotations

import datetime as dt
import statistics

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from behavior.models import MeasurementSession, Reading
from studies import services
from studies.errors import ConflictError, ImportProblems, StudyLocked
from studies.models import (
    Allocation,
    Animal,
    BodyWeight,
    ChangeRecord,
    DoseRecord,
    Membership,
    Study,
    Timepoint,
)
from tests.factories import add_schedule, make_study

TODAY = dt.date(2026, 3, 2)


def _weigh(study: Study, grams: dict[str, float], date: dt.date | None = None) -> None:
    date = date or timezone.localdate()
    for code, value in grams.items():
        BodyWeight.objects.create(animal=study.animals.get(code=code), date=date, grams=value)


def _unallocated(*, n: int, slug: str = "alloc", weights=None, members=None) -> Study:
    """A study with three groups and ``n`` weighed animals not yet in any group."""
    study = make_study(slug=slug, animals_per_group=0, members=members)
    for i in range(n):
        animal = Animal.objects.create(study=study, code=f"A{i + 1:03d}")
        grams = weights[i] if weights else 200 + (i * 37) % 90
        BodyWeight.objects.create(animal=animal, date=timezone.localdate(), grams=grams)
    return study


# --- studies ----------------------------------------------------------------------------------


def test_study_create_makes_the_creator_pi_and_configures_the_assays(alice):
    study = services.study_create(
        user=alice, slug="new-rat", title="New rat study", species="rat", blinded=True
    )
    assert Membership.objects.get(study=study, user=alice).role == "pi"
    assert sorted(study.assays.values_list("assay", flat=True)) == ["hot_plate", "von_frey"]
    assert ChangeRecord.objects.filter(study=study, entity="study", action="create").exists()


def test_study_create_refuses_a_taken_slug_naming_the_field(alice, study):
    with pytest.raises(ValidationError) as error:
        services.study_create(user=alice, slug=study.slug, title="Again", species="rat")
    assert "slug" in error.value.message_dict


def test_study_from_design_builds_the_papers_design_with_its_creator_as_pi(alice):
    study = services.study_from_design(
        key="fig1a-rat-paclitaxel", slug="my-fig1a", user=alice, day0=TODAY
    )
    assert study.day0 == TODAY
    assert list(study.groups.values_list("code", flat=True)) == ["VEH", "PTX-SAL", "PTX-IVIG"]
    assert Membership.objects.get(study=study, user=alice).role == "pi"
    record = ChangeRecord.objects.get(study=study, entity="design")
    assert record.new["n_per_group"] == {"VEH": 10, "PTX-SAL": 15, "PTX-IVIG": 15}


def test_study_update_changes_fields_and_keeps_old_and_new(alice, study):
    updated = services.study_update(
        study=study, user=alice, expected_version=study.version, title="Renamed", day0=TODAY
    )
    assert (updated.title, updated.day0, updated.version) == ("Renamed", TODAY, study.version + 1)
    record = ChangeRecord.objects.filter(study=study, entity="study").first()
    assert record.old == {"title": study.title, "day0": None}
    assert record.new == {"title": "Renamed", "day0": TODAY.isoformat()}
    assert record.user == alice


def test_study_update_with_a_stale_version_is_a_conflict_and_changes_nothing(alice, bob, study):
    services.study_update(study=study, user=alice, expected_version=1, title="First")
    with pytest.raises(ConflictError):
        services.study_update(study=study, user=bob, expected_version=1, title="Second")
    assert Study.objects.get(pk=study.pk).title == "First"


def test_study_set_status_moves_between_planning_and_running_only(alice, study):
    assert services.study_set_status(study=study, status="planning", user=alice).status == (
        "planning"
    )
    with pytest.raises(ValidationError) as error:
        services.study_set_status(study=study, status="locked", user=alice)
    assert "status" in error.value.message_dict


def test_study_lock_is_for_the_pi_only(bob, study):
    with pytest.raises(PermissionDenied):
        services.study_lock(study=study, user=bob)
    assert not Study.objects.get(pk=study.pk).is_locked


def test_a_locked_study_refuses_every_write(alice, study):
    add_schedule(study, "PTX-IVIG", "IVIg", days=[0])
    locked = services.study_lock(study=study, user=alice)
    animal = locked.animals.get(code="R07")
    writes = [
        lambda: services.study_update(study=locked, user=alice, expected_version=99, title="x"),
        lambda: services.animals_register(study=locked, text="R99", user=alice),
        lambda: services.animals_allocate(study=locked, seed=1, user=alice),
        lambda: services.body_weight_record(
            animal=animal, date=timezone.localdate(), grams=250, user=alice
        ),
        lambda: services.dose_record(
            schedule=locked.schedules.get(), animal=animal, day=0, status="given", user=alice
        ),
        lambda: services.animal_set_status(animal=animal, status="dead", reason="x", user=alice),
        lambda: services.group_add(study=locked, code="NEW", name="New", user=alice),
        lambda: services.timepoint_add(study=locked, label="week 9", day=63, user=alice),
        lambda: services.study_set_status(study=locked, status="running", user=alice),
    ]
    for write in writes:
        with pytest.raises(StudyLocked):
            write()


# --- members ----------------------------------------------------------------------------------


def test_membership_set_adds_then_changes_a_role_keeping_both(alice, eve, study):
    services.membership_set(study=study, user=eve, role="viewer", by=alice)
    services.membership_set(study=study, user=eve, role="technician", by=alice)
    assert Membership.objects.get(study=study, user=eve).role == "technician"
    records = ChangeRecord.objects.filter(study=study, entity="membership").order_by("id")
    assert [(r.old, r.new["role"]) for r in records] == [
        (None, "viewer"),
        ({"user": "eve", "role": "viewer"}, "technician"),
    ]


def test_membership_set_refuses_an_unknown_role(alice, eve, study):
    with pytest.raises(ValidationError) as error:
        services.membership_set(study=study, user=eve, role="boss", by=alice)
    assert error.value.message_dict == {"role": ["Role must be pi, technician or viewer."]}


def test_membership_by_username_names_an_unknown_user(alice, study):
    with pytest.raises(ValidationError) as error:
        services.membership_set_by_username(study=study, username="nobody", role="viewer", by=alice)
    assert error.value.message_dict == {"username": ["No user is called 'nobody'."]}


# --- animals ----------------------------------------------------------------------------------


def test_animals_register_reads_tabs_commas_and_spaces(alice, study):
    text = "code\tcage\tsex\tweight\nA1\tC1\tmale\t251\nA2,C1,m,248.5\nA3 C2 f 230g\nA4\nA5 260\n"
    animals = services.animals_register(study=study, text=text, user=alice)
    got = {
        a.code: (a.cage, a.sex, a.weights.first().grams if a.weights.exists() else None)
        for a in Animal.objects.filter(pk__in=[a.pk for a in animals])
    }
    assert got == {
        "A1": ("C1", "male", 251.0),
        "A2": ("C1", "male", 248.5),
        "A3": ("C2", "female", 230.0),
        "A4": ("", "", None),
        "A5": ("", "", 260.0),
    }
    assert BodyWeight.objects.get(animal__code="A1", animal__study=study).date == (
        timezone.localdate()
    )
    assert ChangeRecord.objects.filter(study=study, entity="animal", action="create").count() == 5


def test_animals_register_names_every_bad_line_and_writes_nothing(alice, study):
    before = Animal.objects.count()
    text = "A1 C1 male 250\nR01 C1 male 250\nA1 C2\nA4 C1 purple 250\nA5 C1 male -3\nA6 a b c d\n"
    with pytest.raises(ImportProblems) as error:
        services.animals_register(study=study, text=text, user=alice)
    assert error.value.problems == [
        ("line 2", "animal R01 is already in the study"),
        ("line 3", "animal A1 repeats line 1"),
        ("line 4", "sex 'purple' must be male or female (m/f)"),
        ("line 5", "weight '-3' is not a number of grams"),
        ("line 6", "too many fields (5): expected code, cage, sex, weight"),
    ]
    assert Animal.objects.count() == before
    assert not BodyWeight.objects.exists()


def test_animals_register_positional_fields_check_sex_and_weight(alice, study):
    with pytest.raises(ImportProblems) as error:
        services.animals_register(
            study=study, text="A1\tC1\tpurple\t250\nA2\tC1\tmale\t9000\n", user=alice
        )
    assert error.value.problems == [
        ("line 1", "sex 'purple' must be male or female (m/f)"),
        ("line 2", "weight 9000 g must be between 0 and 5000 g"),
    ]


def test_animal_set_status_excludes_with_reason_and_date_and_keeps_the_animal(alice, study):
    animal = study.animals.get(code="R01")
    services.animal_set_status(
        animal=animal, status="excluded", reason="tail injury", date=TODAY, user=alice
    )
    animal.refresh_from_db()
    assert (animal.status, animal.status_reason, animal.status_date) == (
        "excluded",
        "tail injury",
        TODAY,
    )
    record = ChangeRecord.objects.get(study=study, entity="animal", object_id=animal.pk)
    assert record.old["status"] == "active" and record.new["status"] == "excluded"


def test_animal_set_status_needs_a_reason(alice, study):
    with pytest.raises(ValidationError) as error:
        services.animal_set_status(animal=study.animals.first(), status="dead", user=alice)
    assert "reason" in error.value.message_dict


# --- allocation -------------------------------------------------------------------------------


def test_allocation_with_the_same_seed_gives_the_same_result(alice):
    first = _unallocated(n=30, slug="one")
    second = _unallocated(n=30, slug="two")
    a = services.animals_allocate(study=first, seed=1234, user=alice)
    b = services.animals_allocate(study=second, seed=1234, user=alice)
    assert a.result["animals"] == b.result["animals"]
    again = services.animals_allocate(study=first, seed=1234, user=alice)
    assert again.result["animals"] == a.result["animals"]


def test_allocation_with_another_seed_differs(alice):
    study = _unallocated(n=30)
    a = services.animals_allocate(study=study, seed=1, user=alice).result["animals"]
    b = services.animals_allocate(study=study, seed=2, user=alice).result["animals"]
    assert a != b


def test_allocation_balances_group_sizes_and_mean_weights(alice):
    weights = [180 + (i * 53) % 140 for i in range(30)]  # 180-319 g, spread out
    study = _unallocated(n=30, weights=weights)
    allocation = services.animals_allocate(study=study, seed=99, user=alice)
    sizes = {g.code: g.animals.count() for g in study.groups.all()}
    assert sizes == {"VEH": 10, "PTX-SAL": 10, "PTX-IVIG": 10}
    means = [g["mean"] for g in allocation.result["groups"].values()]
    # Permuted blocks of three over the sorted weights: each group's mean lies within one
    # block's spread of the overall mean.
    assert max(means) - min(means) < 15
    assert statistics.fmean(means) == pytest.approx(statistics.fmean(weights))
    assert allocation.method and allocation.balanced_on == "weight" and allocation.seed == 99


def test_allocation_respects_target_sizes(alice):
    study = _unallocated(n=40)
    services.animals_allocate(
        study=study, seed=5, user=alice, targets={"VEH": 10, "PTX-SAL": 15, "PTX-IVIG": 15}
    )
    sizes = {g.code: g.animals.count() for g in study.groups.all()}
    assert sizes == {"VEH": 10, "PTX-SAL": 15, "PTX-IVIG": 15}


def test_allocation_refuses_target_sizes_that_do_not_add_up(alice):
    study = _unallocated(n=9)
    with pytest.raises(ValidationError) as error:
        services.animals_allocate(
            study=study, seed=5, user=alice, targets={"VEH": 3, "PTX-SAL": 3, "PTX-IVIG": 4}
        )
    assert error.value.message_dict["targets"] == [
        "The group sizes add up to 10, but there are 9 active animals."
    ]


def test_allocation_records_one_change_per_animal_moved(alice):
    study = _unallocated(n=9)
    allocation = services.animals_allocate(study=study, seed=7, user=alice)
    records = ChangeRecord.objects.filter(study=study, entity="animal", action="update")
    assert records.count() == 9
    assert {r.new["allocation"] for r in records} == {allocation.pk}
    assert all(r.old == {"group": None} for r in records)


def test_allocation_refuses_animals_without_a_weight(alice):
    study = _unallocated(n=6)
    Animal.objects.create(study=study, code="B01")
    with pytest.raises(ValidationError) as error:
        services.animals_allocate(study=study, seed=1, user=alice)
    assert error.value.message_dict["balance_on"] == ["No body weight for B01: weigh them first."]
    assert not Allocation.objects.exists()


def _baseline_readings(study: Study, values: dict[str, float], day: int = -1) -> None:
    timepoint = Timepoint.objects.get(study=study, day=day)
    session = MeasurementSession.objects.create(study=study, timepoint=timepoint, assay="von_frey")
    for code, value in values.items():
        animal = study.animals.get(code=code)
        for footpad in ("left", "right"):
            Reading.objects.create(
                session=session,
                animal=animal,
                assay="von_frey",
                footpad=footpad,
                application=1,
                value=value,
                state="verified",
            )


def test_allocation_balances_on_the_baseline_reading(alice):
    study = _unallocated(n=6)
    baseline = {f"A{i + 1:03d}": 10 + i for i in range(6)}
    _baseline_readings(study, baseline)
    allocation = services.animals_allocate(study=study, seed=3, balance_on="baseline", user=alice)
    assert allocation.balanced_on == "baseline"
    assert allocation.result["values"] == {code: float(v) for code, v in baseline.items()}
    # Two blocks of three (10-12 and 13-15): every group gets one animal from each block.
    for group in allocation.result["groups"].values():
        assert group["n"] == 2 and 11.5 <= group["mean"] <= 13.5


def test_allocation_is_refused_once_readings_exist_after_baseline(alice):
    study = _unallocated(n=6)
    _baseline_readings(study, {"A001": 12}, day=21)
    with pytest.raises(ValidationError) as error:
        services.animals_allocate(study=study, seed=3, user=alice)
    assert "Readings after the baseline" in error.value.messages[0]


# --- doses and weights ------------------------------------------------------------------------


def test_dose_record_given_uses_the_latest_weight_for_the_volume(alice, bob, study):
    schedule = add_schedule(study, "PTX-IVIG", "IVIg", stock_concentration=50)
    animal = study.animals.get(code="R07")
    _weigh(study, {"R07": 240}, date=timezone.localdate() - dt.timedelta(days=3))
    _weigh(study, {"R07": 250})
    record = services.dose_record(schedule=schedule, animal=animal, day=7, status="given", user=bob)
    assert (record.weight_g, record.volume_ml, record.recorded_by) == (250, 5.0, bob)
    assert record.given_at is not None
    change = ChangeRecord.objects.get(study=study, entity="dose")
    assert change.new["volume_ml"] == 5.0 and change.user == bob


def test_dose_record_twice_is_a_no_op(bob, study):
    schedule = add_schedule(study, "PTX-IVIG", "IVIg")
    animal = study.animals.get(code="R07")
    first = services.dose_record(schedule=schedule, animal=animal, day=0, status="given", user=bob)
    second = services.dose_record(schedule=schedule, animal=animal, day=0, status="given", user=bob)
    assert first.pk == second.pk
    assert DoseRecord.objects.count() == 1
    assert ChangeRecord.objects.filter(entity="dose").count() == 1


def test_dose_record_missed_needs_a_reason(bob, study):
    schedule = add_schedule(study, "PTX-IVIG", "IVIg")
    with pytest.raises(ValidationError) as error:
        services.dose_record(
            schedule=schedule,
            animal=study.animals.get(code="R07"),
            day=0,
            status="missed",
            user=bob,
        )
    assert error.value.message_dict == {"reason": ["Say why the dose was missed."]}


def test_dose_record_changed_from_given_to_missed_keeps_the_old_values(bob, study):
    schedule = add_schedule(study, "PTX-IVIG", "IVIg")
    animal = study.animals.get(code="R07")
    services.dose_record(schedule=schedule, animal=animal, day=0, status="given", user=bob)
    record = services.dose_record(
        schedule=schedule, animal=animal, day=0, status="missed", reason="vein lost", user=bob
    )
    assert (record.status, record.given_at, record.version) == ("missed", None, 2)
    change = ChangeRecord.objects.filter(entity="dose").first()
    assert change.action == "update" and change.old["status"] == "given"


def test_dose_record_refuses_a_day_off_the_schedule_and_an_animal_of_another_group(bob, study):
    schedule = add_schedule(study, "PTX-IVIG", "IVIg", days=[0, 7])
    with pytest.raises(ValidationError) as error:
        services.dose_record(
            schedule=schedule, animal=study.animals.get(code="R07"), day=3, status="given", user=bob
        )
    assert error.value.message_dict == {"day": ["The schedule has no dose on day 3."]}
    with pytest.raises(ValidationError) as error:
        services.dose_record(
            schedule=schedule, animal=study.animals.get(code="R01"), day=0, status="given", user=bob
        )
    assert "animal" in error.value.message_dict
    assert not DoseRecord.objects.exists()


def test_body_weight_record_keeps_a_correction_with_the_old_weight(bob, study):
    animal = study.animals.get(code="R01")
    date = timezone.localdate()
    services.body_weight_record(animal=animal, date=date, grams=250, user=bob)
    services.body_weight_record(animal=animal, date=date, grams=250, user=bob)  # no-op
    weight = services.body_weight_record(animal=animal, date=date, grams=252, user=bob)
    assert (weight.grams, weight.version) == (252, 2)
    changes = ChangeRecord.objects.filter(entity="weight").order_by("id")
    assert [(c.old, c.new["grams"]) for c in changes] == [(None, 250), ({"grams": 250}, 252)]


def test_body_weight_record_names_the_field_of_a_bad_weight(bob, study):
    with pytest.raises(ValidationError) as error:
        services.body_weight_record(
            animal=study.animals.first(), date=timezone.localdate(), grams=0, user=bob
        )
    assert error.value.message_dict == {"grams": ["A body weight must be between 0 and 5000 g."]}


# --- design -----------------------------------------------------------------------------------


def test_group_add_gives_a_free_coded_label_drawn_at_random(alice, study):
    group = services.group_add(study=study, code="CLO", name="Clodronate", user=alice)
    assert group.order == 3
    assert group.blind_label in set("DEFGH")


def test_timepoint_add_refuses_a_day_that_has_one(alice, study):
    with pytest.raises(ValidationError) as error:
        services.timepoint_add(study=study, label="again", day=21, user=alice)
    assert error.value.messages == ["The study already has a timepoint on that day."]


def test_comparison_add_refuses_a_group_against_itself(alice, study):
    group = study.groups.first()
    with pytest.raises(ValidationError) as error:
        services.comparison_add(study=study, reference=group, group=group, symbol="%", user=alice)
    assert "A group cannot be compared with itself." in error.value.messages


def test_schedule_add_and_stock_concentration_are_recorded(alice, study):
    group = study.groups.get(code="PTX-IVIG")
    schedule = services.schedule_add(
        study=study,
        group=group,
        agent="IVIg",
        dose=1,
        unit="g/kg",
        route="iv",
        days=services.parse_days("0, 7, 14, 21"),
        user=alice,
    )
    services.schedule_set_stock(schedule=schedule, stock_concentration=50, user=alice)
    schedule.refresh_from_db()
    assert (schedule.days, schedule.stock_concentration) == ([0, 7, 14, 21], 50)
    assert ChangeRecord.objects.filter(entity="schedule").count() == 2


def test_parse_days_reads_ranges_and_names_a_bad_part():
    assert services.parse_days("0-4, 7-11, 14 15") == [0, 1, 2, 3, 4, 7, 8, 9, 10, 11, 14, 15]
    assert services.parse_days("-1, 0") == [-1, 0]
    with pytest.raises(ValidationError) as error:
        services.parse_days("0, day 7")
    assert error.value.message_dict == {"days": ["'day' is not a whole number of days."]}
