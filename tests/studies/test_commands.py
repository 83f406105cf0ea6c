"""The commands of interchange.md: import_study, study_member, load_demo, create_demo_users."""

from __future__ import annotations

import copy
import datetime as dt
import json
import os
import subprocess
import sys
from io import StringIO
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.utils import timezone

from studies.demo import DEMO_STUDIES, DEMO_TODAY_DAY, DEMO_USERS, demo_study_data, demo_study_load
from studies.designs import DESIGNS
from studies.interchange import study_import_report
from studies.models import (
    Animal,
    BodyWeight,
    ChangeRecord,
    DoseRecord,
    DosingSchedule,
    Membership,
    Study,
    TreatmentGroup,
)
from tests.studies.test_interchange import EXAMPLE

PROJECT = Path(__file__).resolve().parents[2]


def run(*args) -> tuple[int, str, str]:
    """Runs a management command in-process: (exit status, stdout, stderr)."""
    out, err = StringIO(), StringIO()
    try:
        call_command(*args, stdout=out, stderr=err)
    except SystemExit as exc:
        return exc.code, out.getvalue(), err.getvalue()
    return 0, out.getvalue(), err.getvalue()


@pytest.fixture
def study_file(tmp_path):
    def write(data) -> str:
        path = tmp_path / "study.json"
        path.write_text(data if isinstance(data, str) else json.dumps(data), encoding="utf-8")
        return str(path)

    return write


# --- import_study -----------------------------------------------------------------------------


@pytest.mark.django_db
def test_import_study_creates_the_study_and_says_what_it_created(study_file):
    status, out, err = run("import_study", study_file(EXAMPLE))

    assert (status, err) == (0, "")
    assert "Created study rat-ptx-ivig" in out
    assert "created 6 animals" in out
    assert "created 3 groups" in out
    assert Study.objects.get().animals.count() == 6


@pytest.mark.django_db
def test_import_study_again_updates_the_same_study(study_file, alice):
    run("import_study", study_file(EXAMPLE))
    changed = copy.deepcopy(EXAMPLE)
    changed["animals"].append({"code": "R07", "group": "VEH"})

    status, out, _ = run("import_study", study_file(changed), "--user", "alice")

    assert status == 0
    assert "Updated study rat-ptx-ivig" in out
    assert "created 1 animal" in out
    assert Study.objects.count() == 1
    record = ChangeRecord.objects.get(entity="animal", object_id=Animal.objects.get(code="R07").pk)
    assert (record.user, record.via) == (alice, "command")


@pytest.mark.django_db
def test_import_study_of_an_unchanged_file_says_so(study_file):
    path = study_file(EXAMPLE)
    run("import_study", path)

    status, out, _ = run("import_study", path)

    assert status == 0
    assert "no changes" in out


@pytest.mark.django_db
def test_import_study_prints_every_problem_with_its_path_and_exits_1(study_file):
    bad = copy.deepcopy(EXAMPLE)
    bad["groups"][1]["code"] = "VEH"
    bad["dosing"][0]["route"] = "im"

    status, out, err = run("import_study", study_file(bad))

    assert status == 1
    lines = err.splitlines()
    assert "$.groups[1].code: repeats the group code 'VEH'" in lines
    assert "$.dosing[0].route: must be one of ip, iv, sc, po (got 'im')" in lines
    assert out == ""
    assert not Study.objects.exists()


@pytest.mark.django_db
def test_import_study_refuses_a_file_that_is_not_json(study_file):
    status, _, err = run("import_study", study_file('{"format": "cipn-study/1",'))

    assert status == 1
    assert err.startswith("$: ")
    assert "is not valid JSON" in err
    assert not Study.objects.exists()


@pytest.mark.django_db
def test_import_study_refuses_a_file_it_cannot_read(tmp_path):
    status, _, err = run("import_study", str(tmp_path / "missing.json"))

    assert status == 1
    assert "cannot be read" in err


@pytest.mark.django_db
def test_import_study_refuses_a_locked_study(study_file):
    path = study_file(EXAMPLE)
    run("import_study", path)
    Study.objects.update(status=Study.Status.LOCKED)

    status, _, err = run("import_study", path)

    assert status == 1
    assert "$.slug: Study rat-ptx-ivig is locked" in err


@pytest.mark.django_db
def test_import_study_refuses_an_unknown_importer(study_file):
    status, _, err = run("import_study", study_file(EXAMPLE), "--user", "nobody")

    assert status == 1
    assert "--user: no user is called 'nobody'" in err
    assert not Study.objects.exists()


