"""Benchmark of a large study against this machine's raw floor.

``python -m bench`` (or ``make bench``) builds a synthetic study in a database of its own
(a temporary SQLite file, or ``<NAME>_bench`` beside the PostgreSQL database that
``DATABASE_URL`` names; dropped at the end), measures what a lab waits for, and writes
``bench/results.json``:

- ``stats_ms``: the von Frey statistics document of ``study_stats`` (database read included),
  against ``stats_baseline_ms``: one raw SQL query of the per-animal values and NumPy/SciPy
  computing the same summary and t-tests (checked to give the same numbers);
- ``dashboard_ms``: the dashboard request's server time with its statistics and figures
  computed, as the first view after a saved value gets it; ``dashboard_reload_ms``: the same
  request when they were computed before and nothing they come from has changed since (a PI
  reloading the page, or a second PI opening it); ``dashboard_queries`` and
  ``dashboard_reload_queries`` at 10 and at 200 animals;
- ``import_rows_per_s``: ``import_readings`` of the study's CSV into an empty copy of the
  study, against ``import_baseline_rows_per_s``: the same rows put into the entry table by
  one ``executemany`` (SQLite) or ``COPY`` (PostgreSQL), without any validation (the issue's
  floor); ``import_schema_floor_rows_per_s``, for reference: the same rows stored as this
  schema stores them, the study's readings and then their entries, the same way;
- ``entry_save_ms``: one animal's 20 von Frey values saved in one request to the entry page's
  endpoint, as the page sends the values of an animal that queued up (typed while a save was
  on its way, or kept while offline); ``entry_save_one_value_ms``: the same 20 values sent as
  typed, a request each, per value; ``entry_save_queries_per_value`` and
  ``entry_save_batch_queries``: the queries of one such request and of one batch.

Every figure is the median of ``--runs`` runs (at least 5), a figure and its floor timed in
turns so that a change in the machine's load moves both. On PostgreSQL the tables are vacuumed
and analysed after the bulk writes, as autovacuum would. ``--profile NAME`` prints a
pyinstrument profile of one run of ``stats``, ``dashboard``, ``dashboard-reload``, ``import`` or
``entry`` instead.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import io
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from functools import partial
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
GROUPS = [
    # code, name, mean threshold (g) from day 14 on
    ("VEH", "Vehicle", 15.0),
    ("PTX-SAL", "Paclitaxel + saline", 8.0),
    ("PTX-IVIG", "Paclitaxel + IVIg", 12.0),
    ("PTX-CLO", "Paclitaxel + clodronate", 9.0),
]
DAYS = [-1, 7, 14, 21, 28, 35, 42, 49]
FOOTPADS = ("left", "right")
APPLICATIONS = 10
EXPERIMENTERS = ("tech1", "tech2")
# One value in 500 typed differently by the second experimenter: a few open discrepancies.
DISPUTE_RATE = 0.002


# --------------------------------------------------------------------------------------------
# Setting up Django on a database of the benchmark's own


def _django(tmpdir: Path):
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cipn_lab.settings")
    sys.path.insert(0, str(ROOT))
    import django
    from django.conf import settings

    django.setup()
    # Debug mode would keep every query in memory and time that too.
    settings.DEBUG = False
    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "testserver"]
    from django.db import connection

    database = connection.settings_dict
    if connection.vendor == "sqlite":
        # A file, as in production: an in-memory database would flatter every figure.
        database["TEST"]["NAME"] = str(tmpdir / "bench.sqlite3")
    else:
        database["TEST"]["NAME"] = f"{database['NAME']}_bench"

    old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True, serialize=False)
    return connection, old_name


# --------------------------------------------------------------------------------------------
# The synthetic study


def design(slug: str, animals: int) -> dict:
    """A study.json (interchange.md section 1) of ``animals`` animals in four groups."""
    return {
        "format": "cipn-study/1",
        "slug": slug,
        "title": f"Benchmark study of {animals} animals (synthetic)",
        "species": "rat",
        "day0": "2026-01-12",
        "blinded": False,
        "assays": {
            "von_frey": {
                "applications_per_footpad": APPLICATIONS,
                "footpads": list(FOOTPADS),
                "max_force_g": 26,
                "double_entry": True,
            },
            "hot_plate": {"temperature_c": 54.5, "cutoff_s": 30, "double_entry": False},
        },
        "groups": [
            {"code": code, "name": name, **({"control": True} if code == "VEH" else {})}
            for code, name, _ in GROUPS
        ],
        "dosing": [
            {
                "group": code,
                "agent": "paclitaxel",
                "dose": 1,
                "unit": "mg/kg",
                "route": "ip",
                "days": [0, 1, 2, 3, 4],
            }
            for code, _, _ in GROUPS[1:]
        ],
        "timepoints": [
            {"label": "baseline" if day < 0 else f"day {day}", "day": day} for day in DAYS
        ],
        "comparisons": [
            {"reference": "VEH", "group": "PTX-SAL", "symbol": "#"},
            {"reference": "PTX-SAL", "group": "PTX-IVIG", "symbol": "*"},
            {"reference": "PTX-SAL", "group": "PTX-CLO", "symbol": "$"},
        ],
        "animals": [
            {"code": f"A{i:03d}", "group": GROUPS[i % len(GROUPS)][0]}
            for i in range(1, animals + 1)
        ],
    }


def readings_csv(animals: int, *, holes: int = 0, seed: int = 7) -> tuple[str, int]:
    """readings.csv text of the study (interchange.md section 2) and its number of rows.

    Von Frey: 2 footpads x 10 applications x 2 experimenters; hot plate: one trial, one
    experimenter. The last ``holes`` animals lack the second experimenter's von Frey values of
    the last day, for the entry benchmark to type.
    """
    rng = np.random.default_rng(seed)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(
        ["animal", "day", "assay", "footpad", "application", "value", "experimenter", "behavior"]
    )
    count = 0
    for i in range(1, animals + 1):
        code = f"A{i:03d}"
        _, _, drop_to = GROUPS[i % len(GROUPS)]
        animal_effect = rng.normal(0, 1.0)
        for day in DAYS:
            mean = 15.0 if day < 14 else drop_to
            for footpad in FOOTPADS:
                forces = np.clip(rng.normal(mean + animal_effect, 2.0, APPLICATIONS), 0.5, 26)
                for application, force in enumerate(forces, start=1):
                    value = round(float(force), 1)
                    for experimenter in EXPERIMENTERS:
                        if experimenter == "tech2" and day == DAYS[-1] and i > animals - holes:
                            continue
                        typed = value
                        if experimenter == "tech2" and rng.random() < DISPUTE_RATE:
                            typed = round(min(value + 1.0, 26.0), 1)
                        writer.writerow(
                            [code, day, "von_frey", footpad, application, typed, experimenter, ""]
                        )
                        count += 1
            latency = round(float(np.clip(rng.normal(12 if day < 14 else 8, 2), 1, 29.9)), 2)
            writer.writerow([code, day, "hot_plate", "", 1, latency, "tech1", "lick"])
            count += 1
    return out.getvalue(), count


def build_study(slug: str, animals: int, users: dict, path: Path | None = None):
    """The study from its design, with members, and its readings imported (if ``path``)."""
    from django.core.management import call_command

    from studies.interchange import study_import
    from studies.models import Membership

    study, _ = study_import(data=design(slug, animals))
    for name, role in (("pi", "pi"), ("tech1", "technician"), ("tech2", "technician")):
        Membership.objects.create(study=study, user=users[name], role=role)
    if path is not None:
        call_command("import_readings", slug, str(path), stdout=io.StringIO())
    return study


# --------------------------------------------------------------------------------------------
# Measurements


def timed(fn, runs: int) -> tuple[float, object]:
    """Median wall time of ``fn()`` in milliseconds over ``runs`` runs, and its last result."""
    times, result = [], None
    for _ in range(runs):
        start = time.perf_counter()
        result = fn()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times), result


def timed_in_turns(fns: list, runs: int) -> tuple[list[float], list]:
    """:func:`timed` of several functions called in turns (the first, the second, ..., then
    the first again), the median of each, and each one's last result."""
    times: list[list[float]] = [[] for _ in fns]
    results: list = [None] * len(fns)
    for _ in range(runs):
        for index, fn in enumerate(fns):
            start = time.perf_counter()
            results[index] = fn()
            times[index].append((time.perf_counter() - start) * 1000)
    return [statistics.median(t) for t in times], results


