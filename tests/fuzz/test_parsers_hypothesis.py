"""Whatever a readings file or a study.json holds, the import answers with reasons or imports it:
never a server error, never a traceback, never half of it written."""

from __future__ import annotations

import copy
import csv
import datetime as dt
import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from hypothesis import event, given
from hypothesis import strategies as st
from openpyxl import Workbook

from behavior.readings_io import COLUMNS, parse_readings_csv, parse_readings_xlsx
from behavior.services import readings_import
from studies.errors import ImportProblems
from studies.interchange import study_import, validate_study_json
from tests.fuzz.helpers import FUZZ, json_values, junk_text, rolled_back, row_counts

pytestmark = pytest.mark.django_db

# Cells that are mostly meaningful for the ``study`` fixture (R01..R09, days -1 and 21, von Frey
# up to 26 g under double entry, hot plate up to 30 s), mixed with near misses and junk, so that
# both whole imports and refusals are reached.
CELLS = {
    "animal": st.sampled_from(["R01", "R02", "R09", " r03 ", "R10", ""]) | junk_text,
    "day": st.sampled_from(["-1", "21", "21.0", "5", "", "day 21", "1e3"])
    | st.integers(-3, 30).map(str),
    "assay": st.sampled_from(["von_frey", "hot_plate", "Von_Frey", "tail_flick", ""]) | junk_text,
    "footpad": st.sampled_from(["left", "right", "", "LEFT", "both"]),
    "application": st.integers(-1, 12).map(str) | st.sampled_from(["", "1.5", "one"]),
    "value": st.floats(0.01, 40).map(lambda v: f"{v:.2f}")
    | st.sampled_from(["", "12,5", "nan", "inf", "-3", "0", "26", "30", "1e309", "0x1A"])
    | st.floats().map(repr),
    "experimenter": st.sampled_from(["bob", "carol", "", " bob "]) | junk_text,
    "behavior": st.sampled_from(["", "lick", "flutter", "raise", "jump", "sneeze"]),
}
HEADERS = (
    st.just(COLUMNS)
    | st.permutations(COLUMNS)
    | st.lists(st.sampled_from([*COLUMNS, "note", ""]), min_size=1, max_size=9, unique=True)
)


@st.composite
def readings_tables(draw) -> list[list]:
    """A header and up to 12 rows of cells under it."""
    header = list(draw(HEADERS))
    rows = draw(
        st.lists(
            st.fixed_dictionaries({name: CELLS.get(name, junk_text) for name in header}),
            max_size=12,
        )
    )
    return [header, *[[row[name] for name in header] for row in rows]]


def csv_bytes(table: list[list]) -> bytes:
    out = io.StringIO()
    csv.writer(out).writerows(table)
    return out.getvalue().encode("utf-8")


def xlsx_bytes(table: list[list]) -> bytes:
    workbook = Workbook()
    sheet = workbook.active
    for cells in table:
        sheet.append(cells)
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


# Spreadsheet cells keep their types: numbers, dates, booleans and empty cells besides text.
XLSX_CELL = (
    st.none()
    | st.booleans()
    | st.integers(-5, 60)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.datetimes(min_value=dt.datetime(1990, 1, 1), max_value=dt.datetime(2100, 1, 1))
    | st.text(alphabet=st.characters(blacklist_categories=("Cc", "Cs")), max_size=12)
)


@st.composite
def typed_tables(draw) -> list[list]:
    """A readings table whose cells are of any spreadsheet type, mixed with meaningful text."""
    header = list(draw(HEADERS))
    rows = draw(
        st.lists(
            st.lists(
                XLSX_CELL | st.sampled_from(["R01", "21", "von_frey", "left", "bob", "12.5"]),
                min_size=len(header),
                max_size=len(header),
            ),
            max_size=10,
        )
    )
    return [header, *rows]


