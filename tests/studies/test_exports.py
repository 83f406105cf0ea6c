"""The export package: export_study writes four files; study.json and readings.csv import into
an identical study; the workbook and the Prism file hold each animal's value as the statistics
use it (read back with the independent ``pzfx`` package); downloads are permission-checked."""

import csv
import io
import json
import random

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from openpyxl import load_workbook
from pzfx import pzfx_tables, read_pzfx

from behavior import analysis
from behavior.forms_dashboard import StatsOptions
from behavior.models import Discrepancy
from behavior.readings_io import parse_readings_csv
from behavior.services import discrepancy_resolve, readings_import
from studies.interchange import study_import
from studies.models import Animal, Study

pytestmark = pytest.mark.django_db

HEADER = "animal,day,assay,footpad,application,value,experimenter,behavior"


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def readings_text(study: Study, *, seed: int = 7) -> str:
    """Von Frey by two experimenters at both timepoints (one disagreement), hot plate once."""
    rng = random.Random(seed)
    lines = [HEADER]
    for animal in study.animals.order_by("code"):
        for day in (-1, 21):
            for footpad in ("left", "right"):
                for application in range(1, 11):
                    value = round(rng.uniform(4, 20), 1)
                    lines.append(
                        f"{animal.code},{day},von_frey,{footpad},{application},{value},bob,"
                    )
                    if (animal.code, day, footpad, application) == ("R02", 21, "left", 3):
                        value = value + 2
                    lines.append(
                        f"{animal.code},{day},von_frey,{footpad},{application},{value},carol,"
                    )
            latency = round(rng.uniform(5, 25), 2)
            lines.append(f"{animal.code},{day},hot_plate,,1,{latency},bob,lick")
    return "\n".join(lines) + "\n"


@pytest.fixture
def measured(study, alice):
    """The study with readings, one discrepancy resolved, R09 excluded from the study."""
    # Day 0 before the exclusion date: the readings were taken while R09 was in the study.
    Study.objects.filter(pk=study.pk).update(day0="2026-01-01")
    readings_import(study=study, rows=parse_readings_csv(readings_text(study)), user=None)
    discrepancy = Discrepancy.objects.get()
    discrepancy_resolve(
        discrepancy=discrepancy, value=9.5, reason="remeasured", note="re-read", user=alice
    )
    Animal.objects.filter(study=study, code="R09").update(
        status=Animal.Status.EXCLUDED, status_reason="lost weight", status_date="2026-02-01"
    )
    study.refresh_from_db()
    return study


def per_animal(study, assay) -> dict[tuple[str, str, int], float]:
    """(group, animal, day) -> value, as the statistics compute it (default options)."""
    design = analysis.study_design(study=study)
    result = analysis.assay_statistics(
        design=design,
        frame=analysis.readings_frame(study=study, assay=assay),
        assay=assay,
        options=StatsOptions(),
    )
    return {
        (r.group, r.animal, int(r.day)): float(r.value)
        for r in result.values.itertuples(index=False)
    }


# ---------------------------------------------------------------------------------------------
# The command


def test_export_study_writes_the_four_files(measured, tmp_path, capsys):
    call_command("export_study", "rat-ptx", str(tmp_path / "out"))

    names = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert names == ["rat-ptx.pzfx", "rat-ptx.xlsx", "readings.csv", "study.json"]
    assert "Wrote" in capsys.readouterr().out


def test_export_study_refuses_an_unknown_slug(db, tmp_path):
    with pytest.raises(CommandError, match="No study with slug 'nope'"):
        call_command("export_study", "nope", str(tmp_path))


def test_export_study_refuses_a_file_as_the_folder(measured, tmp_path):
    target = tmp_path / "a-file"
    target.write_text("")

    with pytest.raises(CommandError, match="not a folder"):
        call_command("export_study", "rat-ptx", str(target))


def test_the_export_imports_into_an_identical_study(measured, tmp_path):
    call_command("export_study", "rat-ptx", str(tmp_path / "first"))
    design = json.loads((tmp_path / "first" / "study.json").read_text())
    design["slug"] = "rat-ptx-copy"

    copy, created = study_import(data=design)
    readings = parse_readings_csv((tmp_path / "first" / "readings.csv").read_text())
    readings_import(study=copy, rows=readings)
    call_command("export_study", "rat-ptx-copy", str(tmp_path / "second"))

    assert created
    again = json.loads((tmp_path / "second" / "study.json").read_text())
    assert again == {**design, "slug": "rat-ptx-copy"}
    first_rows = (tmp_path / "first" / "readings.csv").read_text()
    second_rows = (tmp_path / "second" / "readings.csv").read_text()
    assert second_rows == first_rows
    # the resolution travelled with the rows
    assert Discrepancy.objects.get(reading__session__study=copy).resolved_value == 9.5
    assert per_animal(copy, "von_frey") == pytest.approx(
        per_animal(measured, "von_frey"), rel=1e-12
    )


def test_the_readings_csv_has_the_interchange_columns_first(measured, tmp_path):
    call_command("export_study", "rat-ptx", str(tmp_path))

    rows = list(csv.reader(io.StringIO((tmp_path / "readings.csv").read_text())))

    assert rows[0][:8] == HEADER.split(",")
    # 9 animals x 2 days x (2 footpads x 10 applications x 2 experimenters + 1 hot plate)
    assert len(rows) - 1 == 9 * 2 * (40 + 1)


