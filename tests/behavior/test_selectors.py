"""Selectors of the entry pages, above all blind double entry: an experimenter sees only their
own values, and agreement only once both have finished."""

from __future__ import annotations

import pytest

from behavior import selectors
from behavior.models import Discrepancy, EntryTally
from behavior.services import discrepancy_resolve, entry_save, session_open
from studies.models import Animal, Assay, StudyAssay
from tests.factories import make_study

VF = Assay.VON_FREY


@pytest.fixture
def tiny_study(alice, bob, carol):
    """Two animals (R01 in VEH, R02 in PTX), one application per footpad."""
    study = make_study(
        slug="tiny",
        groups=("VEH", "PTX"),
        animals_per_group=1,
        blinded=True,
        members={alice: "pi", bob: "technician", carol: "technician"},
    )
    StudyAssay.objects.filter(study=study, assay=VF).update(applications=1)
    return study


def vf_session(study, user):
    return session_open(study=study, timepoint=study.timepoints.get(day=-1), assay=VF, user=user)


def enter(session, user, values: dict[tuple[str, str], float]) -> None:
    for (code, footpad), value in values.items():
        entry_save(
            session=session,
            animal=session.study.animals.get(code=code),
            footpad=footpad,
            application=1,
            value=value,
            experimenter=user.username,
            user=user,
        )


ALL_SLOTS = [("R01", "left"), ("R01", "right"), ("R02", "left"), ("R02", "right")]


def grid_for(session, name: str, *, show_groups: bool = False):
    study_assay = StudyAssay.objects.get(study=session.study, assay=session.assay)
    return selectors.entry_grid(
        session=session, study_assay=study_assay, experimenter=name, show_groups=show_groups
    )


def values_of(grid) -> dict[tuple[str, str], float | None]:
    return {(row.animal.code, c.footpad): c.value for row in grid.rows for c in row.cells}


def test_the_grid_holds_only_the_experimenters_own_values(tiny_study, bob, carol):
    session = vf_session(tiny_study, bob)
    enter(session, bob, {("R01", "left"): 11.0, ("R02", "right"): 12.0})
    enter(session, carol, {("R01", "left"): 19.0})
    assert values_of(grid_for(session, "carol")) == {
        ("R01", "left"): 19.0,
        ("R01", "right"): None,
        ("R02", "left"): None,
        ("R02", "right"): None,
    }
    assert values_of(grid_for(session, "bob"))[("R01", "left")] == 11.0


def test_agreement_is_hidden_until_both_experimenters_have_entered_everything(
    tiny_study, bob, carol
):
    session = vf_session(tiny_study, bob)
    enter(session, bob, dict.fromkeys(ALL_SLOTS, 10.0))
    enter(session, carol, {("R01", "left"): 10.0, ("R01", "right"): 14.0})

    grid = grid_for(session, "carol")
    assert not grid.agreement_visible
    assert {c.state for row in grid.rows for c in row.cells} == {None}
    assert grid_for(session, "bob").others_complete == []

    enter(session, carol, {("R02", "left"): 10.0, ("R02", "right"): 10.0})
    grid = grid_for(session, "carol")
    assert grid.agreement_visible
    assert grid.complete
    states = {(row.animal.code, c.footpad): c.state for row in grid.rows for c in row.cells}
    assert states[("R01", "right")] == "disputed"
    assert states[("R01", "left")] == "verified"
    assert grid.disputed == 1
    assert grid_for(session, "bob").others_complete == ["carol"]


def test_agreement_stays_hidden_from_an_experimenter_who_has_not_finished(tiny_study, bob, carol):
    session = vf_session(tiny_study, bob)
    enter(session, bob, dict.fromkeys(ALL_SLOTS, 10.0))
    enter(session, carol, {("R01", "left"): 10.0})
    assert grid_for(session, "bob").agreement_visible is False