def assert_refused_or_imported(response, before: dict) -> None:
    assert response.status_code in (302, 400), response.status_code
    assert b"Traceback" not in response.content
    event("imported" if response.status_code == 302 else "refused")
    if response.status_code == 400:
        assert row_counts() == before, "a refused file wrote rows"


@pytest.fixture
def uploader(client, study, bob):
    client.force_login(bob)
    url = reverse("behavior:upload", kwargs={"slug": study.slug})

    def upload(name: str, content: bytes):
        return client.post(url, {"file": SimpleUploadedFile(name, content)})

    return upload


# ---------------------------------------------------------------------------------------------
# readings.csv and .xlsx through the upload page


@FUZZ
@given(table=readings_tables())
def test_any_readings_csv_is_imported_whole_or_refused_with_nothing_written(uploader, table):
    with rolled_back():
        before = row_counts()
        assert_refused_or_imported(uploader("readings.csv", csv_bytes(table)), before)


@FUZZ
@given(content=st.binary(max_size=300))
def test_any_bytes_named_csv_are_refused_or_read_without_a_server_error(uploader, content):
    with rolled_back():
        before = row_counts()
        assert_refused_or_imported(uploader("readings.csv", content), before)


@FUZZ
@given(table=typed_tables())
def test_any_readings_workbook_is_imported_whole_or_refused_with_nothing_written(uploader, table):
    with rolled_back():
        before = row_counts()
        assert_refused_or_imported(uploader("readings.xlsx", xlsx_bytes(table)), before)


@FUZZ
@given(content=st.binary(min_size=1, max_size=300))  # an empty file has its own message
def test_bytes_that_are_not_a_workbook_are_refused_naming_the_file(uploader, content):
    with rolled_back():
        before = row_counts()
        response = uploader("readings.xlsx", content)

        assert response.status_code == 400
        assert b"readings.xlsx: not a readable .xlsx workbook." in response.content
        assert row_counts() == before


# ---------------------------------------------------------------------------------------------
# The same rows through the service: exact accounting


@FUZZ
@given(table=readings_tables())
def test_an_import_writes_exactly_the_values_it_reports_or_nothing(study, bob, table):
    with rolled_back():
        rows = parse_readings_csv(csv_bytes(table).decode())
        before = row_counts()
        try:
            summary = readings_import(study=study, rows=rows, user=bob, via="command")
        except ImportProblems as exc:
            assert exc.problems
            for where, message in exc.problems:
                assert where.startswith("row ") and message, (where, message)
            assert row_counts() == before
            event("refused")
        else:
            event("imported")
            after = row_counts()
            assert after["Entry"] - before["Entry"] == summary.values
            assert summary.values + summary.already_there == len(rows)


VALID_ROWS = st.lists(
    st.fixed_dictionaries(
        {
            "animal": st.sampled_from([f"R{n:02d}" for n in range(1, 10)]),
            "day": st.sampled_from(["-1", "21"]),
            "assay": st.just("von_frey"),
            "footpad": st.sampled_from(["left", "right"]),
            "application": st.integers(1, 10).map(str),
            "value": st.integers(1, 2600).map(lambda centi: f"{centi / 100:g}"),
            "experimenter": st.sampled_from(["bob", "carol"]),
            "behavior": st.just(""),
        }
    ),
    min_size=1,
    max_size=40,
    # One value per slot and experimenter: the same key twice with two values is a conflict.
    unique_by=lambda r: (r["animal"], r["day"], r["footpad"], r["application"], r["experimenter"]),
)


@FUZZ
@given(rows=VALID_ROWS)
def test_valid_rows_are_all_imported_once_and_skipped_the_second_time(study, bob, rows):
    with rolled_back():
        table = [COLUMNS, *[[row[name] for name in COLUMNS] for row in rows]]
        parsed = parse_readings_csv(csv_bytes(table).decode())
        before = row_counts()

        first = readings_import(study=study, rows=parsed, user=bob, via="command")
        middle = row_counts()
        again = readings_import(study=study, rows=parsed, user=bob, via="command")

        assert (first.values, first.already_there) == (len(rows), 0)
        assert middle["Entry"] - before["Entry"] == len(rows)
        assert (again.values, again.already_there) == (0, len(rows))
        assert row_counts()["Entry"] == middle["Entry"]