# ---------------------------------------------------------------------------------------------
# The Prism file


def test_the_prism_file_holds_each_animals_value_per_group_and_timepoint(measured, tmp_path):
    call_command("export_study", "rat-ptx", str(tmp_path))
    path = str(tmp_path / "rat-ptx.pzfx")

    assert pzfx_tables(path) == ["hot_plate (s)", "von_frey (g)"]
    for assay in ("von_frey", "hot_plate"):
        table = read_pzfx(path, table=f"{assay} ({'g' if assay == 'von_frey' else 's'})")
        expected = per_animal(measured, assay)
        assert list(table["ROWTITLE"]) == ["baseline (day -1)", "week 3 (day 21)"]
        read_back = {}
        for group in ("VEH", "PTX-SAL", "PTX-IVIG"):
            animals = sorted({a for g, a, _ in expected if g == group})
            for index, animal in enumerate(animals, start=1):
                column = table[f"{group}_{index}"]
                for row, day in enumerate((-1, 21)):
                    read_back[(group, animal, day)] = float(column[row])
        # Same numbers up to the last bit of a float's summation order.
        assert read_back == pytest.approx(expected, rel=1e-12)


def test_an_excluded_animal_is_not_in_the_prism_file(measured, tmp_path):
    call_command("export_study", "rat-ptx", str(tmp_path))

    table = read_pzfx(str(tmp_path / "rat-ptx.pzfx"), table="von_frey (g)")

    # PTX-IVIG had R07..R09; R09 is excluded, so its third subcolumn is empty
    assert table["PTX-IVIG_3"].isna().all()
    assert table["PTX-IVIG_2"].notna().all()


# ---------------------------------------------------------------------------------------------
# The workbook


def test_the_workbook_has_design_readings_values_and_statistics(measured, tmp_path):
    call_command("export_study", "rat-ptx", str(tmp_path))

    book = load_workbook(tmp_path / "rat-ptx.xlsx", read_only=True)

    assert book.sheetnames == ["design", "raw readings", "per-animal values", "statistics"]
    values = list(book["per-animal values"].iter_rows(values_only=True))
    assert values[0] == ("assay", "unit", "animal", "group", "timepoint", "day", "value")
    from_sheet = {
        (group, animal, day): value
        for assay, _unit, animal, group, _tp, day, value in values[1:]
        if assay == "von_frey"
    }
    assert from_sheet == pytest.approx(per_animal(measured, "von_frey"), rel=1e-12)
    raw = list(book["raw readings"].iter_rows(values_only=True))
    assert len(raw) - 1 == 9 * 2 * 41
    stats = list(book["statistics"].iter_rows(values_only=True))
    document = analysis.study_stats_document(study=measured, assay="von_frey")
    comparisons = [r for r in stats if r[:2] == ("von_frey", "comparison")][1:]
    assert [(r[2], r[3], r[5]) for r in comparisons] == [
        (c["reference"], c["group"], c["day"]) for c in document["comparisons"]
    ]
    # PostgreSQL may return the readings in another order: sums differ in the last bit.
    assert [r[9] for r in comparisons] == pytest.approx(
        [c["p"] for c in document["comparisons"]], rel=1e-9
    )
    design = {(r[1], r[2]) for r in book["design"].iter_rows(values_only=True) if r[0] == "study"}
    assert ("slug", "rat-ptx") in design


# ---------------------------------------------------------------------------------------------
# Downloads


def download(client, user, kind, slug="rat-ptx"):
    client.force_login(user)
    return client.get(f"/studies/{slug}/export/{kind}/")


@pytest.mark.parametrize(
    ("kind", "filename", "content_type"),
    [
        ("json", "study.json", "application/json"),
        ("csv", "readings.csv", "text/csv; charset=utf-8"),
        (
            "xlsx",
            "rat-ptx.xlsx",
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        ),
        ("pzfx", "rat-ptx.pzfx", "application/xml"),
    ],
)
def test_the_pi_downloads_each_export(client, measured, alice, kind, filename, content_type):
    response = download(client, alice, kind)

    assert response.status_code == 200
    assert response["Content-Type"] == content_type
    assert response["Content-Disposition"] == f'attachment; filename="{filename}"'
    assert len(response.content) > 100


def test_a_viewer_downloads_the_exports(client, measured, dave):
    assert download(client, dave, "pzfx").status_code == 200


@pytest.mark.parametrize("kind", ["json", "csv", "xlsx", "pzfx"])
def test_a_technician_of_a_blinded_study_gets_no_export(client, blinded_study, bob, kind):
    assert download(client, bob, kind, slug="rat-blind").status_code == 403


def test_a_technician_gets_no_export_either_in_an_open_study(client, study, bob):
    # The readings hold the other experimenter's values: double entry is blind.
    assert download(client, bob, "csv").status_code == 403


def test_an_outsider_gets_404_for_an_export(client, study, eve):
    assert download(client, eve, "xlsx").status_code == 404


def test_an_unknown_export_is_404(client, study, alice):
    assert download(client, alice, "pdf").status_code == 404


def test_the_study_page_offers_the_downloads_to_the_pi_only(client, study, alice, bob):
    client.force_login(alice)
    pi_page = client.get("/studies/rat-ptx/").content.decode()
    client.force_login(bob)
    technician_page = client.get("/studies/rat-ptx/").content.decode()

    assert "/studies/rat-ptx/export/pzfx/" in pi_page
    assert "/export/" not in technician_page
