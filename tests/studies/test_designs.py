"""The seed paper's four designs: groups, sizes, schedules, timepoints and tests as published."""

from __future__ import annotations

import datetime as dt

import pytest

from studies.designs import DESIGNS, design_for
from studies.interchange import study_import, validate_study_json
from studies.selectors import dose_volume_ml

RAT_PACLITAXEL_DAYS = [0, 1, 2, 3, 4, 7, 8, 9, 10, 11, 14, 15]
RAT_TIMEPOINTS = [("baseline", -1), ("week 3", 21), ("week 4", 28), ("week 5", 35)]


def sizes(design: dict) -> dict[str, int]:
    return {g["code"]: g["n_per_group"] for g in design["groups"]}


def doses(design: dict, agent: str) -> dict[str, tuple]:
    """Each group's dose of ``agent`` as (dose, unit, route, days)."""
    return {
        d["group"]: (d["dose"], d["unit"], d["route"], d["days"])
        for d in design["dosing"]
        if d["agent"] == agent
    }


def timepoints(design: dict) -> list[tuple[str, int]]:
    return [(t["label"], t["day"]) for t in design["timepoints"]]


def comparisons(design: dict) -> list[tuple[str, str, str]]:
    return [(c["reference"], c["group"], c["symbol"]) for c in design["comparisons"]]


def test_there_are_the_four_designs_of_the_paper():
    assert list(DESIGNS) == [
        "fig1a-rat-paclitaxel",
        "fig1b-rat-doxorubicin",
        "fig2-mouse-paclitaxel",
        "fig3-rat-clodronate",
    ]


@pytest.mark.parametrize("key", list(DESIGNS))
def test_every_design_is_a_valid_study_json_that_cites_its_figure(key):
    design = DESIGNS[key]

    assert validate_study_json(design) == []
    assert "animals" not in design
    figure = key.split("-")[0].removeprefix("fig").rstrip("ab")
    assert f"Figure {figure}" in design["description"]


def test_fig1a_is_the_rat_paclitaxel_experiment():
    design = DESIGNS["fig1a-rat-paclitaxel"]

    assert design["species"] == "rat"
    assert sizes(design) == {"VEH": 10, "PTX-SAL": 15, "PTX-IVIG": 15}
    # 1 mg/kg: the paper's "1 g/kg" is a typo.
    assert doses(design, "paclitaxel") == {
        "PTX-SAL": (1, "mg/kg", "ip", RAT_PACLITAXEL_DAYS),
        "PTX-IVIG": (1, "mg/kg", "ip", RAT_PACLITAXEL_DAYS),
    }
    assert doses(design, "IVIg") == {"PTX-IVIG": (1, "g/kg", "iv", [0, 7, 14, 21])}
    assert doses(design, "saline") == {"PTX-SAL": (20, "mL/kg", "iv", [0, 7, 14, 21])}
    vehicle = [d for d in design["dosing"] if d["group"] == "VEH"]
    assert [(d["route"], d["days"]) for d in vehicle] == [("ip", RAT_PACLITAXEL_DAYS)]
    assert timepoints(design) == RAT_TIMEPOINTS
    assert comparisons(design) == [("VEH", "PTX-SAL", "#"), ("PTX-SAL", "PTX-IVIG", "*")]
    assert design["assays"] == {
        "von_frey": {
            "applications_per_footpad": 10,
            "footpads": ["left", "right"],
            "max_force_g": 26,
            "double_entry": True,
        }
    }


def test_fig1b_is_the_rat_doxorubicin_experiment():
    design = DESIGNS["fig1b-rat-doxorubicin"]

    assert sizes(design) == {"VEH": 10, "DOX-SAL": 15, "DOX-IVIG": 15}
    assert doses(design, "doxorubicin") == {
        "DOX-SAL": (6, "mg/kg", "iv", [0]),
        "DOX-IVIG": (6, "mg/kg", "iv", [0]),
    }
    assert doses(design, "IVIg") == {"DOX-IVIG": (1, "g/kg", "iv", [0, 7, 14, 21])}
    assert timepoints(design) == RAT_TIMEPOINTS
    assert comparisons(design) == [("VEH", "DOX-SAL", "#"), ("DOX-SAL", "DOX-IVIG", "*")]
    assert list(design["assays"]) == ["von_frey"]