@FUZZ
@given(table=typed_tables())
def test_a_workbook_parses_to_one_dict_per_non_blank_row(table):
    rows = parse_readings_xlsx(io.BytesIO(xlsx_bytes(table)))

    non_blank = [
        cells for cells in table[1:] if any(c is not None and str(c).strip() for c in cells)
    ]
    assert len(rows) == len(non_blank)
    assert all(isinstance(row["_row"], int) and row["_row"] >= 2 for row in rows)


# ---------------------------------------------------------------------------------------------
# study.json

VALID_STUDY = {
    "format": "cipn-study/1",
    "slug": "fuzz-study",
    "title": "IVIg in paclitaxel-induced peripheral neuropathy (rat)",
    "species": "rat",
    "day0": "2026-01-12",
    "blinded": True,
    "assays": {
        "von_frey": {
            "applications_per_footpad": 10,
            "footpads": ["left", "right"],
            "max_force_g": 26,
            "double_entry": True,
        },
        "hot_plate": {"temperature_c": 54.5, "cutoff_s": 30, "double_entry": False},
    },
    "groups": [
        {"code": "VEH", "name": "Vehicle", "control": True},
        {"code": "PTX-SAL", "name": "Paclitaxel + saline"},
    ],
    "dosing": [
        {
            "group": "PTX-SAL",
            "agent": "paclitaxel",
            "dose": 1,
            "unit": "mg/kg",
            "route": "ip",
            "days": [0, 1, 2, 3, 4],
        }
    ],
    "timepoints": [{"label": "baseline", "day": -1}, {"label": "week 3", "day": 21}],
    "comparisons": [{"reference": "VEH", "group": "PTX-SAL", "symbol": "#"}],
    "animals": [{"code": "R01", "group": "VEH", "cage": "C1"}, {"code": "R02", "group": "PTX-SAL"}],
}


def _paths(value, path=()):
    """Every path into a JSON document: dict keys and list indexes."""
    yield path
    if isinstance(value, dict):
        for key, child in value.items():
            yield from _paths(child, (*path, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            yield from _paths(child, (*path, index))


PATHS = [path for path in _paths(VALID_STUDY) if path]


@st.composite
def mutated_studies(draw) -> dict:
    """The valid document with one to three parts replaced by any JSON value, or dropped."""
    data = copy.deepcopy(VALID_STUDY)
    for path in draw(st.lists(st.sampled_from(PATHS), min_size=1, max_size=3)):
        parent = data
        try:
            for key in path[:-1]:
                parent = parent[key]
            if draw(st.booleans()):
                parent[path[-1]] = draw(json_values)
            elif isinstance(parent, dict):
                parent.pop(path[-1], None)
        except (KeyError, IndexError, TypeError):
            continue  # an earlier mutation already replaced this part
    return data


@FUZZ
@given(data=json_values)
def test_the_validator_lists_problems_of_any_json_without_raising(data):
    problems = validate_study_json(data)

    assert isinstance(problems, list)
    assert all(isinstance(w, str) and isinstance(m, str) and m for w, m in problems)
    if not isinstance(data, dict):
        assert problems


@FUZZ
@given(data=mutated_studies(), existing=st.booleans())
def test_any_study_json_creates_or_updates_a_study_or_writes_nothing(alice, data, existing):
    with rolled_back():
        if existing:
            study_import(data=VALID_STUDY, user=alice)  # the mutation is then an update
        before = row_counts()
        problems = validate_study_json(data)
        try:
            study, _created = study_import(data=data, user=alice)
        except ImportProblems as exc:
            assert exc.problems
            assert all(where.startswith("$") for where, _ in exc.problems), exc.problems
            assert row_counts() == before
            event("refused")
        else:
            event("imported")
            assert not problems
            assert study.slug == data["slug"]
