"""A Python client generated from the OpenAPI schema works against the live API.

openapi-python-client turns ``/api/schema/`` into a typed package once per module; the tests
then call a live server through it, as the PI of a seeded study, a technician of a blinded one
and an outsider, and check the parsed models against the raw JSON and the database. A schema
that leaves out an endpoint, declares the wrong body or error shape, or names a field wrongly
breaks these tests.
"""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
from types import SimpleNamespace

import httpx
import pytest
from django.core.management import call_command
from rest_framework.authtoken.models import Token

from behavior.models import Entry
from behavior.services import entry_save, session_open
from studies.models import Animal, Timepoint
from tests.factories import add_schedule

PACKAGE = "cipn_lab_generated_client"
HOT_PLATE = {"R01": 8.0, "R02": 9.0, "R03": 13.0, "R04": 5.0, "R05": 6.5, "R06": 7.0}


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    """The schema as a JSON document, and the client package generated from it, imported."""
    root = tmp_path_factory.mktemp("generated_client")
    schema_path = root / "schema.json"
    call_command("spectacular", "--format", "openapi-json", "--file", str(schema_path))
    config = root / "config.json"
    config.write_text(
        json.dumps(
            {
                "project_name_override": PACKAGE,
                "package_name_override": PACKAGE,
                "post_hooks": [],  # formatting the generated code is not under test
            }
        )
    )
    command = [
        sys.executable,
        "-m",
        "openapi_python_client",
        "generate",
        "--path",
        str(schema_path),
        "--output-path",
        str(root / PACKAGE),
        "--meta",
        "none",
        "--config",
        str(config),
        "--fail-on-warning",
    ]
    run = subprocess.run(command, capture_output=True, text=True, timeout=120)
    sys.path.insert(0, str(root))
    importlib.invalidate_caches()
    try:
        package = importlib.import_module(PACKAGE) if run.returncode == 0 else None
        yield SimpleNamespace(
            schema=json.loads(schema_path.read_text()),
            run=run,
            package=package,
            module=lambda name: importlib.import_module(f"{PACKAGE}.{name}"),
            operation=lambda op: importlib.import_module(
                f"{PACKAGE}.api.{op['tags'][0]}.{op['operationId']}"
            ),
        )
    finally:
        sys.path.remove(str(root))
        for name in [m for m in sys.modules if m == PACKAGE or m.startswith(PACKAGE + ".")]:
            del sys.modules[name]


@pytest.fixture
def sdk(generated):
    """The generated package: each operation's module by its operationId, ``models`` and
    ``AuthenticatedClient``. Fails where generation did."""
    assert generated.run.returncode == 0, generated.run.stdout + generated.run.stderr
    return SimpleNamespace(
        **{op["operationId"]: generated.operation(op) for op in operations_of(generated.schema)},
        models=generated.module("models"),
        AuthenticatedClient=generated.package.AuthenticatedClient,
    )


@pytest.fixture
def seeded(study, alice, bob, eve):
    """The study with hot-plate latencies of six animals at week 3 and an open von Frey session.

    Hot plate has no double entry, so each latency counts in the statistics at once.
    """
    timepoint = Timepoint.objects.get(study=study, day=21)
    hot_plate = session_open(study=study, timepoint=timepoint, assay="hot_plate", user=bob)
    for code, seconds in HOT_PLATE.items():
        entry_save(
            session=hot_plate,
            animal=Animal.objects.get(study=study, code=code),
            footpad="",
            application=1,
            value=seconds,
            experimenter="bob",
            user=bob,
        )
    von_frey = session_open(study=study, timepoint=timepoint, assay="von_frey", user=bob)
    return SimpleNamespace(
        study=study,
        von_frey=von_frey,
        pi=Token.objects.create(user=alice).key,
        outsider=Token.objects.create(user=eve).key,
    )


def operations_of(schema: dict) -> list[dict]:
    return [op for path in schema["paths"].values() for op in path.values()]


@pytest.fixture
def connect(sdk, live_server):
    """``connect(token)``: a generated client of the live server that logs in with the token.

    Each is closed after the test: a kept-alive connection would keep a server thread, and its
    database connection, past the test (PostgreSQL then cannot drop the test database).
    """
    clients = []

    def connect(token: str):
        client = sdk.AuthenticatedClient(base_url=live_server.url, token=token, prefix="Token")
        clients.append(client)
        return client

    yield connect
    for client in clients:
        client.get_httpx_client().close()


def raw(response) -> dict:
    return json.loads(response.content)