def test_a_single_entry_assay_shows_its_state_at_once(tiny_study, bob):
    session = session_open(
        study=tiny_study,
        timepoint=tiny_study.timepoints.get(day=-1),
        assay=Assay.HOT_PLATE,
        user=bob,
    )
    entry_save(
        session=session,
        animal=tiny_study.animals.get(code="R01"),
        footpad="",
        application=1,
        value=8.0,
        behavior="flutter",
        experimenter="bob",
        user=bob,
    )
    study_assay = StudyAssay.objects.get(study=tiny_study, assay=Assay.HOT_PLATE)
    grid = selectors.entry_grid(
        session=session, study_assay=study_assay, experimenter="bob", show_groups=False
    )
    cell = grid.rows[0].cells[0]
    assert (cell.value, cell.behavior, cell.state) == (8.0, "flutter", "verified")
    assert grid.footpads == [""]


def test_a_blinded_study_labels_animals_with_the_coded_group_unless_allocation_may_be_seen(
    tiny_study, bob
):
    session = vf_session(tiny_study, bob)
    assert [r.label for r in grid_for(session, "bob").rows] == ["A", "B"]
    assert [r.label for r in grid_for(session, "bob", show_groups=True).rows] == ["VEH", "PTX"]


def test_the_running_mean_is_the_mean_of_the_experimenters_own_footpad_values(bob, carol, alice):
    study = make_study(slug="means", members={bob: "technician", carol: "technician"})
    session = vf_session(study, bob)
    r01 = study.animals.get(code="R01")
    for app, value in ((1, 10.0), (2, 12.0), (3, 17.0)):
        entry_save(
            session=session,
            animal=r01,
            footpad="left",
            application=app,
            value=value,
            experimenter="bob",
            user=bob,
        )
    entry_save(
        session=session,
        animal=r01,
        footpad="left",
        application=1,
        value=25.0,
        experimenter="carol",
        user=carol,
    )
    study_assay = StudyAssay.objects.get(study=study, assay=VF)
    grid = selectors.entry_grid(
        session=session, study_assay=study_assay, experimenter="bob", show_groups=True
    )
    assert grid.rows[0].means == {"left": pytest.approx(13.0), "right": None}
    status = selectors.slot_status(
        session=session, study_assay=study_assay, animal=r01, footpad="left", experimenter="bob"
    )
    assert status.footpad_mean == pytest.approx(13.0)
    assert (status.entered, status.expected, status.agreement_visible) == (3, 180, False)
    assert grid.first_empty == (r01.pk, "left:4")


def statuses_of(session, name: str, *, study_assay=None, animal=None):
    return selectors.slot_statuses(
        session=session,
        study_assay=study_assay or StudyAssay.objects.get(study=session.study, assay=VF),
        animal=animal or session.study.animals.get(code="R01"),
        footpads=["left", "right"],
        experimenter=name,
    )


@pytest.mark.parametrize("per_group", [1, 6])
def test_slot_statuses_are_one_query_whatever_the_size(
    per_group, bob, carol, django_assert_num_queries
):
    study = make_study(
        slug=f"statuses-{per_group}",
        animals_per_group=per_group,
        members={bob: "technician", carol: "technician"},
    )
    session = vf_session(study, bob)
    StudyAssay.objects.filter(study=study, assay=VF).update(applications=1)
    codes = list(study.animals.values_list("code", flat=True))
    enter(session, bob, {(code, fp): 10.0 for code in codes for fp in ("left", "right")})
    enter(session, carol, {("R01", "left"): 12.0})

    study_assay, r01 = StudyAssay.objects.get(study=study, assay=VF), study.animals.get(code="R01")

    # values per experimenter, with the animals measured and bob's mean of each footpad
    with django_assert_num_queries(1):
        statuses = statuses_of(session, "bob", study_assay=study_assay, animal=r01)

    assert {fp: (s.footpad_mean, s.entered, s.expected) for fp, s in statuses.items()} == {
        "left": (10.0, 2 * len(codes), 2 * len(codes)),
        "right": (10.0, 2 * len(codes), 2 * len(codes)),
    }
    assert not statuses["left"].agreement_visible  # carol has not finished


def test_slot_statuses_without_any_tally_still_give_the_means_and_the_animals(
    tiny_study, bob, carol
):
    """A session whose tallies are missing (readings restored without refresh_summaries)."""
    session = vf_session(tiny_study, bob)
    enter(session, bob, {("R01", "left"): 10.0, ("R02", "left"): 14.0})
    with_tallies = statuses_of(session, "bob")
    EntryTally.objects.all().delete()

    without = statuses_of(session, "bob")

    assert with_tallies["left"].footpad_mean == without["left"].footpad_mean == 10.0
    assert with_tallies["right"].footpad_mean is without["right"].footpad_mean is None
    assert (with_tallies["left"].entered, without["left"].entered) == (2, 0)
    assert with_tallies["left"].expected == without["left"].expected == 4


