"""A PI sets up a study in Chromium: from a design, animals pasted, allocated at random; then a
technician finds today's doses with the volume to inject and records one with a key press."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from studies.models import DoseRecord, Study
from tests.factories import PASSWORD

SCREENS = Path("/tmp/screens")
ANIMALS = "\n".join(f"R{i:02d}\tC{(i + 1) // 2}\tmale\t250" for i in range(1, 7))


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def _log_in(page: Page, base: str, username: str) -> None:
    page.goto(f"{base}/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Today")


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_a_pi_sets_up_a_study_and_a_technician_sees_todays_doses(
    live_server, page: Page, alice, bob
):
    SCREENS.mkdir(exist_ok=True)
    page.set_viewport_size({"width": 1024, "height": 1366})  # a tablet held upright
    base = live_server.url

    _log_in(page, base, "alice")
    page.get_by_role("link", name="My studies").click()
    page.get_by_role("link", name="New study").click()
    page.get_by_role("link", name=re.compile("fig1a-rat-paclitaxel")).click()
    page.get_by_label("Slug").fill("ptx-ivig-bench")
    page.get_by_label("Day 0").fill(timezone.localdate().isoformat())
    page.get_by_role("button", name="Create the study").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("paclitaxel")

    page.get_by_role("link", name="Animals").click()
    page.get_by_label(re.compile("Animals, one a line")).fill(ANIMALS)
    page.get_by_role("button", name="Register the animals").click()
    expect(page.get_by_text("6 animals registered.")).to_be_visible()

    page.get_by_role("link", name="Allocation").click()
    page.get_by_role("button", name="Allocate").click()
    expect(page.get_by_text("6 animals allocated")).to_be_visible()
    page.screenshot(path=str(SCREENS / "study_allocation.png"), full_page=True)

    page.get_by_role("link", name="Members").click()
    page.get_by_label("Username", exact=True).fill("bob")
    page.get_by_label("Role", exact=True).select_option("technician")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("cell", name="bob")).to_be_visible()
    page.get_by_role("navigation", name="Study").get_by_role("link", name="Overview").click()
    page.screenshot(path=str(SCREENS / "study_page.png"), full_page=True)
    page.get_by_role("button", name="Log out").click()

    _log_in(page, base, "bob")
    study = Study.objects.get(slug="ptx-ivig-bench")
    ivig_animals = list(study.animals.filter(group__code="PTX-IVIG").values_list("code", flat=True))
    assert len(ivig_animals) == 2
    for code in ivig_animals:
        # IVIg 1 g/kg at 50 mg/mL for a 250 g rat: 5.00 mL.
        row = page.locator("tr.dose-row", has_text=code).filter(has_text=re.compile("IVIg 1 g/kg"))
        expect(row.locator("td.volume")).to_have_text("5.00 mL")
    # Saline 20 mL/kg, the same volume as IVIg, for the paclitaxel + saline group: 5.00 mL.
    expect(
        page.locator("tr.dose-row", has_text=re.compile("saline 20 mL/kg")).first.locator(
            "td.volume"
        )
    ).to_have_text("5.00 mL")
    page.screenshot(path=str(SCREENS / "today_technician.png"), full_page=True)

    # The first due dose's button has the focus: Enter records it, and the next one gets it.
    expect(page.locator("button.give").first).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.get_by_text("dose given.")).to_be_visible()
    expect(page.locator("tr.dose-row.done")).to_have_count(1)
    expect(page.locator(".dose-row:not(.done) button.give").first).to_be_focused()
    assert DoseRecord.objects.filter(status="given", recorded_by=bob).count() == 1
    page.screenshot(path=str(SCREENS / "today_after_dose.png"), full_page=True)