# ---------------------------------------------------------------------------------------------
# Generation


def test_the_client_is_generated_from_the_schema_with_no_warning(generated):
    output = generated.run.stdout + generated.run.stderr

    assert generated.run.returncode == 0, output
    assert "Warning" not in output and "Error" not in output, output
    assert "skipped" not in output.lower(), output
    operations = operations_of(generated.schema)
    assert len(operations) == 26
    assert all(callable(generated.operation(op).sync_detailed) for op in operations)


@pytest.mark.django_db(transaction=True)
def test_the_served_schema_is_the_one_the_client_was_generated_from(generated, live_server):
    response = httpx.get(f"{live_server.url}/api/schema/", params={"format": "json"}, timeout=60)

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/vnd.oai.openapi+json")
    assert response.json() == generated.schema


# ---------------------------------------------------------------------------------------------
# Calls as the PI


@pytest.mark.django_db(transaction=True)
def test_the_pi_reads_the_study_and_its_design_as_parsed_models(sdk, connect, seeded):
    client = connect(seeded.pi)
    slug = seeded.study.slug

    studies = sdk.studies_list.sync(client=client)
    study = sdk.studies_retrieve.sync(slug, client=client)
    animals = sdk.studies_animals_list.sync(slug, client=client, limit=4)
    groups = sdk.studies_groups_list.sync(slug, client=client)
    timepoints = sdk.studies_timepoints_list.sync(slug, client=client)

    assert isinstance(studies, sdk.models.PaginatedStudyList)
    assert studies.count == 1 and [s.slug for s in studies.results] == ["rat-ptx"]
    assert isinstance(study, sdk.models.Study)
    assert (study.slug, study.role, study.blinded) == ("rat-ptx", "pi", False)
    assert study.status == sdk.models.StudyStatusEnum.RUNNING
    assays = {a.assay: a for a in study.assays}
    assert set(assays) == {sdk.models.AssayEnum.VON_FREY, sdk.models.AssayEnum.HOT_PLATE}
    assert (assays["von_frey"].max_value, assays["von_frey"].unit) == (26.0, "g")
    assert assays["hot_plate"].temperature_c == 54.5
    assert animals.count == 9
    assert [(a.code, a.group) for a in animals.results] == [
        ("R01", "VEH"),
        ("R02", "VEH"),
        ("R03", "VEH"),
        ("R04", "PTX-SAL"),
    ]
    assert animals.next_ is not None and "offset=4" in animals.next_
    assert all(isinstance(g, sdk.models.Group) for g in groups.results)
    assert [(g.code, g.control, g.blind_label) for g in groups.results] == [
        ("VEH", True, "A"),
        ("PTX-SAL", False, "B"),
        ("PTX-IVIG", False, "C"),
    ]
    assert [(t.label, t.day) for t in timepoints.results] == [("baseline", -1), ("week 3", 21)]


@pytest.mark.django_db(transaction=True)
def test_the_statistics_parse_to_the_same_values_as_the_raw_json(sdk, connect, seeded):
    client = connect(seeded.pi)

    response = sdk.study_stats.sync_detailed(
        seeded.study.slug, client=client, assay=sdk.models.StudyStatsAssay.HOT_PLATE
    )

    assert response.status_code == 200
    document = raw(response)
    parsed = response.parsed
    assert isinstance(parsed, sdk.models.StudyStatsResponse200)
    assert parsed.to_dict() == document
    assert (parsed["study"], parsed["assay"], parsed["unit"]) == ("rat-ptx", "hot_plate", "s")
    rows = {(row["group"], row["day"]): row for row in parsed["summary"]}
    assert {key: row["n"] for key, row in rows.items()} == {("VEH", 21): 3, ("PTX-SAL", 21): 3}
    assert rows[("VEH", 21)]["mean"] == pytest.approx((8.0 + 9.0 + 13.0) / 3)
    assert rows[("PTX-SAL", 21)]["mean"] == pytest.approx((5.0 + 6.5 + 7.0) / 3)
    [veh] = [row for row in document["summary"] if row["group"] == "VEH"]
    assert rows[("VEH", 21)]["sd"] == veh["sd"] and veh["sd"] == pytest.approx(2.6457513)