def test_import_study_exits_1_without_a_traceback_from_the_shell(tmp_path):
    path = tmp_path / "study.json"
    path.write_text(json.dumps({**EXAMPLE, "species": "dog"}), encoding="utf-8")
    # Invalid input is refused before the database is touched; an empty file database keeps
    # the run away from the project's own.
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp_path / 'empty.sqlite3'}"}

    done = subprocess.run(
        [sys.executable, "manage.py", "import_study", str(path)],
        cwd=PROJECT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert done.returncode == 1
    assert "$.species: must be one of rat, mouse (got 'dog')" in done.stderr
    assert "Traceback" not in done.stderr


# --- study_member -------------------------------------------------------------------------------


@pytest.mark.django_db
def test_study_member_gives_a_role_and_changes_it(study, eve):
    status, out, _ = run("study_member", "rat-ptx", "eve", "viewer")
    assert (status, out.strip()) == (0, "eve is now viewer of rat-ptx")

    status, _, _ = run("study_member", "rat-ptx", "eve", "technician")

    assert status == 0
    assert Membership.objects.get(study=study, user=eve).role == "technician"
    assert ChangeRecord.objects.filter(study=study, entity="membership", via="command").count() == 2


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("no-such-study", "eve", "viewer"), "slug: no study is called 'no-such-study'"),
        (("rat-ptx", "mallory", "viewer"), "username: no user is called 'mallory'"),
        (("rat-ptx", "eve", "owner"), "role: must be one of pi, technician, viewer (got 'owner')"),
    ],
    ids=["unknown study", "unknown user", "unknown role"],
)
def test_study_member_refuses_what_does_not_exist_with_exit_1(study, eve, args, message):
    status, _, err = run("study_member", *args)

    assert status == 1
    assert message in err.splitlines()
    assert not Membership.objects.filter(user=eve).exists()


# --- create_demo_users --------------------------------------------------------------------------


@pytest.mark.django_db
def test_create_demo_users_prints_the_demo_logins_and_runs_twice_without_change(study):
    Study.objects.filter(pk=study.pk).update(synthetic=True)
    status, out, _ = run("create_demo_users")

    assert status == 0
    assert "DEMO ONLY" in out
    users = get_user_model().objects.filter(username__in=[u for u, _, _ in DEMO_USERS])
    assert users.count() == 4
    for username, role, password in DEMO_USERS:
        user = users.get(username=username)
        assert username in out and password in out
        assert user.check_password(password)
        assert Membership.objects.get(study=study, user=user).role == role
    memberships = Membership.objects.count()

    status, out, _ = run("create_demo_users")

    assert status == 0
    assert "already there" in out
    assert get_user_model().objects.filter(username__in=[u for u, _, _ in DEMO_USERS]).count() == 4
    assert Membership.objects.count() == memberships


@pytest.mark.django_db
def test_create_demo_users_gives_no_role_in_a_real_study(study):
    run("create_demo_users")

    assert not Membership.objects.filter(study=study, user__username__in=["pi", "tech1"]).exists()


@pytest.mark.django_db
def test_create_demo_users_keeps_the_password_of_an_existing_user():
    user = get_user_model().objects.create_user(username="tech1", password="changed-by-tech-1")

    run("create_demo_users")

    user.refresh_from_db()
    assert user.check_password("changed-by-tech-1")


# --- load_demo ----------------------------------------------------------------------------------


def counts() -> dict[str, int]:
    from behavior.models import Entry, Reading

    models = [Study, TreatmentGroup, Animal, DosingSchedule, BodyWeight, DoseRecord, Membership]
    found = {model.__name__: model.objects.count() for model in models}
    found["ChangeRecord"] = ChangeRecord.objects.count()
    found["Reading"] = Reading.objects.count()
    found["Entry"] = Entry.objects.count()
    return found


IN_PROGRESS = "demo-today-rat-paclitaxel"
PAPER_STUDIES = [slug for slug in DEMO_STUDIES if slug != IN_PROGRESS]


@pytest.mark.django_db
def test_load_demo_twice_leaves_the_same_rows():
    for username, _, password in DEMO_USERS:
        get_user_model().objects.create_user(username=username, password=password)
    status, out, _ = run("load_demo")
    assert status == 0
    first = counts()

    status, out, _ = run("load_demo")

    assert status == 0
    assert counts() == first
    assert first["Study"] == 5
    assert first["Membership"] == 5 * len(DEMO_USERS)
    for key in DEMO_STUDIES:
        assert f"{key}: already there" in out


def test_the_paper_demo_studies_are_planned_for_the_day_after_their_last_timepoint():
    assert list(DESIGNS) == PAPER_STUDIES
    for key in PAPER_STUDIES:
        last = max(tp["day"] for tp in DESIGNS[key]["timepoints"])
        assert DEMO_TODAY_DAY[key] == last + 1
    assert DEMO_TODAY_DAY[IN_PROGRESS] == 21


