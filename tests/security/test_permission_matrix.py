"""Who may reach what: every role against every page, endpoint and export, in a study where the
user has the role and in one where they have none.

The rows come from a table keyed by URL name; ``test_every_url_has_a_row_in_the_matrix``
enumerates the URL patterns with ``get_resolver()``, so that a new URL without a row here fails
until someone decides who may reach it.

Roles: ``pi`` (alice), ``technician`` (bob), ``viewer`` (dave), ``outsider`` (eve, no role),
``anonymous`` (not logged in) and ``staff`` (root, who acts as a PI everywhere). In the other
study every logged-in role but staff is an outsider: 404, the study's existence not revealed.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field

import pytest
from django.contrib.auth import get_user_model
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils import timezone

from tests.factories import make_study
from tests.security import scenario

ROLES = ["pi", "technician", "viewer", "outsider", "anonymous", "staff"]
USERS = {"pi": "alice", "technician": "bob", "viewer": "dave", "outsider": "eve", "staff": "root"}

# The admin site's own URLs (one per model and action) are Django's; the admin is covered by
# its index and by tests/security/test_audit_trail.py (nothing can be deleted from it).
SKIPPED_NAMESPACES = {"admin"}


def all_url_names(resolver=None, prefix: str = "") -> set[str]:
    """Every named URL pattern, with its namespace (``studies:detail``, ``api-groups``)."""
    resolver = resolver or get_resolver()
    names = set()
    for pattern in resolver.url_patterns:
        if isinstance(pattern, URLResolver):
            if pattern.namespace in SKIPPED_NAMESPACES:
                continue
            inner = f"{prefix}{pattern.namespace}:" if pattern.namespace else prefix
            names |= all_url_names(pattern, inner)
        elif isinstance(pattern, URLPattern) and pattern.name:
            names.add(prefix + pattern.name)
    return names


# --- expectations ----------------------------------------------------------------------------


def expect(pi, technician, viewer, outsider, anonymous, staff) -> dict[str, int]:
    return dict(zip(ROLES, (pi, technician, viewer, outsider, anonymous, staff), strict=True))


# A page anyone logged in may read in their study; the anonymous go to the login page.
READ_PAGE = expect(200, 200, 200, 404, 302, 200)
DESIGN_PAGE = expect(200, 403, 403, 404, 302, 200)
# A form that redirects after saving.
DESIGN_POST = expect(302, 403, 403, 404, 302, 302)
RECORD_POST = expect(302, 302, 403, 404, 302, 302)
# The REST API: 401 without credentials.
API_READ = expect(200, 200, 200, 404, 401, 200)
API_DESIGN = expect(201, 403, 403, 404, 401, 201)
API_RECORD = expect(201, 201, 403, 404, 401, 201)
LOGGED_IN_PAGE = expect(200, 200, 200, 200, 302, 200)


@dataclass
class Row:
    """One cell row of the matrix: a URL, how to call it, and the status for each role."""

    name: str
    method: str
    statuses: dict[str, int]
    kwargs: Callable[[scenario.Scenario], dict] | None = None
    data: Callable[[scenario.Scenario], dict] = lambda s: {}
    query: str = ""
    json: bool = False
    study_scoped: bool = True
    label: str = ""
    note: str = field(default="")

    @property
    def id(self) -> str:
        return f"{self.method} {self.name}{' ' + self.label if self.label else ''}"


def _session(s, assay="von_frey"):
    return {"slug": s.study.slug, "day": -1, "assay": assay}


def _api_id(s, obj):
    return {"slug": s.study.slug, "id": obj.pk}


def _readings_file(s) -> dict:
    text = "animal,day,assay,footpad,application,value,experimenter\nR05,-1,hot_plate,,1,7.5,x\n"
    return {"file": SimpleUploadedFile("readings.csv", text.encode(), content_type="text/csv")}


def _design_key() -> str:
    from studies.designs import DESIGNS

    return next(iter(DESIGNS))


MATRIX: list[Row] = [
    # --- outside any study
    Row("login", "get", expect(200, 200, 200, 200, 200, 200), study_scoped=False),
    Row("logout", "post", expect(302, 302, 302, 302, 302, 302), study_scoped=False),
    Row("studies:today", "get", LOGGED_IN_PAGE, study_scoped=False),
    Row("studies:list", "get", LOGGED_IN_PAGE, study_scoped=False),
    Row("studies:new", "get", LOGGED_IN_PAGE, study_scoped=False),
    Row(
        "studies:new",
        "post",
        expect(302, 302, 302, 302, 302, 302),
        study_scoped=False,
        data=lambda s: {
            "slug": "brand-new",
            "title": "New",
            "species": "rat",
            "von_frey": "on",
            "vf_applications": 10,
            "vf_max_force": 26,
            "hp_temperature": 54.5,
            "hp_cutoff": 30,
        },
    ),
    Row(
        "studies:new_from_design",
        "get",
        LOGGED_IN_PAGE,
        study_scoped=False,
        kwargs=lambda s: {"key": _design_key()},
    ),
    Row(
        "studies:new_from_design",
        "post",
        expect(302, 302, 302, 302, 302, 302),
        study_scoped=False,
        kwargs=lambda s: {"key": _design_key()},
        data=lambda s: {"slug": "from-design"},
    ),
    Row("behavior:overview", "get", LOGGED_IN_PAGE, study_scoped=False),
    Row("api-schema", "get", expect(200, 200, 200, 200, 200, 200), study_scoped=False),
    Row("api-docs", "get", expect(200, 200, 200, 200, 200, 200), study_scoped=False),
    Row("api-redoc", "get", expect(200, 200, 200, 200, 200, 200), study_scoped=False),
    Row("api-studies", "get", expect(200, 200, 200, 200, 401, 200), study_scoped=False),
    # --- studies pages
    Row("studies:detail", "get", READ_PAGE),
    Row("studies:edit", "get", DESIGN_PAGE),
    Row(
        "studies:edit",
        "post",
        DESIGN_POST,
        data=lambda s: {"title": "Renamed", "version": s.study.version},
    ),
    Row(
        "studies:design_item_add",
        "post",
        DESIGN_POST,
        kwargs=lambda s: {"slug": s.study.slug, "item": "timepoint"},
        data=lambda s: {"timepoint-label": "week 6", "timepoint-day": 42},
    ),
    Row(
        "studies:schedule_stock",
        "post",
        DESIGN_POST,
        kwargs=lambda s: {"slug": s.study.slug, "schedule_id": s.schedule.pk},
        data=lambda s: {f"stock{s.schedule.pk}-stock_concentration": "12"},
    ),
    Row("studies:members", "get", DESIGN_PAGE),
    Row(
        "studies:members",
        "post",
        DESIGN_POST,
        data=lambda s: {"username": "carol", "role": "viewer"},
    ),
    Row("studies:animals", "get", DESIGN_PAGE),
    Row("studies:animals", "post", DESIGN_POST, data=lambda s: {"text": "N1 C9 male 240"}),
    Row(
        "studies:animal_status",
        "post",
        DESIGN_POST,
        kwargs=lambda s: {"slug": s.study.slug, "animal_id": s.animal.pk},
        data=lambda s: {"status": "excluded", "reason": "wound"},
    ),
    Row("studies:allocate", "get", DESIGN_PAGE),
    Row(
        "studies:allocate",
        "post",
        # Past the permission check the PI is told why: doses are recorded, so the allocation
        # can no longer change (400 with the message on the form).
        expect(400, 403, 403, 404, 302, 400),
        data=lambda s: (
            {"seed": 7, "balance_on": "weight"} | {f"n_{g.code}": 3 for g in s.study.groups.all()}
        ),
    ),
    Row("studies:status", "post", DESIGN_POST, data=lambda s: {"status": "planning"}),
    Row(
        "studies:dose_record",
        "post",
        RECORD_POST,
        data=lambda s: {
            "schedule": s.schedule.pk,
            "animal": s.animal.pk,
            "day": 7,
            "status": "given",
        },
    ),
    Row(
        "studies:weight_record",
        "post",
        RECORD_POST,
        data=lambda s: {"animal": s.animal.pk, "grams": 262},
    ),
    *[
        Row(
            "studies:export",
            "get",
            # Exports name every group: not for technicians, who enter values blind.
            expect(200, 403, 200, 404, 302, 200),
            kwargs=lambda s, kind=kind: {"slug": s.study.slug, "kind": kind},
            label=kind,
        )
        for kind in ("json", "csv", "xlsx", "pzfx")
    ],
    Row("studies:history", "get", DESIGN_PAGE),
    Row(
        "studies:reading_history",
        "get",
        READ_PAGE,
        kwargs=lambda s: {"slug": s.study.slug, "reading_id": s.verified.pk},
    ),
    # --- behaviour pages
    Row("behavior:sessions", "get", READ_PAGE),
    Row(
        "behavior:session_entry",
        "get",
        # A viewer has no values to enter: they are sent to the progress page.
        expect(200, 200, 302, 404, 302, 200),
        kwargs=_session,
    ),
    Row(
        "behavior:session_entry",
        "post",
        RECORD_POST,
        kwargs=_session,
        data=lambda s: {"date": "", "instrument": "", "temperature_c": ""},
    ),
    Row(
        "behavior:entry_value",
        "post",
        # The grid's JSON endpoint answers in JSON: 401 when the login has expired.
        expect(200, 200, 403, 404, 401, 200),
        kwargs=_session,
        json=True,
        data=lambda s: {
            "animal": s.animal.pk,
            "footpad": "right",
            "application": 1,
            "value": 15.5,
        },
    ),
    Row("behavior:session_progress", "get", READ_PAGE, kwargs=_session),
    Row("behavior:discrepancies", "get", READ_PAGE),
    Row(
        "behavior:discrepancy_resolve",
        "post",
        RECORD_POST,
        kwargs=lambda s: {"slug": s.study.slug, "pk": s.open_discrepancy.pk},
        data=lambda s: {
            f"d{s.open_discrepancy.pk}-value": "16",
            f"d{s.open_discrepancy.pk}-reason": "remeasured",
        },
    ),
    Row("behavior:upload", "get", READ_PAGE),
    Row("behavior:upload", "post", RECORD_POST, data=_readings_file),
    Row("behavior:dashboard", "get", READ_PAGE),
    Row("behavior:dashboard_csv", "get", READ_PAGE, query="assay=von_frey"),
    *(
        Row(
            "behavior:dashboard_part",
            "get",
            READ_PAGE,
            kwargs=lambda s, part=part: {"slug": s.study.slug, "part": part},
            query="assay=von_frey",
            label=part,
        )
        for part in ("curves", "models")
    ),
    # --- the REST API
    Row("api-study", "get", API_READ),
    Row("api-groups", "get", API_READ),
    Row("api-groups", "post", API_DESIGN, json=True, data=lambda s: {"code": "CLO"}),
    Row("api-animals", "get", API_READ),
    Row("api-animals", "post", API_DESIGN, json=True, data=lambda s: {"text": "N1 C9 male 240"}),
    Row(
        "api-allocation",
        "post",
        expect(400, 403, 403, 404, 401, 400),  # doses recorded: see studies:allocate
        json=True,
        data=lambda s: {"seed": 7},
    ),
    Row("api-schedules", "get", API_READ),
    Row(
        "api-schedules",
        "post",
        API_DESIGN,
        json=True,
        data=lambda s: {
            "group": "VEH",
            "agent": "saline",
            "dose": 5,
            "unit": "mL/kg",
            "route": "iv",
            "days": [0],
        },
    ),
    Row("api-calendar", "get", API_READ, query="date=2026-01-12"),
    Row("api-doses", "get", API_READ),
    Row(
        "api-doses",
        "post",
        API_RECORD,
        json=True,
        data=lambda s: {"schedule": s.schedule.pk, "animal": "R01", "day": 7, "status": "given"},
    ),
    Row("api-weights", "get", API_READ),
    Row(
        "api-weights",
        "post",
        API_RECORD,
        json=True,
        data=lambda s: {"animal": "R01", "date": timezone.localdate().isoformat(), "grams": 261},
    ),
    Row("api-timepoints", "get", API_READ),
    Row(
        "api-timepoints",
        "post",
        API_DESIGN,
        json=True,
        data=lambda s: {"label": "week 6", "day": 42},
    ),
    Row("api-comparisons", "get", API_READ),
    Row(
        "api-comparisons",
        "post",
        API_DESIGN,
        json=True,
        data=lambda s: {"reference": "VEH", "group": "PTX-IVIG", "symbol": "$"},
    ),
    Row("api-sessions", "get", API_READ),
    Row(
        "api-sessions",
        "post",
        # The session exists: it is returned (200), not opened again.
        expect(200, 200, 403, 404, 401, 200),
        json=True,
        data=lambda s: {"day": -1, "assay": "von_frey"},
    ),
    Row("api-session", "get", API_READ, kwargs=lambda s: _api_id(s, s.von_frey)),
    Row("api-session-readings", "get", API_READ, kwargs=lambda s: _api_id(s, s.von_frey)),
    Row(
        "api-session-readings",
        "post",
        API_RECORD,
        kwargs=lambda s: _api_id(s, s.von_frey),
        json=True,
        data=lambda s: {
            "animal": "R02",
            "values": [{"footpad": "left", "application": 1, "value": 12.5}],
        },
    ),
    Row("api-discrepancies", "get", API_READ),
    Row(
        "api-discrepancy-resolve",
        "post",
        expect(200, 200, 403, 404, 401, 200),
        kwargs=lambda s: _api_id(s, s.open_discrepancy),
        json=True,
        data=lambda s: {"value": 16, "reason": "remeasured"},
    ),
    Row("api-study-stats", "get", API_READ, query="assay=von_frey"),
]


# --- the tests ------------------------------------------------------------------------------


def test_every_url_has_a_row_in_the_matrix():
    covered = {row.name for row in MATRIX}
    missing = sorted(all_url_names() - covered)
    assert not missing, f"URLs without a row in the permission matrix: {missing}"
    stale = sorted(covered - all_url_names())
    assert not stale, f"Rows of URLs that no longer exist: {stale}"


@pytest.fixture(scope="module")
def studies(django_db_setup, django_db_blocker):
    """The study where each user has their role, and another where none of them has one.

    Built once for the module inside a transaction that is rolled back at its end; each test
    runs in a savepoint inside it, so a test's writes never reach the next one.
    """
    with django_db_blocker.unblock(), transaction.atomic():
        user_model = get_user_model()
        # No passwords: the tests log in with force_login, and hashing would cost a second.
        users = {name: user_model.objects.create_user(name) for name in USERS.values()}
        user_model.objects.filter(username="root").update(is_staff=True, is_superuser=True)
        alice, bob, dave = users["alice"], users["bob"], users["dave"]
        carol = user_model.objects.create_user("carol")
        own = make_study(
            slug="rat-ptx",
            members={alice: "pi", bob: "technician", carol: "technician", dave: "viewer"},
        )
        olga, otto = user_model.objects.create_user("olga"), user_model.objects.create_user("otto")
        other = make_study(slug="someone-elses", members={olga: "pi", otto: "technician"})
        yield {
            "own": scenario.build(own, pi=alice, first=bob, second=carol),
            "other": scenario.build(other, pi=olga, first=otto, second=olga),
        }
        transaction.set_rollback(True)


def _call(row: Row, role: str, scn: scenario.Scenario) -> int:
    client = Client()
    if role != "anonymous":
        client.force_login(get_user_model().objects.get(username=USERS[role]))
    if row.kwargs is not None:
        kwargs = row.kwargs(scn)
    else:
        kwargs = {"slug": scn.study.slug} if row.study_scoped else {}
    url = reverse(row.name, kwargs=kwargs)
    if row.query:
        url += "?" + row.query
    data = row.data(scn)
    if row.method == "get":
        return client.get(url).status_code
    if row.json:
        return client.post(url, json.dumps(data), content_type="application/json").status_code
    return client.post(url, data).status_code


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("row", MATRIX, ids=lambda row: row.id)
def test_each_role_gets_the_status_its_matrix_cell_says(row, role, studies, db):
    own = _call(row, role, studies["own"])
    assert own == row.statuses[role], f"{role} in their own study: {own}"
    if not row.study_scoped:
        return
    # In a study where they have no role everybody is an outsider, except staff.
    expected_other = row.statuses[role if role in ("anonymous", "staff") else "outsider"]
    other = _call(row, role, studies["other"])
    assert other == expected_other, f"{role} in another study: {other}"
