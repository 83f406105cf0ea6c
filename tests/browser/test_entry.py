"""The entry pages in Chromium: keyboard-only double entry, the hot-plate stopwatch, values
refused in the cell, and values kept across a dropped connection.

Each experimenter logs in through the login page in a browser context of their own. Timings are
printed (``-s`` shows them), never asserted.
"""

from __future__ import annotations

import re
import time

import pytest
from django.contrib.auth.models import User
from django.urls import reverse
from playwright.sync_api import expect

from behavior.models import Discrepancy, Entry, MeasurementSession, Reading
from behavior.services import entry_save, session_open
from studies.models import Assay, StudyAssay
from tests.factories import PASSWORD, make_study, make_user

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SCREENS = "/tmp/screens"
SAVED_ALL = "document.querySelectorAll('td.is-pending, td.is-offline').length === 0"


def wait_saved(page) -> None:
    """Until every typed value has been confirmed by the server (generous: CI machines are
    shared)."""
    page.wait_for_function(SAVED_ALL, timeout=120_000)


def value_for(animal: int, footpad: int, application: int) -> str:
    """Plausible von Frey forces (g), different from cell to cell, one decimal as the
    anesthesiometer shows them."""
    return f"{8 + ((animal * 7 + footpad * 5 + application * 3) % 15) * 0.9:.1f}"


def log_in(browser, live_server, username: str, next_url: str, *, viewport=(1280, 860)):
    """A fresh browser context logged in through the login page, opened at ``next_url``."""
    context = browser.new_context(viewport={"width": viewport[0], "height": viewport[1]})
    page = context.new_page()
    page.goto(f"{live_server.url}{reverse('login')}?next={next_url}")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.press("#id_password", "Enter")
    page.wait_for_url(f"**{next_url}")
    return context, page


def grid_ready(page) -> None:
    """Wait for the entry grid and for the cursor in its first cell, which the grid puts there
    itself: keys typed before it lands would go nowhere."""
    page.wait_for_selector("table.entry-grid")
    expect(page.locator("input.v").first).to_be_focused()


def open_session_by_keyboard(page) -> None:
    """Enter on the "Open session" button, once its autofocus has landed: pressed earlier, while
    the page is still loading, the key would go nowhere."""
    page.wait_for_function(
        "document.activeElement && document.activeElement.textContent.trim() === 'Open session'"
    )
    page.keyboard.press("Enter")


def type_values(page, values: list[str]) -> float:
    """Type each value and Enter, by keyboard alone; the seconds it took."""
    start = time.perf_counter()
    for value in values:
        page.keyboard.type(value)
        page.keyboard.press("Enter")
    return time.perf_counter() - start


def grid_values(n_animals: int, applications: int, *, change: tuple | None = None) -> list:
    values = []
    for a in range(n_animals):
        for f in range(2):
            for app in range(1, applications + 1):
                value = value_for(a, f, app)
                if change and (a, f, app) == change[:3]:
                    value = change[3]
                values.append(value)
    return values


@pytest.fixture
def vf_study(db):
    users = {name: make_user(name) for name in ("alice", "bob", "carol")}
    study = make_study(
        slug="vf-bench",
        groups=("VEH", "PTX-SAL", "PTX-IVIG"),
        animals_per_group=1,
        members={users["alice"]: "pi", users["bob"]: "technician", users["carol"]: "technician"},
    )
    return study