def test_slot_statuses_count_the_animals_measured_as_the_grid_does(study, bob, carol):
    """Active animals, and an excluded animal that has values in the session; not one
    excluded before it had any."""
    session = vf_session(study, bob)
    enter(session, bob, {("R02", "left"): 10.0})
    for code in ("R02", "R03"):
        study.animals.filter(code=code).update(
            status=Animal.Status.EXCLUDED, status_reason="tumour", status_date="2026-01-01"
        )
    measured = Animal.objects.filter(selectors._measured_in(session)).count()
    assert measured == study.animals.count() - 1

    statuses = statuses_of(session, "bob", animal=study.animals.get(code="R02"))

    assert statuses["left"].expected == measured * 20
    assert statuses["left"].footpad_mean == 10.0
    grid = grid_for(session, "bob")
    assert grid.expected == statuses["left"].expected


def test_sessions_overview_counts_values_per_experimenter_and_states(tiny_study, bob, carol):
    session = vf_session(tiny_study, bob)
    enter(session, bob, dict.fromkeys(ALL_SLOTS, 10.0))
    enter(session, carol, {("R01", "left"): 10.0, ("R01", "right"): 16.0})
    rows = {(r.timepoint.day, r.assay): r for r in selectors.sessions_overview(study=tiny_study)}
    row = rows[(-1, VF)]
    assert row.expected == 4
    assert row.by_experimenter == {"bob": 4, "carol": 2}
    assert (row.verified, row.disputed, row.percent_verified) == (1, 1, 25)
    assert rows[(21, VF)].session is None


def test_discrepancy_list_filters_by_status_and_session(tiny_study, bob, carol, alice):
    session = vf_session(tiny_study, bob)
    enter(session, bob, {("R01", "left"): 10.0, ("R02", "left"): 10.0})
    enter(session, carol, {("R01", "left"): 15.0, ("R02", "left"): 18.0})
    first = Discrepancy.objects.get(reading__animal__code="R01")
    discrepancy_resolve(discrepancy=first, value=10.0, reason="remeasured", user=alice)

    everything = selectors.discrepancy_list(study=tiny_study)
    assert [d.status for d in everything] == ["open", "resolved"]
    open_ones = selectors.discrepancy_list(study=tiny_study, session=session, status="open")
    assert [d.reading.animal.code for d in open_ones] == ["R02"]
    other = make_study(slug="elsewhere")
    assert selectors.discrepancy_list(study=other) == []


def test_discrepancy_list_fetches_entries_in_two_queries(
    tiny_study, bob, carol, django_assert_num_queries
):
    session = vf_session(tiny_study, bob)
    enter(session, bob, dict.fromkeys(ALL_SLOTS, 10.0))
    enter(session, carol, dict.fromkeys(ALL_SLOTS, 20.0))
    with django_assert_num_queries(2):
        items = selectors.discrepancy_list(study=tiny_study)
        values = [[(e.experimenter, e.value) for e in d.reading.entries.all()] for d in items]
    assert values == [[("bob", 10.0), ("carol", 20.0)]] * 4


def test_a_discrepancy_of_another_study_is_not_found_through_this_one(tiny_study, bob, carol):
    session = vf_session(tiny_study, bob)
    enter(session, bob, {("R01", "left"): 10.0})
    enter(session, carol, {("R01", "left"): 15.0})
    discrepancy = Discrepancy.objects.get()
    assert selectors.discrepancy_get(study=tiny_study, pk=discrepancy.pk) == discrepancy
    assert selectors.discrepancy_get(study=make_study(slug="else"), pk=discrepancy.pk) is None


@pytest.mark.parametrize(
    ("value", "text"), [(12.0, "12"), (12.25, "12.25"), (0.1, "0.1"), (None, "")]
)
def test_a_stored_value_is_shown_as_typed_never_rounded(value, text):
    assert selectors.value_text(value) == text