def stats_document(study) -> dict:
    from behavior.analysis import study_stats_document

    document = study_stats_document(study=study, assay="von_frey")
    json.dumps(document, allow_nan=False)  # as the command prints it
    return document


STATS_BASELINE_SQL = """
SELECT g.code, t.day, AVG(fp.value)
FROM (SELECT r.session_id, r.animal_id, AVG(r.value) AS value
      FROM behavior_reading r JOIN behavior_measurementsession s ON s.id = r.session_id
      WHERE s.study_id = %s AND r.assay = 'von_frey'
      GROUP BY r.session_id, r.animal_id, r.footpad
      HAVING SUM(CASE WHEN r.state IN ('verified', 'resolved') THEN 0 ELSE 1 END) = 0) fp
JOIN studies_animal a ON a.id = fp.animal_id
JOIN studies_treatmentgroup g ON g.id = a.group_id
JOIN behavior_measurementsession s ON s.id = fp.session_id
JOIN studies_timepoint t ON t.id = s.timepoint_id
WHERE a.status <> 'excluded'
GROUP BY fp.session_id, fp.animal_id, g.code, t.day
"""


def stats_baseline(connection, study_id: int, comparisons) -> dict:
    """The same summary and Student t-tests from one raw query and NumPy: the floor.

    Vectorised, with SciPy's t distribution function called once: ``scipy.stats.ttest_ind``
    costs about 3 ms a call in its argument handling, which would flatter the application.
    """
    from scipy import special

    with connection.cursor() as cursor:
        cursor.execute(STATS_BASELINE_SQL, [study_id])
        group, day, value = (np.array(c) for c in zip(*cursor.fetchall(), strict=True))
    value = value.astype(float)
    cells = {(g, d): value[(group == g) & (day == d)] for g in set(group) for d in set(day)}
    summary = {
        key: (x.size, x.mean(), x.std(ddof=1), x.std(ddof=1) / np.sqrt(x.size))
        for key, x in cells.items()
    }
    keys = [(ref, grp, d) for ref, grp in comparisons for d in sorted(set(day))]
    n1, m1, s1, n2, m2, s2 = np.array(
        [(*summary[(ref, d)][:3], *summary[(grp, d)][:3]) for ref, grp, d in keys]
    ).T
    df = n1 + n2 - 2
    t = (m2 - m1) / np.sqrt(((n1 - 1) * s1**2 + (n2 - 1) * s2**2) / df * (1 / n1 + 1 / n2))
    p = 2 * special.stdtr(df, -np.abs(t))
    return {"summary": summary, "tests": dict(zip(keys, zip(t, p, strict=True), strict=True))}


