"""The lab at work: 20 technicians entering a von Frey session and 5 PIs reading dashboards.

Technicians log in through the login page and post each value to the JSON endpoint the entry
grid uses (session cookie, X-CSRFToken), one value about every second, pairs of them entering
the same session blind, as double entry has it; now and then one of a pair types another value,
which opens a discrepancy. PIs open the dashboard of one of their studies every few seconds.

Run through ``load/run.py`` (``make load``), which seeds the database, starts gunicorn and
checks the figures. Every value the server confirmed as newly stored is counted per technician
and written to ``LOAD_SENT`` at the end, to compare with what the database holds.
"""

from __future__ import annotations

import itertools
import json
import os
import re

from locust import HttpUser, between, events, task

with open(os.environ["LOAD_PLAN"]) as _plan:
    PLAN = json.load(_plan)
CSRF_INPUT = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
SENT: dict[str, int] = {}
_technicians = itertools.count()
_pis = itertools.count()


class LabUser(HttpUser):
    abstract = True
    username: str

    def plain_http(self) -> None:
        """Let the cookies Django marks Secure go over plain HTTP: the load test talks to
        gunicorn on 127.0.0.1 directly, where in production the TLS proxy would be. (Django sets
        them again on every response, so this runs before every request.)"""
        for cookie in self.client.cookies:
            cookie.secure = False

    def login(self) -> None:
        page = self.client.get("/login/", name="login page")
        self.plain_http()
        token = CSRF_INPUT.search(page.text).group(1)
        response = self.client.post(
            "/login/",
            {"username": self.username, "password": PLAN["password"], "csrfmiddlewaretoken": token},
            name="log in",
            allow_redirects=False,
        )
        if response.status_code != 302:
            raise RuntimeError(f"{self.username} could not log in: {response.status_code}")


class Technician(LabUser):
    fixed_count = 20
    wait_time = between(0.5, 1.5)

    def on_start(self) -> None:
        me = PLAN["technicians"][next(_technicians) % len(PLAN["technicians"])]
        self.username, self.partner = me["username"], me["partner"]
        SENT.setdefault(self.username, 0)
        self.login()
        self.url = f"/studies/{me['slug']}/sessions/{PLAN['day']}/von_frey/"
        self.plain_http()
        page = self.client.get(self.url, name="entry page")
        # The login rotated the CSRF token: the entry page carries the new one, as in a browser.
        self.csrf = CSRF_INPUT.search(page.text).group(1)
        self.slots = itertools.cycle(
            (animal, footpad, application)
            for animal in me["animals"]
            for footpad in ("left", "right")
            for application in range(1, 11)
        )

    def value_of(self, slot) -> float:
        animal, footpad, application = slot
        grams = 4.0 + (animal * 7 + application * 3 + (footpad == "left")) % 200 / 10
        if self.partner == 1 and (animal + application) % 25 == 0:
            grams += 1.5  # a typing slip of the second experimenter: a discrepancy
        return round(grams, 1)

    @task
    def save_value(self) -> None:
        slot = next(self.slots)
        animal, footpad, application = slot
        body = {
            "animal": animal,
            "footpad": footpad,
            "application": application,
            "value": self.value_of(slot),
            "behavior": "",
            "reason": "",
            "expected_version": 0,
        }
        self.plain_http()
        with self.client.post(
            self.url + "value/",
            data=json.dumps(body),
            headers={"Content-Type": "application/json", "X-CSRFToken": self.csrf},
            name="save value",
            catch_response=True,
        ) as response:
            if response.status_code != 200:
                response.failure(f"{response.status_code}: {response.text[:200]}")
                return
            data = response.json()
            if not data.get("ok"):
                response.failure(f"not saved: {data}")
            elif data.get("created"):
                SENT[self.username] += 1


class PrincipalInvestigator(LabUser):
    fixed_count = 5
    wait_time = between(3, 7)

    def on_start(self) -> None:
        me = PLAN["pis"][next(_pis) % len(PLAN["pis"])]
        self.username = me["username"]
        self.slugs = itertools.cycle(me["slugs"])
        self.login()

    @task
    def dashboard(self) -> None:
        self.plain_http()
        with self.client.get(
            f"/studies/{next(self.slugs)}/dashboard/", name="dashboard", catch_response=True
        ) as response:
            if response.status_code != 200 or 'id="fig-von_frey"' not in response.text:
                response.failure(f"{response.status_code}: no figures")


@events.test_stop.add_listener
def write_sent(**_kwargs) -> None:
    path = os.environ.get("LOAD_SENT")
    if path:
        with open(path, "w") as handle:
            json.dump(SENT, handle)