def test_two_technicians_enter_a_von_frey_session_by_keyboard_and_resolve_the_discrepancy(
    live_server, browser, vf_study
):
    entry_url = reverse("behavior:session_entry", args=[vf_study.slug, -1, Assay.VON_FREY])
    n_animals, applications = 3, 10

    # bob opens the session (its button has the focus) and types all 60 values.
    context, page = log_in(browser, live_server, "bob", entry_url)
    open_session_by_keyboard(page)
    grid_ready(page)
    assert page.evaluate("document.activeElement.dataset.application") == "1"
    values = grid_values(n_animals, applications)
    first_animal = type_values(page, values[:20])
    rest = type_values(page, values[20:])
    wait_saved(page)
    print(
        f"\nbob: one animal (20 values) by keyboard in {first_animal:.2f} s; "
        f"all 60 typed in {first_animal + rest:.2f} s"
    )
    assert Entry.objects.filter(experimenter="bob").count() == 60
    page.screenshot(path=f"{SCREENS}/vf_bob_done.png", full_page=True)
    context.close()

    # carol enters the same session blind, one value typed differently (R02 right #4).
    context, page = log_in(browser, live_server, "carol", entry_url)
    grid_ready(page)
    # Her grid is empty: bob's values are not shown to her.
    assert page.eval_on_selector_all("input.v", "els => els.filter(e => e.value).length") == 0
    values = grid_values(n_animals, applications, change=(1, 1, 4, "25.5"))
    seconds = type_values(page, values)
    wait_saved(page)
    print(f"carol: 60 values by keyboard in {seconds:.2f} s ({seconds / 3:.2f} s per animal)")
    assert Entry.objects.filter(experimenter="carol").count() == 60
    assert page.is_visible("#entry-done")

    # Once both are done, the grid shows agreement: one value disputed, the rest verified.
    page.reload()
    assert page.locator("td.is-disputed").count() == 1
    assert page.locator("td.is-verified").count() == 59
    page.screenshot(path=f"{SCREENS}/vf_carol_agreement.png", full_page=True)

    discrepancy = Discrepancy.objects.get(status=Discrepancy.Status.OPEN)
    assert discrepancy.reading.animal.code == "R02"
    page.click("text=resolve the discrepancies")
    page.wait_for_selector("section.discrepancy")
    assert "25.5" in page.inner_text(f"#d{discrepancy.pk} .values")
    bob_value = value_for(1, 1, 4)
    assert bob_value in page.inner_text(f"#d{discrepancy.pk} .values")
    page.screenshot(path=f"{SCREENS}/vf_discrepancy.png", full_page=True)
    page.fill(f"#id_d{discrepancy.pk}-value", bob_value)
    page.select_option(f"#id_d{discrepancy.pk}-reason", "typing_error")
    page.fill(f"#id_d{discrepancy.pk}-note", "Read-out photo checked")
    page.press(f"#id_d{discrepancy.pk}-note", "Enter")
    page.wait_for_selector(".message.success")
    page.screenshot(path=f"{SCREENS}/vf_resolved.png", full_page=True)
    context.close()

    reading = Reading.objects.get(pk=discrepancy.reading_id)
    assert reading.state == Reading.State.RESOLVED
    assert reading.value == pytest.approx(float(bob_value))


def test_a_fifteen_animal_session_is_entered_without_the_mouse(live_server, browser, db):
    bob = make_user("bob")
    study = make_study(slug="vf-fifteen", animals_per_group=5, members={bob: "technician"})
    entry_url = reverse("behavior:session_entry", args=[study.slug, -1, Assay.VON_FREY])
    # A tablet in landscape.
    context, page = log_in(browser, live_server, "bob", entry_url, viewport=(1024, 768))
    open_session_by_keyboard(page)
    grid_ready(page)
    values = grid_values(15, 10)
    seconds = type_values(page, values)
    start = time.perf_counter()
    wait_saved(page)
    settle = time.perf_counter() - start
    print(
        f"\n15 animals, 300 values: typed in {seconds:.2f} s ({seconds / 15:.2f} s per animal), "
        f"all saved {settle:.2f} s after the last key"
    )
    page.screenshot(path=f"{SCREENS}/vf_fifteen.png")
    assert Entry.objects.filter(experimenter="bob").count() == 300
    stored = sorted(Entry.objects.values_list("value", flat=True))
    assert stored == sorted(float(v) for v in values)
    page.goto(live_server.url + reverse("behavior:sessions", args=[study.slug]))
    page.screenshot(path=f"{SCREENS}/sessions.png", full_page=True)
    context.close()