def check_baseline(document: dict, baseline: dict) -> None:
    """The baseline is only a floor if it computes the same numbers: stop if it does not."""
    for row in document["summary"]:
        n, mean, sd, sem = baseline["summary"][(row["group"], row["day"])]
        assert n == row["n"] and np.allclose([mean, sd, sem], [row["mean"], row["sd"], row["sem"]])
    for row in document["comparisons"]:
        t, p = baseline["tests"][(row["reference"], row["group"], row["day"])]
        assert np.allclose([t, p], [row["statistic"], row["p"]], rtol=1e-9, atol=1e-300)


def import_baseline(connection, study, csv_text: str) -> float:
    """Seconds to put the CSV's rows into the entry table with one executemany (SQLite) or
    COPY (PostgreSQL) and commit, without validation; the rows are removed afterwards."""
    from django.utils import timezone

    from behavior.models import Entry, Reading

    slots = {
        (code, day, footpad or "", application): pk
        for pk, code, day, footpad, application in Reading.objects.filter(
            session__study=study
        ).values_list("pk", "animal__code", "session__timepoint__day", "footpad", "application")
    }
    now = timezone.now()
    rows = [
        (
            slots[(r["animal"], int(r["day"]), r["footpad"], int(r["application"]))],
            "floor-" + r["experimenter"],
            float(r["value"]),
            r["behavior"],
            26.0 if r["assay"] == "von_frey" else 30.0,
            None,
            now,
            now,
            1,
        )
        for r in csv.DictReader(io.StringIO(csv_text))
    ]
    columns = (
        "reading_id, experimenter, value, behavior, max_value, entered_by_id, entered_at, "
        "updated_at, version"
    )
    seconds = store_raw(connection, [("behavior_entry", columns, rows)])
    Entry.objects.filter(experimenter__startswith="floor-").delete()
    return seconds


