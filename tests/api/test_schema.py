"""The OpenAPI schema and its browsable page, served without a CDN."""

import re

import pytest
import yaml
from django.core.management import call_command

pytestmark = pytest.mark.django_db

ENDPOINTS = [
    "/api/studies/",
    "/api/studies/{slug}/",
    "/api/studies/{slug}/groups/",
    "/api/studies/{slug}/animals/",
    "/api/studies/{slug}/allocation/",
    "/api/studies/{slug}/schedules/",
    "/api/studies/{slug}/calendar/",
    "/api/studies/{slug}/doses/",
    "/api/studies/{slug}/weights/",
    "/api/studies/{slug}/timepoints/",
    "/api/studies/{slug}/comparisons/",
    "/api/studies/{slug}/sessions/",
    "/api/studies/{slug}/sessions/{id}/",
    "/api/studies/{slug}/sessions/{id}/readings/",
    "/api/studies/{slug}/discrepancies/",
    "/api/studies/{slug}/discrepancies/{id}/resolve/",
]


def test_the_schema_builds_without_warnings(tmp_path):
    path = tmp_path / "schema.yaml"

    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(path))

    schema = yaml.safe_load(path.read_text())
    assert schema["openapi"].startswith("3.")
    assert set(ENDPOINTS) <= set(schema["paths"])


def test_the_schema_describes_pagination_filters_and_errors(client):
    schema = yaml.safe_load(client.get("/api/schema/").content)

    animals = schema["paths"]["/api/studies/{slug}/animals/"]
    names = {p["name"] for p in animals["get"]["parameters"]}
    assert {"limit", "offset", "group", "status", "code"} <= names
    page = animals["get"]["responses"]["200"]["content"]["application/json"]["schema"]
    assert page["$ref"].endswith("/PaginatedAnimalList")
    readings = schema["paths"]["/api/studies/{slug}/sessions/{id}/readings/"]["post"]
    assert {"201", "400", "403", "404", "409"} <= set(readings["responses"])
    error = readings["responses"]["409"]["content"]["application/json"]["schema"]
    assert error["$ref"].endswith("/Error")


def test_writes_take_a_json_body_and_no_query_parameters(client):
    schema = yaml.safe_load(client.get("/api/schema/").content)

    writes = [op for path in schema["paths"].values() for m, op in path.items() if m != "get"]
    assert len(writes) == 11
    for operation in writes:
        assert list(operation["requestBody"]["content"]) == ["application/json"], operation
        assert {p["in"] for p in operation["parameters"]} <= {"path"}, operation


def test_the_docs_page_loads_its_scripts_from_the_application(client):
    response = client.get("/api/docs/")

    assert response.status_code == 200
    html = response.content.decode()
    scripts = re.findall(r'<script[^>]+src="([^"]+)"', html)
    assert scripts and all(src.startswith("/static/") for src in scripts)
    assert "cdn" not in html.lower()