def test_a_hot_plate_latency_is_taken_with_the_stopwatch_and_the_behaviour_chosen_by_key(
    live_server, browser, db
):
    bob = make_user("bob")
    study = make_study(slug="hp-bench", animals_per_group=1, members={bob: "technician"})
    # A short cut-off so that the stopwatch reaching it is seen within the test.
    StudyAssay.objects.filter(study=study, assay=Assay.HOT_PLATE).update(max_value=3)
    entry_url = reverse("behavior:session_entry", args=[study.slug, -1, Assay.HOT_PLATE])
    context, page = log_in(browser, live_server, "bob", entry_url)
    open_session_by_keyboard(page)
    page.wait_for_selector("#stopwatch")
    # The stopwatch follows the cell with the cursor: keys count once it is in the first one.
    expect(page.locator("input.v").first).to_be_focused()
    expect(page.locator("#sw-target")).to_have_text("R01")

    page.keyboard.press("Space")
    started = time.perf_counter()
    page.wait_for_timeout(1000)
    page.keyboard.press("Space")
    elapsed = time.perf_counter() - started
    page.screenshot(path=f"{SCREENS}/hp_stopped.png")
    page.keyboard.press("l")  # lick: saves and moves to R02
    wait_saved(page)
    first = Entry.objects.get(reading__animal__code="R01")
    assert first.behavior == "lick"
    # Read to a tenth of a second, cut down: between the second waited and the time between
    # the two key presses as this test saw them.
    assert 0.9 <= first.value <= elapsed + 0.1

    # R02 never reacts: the stopwatch stops itself at the 3 s cut-off and records it.
    expect(page.locator("#sw-target")).to_have_text("R02")
    page.keyboard.press("Space")
    page.wait_for_function(
        "document.getElementById('entry-status').textContent.includes('cut-off')"
    )
    wait_saved(page)
    second = Entry.objects.get(reading__animal__code="R02")
    assert (second.value, second.behavior) == (3.0, "")

    # R03: a typed latency and a behaviour key.
    page.keyboard.type("2.4")
    page.keyboard.press("j")
    wait_saved(page)
    third = Entry.objects.get(reading__animal__code="R03")
    assert (third.value, third.behavior) == (2.4, "jump")
    page.screenshot(path=f"{SCREENS}/hp_done.png", full_page=True)
    context.close()


def test_an_invalid_value_is_marked_in_its_cell_with_the_reason_and_not_saved(
    live_server, browser, vf_study
):
    entry_url = reverse("behavior:session_entry", args=[vf_study.slug, -1, Assay.VON_FREY])
    context, page = log_in(browser, live_server, "bob", entry_url)
    open_session_by_keyboard(page)
    grid_ready(page)
    first_cell = page.locator("input.v").first

    page.keyboard.type("99")
    page.keyboard.press("Enter")
    cell = page.locator("td.cell").first
    # The refusal may come from the server: the cell is pending until it answers.
    expect(cell).to_have_class(re.compile(r"\bis-error\b"))
    expect(cell.locator(".msg")).to_have_text("Force must be at most 26 g.")
    # The focus stays so that the value is corrected first.
    assert first_cell.evaluate("el => el === document.activeElement")
    page.screenshot(path=f"{SCREENS}/vf_invalid.png")

    page.keyboard.type("abc")
    page.keyboard.press("Tab")
    expect(cell.locator(".msg")).to_have_text("Force must be a number, not 'abc'.")
    assert first_cell.evaluate("el => el === document.activeElement")
    assert Entry.objects.count() == 0

    # Corrected, it is saved and the next cell has the focus.
    page.keyboard.type("12.5")
    page.keyboard.press("Enter")
    wait_saved(page)
    expect(cell).to_have_class(re.compile(r"\bis-saved\b"))
    expect(cell.locator(".msg")).to_have_text("")
    assert Entry.objects.get().value == 12.5
    context.close()


def test_a_value_typed_while_the_server_is_unreachable_is_kept_and_saved_after_a_reload(
    live_server, browser, vf_study
):
    entry_url = reverse("behavior:session_entry", args=[vf_study.slug, -1, Assay.VON_FREY])
    value_url = reverse("behavior:entry_value", args=[vf_study.slug, -1, Assay.VON_FREY])
    context, page = log_in(browser, live_server, "bob", entry_url)
    open_session_by_keyboard(page)
    grid_ready(page)

    # Values not yet on the server make the page ask before leaving: the reload goes ahead.
    page.on("dialog", lambda dialog: dialog.accept())
    page.route(f"**{value_url}", lambda route: route.abort())
    page.keyboard.type("14.2")
    page.keyboard.press("Enter")
    page.wait_for_selector("td.is-offline")
    assert "No connection" in page.inner_text("#entry-status")
    assert Entry.objects.count() == 0

    # The connection is back, the page reloaded: the value is restored and saved.
    page.unroute(f"**{value_url}")
    page.reload()
    wait_saved(page)
    assert page.locator("input.v").first.input_value() == "14.2"
    assert Entry.objects.get().value == 14.2
    kept = page.evaluate(
        "() => { const key = JSON.parse(document.getElementById('entry-config').textContent)"
        ".storageKey; return Object.keys(JSON.parse(localStorage.getItem(key) || '{}')).length; }"
    )
    assert kept == 0
    context.close()