def store_raw(connection, tables: list[tuple[str, str, list[tuple]]]) -> float:
    """Seconds to insert each ``(table, columns, rows)`` with one ``COPY`` (PostgreSQL) or
    ``executemany`` (SQLite), in one transaction, the commit included."""
    from django.db import transaction

    start = time.perf_counter()
    with transaction.atomic(), connection.cursor() as cursor:
        for table, columns, rows in tables:
            if connection.vendor == "postgresql":
                with cursor.cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
                    for row in rows:
                        copy.write_row(row)
            else:
                marks = ", ".join(["%s"] * len(rows[0]))
                cursor.executemany(f"INSERT INTO {table} ({columns}) VALUES ({marks})", rows)
    return time.perf_counter() - start


def import_schema_floor(connection, study) -> float:
    """Seconds to store an imported study's readings and their entries again, as prepared
    rows, with one ``executemany`` (SQLite) or ``COPY`` (PostgreSQL) per table and the commit,
    as ``import_baseline`` stores the entries alone: what writing the CSV's rows into this
    schema costs with no parsing, checking, audit records or summaries. The rows are read,
    removed (with the study's discrepancies), the tables vacuumed, and the rows put back;
    only putting them back is timed."""
    from django.db import transaction

    from behavior.models import Discrepancy, Entry, Reading

    tables = []
    for model, order in ((Reading, "pk"), (Entry, "reading_id")):
        fields = list(model._meta.concrete_fields)
        names = [f.attname for f in fields]
        rows = model.objects.filter(
            **{"session__study" if model is Reading else "reading__session__study": study}
        ).order_by(order)
        rows = list(rows.values_list(*names))
        if connection.vendor == "sqlite":  # times as the ORM stores them
            prep = [f.get_db_prep_save for f in fields]
            rows = [tuple(p(v, connection) for p, v in zip(prep, row, strict=True)) for row in rows]
        tables.append((model._meta.db_table, ", ".join(f.column for f in fields), rows))
    with transaction.atomic():
        Discrepancy.objects.filter(reading__session__study=study).delete()
        Entry.objects.filter(reading__session__study=study)._raw_delete(connection.alias)
        Reading.objects.filter(session__study=study)._raw_delete(connection.alias)
    settle(connection)
    return store_raw(connection, tables)


def settle(connection) -> None:
    """On PostgreSQL, VACUUM and ANALYZE after a bulk write, as autovacuum does within a minute
    of one on a running server: the benchmark writes hundreds of thousands of rows and measures
    seconds later. Without column statistics the planner scans whole tables for a handful of
    rows, and autovacuum, starting on its own, would take a core from the measurements.
    (SQLite keeps no statistics unless told to, and a deployment does not tell it.)"""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("VACUUM (ANALYZE)")


def dashboard_get(client, url: str):
    response = client.get(url)
    assert response.status_code == 200, response.status_code
    return response


def dashboard_computed(client, url: str):
    """The dashboard with nothing computed before: the first view after a change."""
    from django.core.cache import caches

    caches["statistics"].clear()
    return dashboard_get(client, url)


def count_queries(connection, fn) -> int:
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as captured:
        fn()
    return len(captured.captured_queries)


def first_values(study, animal_ids: list[int]) -> dict[int, list[dict]]:
    """The first experimenter's von Frey values of the last day, which the second will type."""
    from behavior.models import Entry

    items: dict[int, list[dict]] = {pk: [] for pk in animal_ids}
    for animal_id, footpad, application, value in (
        Entry.objects.filter(
            reading__session__study=study,
            reading__session__timepoint__day=DAYS[-1],
            reading__assay="von_frey",
            reading__animal_id__in=animal_ids,
            experimenter=EXPERIMENTERS[0],
        )
        .order_by("reading__footpad", "reading__application")
        .values_list("reading__animal_id", "reading__footpad", "reading__application", "value")
    ):
        items[animal_id].append({"footpad": footpad, "application": application, "value": value})
    return items


def entry_posts(client, url: str, animal_id: int, items: list[dict], *, batch: bool):
    """One animal's 20 von Frey values as the second experimenter types them."""
    if batch:
        bodies = [{"animal": animal_id, "values": items}]
    else:
        bodies = [{"animal": animal_id, **item} for item in items]
    for body in bodies:
        response = client.post(url, json.dumps(body), content_type="application/json")
        assert response.status_code == 200, response.content


