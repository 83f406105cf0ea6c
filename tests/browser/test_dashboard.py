"""The dashboard in Chromium: the figure draws, and the options update the table in place."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.behavior.dashboard_data import fig1a_like_study

SCREENS = Path("/tmp/screens")


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_the_pi_sees_the_figure_and_switches_to_welch(live_server, page, client, alice):
    study = fig1a_like_study(slug="fig1a-like", members={alice: "pi"})
    client.force_login(alice)
    cookie = client.cookies["sessionid"]
    page.context.add_cookies([{"name": "sessionid", "value": cookie.value, "url": live_server.url}])
    errors: list[str] = []

    def on_console(message):
        # The browser asks for /favicon.ico on its own; the page does not use one.
        if message.type == "error" and "favicon" not in message.location.get("url", ""):
            errors.append(message.text)

    page.on("console", on_console)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.set_viewport_size({"width": 1280, "height": 900})

    page.goto(f"{live_server.url}/studies/{study.slug}/dashboard/")
    page.wait_for_selector("#plot-von_frey svg.main-svg")
    # The stacked markers of the paper: ## for PTX + saline vs vehicle, * for IVIg.
    page.wait_for_selector("#plot-von_frey .annotation-text")
    annotations = page.locator("#plot-von_frey .annotation-text").all_text_contents()
    assert "##" in annotations
    SCREENS.mkdir(parents=True, exist_ok=True)
    page.locator("#assay-von_frey").screenshot(path=str(SCREENS / "dashboard-student.png"))

    table = page.locator('table[data-comparisons="von_frey"]')
    dfs = table.locator("td[data-df]").all_text_contents()
    assert dfs and all(re.fullmatch(r"\d+", df) for df in dfs)  # Student: n1 + n2 - 2

    page.select_option("#id_test", "welch")
    page.get_by_role("button", name="Update").press("Enter")
    page.wait_for_function(
        "() => [...document.querySelectorAll('table[data-comparisons=von_frey] td[data-df]')]"
        ".some(td => td.textContent.includes('.'))"
    )
    dfs = table.locator("td[data-df]").all_text_contents()
    assert any(not re.fullmatch(r"\d+", df) for df in dfs)
    assert "Welch" in page.locator("[data-analysis]").text_content()
    assert "test=welch" in page.url
    page.wait_for_selector("#plot-von_frey svg.main-svg")
    page.screenshot(path=str(SCREENS / "dashboard-welch.png"), full_page=True)

    # Per-animal curves are fetched and drawn when their section is opened, by keyboard too.
    section = page.locator("#assay-von_frey")
    section.get_by_text("Per-animal curves").focus()
    page.keyboard.press("Enter")
    page.wait_for_selector("#plot-animals-von_frey svg.main-svg")
    section.get_by_text("Group × time: mixed model").click()
    page.wait_for_selector('table[data-mixed="von_frey"]')
    effects = page.locator('table[data-mixed="von_frey"] td:first-child').all_text_contents()
    assert len(effects) == 3, effects  # group, day, group x day
    section.screenshot(path=str(SCREENS / "dashboard-details.png"))
    assert errors == []