# --- values that queue up go in one request -----------------------------------------------------


class ValuePosts:
    """The POSTs of values the page sends, as the server answers them, and a way to hold the
    first one on its way (a slow network, a busy server) while more values are typed."""

    def __init__(self, page, value_url: str, *, hold_first: bool = False):
        self.bodies: list[dict] = []
        self.statuses: list[int] = []
        self.held = []
        self._hold = hold_first
        page.on("request", self._request)
        page.on("response", self._response)
        page.route(f"**{value_url}", self._route)

    @staticmethod
    def _ours(message) -> bool:
        request = getattr(message, "request", message)
        return request.method == "POST" and request.url.endswith("/value/")

    def _request(self, request) -> None:
        if self._ours(request):
            self.bodies.append(request.post_data_json)

    def _response(self, response) -> None:
        if self._ours(response):
            self.statuses.append(response.status)

    def _route(self, route) -> None:
        if self._hold and not self.held:
            self.held.append(route)  # on its way until released
        else:
            route.continue_()

    def release(self) -> None:
        self._hold = False
        for route in self.held:
            route.continue_()


def cell(page, study, code: str, footpad: str, application: int):
    """The grid's cell of an animal's footpad and application."""
    animal = study.animals.get(code=code).pk
    return page.locator(
        f'td.cell:has(input.v[data-animal="{animal}"][data-footpad="{footpad}"]'
        f'[data-application="{application}"])'
    )


def test_values_typed_while_a_save_is_on_the_way_go_in_one_request(live_server, browser, vf_study):
    entry_url = reverse("behavior:session_entry", args=[vf_study.slug, -1, Assay.VON_FREY])
    value_url = reverse("behavior:entry_value", args=[vf_study.slug, -1, Assay.VON_FREY])
    context, page = log_in(browser, live_server, "bob", entry_url)
    open_session_by_keyboard(page)
    grid_ready(page)
    posts = ValuePosts(page, value_url, hold_first=True)

    values = grid_values(1, 10)[:5]
    type_values(page, values[:1])
    page.wait_for_function("() => document.querySelectorAll('td.is-pending').length === 1")
    type_values(page, values[1:])  # R01 left 2 to 5, while the first save is on its way
    expect(page.locator("td.is-pending")).to_have_count(5)
    posts.release()
    wait_saved(page)

    r01 = vf_study.animals.get(code="R01").pk
    assert posts.statuses == [200, 200]
    assert posts.bodies[0]["value"] == float(values[0])
    assert posts.bodies[1]["animal"] == r01
    assert [(v["footpad"], v["application"], v["value"]) for v in posts.bodies[1]["values"]] == [
        ("left", n, float(value)) for n, value in enumerate(values[1:], start=2)
    ]
    stored = Entry.objects.filter(experimenter="bob").order_by("reading__application")
    assert [e.value for e in stored] == [float(v) for v in values]
    expect(page.locator("td.is-saved")).to_have_count(5)
    assert page.inner_text("#entered-count") == "5"
    context.close()


def test_values_kept_while_offline_are_sent_in_one_request_after_a_reload(
    live_server, browser, vf_study
):
    entry_url = reverse("behavior:session_entry", args=[vf_study.slug, -1, Assay.VON_FREY])
    value_url = reverse("behavior:entry_value", args=[vf_study.slug, -1, Assay.VON_FREY])
    context, page = log_in(browser, live_server, "bob", entry_url)
    open_session_by_keyboard(page)
    grid_ready(page)
    page.on("dialog", lambda dialog: dialog.accept())
    page.route(f"**{value_url}", lambda route: route.abort())
    values = grid_values(1, 10)[:3]
    type_values(page, values)
    expect(page.locator("td.is-offline")).to_have_count(3)
    assert Entry.objects.count() == 0

    page.unroute(f"**{value_url}")
    posts = ValuePosts(page, value_url)
    page.reload()
    wait_saved(page)

    assert posts.statuses == [200]
    assert [v["value"] for v in posts.bodies[0]["values"]] == [float(v) for v in values]
    assert sorted(Entry.objects.values_list("value", flat=True)) == sorted(map(float, values))
    context.close()