def machine(connection) -> dict:
    if connection.vendor == "sqlite":
        import sqlite3

        database = f"SQLite {sqlite3.sqlite_version}"
    else:
        with connection.cursor() as cursor:
            cursor.execute("SHOW server_version")
            database = f"PostgreSQL {cursor.fetchone()[0]}"
    from behavior.foreign_keys import may_turn_off_triggers
    from behavior.models import Entry, Reading

    if connection.vendor == "sqlite":
        checks = "per row, by SQLite"
    elif may_turn_off_triggers(connection, [Reading, Entry]):
        checks = "once per row referred to (behavior.foreign_keys)"
    else:
        checks = "per row, by triggers (the role may not set session_replication_role)"
    return {
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "database": database,
        # How the import's readings and entries have their foreign keys checked.
        "import_foreign_keys": checks,
        "platform": platform.platform(),
        "load_average_1min": None,  # filled in at the start and the end
    }


def profile(fn) -> None:
    from pyinstrument import Profiler  # in requirements-dev.txt

    profiler = Profiler(interval=0.0005)
    profiler.start()
    fn()
    profiler.stop()
    print(profiler.output_text(unicode=True, color=False, show_all=False))


# --------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n")[0])
    parser.add_argument("--animals", type=int, default=200)
    parser.add_argument("--runs", type=int, default=5, help="runs per figure (at least 5)")
    parser.add_argument("--out", default=str(HERE / "results.json"))
    parser.add_argument(
        "--profile", choices=["stats", "dashboard", "dashboard-reload", "import", "entry"]
    )
    args = parser.parse_args(argv)
    runs = max(args.runs, 5)
    load_before = os.getloadavg()[0]

    with tempfile.TemporaryDirectory(prefix="cipn-bench-") as tmp:
        tmpdir = Path(tmp)
        connection, old_name = _django(tmpdir)
        try:
            results = _measure(connection, tmpdir, args.animals, runs, args.profile)
        finally:
            connection.creation.destroy_test_db(old_name, verbosity=0)
    if results is None:
        return
    results["machine"]["load_average_1min"] = [round(load_before, 2), round(os.getloadavg()[0], 2)]
    Path(args.out).write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results, indent=2))


