"""The whole REST API fuzzed from its own OpenAPI schema, over HTTP, on a live server.

Schemathesis reads ``/api/schema/`` and sends generated requests to every operation, as the PI
of a seeded study (token authentication). A request may be refused, but never with a server
error, and every response must be one the schema describes: its status code, content type and
body. The run is deterministic (``derandomize``) and bounded, so it costs about a minute.
Raise ``API_FUZZ_EXAMPLES`` for a longer run (``make fuzz``).
"""

from __future__ import annotations

import os

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from rest_framework.authtoken.models import Token
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from behavior.services import entry_save, session_open
from studies.models import Animal, Timepoint

EXAMPLES = int(os.environ.get("API_FUZZ_EXAMPLES", "12"))
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


@pytest.fixture
def seeded(study, alice, bob, carol):
    """The study with an open von Frey session, values of two experimenters and an open
    discrepancy, so that the session and discrepancy operations reach real rows."""
    timepoint = Timepoint.objects.get(study=study, day=21)
    session = session_open(study=study, timepoint=timepoint, assay="von_frey", user=bob)
    animal = Animal.objects.filter(study=study).order_by("code").first()
    for application in (1, 2):
        entry_save(
            session=session,
            animal=animal,
            footpad="left",
            application=application,
            value=10.0,
            experimenter="bob",
            user=bob,
        )
        entry_save(
            session=session,
            animal=animal,
            footpad="left",
            application=application,
            value=10.0 if application == 1 else 20.0,
            experimenter="carol",
            user=carol,
        )
    discrepancy = session.readings.get(application=2, footpad="left").discrepancies.get()
    return {
        "slug": study.slug,
        "session": session.pk,
        "discrepancy": discrepancy.pk,
        "token": Token.objects.create(user=alice).key,
    }


def operations(live_server_url: str):
    # Building the schema takes a few seconds on a busy machine: wait for it.
    schema = schemathesis.openapi.from_url(
        f"{live_server_url}/api/schema/?format=json", timeout=120
    )
    operations = []
    for result in schema.get_all_operations():
        operations.append(result.ok())  # an invalid operation in the schema fails here
    return operations


def fuzz(operation, *, mode: GenerationMode, path_parameters: dict, token: str) -> None:
    """Send generated requests to one operation; raise on the first failed check."""

    @given(
        case=operation.as_strategy(
            generation_mode=mode,
            path_parameters={k: v for k, v in path_parameters.items() if k in operation.path},
        )
    )
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        derandomize=True,  # the same requests on every run: a failure is reproducible
        database=None,
        suppress_health_check=list(HealthCheck),
        phases=[Phase.explicit, Phase.generate],  # no shrinking: report the first failure fast
    )
    def run(case):
        case.call_and_validate(headers={"Authorization": f"Token {token}"}, checks=CHECKS)

    run()


@pytest.mark.django_db(transaction=True)
def test_no_api_operation_fails_with_a_server_error_or_breaks_its_schema(live_server, seeded):
    # Generated slugs and ids would nearly always miss (404): every request names the seeded
    # study, session or discrepancy, so that the operations' own code runs.
    failures = []
    tested = 0
    for operation in operations(live_server.url):
        path_parameters = {
            "slug": seeded["slug"],
            "id": seeded["discrepancy" if "/discrepancies/" in operation.path else "session"],
        }
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            tested += 1
            try:
                fuzz(operation, mode=mode, path_parameters=path_parameters, token=seeded["token"])
            except Unsatisfiable:
                pass  # negative mode: nothing of this operation can be made invalid
            except (Exception, BaseExceptionGroup) as exc:  # every operation, every failure
                failures.append(f"{operation.label} ({mode.value}): {exc}")

    assert tested >= 2 * 20, "the schema lost operations"
    assert not failures, "\n\n".join(failures)