def test_a_refused_batch_is_sent_again_value_by_value_and_only_the_bad_value_is_refused(
    live_server, browser, vf_study
):
    """dave is a third experimenter: R01 left #2 already has bob's and carol's values, so his
    is refused (400 naming it), and the batch it was in with #3 stores nothing. Each value then
    goes alone: #2 gets its reason in its cell, #3 is saved."""
    dave = make_user("dave")
    vf_study.memberships.create(user=dave, role="technician")
    session = session_open(
        study=vf_study, timepoint=vf_study.timepoints.get(day=-1), assay=Assay.VON_FREY, user=dave
    )
    r01 = vf_study.animals.get(code="R01")
    for who in ("bob", "carol"):
        entry_save(
            session=session,
            animal=r01,
            footpad="left",
            application=2,
            value=11.0,
            experimenter=who,
            user=User.objects.get(username=who),
        )
    entry_url = reverse("behavior:session_entry", args=[vf_study.slug, -1, Assay.VON_FREY])
    value_url = reverse("behavior:entry_value", args=[vf_study.slug, -1, Assay.VON_FREY])
    context, page = log_in(browser, live_server, "dave", entry_url)
    grid_ready(page)
    posts = ValuePosts(page, value_url, hold_first=True)

    type_values(page, ["10.5"])
    page.wait_for_function("() => document.querySelectorAll('td.is-pending').length === 1")
    type_values(page, ["11.5", "12.5"])
    expect(page.locator("td.is-pending")).to_have_count(3)
    posts.release()
    wait_saved(page)

    assert posts.statuses == [200, 400, 400, 200]
    assert [len(body.get("values", [body])) for body in posts.bodies] == [1, 2, 1, 1]
    refused = cell(page, vf_study, "R01", "left", 2)
    expect(refused).to_have_class(re.compile(r"\bis-error\b"))
    expect(refused.locator(".msg")).to_contain_text("cannot add a third value")
    expect(cell(page, vf_study, "R01", "left", 3)).to_have_class(re.compile(r"\bis-saved\b"))
    assert sorted(
        Entry.objects.filter(experimenter="dave").values_list("reading__application", "value")
    ) == [(1, 10.5), (3, 12.5)]
    context.close()


def test_a_value_changed_elsewhere_in_a_batch_shows_the_stored_value_and_the_rest_is_saved(
    live_server, browser, vf_study
):
    """While bob's first save is on its way he types #2 and #3 of R01; meanwhile #2 is stored
    with another value elsewhere (his other tab). The batch is refused as stale (409) and
    stores nothing; sent alone, #2 shows the stored value and #3 is saved."""
    entry_url = reverse("behavior:session_entry", args=[vf_study.slug, -1, Assay.VON_FREY])
    value_url = reverse("behavior:entry_value", args=[vf_study.slug, -1, Assay.VON_FREY])
    context, page = log_in(browser, live_server, "bob", entry_url)
    open_session_by_keyboard(page)
    grid_ready(page)
    posts = ValuePosts(page, value_url, hold_first=True)

    type_values(page, ["10.5"])
    page.wait_for_function("() => document.querySelectorAll('td.is-pending').length === 1")
    type_values(page, ["11.5", "12.5"])
    entry_save(
        session=MeasurementSession.objects.get(study=vf_study),
        animal=vf_study.animals.get(code="R01"),
        footpad="left",
        application=2,
        value=20.0,
        experimenter="bob",
        user=User.objects.get(username="bob"),
    )
    posts.release()
    wait_saved(page)

    assert posts.statuses == [200, 409, 409, 200]
    assert [len(body.get("values", [body])) for body in posts.bodies] == [1, 2, 1, 1]
    changed = cell(page, vf_study, "R01", "left", 2)
    expect(changed).to_have_class(re.compile(r"\bis-error\b"))
    expect(changed.locator(".msg")).to_contain_text("Stored: 20.")
    expect(cell(page, vf_study, "R01", "left", 3)).to_have_class(re.compile(r"\bis-saved\b"))
    assert sorted(
        Entry.objects.filter(experimenter="bob").values_list("reading__application", "value")
    ) == [(1, 10.5), (2, 20.0), (3, 12.5)]
    context.close()