@pytest.mark.django_db(transaction=True)
def test_the_pi_saves_a_value_through_the_entry_operation(sdk, connect, seeded):
    client = connect(seeded.pi)
    models = sdk.models
    batch = models.EntriesBatchRequest(
        animal="R02",
        values=[
            models.EntryValueRequest(footpad=models.FootpadEnum.LEFT, application=1, value=12.5),
            models.EntryValueRequest(footpad=models.FootpadEnum.LEFT, application=2, value=15.0),
        ],
    )

    response = sdk.studies_sessions_readings_create.sync_detailed(
        seeded.study.slug, seeded.von_frey.pk, client=client, body=batch
    )

    assert response.status_code == 201, response.content
    result = response.parsed
    assert isinstance(result, models.EntriesBatchResult)
    assert (result.animal, result.experimenter) == ("R02", "alice")
    assert [(r.application, r.value, r.created) for r in result.results] == [
        (1, 12.5, True),
        (2, 15.0, True),
    ]
    assert (result.entered, result.expected) == (2, 9 * 2 * 10)  # animals x footpads x applications
    stored = Entry.objects.filter(reading__session=seeded.von_frey, experimenter="alice")
    assert sorted(stored.values_list("reading__animal__code", "reading__application", "value")) == [
        ("R02", 1, 12.5),
        ("R02", 2, 15.0),
    ]


@pytest.mark.django_db(transaction=True)
def test_a_value_above_the_instrument_maximum_parses_as_the_error_model(sdk, connect, seeded):
    client = connect(seeded.pi)
    models = sdk.models
    batch = models.EntriesBatchRequest(
        animal="R02",
        values=[
            models.EntryValueRequest(footpad=models.FootpadEnum.LEFT, application=1, value=12.0),
            models.EntryValueRequest(footpad=models.FootpadEnum.LEFT, application=2, value=27.0),
        ],
    )

    response = sdk.studies_sessions_readings_create.sync_detailed(
        seeded.study.slug, seeded.von_frey.pk, client=client, body=batch
    )

    assert response.status_code == 400
    error = response.parsed
    assert isinstance(error, models.Error)
    assert error.to_dict() == raw(response)
    fields = error.extra.fields.to_dict()
    assert list(fields) == ["values[1].value"]
    assert "26" in fields["values[1].value"][0]
    assert error.message.startswith("values[1].value: ")
    assert not Entry.objects.filter(experimenter="alice").exists()


# ---------------------------------------------------------------------------------------------
# A technician of a blinded study, and an outsider


@pytest.mark.django_db(transaction=True)
def test_a_blinded_technician_gets_groups_and_schedules_as_the_coded_models(
    sdk, connect, blinded_study, alice, bob
):
    add_schedule(blinded_study, "PTX-SAL", "paclitaxel", dose=2.0, unit="mg/kg", route="ip")
    technician = connect(Token.objects.create(user=bob).key)
    pi = connect(Token.objects.create(user=alice).key)

    groups = sdk.studies_groups_list.sync(blinded_study.slug, client=technician)
    schedules = sdk.studies_schedules_list.sync(blinded_study.slug, client=technician)
    unblinded = sdk.studies_schedules_list.sync(blinded_study.slug, client=pi)

    assert all(isinstance(g, sdk.models.CodedGroup) for g in groups.results)
    assert [g.to_dict() for g in groups.results] == [
        {"blind_label": "A"},
        {"blind_label": "B"},
        {"blind_label": "C"},
    ]
    [coded] = schedules.results
    assert isinstance(coded, sdk.models.CodedSchedule)
    assert (coded.group, coded.route, coded.days) == ("B", sdk.models.RouteEnum.IP, [0, 7, 14, 21])
    assert "paclitaxel" not in json.dumps(coded.to_dict())
    [full] = unblinded.results
    assert isinstance(full, sdk.models.Schedule)
    assert (full.group, full.agent, full.dose, full.unit) == ("PTX-SAL", "paclitaxel", 2.0, "mg/kg")


@pytest.mark.django_db(transaction=True)
def test_an_outsider_gets_the_404_error_model(sdk, connect, seeded):
    client = connect(seeded.outsider)

    study = sdk.studies_retrieve.sync_detailed(seeded.study.slug, client=client)
    stats = sdk.study_stats.sync_detailed(
        seeded.study.slug, client=client, assay=sdk.models.StudyStatsAssay.HOT_PLATE
    )
    studies = sdk.studies_list.sync(client=client)

    for response in (study, stats):
        assert response.status_code == 404
        assert isinstance(response.parsed, sdk.models.Error)
        assert response.parsed.message == raw(response)["message"]
        assert response.parsed.extra.fields.to_dict() == {}
    assert studies.count == 0 and studies.results == []