def _measure(connection, tmpdir: Path, animals: int, runs: int, profile_name: str | None):
    from django.contrib.auth import get_user_model
    from django.test import Client
    from django.urls import reverse

    from studies.models import Animal

    user_model = get_user_model()
    users = {name: user_model.objects.create_user(username=name) for name in ("pi", *EXPERIMENTERS)}
    holes = 2 * runs + 3  # animals left for the entry benchmark to type
    text, values = readings_csv(animals, holes=holes)
    path = tmpdir / "readings.csv"
    path.write_text(text)
    small_text, _ = readings_csv(10)
    small_path = tmpdir / "readings-small.csv"
    small_path.write_text(small_text)

    print(f"Building the study: {animals} animals, {values} values ...", file=sys.stderr)
    study = build_study("bench", animals, users, path)
    small = build_study("bench-small", 10, users, small_path)
    copies = [build_study(f"bench-import-{k}", animals, users) for k in range(1, runs + 2)]
    settle(connection)

    stats_client = Client()
    stats_client.force_login(users["pi"])
    dashboard_url = reverse("behavior:dashboard", kwargs={"slug": study.slug})
    entry_client = Client()
    entry_client.force_login(users["tech2"])
    entry_url = reverse(
        "behavior:entry_value", kwargs={"slug": study.slug, "day": DAYS[-1], "assay": "von_frey"}
    )
    open_animals = list(
        Animal.objects.filter(study=study).order_by("-code").values_list("pk", flat=True)[:holes]
    )
    typed = first_values(study, open_animals)

    def do_entry(batch: bool = False):
        animal_id = open_animals.pop()
        entry_posts(entry_client, entry_url, animal_id, typed[animal_id], batch=batch)

    def do_import():
        from django.core.management import call_command

        call_command("import_readings", copies.pop().slug, str(path), stdout=io.StringIO())

    if profile_name:
        fn = {
            "stats": lambda: stats_document(study),
            "dashboard": lambda: dashboard_computed(stats_client, dashboard_url),
            "dashboard-reload": lambda: dashboard_get(stats_client, dashboard_url),
            "import": do_import,
            "entry": lambda: do_entry(batch=True),
        }[profile_name]
        if profile_name == "entry":
            for _ in range(runs + 1):  # the database as the measured entry saves find it
                do_import()
            settle(connection)
        fn()  # warm-up, as before every measured figure: imports, templates, first calls
        profile(fn)
        return None

    # Each figure and its floor are timed in turns, run after run, so that a change in the
    # machine's load while the benchmark runs moves both rather than their ratio.
    print("Statistics and dashboard ...", file=sys.stderr)
    comparisons = [("VEH", "PTX-SAL"), ("PTX-SAL", "PTX-IVIG"), ("PTX-SAL", "PTX-CLO")]
    fetch_baseline = partial(stats_baseline, connection, study.pk, comparisons)
    fetch_dashboard = partial(dashboard_computed, stats_client, dashboard_url)
    fetch_reload = partial(dashboard_get, stats_client, dashboard_url)
    # Warm-ups: imports, SciPy's first calls, templates, the session row.
    document, baseline, _ = stats_document(study), fetch_baseline(), fetch_dashboard()
    check_baseline(document, baseline)
    (stats_ms, baseline_ms, dashboard_ms, reload_ms), _ = timed_in_turns(
        [lambda: stats_document(study), fetch_baseline, fetch_dashboard, fetch_reload], runs
    )
    small_url = reverse("behavior:dashboard", kwargs={"slug": small.slug})
    dashboard_get(stats_client, small_url)
    queries = {
        "small": count_queries(connection, lambda: dashboard_computed(stats_client, small_url)),
        "large": count_queries(connection, lambda: dashboard_computed(stats_client, dashboard_url)),
    }
    dashboard_get(stats_client, small_url)  # computed again: the count above emptied the cache
    reload_queries = {
        "small": count_queries(connection, lambda: dashboard_get(stats_client, small_url)),
        "large": count_queries(connection, lambda: dashboard_get(stats_client, dashboard_url)),
    }

    print("Import ...", file=sys.stderr)
    do_import()  # warm-up
    import_baseline(connection, study, text)
    import_ms, floor_seconds, schema_seconds = [], [], []
    for _ in range(runs):
        imported = copies[-1]
        start = time.perf_counter()
        do_import()
        import_ms.append((time.perf_counter() - start) * 1000)
        floor_seconds.append(import_baseline(connection, study, text))
        schema_seconds.append(import_schema_floor(connection, imported))
    import_ms, floor = statistics.median(import_ms), statistics.median(floor_seconds)
    schema_floor = statistics.median(schema_seconds)
    settle(connection)  # the imports wrote six times the study

    print("Entry ...", file=sys.stderr)
    do_entry(batch=True)  # warm-up
    batch_ms, _ = timed(lambda: do_entry(batch=True), runs)
    singles_ms, _ = timed(do_entry, runs)
    # Counted right after the saves above, as a technician's next value: the session's expiry,
    # moved once a minute, is not among them.
    batch_queries = count_queries(connection, lambda: do_entry(batch=True))
    one_value = {"animal": open_animals[-1], **typed[open_animals[-1]][0]}
    entry_queries = count_queries(
        connection,
        lambda: entry_client.post(
            entry_url, json.dumps(one_value), content_type="application/json"
        ),
    )

    return {
        "stats_ms": round(stats_ms, 1),
        "stats_baseline_ms": round(baseline_ms, 1),
        "dashboard_ms": round(dashboard_ms, 1),
        "dashboard_queries": queries,
        "dashboard_reload_ms": round(reload_ms, 1),
        "dashboard_reload_queries": reload_queries,
        "import_rows_per_s": round(values / (import_ms / 1000)),
        "import_baseline_rows_per_s": round(values / floor),
        "import_schema_floor_rows_per_s": round(values / schema_floor),
        # One animal's 20 values in one request, as the page sends values of an animal that
        # queued up (the second experimenter's: each verifies a reading).
        "entry_save_ms": round(batch_ms, 1),
        # The same 20 values typed one by one: 20 requests, each saved as it is typed.
        "entry_save_20_requests_ms": round(singles_ms, 1),
        "entry_save_one_value_ms": round(singles_ms / 20, 1),
        "entry_save_queries_per_value": entry_queries,
        "entry_save_batch_queries": batch_queries,
        "ratios": {
            "stats_to_baseline": round(stats_ms / baseline_ms, 2),
            "dashboard_to_stats_baseline": round(dashboard_ms / baseline_ms, 2),
            "dashboard_reload_to_stats_baseline": round(reload_ms / baseline_ms, 2),
            "import_to_baseline": round(values / (import_ms / 1000) / (values / floor), 2),
            "import_to_schema_floor": round(schema_floor / (import_ms / 1000), 2),
        },
        "study": {"animals": animals, "timepoints": len(DAYS), "values": values},
        "runs": runs,
        "measured_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": machine(connection),
    }
