"""``make load``: seed a fresh database, serve it with gunicorn on 127.0.0.1, run the locust
scenario (load/locustfile.py) and check the figures against the targets.

    python load/run.py [--database sqlite|postgres] [--duration 120] [--workers 4]

SQLite: a new file in a temporary folder. PostgreSQL: the database ``cipn_load`` at
127.0.0.1:5432 (``LOAD_PG_URL`` to change), dropped and created anew. The server runs as in
production (DEBUG=0, collected static files, WhiteNoise) except that TLS is left to no proxy
(SECURE_SSL_REDIRECT=0).

Targets: no failed request; every value the server confirmed is stored (entries counted per
technician against what locust was told); p95 of a value save <= 100 ms and of a dashboard
<= 500 ms. Exit status 1 when one is missed. Not a CI gate: the figures depend on the machine.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import secrets
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
PG_URL = os.environ.get("LOAD_PG_URL", "postgres://postgres@127.0.0.1:5432/cipn_load")
TARGETS_MS = {"save value": 100, "dashboard": 500}
USERS = 25  # 20 technicians and 5 PIs (locustfile.py)
# People arrive over a few minutes, not in the same second: each login hashes a password
# (PBKDF2, deliberately slow), and 25 at once would only measure that.
SPAWN_RATE = 1


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run(command: list[str], env: dict, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(command, cwd=ROOT, env=env, check=True, **kwargs)


def fresh_postgres(url: str) -> None:
    import psycopg

    name = url.rsplit("/", 1)[1]
    server = url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def wait_until_up(url: str, server: subprocess.Popen, seconds: int = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit("gunicorn stopped while starting: see its output above.")
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    raise SystemExit(f"gunicorn did not answer {url} within {seconds} s.")


def stats_rows(prefix: Path) -> dict[str, dict]:
    with open(f"{prefix}_stats.csv", newline="") as handle:
        return {row["Name"]: row for row in csv.DictReader(handle)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--duration", type=int, default=120, help="seconds of load")
    parser.add_argument(
        "--workers",
        type=int,
        default=2 * (os.cpu_count() or 1) + 1,
        help="gunicorn worker processes (default, as make serve: 2 per CPU + 1)",
    )
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="cipn-load-"))
    if args.database == "sqlite":
        database_url = f"sqlite:///{work / 'load.sqlite3'}"
    else:
        database_url = PG_URL
        fresh_postgres(database_url)
    port = free_port()
    env = {
        **{k: v for k, v in os.environ.items() if k != "DJANGO_ALLOW_ASYNC_UNSAFE"},
        "DATABASE_URL": database_url,
        "DEBUG": "0",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "SECURE_SSL_REDIRECT": "0",
        "GUNICORN_BIND": f"127.0.0.1:{port}",
        "WEB_CONCURRENCY": str(args.workers),
        "GUNICORN_ACCESS_LOG": "",
        "LOAD_PLAN": str(work / "plan.json"),
        "LOAD_SENT": str(work / "sent.json"),
    }
    python = str(BIN / "python")
    print(f"Load test on {args.database} ({database_url}), working folder {work}")
    run([python, "manage.py", "migrate", "--no-input", "-v", "0"], env)
    run([python, "manage.py", "collectstatic", "--no-input", "-v", "0"], env)
    run([python, "load/seed.py", "seed", env["LOAD_PLAN"]], env)

    server = subprocess.Popen([str(BIN / "gunicorn"), "-c", "gunicorn.conf.py"], cwd=ROOT, env=env)
    try:
        wait_until_up(f"http://127.0.0.1:{port}/login/", server)
        load_before = os.getloadavg()
        started = time.time()
        # locust exits 1 when a request failed: the checks below say which, so no check=True.
        subprocess.run(
            [
                str(BIN / "locust"),
                "-f",
                "load/locustfile.py",
                "--headless",
                "--users",
                str(USERS),
                "--spawn-rate",
                str(SPAWN_RATE),
                "--run-time",
                f"{args.duration}s",
                "--host",
                f"http://127.0.0.1:{port}",
                "--csv",
                str(work / "locust"),
                "--only-summary",
                # At the end, let each user finish the request it has sent, so that every value
                # the server stored was also counted as confirmed.
                "--stop-timeout",
                "10",
                "--loglevel",
                "WARNING",
            ],
            cwd=ROOT,
            env=env,
        )
        load_after = os.getloadavg()
        elapsed = time.time() - started
    finally:
        server.terminate()
        server.wait(timeout=30)

    sent = json.loads(Path(env["LOAD_SENT"]).read_text())
    stored = json.loads(
        run(
            [python, "load/seed.py", "count", env["LOAD_PLAN"]], env, capture_output=True, text=True
        )
        .stdout.strip()
        .splitlines()[-1]
    )
    rows = stats_rows(work / "locust")
    total = rows["Aggregated"]

    print()
    print(
        f"database {args.database}, {args.workers} gunicorn workers, {USERS} users, {elapsed:.0f} s"
    )
    print(
        "load average (1, 5, 15 min): before "
        + ", ".join(f"{x:.2f}" for x in load_before)
        + "; after "
        + ", ".join(f"{x:.2f}" for x in load_after)
    )
    print(f"{'request':<14}{'count':>8}{'fail':>6}{'median':>8}{'p95':>7}{'p99':>7}{'max':>8}  ms")
    for name in ("save value", "dashboard", "entry page", "log in"):
        row = rows.get(name)
        if row:
            print(
                f"{name:<14}{row['Request Count']:>8}{row['Failure Count']:>6}"
                f"{row['50%']:>8}{row['95%']:>7}{row['99%']:>7}"
                f"{float(row['Max Response Time']):>8.0f}"
            )
    problems = []
    if int(total["Failure Count"]):
        problems.append(f"{total['Failure Count']} requests failed")
    for name, target in TARGETS_MS.items():
        if name not in rows:
            problems.append(f"no {name} request was made")
            continue
        p95 = float(rows[name]["95%"])
        if p95 > target:
            problems.append(f"p95 of {name} is {p95:.0f} ms, over {target} ms")
    sent_total, stored_total = sum(sent.values()), sum(stored.values())
    lost = {u: (n, stored.get(u, 0)) for u, n in sent.items() if stored.get(u, 0) != n}
    print(f"values confirmed {sent_total}, stored {stored_total}")
    if lost:
        problems.append(f"stored differs from confirmed (sent, stored): {lost}")
    print("targets met" if not problems else "targets missed: " + "; ".join(problems))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