@pytest.mark.django_db
def test_load_demo_loads_the_five_studies_as_running_synthetic_studies():
    status, out, _ = run("load_demo", "--without-readings")

    assert status == 0
    today = timezone.localdate()
    for key, plan in DEMO_STUDIES.items():
        design = DESIGNS[plan.design]
        study = Study.objects.get(slug=key)
        assert study.synthetic is True
        assert study.title.endswith("(synthetic demo)")
        assert study.status == Study.Status.RUNNING
        assert study.day0 == today - dt.timedelta(DEMO_TODAY_DAY[key])
        assert {
            code: study.animals.filter(group__code=code).count()
            for code in study.groups.values_list("code", flat=True)
        } == {g["code"]: g["n_per_group"] for g in design["groups"]}
        prefix = "R" if design["species"] == "rat" else "M"
        assert study.animals.order_by("code").first().code == f"{prefix}01"
        assert key in out
    assert Study.objects.get(slug="fig3-rat-clodronate").blinded is True
    assert Study.objects.get(slug="fig2-mouse-paclitaxel").blinded is False
    in_progress = Study.objects.get(slug=IN_PROGRESS)
    assert in_progress.blinded is True
    assert in_progress.title == (
        "IVIg in paclitaxel-induced neuropathy (rat), in progress (synthetic demo)"
    )


@pytest.mark.django_db
@pytest.mark.parametrize("key", ["fig3-rat-clodronate", IN_PROGRESS])
def test_a_blinded_demo_study_does_not_number_its_animals_by_group(key):
    call_command("load_demo", "--without-readings", stdout=StringIO())

    study = Study.objects.get(slug=key)
    first_five = study.animals.order_by("code")[:5].values_list("group__code", flat=True)
    assert len(set(first_five)) > 1


@pytest.mark.django_db
def test_the_study_in_progress_has_weights_and_the_doses_due_before_today():
    today = dt.date(2026, 3, 23)
    demo = demo_study_load(key=IN_PROGRESS, today=today)

    study = demo.study
    assert study.day0 == dt.date(2026, 3, 2)  # today is day 21
    baseline = BodyWeight.objects.filter(animal__study=study, date=dt.date(2026, 3, 1))
    assert baseline.count() == 40
    rat_weights = list(baseline.values_list("grams", flat=True))
    assert 200 < sum(rat_weights) / len(rat_weights) < 300
    # Days -1, 6, 13 and 20.
    assert BodyWeight.objects.filter(animal__study=study).count() == 40 * 4
    records = DoseRecord.objects.filter(animal__study=study)
    assert set(records.values_list("status", flat=True)) == {"given"}
    # Paclitaxel (30 rats x 12 days), its vehicle (10 x 12), IVIg or saline (30 x days 0, 7
    # and 14): day 21's IVIg or saline is due today.
    assert records.count() == 30 * 12 + 10 * 12 + 30 * 3
    assert not records.filter(day=21).exists()
    ivig = records.filter(schedule__agent__name="IVIg", day=14).first()
    assert ivig.volume_ml == pytest.approx(ivig.weight_g / 1000 * 1000 / 50)
    assert ChangeRecord.objects.filter(study=study, entity="dose").count() == records.count()


@pytest.mark.django_db
def test_a_paper_demo_study_is_complete_with_weekly_weights_and_every_dose_given():
    today = dt.date(2026, 3, 23)
    demo = demo_study_load(key="fig1a-rat-paclitaxel", today=today)

    study = demo.study
    assert study.day0 == dt.date(2026, 2, 15)  # today is day 36
    dates = set(BodyWeight.objects.filter(animal__study=study).values_list("date", flat=True))
    assert dates == {study.day0 + dt.timedelta(days) for days in (-1, 6, 13, 20, 27, 34)}
    assert demo.weights_added == 40 * 6
    records = DoseRecord.objects.filter(animal__study=study)
    assert set(records.values_list("status", flat=True)) == {"given"}
    assert records.count() == demo.doses_added == 30 * 12 + 10 * 12 + 30 * 4


@pytest.mark.django_db
def test_a_later_load_never_writes_past_a_demo_studys_planned_day():
    first = demo_study_load(key=IN_PROGRESS, today=dt.date(2026, 3, 23))  # day 21
    doses, weights = DoseRecord.objects.count(), BodyWeight.objects.count()

    later = demo_study_load(key=IN_PROGRESS, today=dt.date(2026, 4, 6))  # day 35

    assert later.study.day0 == first.study.day0 == dt.date(2026, 3, 2)
    # Day 21's doses and the weighings of days 27 and 34 are left to the people using the demo.
    assert (later.doses_added, later.weights_added) == (0, 0)
    assert (DoseRecord.objects.count(), BodyWeight.objects.count()) == (doses, weights)