def test_fig2_is_the_mouse_paclitaxel_experiment_with_both_assays():
    design = DESIGNS["fig2-mouse-paclitaxel"]

    assert (design["species"], design["strain"]) == ("mouse", "Crl:CD1 (ICR)")
    assert design["blinded"] is False
    assert sizes(design) == {"VEH": 15, "PTX-SAL": 15, "PTX-IVIG": 15}
    assert doses(design, "paclitaxel") == {
        "PTX-SAL": (3, "mg/kg", "ip", [0, 1, 2, 3, 4]),
        "PTX-IVIG": (3, "mg/kg", "ip", [0, 1, 2, 3, 4]),
    }
    assert doses(design, "IVIg") == {"PTX-IVIG": (1, "g/kg", "iv", [0, 5])}
    assert doses(design, "saline") == {"PTX-SAL": (20, "mL/kg", "iv", [0, 5])}
    assert timepoints(design) == [("baseline", -1), ("day 7", 7), ("day 10", 10), ("day 14", 14)]
    assert design["assays"]["hot_plate"]["temperature_c"] == 54.5
    assert design["assays"]["hot_plate"]["cutoff_s"] == 30
    assert design["assays"]["von_frey"]["double_entry"] is True


def test_fig3_is_the_macrophage_depletion_experiment():
    design = DESIGNS["fig3-rat-clodronate"]

    assert design["blinded"] is True
    assert sizes(design) == {
        "VEH": 5,
        "PTX-SAL": 8,
        "PTX-IVIG": 8,
        "PTX-CLO-SAL": 8,
        "PTX-CLO-IVIG": 8,
    }
    days = [2, 5, 12, 19]
    assert doses(design, "clodronate liposome") == {
        "PTX-CLO-SAL": (5.6, "mg/body", "iv", days),
        "PTX-CLO-IVIG": (5.6, "mg/body", "iv", days),
    }
    assert set(doses(design, "control liposome")) == {"PTX-SAL", "PTX-IVIG"}
    assert set(doses(design, "IVIg")) == {"PTX-IVIG", "PTX-CLO-IVIG"}
    assert set(doses(design, "paclitaxel")) == {
        "PTX-SAL",
        "PTX-IVIG",
        "PTX-CLO-SAL",
        "PTX-CLO-IVIG",
    }
    assert timepoints(design) == RAT_TIMEPOINTS
    assert comparisons(design) == [
        ("VEH", "PTX-SAL", "#"),
        ("PTX-SAL", "PTX-IVIG", "*"),
        ("PTX-CLO-SAL", "PTX-CLO-IVIG", "$"),
    ]


def test_design_for_gives_a_fresh_copy_with_slug_title_and_day0():
    design = design_for(
        "fig2-mouse-paclitaxel", slug="mouse-2026", title="Mouse p-CIPN", day0=dt.date(2026, 3, 2)
    )
    design["groups"][0]["code"] = "CHANGED"
    design["dosing"][0]["days"].append(99)

    assert (design["slug"], design["title"], design["day0"]) == (
        "mouse-2026",
        "Mouse p-CIPN",
        "2026-03-02",
    )
    assert DESIGNS["fig2-mouse-paclitaxel"]["groups"][0]["code"] == "VEH"
    assert 99 not in DESIGNS["fig2-mouse-paclitaxel"]["dosing"][0]["days"]
    assert "day0" not in DESIGNS["fig2-mouse-paclitaxel"]


def test_design_for_refuses_an_unknown_design():
    with pytest.raises(KeyError, match="fig1a-rat-paclitaxel"):
        design_for("fig4-rat-cisplatin", slug="x")


@pytest.mark.django_db
@pytest.mark.parametrize("key", list(DESIGNS))
def test_every_design_imports_and_every_dose_has_a_volume(key):
    study, created = study_import(data=design_for(key, slug=f"{key}-copy"))

    assert created
    assert study.groups.count() == len(DESIGNS[key]["groups"])
    weight = 250.0 if study.species == "rat" else 30.0
    volumes = {
        (s.group.code, s.agent.name): dose_volume_ml(schedule=s, weight_g=weight)
        for s in study.schedules.select_related("group", "agent")
    }
    assert all(v is not None and v > 0 for v in volumes.values()), volumes
    if key == "fig1a-rat-paclitaxel":
        # 1 g/kg of 5% IVIg for a 250 g rat; 1 mg/kg paclitaxel at 1 mg/mL.
        assert volumes[("PTX-IVIG", "IVIg")] == pytest.approx(5.0)
        assert volumes[("PTX-IVIG", "paclitaxel")] == pytest.approx(0.25)