@pytest.mark.django_db
def test_an_existing_demo_study_keeps_day0_and_gets_only_what_fell_due():
    # A study left mid-way by an earlier load: day 0 is kept, whatever the plan says.
    study_import_report(
        data=demo_study_data(key="fig3-rat-clodronate", day0=dt.date(2026, 3, 1)), via="command"
    )
    first = demo_study_load(key="fig3-rat-clodronate", today=dt.date(2026, 3, 20))  # day 19
    assert first.study.day0 == dt.date(2026, 3, 1)
    doses, weights = DoseRecord.objects.count(), BodyWeight.objects.count()

    later = demo_study_load(key="fig3-rat-clodronate", today=dt.date(2026, 3, 23))  # day 22

    assert later.study.day0 == dt.date(2026, 3, 1)
    # Day 19's liposomes and day 21's IVIg or saline for the 32 paclitaxel rats.
    assert DoseRecord.objects.count() - doses == later.doses_added == 32 + 32
    # The day-20 weighing of all 37 rats.
    assert BodyWeight.objects.count() - weights == later.weights_added == 37


def expected_marker(symbol: str, day: int) -> set[str]:
    """The markers the paper's figures show: none at baseline; drug against vehicle P < 0.01
    afterwards; IVIg against saline P < 0.05 or 0.01; IVIg against saline after macrophage
    depletion ($) never significant."""
    if day <= 0 or symbol == "$":
        return {"n.s."}
    if symbol == "#":
        return {"##"}
    return {symbol, symbol * 2}


@pytest.mark.django_db
def test_the_paper_demo_studies_have_every_timepoint_and_show_the_papers_markers():
    from behavior.analysis import study_stats_document
    from behavior.models import Reading

    status, _, _ = run("load_demo")

    assert status == 0
    seen = {}
    for key in PAPER_STUDIES:
        study = Study.objects.get(slug=key)
        days = sorted(study.timepoints.values_list("day", flat=True))
        for assay in study.assays.values_list("assay", flat=True):
            measured = Reading.objects.filter(session__study=study, assay=assay)
            pairs = set(measured.values_list("animal_id", "session__timepoint__day"))
            assert len(pairs) == study.animals.count() * len(days), (key, assay)
            document = study_stats_document(study=study, assay=assay)
            assert {row["day"] for row in document["summary"]} == set(days)
            for comparison in document["comparisons"]:
                where = (key, assay, comparison["group"], comparison["timepoint"])
                seen[where] = comparison["marker"]
                symbol = study.comparisons.get(group__code=comparison["group"]).symbol
                assert comparison["marker"] in expected_marker(symbol, comparison["day"]), where
    # fig1a, fig1b, fig3 (von Frey) and fig2 (von Frey and hot plate): 2 or 3 comparisons at 4
    # timepoints each.
    assert len(seen) == (2 + 2 + 3 + 2 * 2) * 4


@pytest.mark.django_db
def test_the_study_in_progress_has_a_dose_and_a_session_due_today_for_a_technician():
    from behavior.models import Discrepancy, Reading
    from studies.selectors import today_for_user

    run("load_demo")
    run("create_demo_users")
    tech = get_user_model().objects.get(username="tech1")

    today = today_for_user(user=tech, date=timezone.localdate())

    rows = {row.study.slug: row for row in today.studies}
    assert set(rows) == set(DEMO_STUDIES)
    row = rows[IN_PROGRESS]
    assert row.day == 21
    assert {dose.schedule.agent.name for dose in row.doses} == {"IVIg", "saline"}
    assert row.doses_left == len(row.doses) == 30
    # Blinded: the technician sees coded groups, never the treatment.
    codes = set(row.study.groups.values_list("code", flat=True))
    names = set(row.study.groups.values_list("name", flat=True))
    assert not {dose.group_label for dose in row.doses} & (codes | names)
    assert [(s.timepoint.label, s.assay, s.status) for s in row.sessions_due] == [
        ("week 3", "von_frey", "not started")
    ]
    study = row.study
    assert set(
        Reading.objects.filter(session__study=study).values_list(
            "session__timepoint__day", flat=True
        )
    ) == {-1}
    assert (
        1 <= Discrepancy.objects.filter(reading__session__study=study, status="open").count() <= 2
    )
    # The complete studies have nothing left to do today.
    assert all(rows[key].empty for key in PAPER_STUDIES)
