"""The seed paper's four CIPN experiments as study designs (interchange.md section 1 dicts).

Each design has the paper's groups, group sizes (``n_per_group``, a hint for registering
animals that the import ignores), dosing schedules, timepoints and comparisons, but no animals
and no day 0: ``design_for`` returns a fresh copy with a slug, ready for ``study_import``.

Where the paper leaves something open or contradicts itself, the choice is written beside it.
The paper gives no injection volumes or stock concentrations; those below are the usual
laboratory preparations, chosen so that the dosing calendar can compute a volume per animal:

- paclitaxel: the 6 mg/mL concentrate (in Cremophor EL and ethanol) diluted 1 in 6 with saline
  gives the paper's solvent, 8.3% Cremophor EL / 8.3% ethanol / 83.4% saline, at 1 mg/mL
  (rat, 1 mL/kg); for mice diluted further to 0.3 mg/mL (10 mL/kg, the usual i.p. volume);
- IVIg: 50 mg/mL, the marketed 5% solution (20 mL/kg for 1 g/kg);
- doxorubicin: 2 mg/mL, the marketed solution (3 mL/kg for 6 mg/kg);
- clodronate liposomes: 5 mg/mL suspension (1.12 mL for 5.6 mg/body).
"""

from __future__ import annotations

import copy
import datetime as dt

from studies.interchange import FORMAT

RAT = {"species": "rat", "strain": "Crl:CD (SD)", "sex": "male", "supplier": "Charles River Japan"}
MOUSE = {
    "species": "mouse",
    "strain": "Crl:CD1 (ICR)",
    "sex": "male",
    "supplier": "Charles River Japan",
}

VON_FREY = {
    "applications_per_footpad": 10,
    "footpads": ["left", "right"],
    "max_force_g": 26,
    # "Mechanical measurements were assessed via verification by two experimenters."
    "double_entry": True,
}
HOT_PLATE = {"temperature_c": 54.5, "cutoff_s": 30, "trials": 1, "double_entry": False}

PACLITAXEL_VEHICLE = "Cremophor EL 8.3% / ethanol 8.3% / saline 83.4%"
# The vehicle group gets the paclitaxel solvent alone, in the same volume, on the same days.
VEHICLE_AGENT = "paclitaxel vehicle (Cremophor EL / ethanol / saline)"

RAT_PACLITAXEL_DAYS = [0, 1, 2, 3, 4, 7, 8, 9, 10, 11, 14, 15]
RAT_IVIG_DAYS = [0, 7, 14, 21]
MOUSE_PACLITAXEL_DAYS = [0, 1, 2, 3, 4]
MOUSE_IVIG_DAYS = [0, 5]
CLODRONATE_DAYS = [2, 5, 12, 19]

RAT_TIMEPOINTS = [
    {"label": "baseline", "day": -1},
    {"label": "week 3", "day": 21},
    {"label": "week 4", "day": 28},
    {"label": "week 5", "day": 35},
]
MOUSE_TIMEPOINTS = [
    {"label": "baseline", "day": -1},
    {"label": "day 7", "day": 7},
    {"label": "day 10", "day": 10},
    {"label": "day 14", "day": 14},
]

# The paper's t-tests: drug against vehicle (#, ##), drug + IVIg against drug + saline (*, **).
PAPER_COMPARISONS = [
    {"reference": "VEH", "group": "PTX-SAL", "symbol": "#"},
    {"reference": "PTX-SAL", "group": "PTX-IVIG", "symbol": "*"},
]


def _rat_paclitaxel(group: str) -> dict:
    # The paper's text says "1 g/kg" for rats: a typo for 1 mg/kg, the usual dose of the rat
    # paclitaxel model on this schedule (1 g/kg would be a thousand times that, and lethal).
    return {
        "group": group,
        "agent": "paclitaxel",
        "dose": 1,
        "unit": "mg/kg",
        "route": "ip",
        "vehicle": PACLITAXEL_VEHICLE,
        "days": RAT_PACLITAXEL_DAYS,
        "stock_concentration": 1,
    }


def _ivig(group: str, days: list[int]) -> dict:
    return {
        "group": group,
        "agent": "IVIg",
        "dose": 1,
        "unit": "g/kg",
        "route": "iv",
        "vehicle": "",
        "days": days,
        "stock_concentration": 50,
    }


def _saline(group: str, days: list[int], ml_per_kg: float = 20) -> dict:
    # "Control group animals were administered the same amount of saline": the volume of IVIg
    # 1 g/kg at 50 mg/mL, 20 mL/kg. A different volume would also tell a blinded technician
    # which animals get IVIg.
    return {
        "group": group,
        "agent": "saline",
        "dose": ml_per_kg,
        "unit": "mL/kg",
        "route": "iv",
        "vehicle": "",
        "days": days,
        "stock_concentration": None,
    }


def _vehicle(group: str, days: list[int], ml_per_kg: float) -> dict:
    return {
        "group": group,
        "agent": VEHICLE_AGENT,
        "dose": ml_per_kg,
        "unit": "mL/kg",
        "route": "ip",
        "vehicle": "",
        "days": days,
        "stock_concentration": None,
    }


def _liposomes(group: str, *, clodronate: bool) -> dict:
    # Methods: clodronate liposomes i.v. on days 2, 5, 12 and 19 at 5.6 mg/body (the Figure 3
    # caption says i.p.; the methods are followed). Groups without depletion get the same volume
    # of control (empty) liposomes.
    if clodronate:
        agent, dose, unit, stock = "clodronate liposome", 5.6, "mg/body", 5
    else:
        agent, dose, unit, stock = "control liposome", 1.12, "mL/body", None
    return {
        "group": group,
        "agent": agent,
        "dose": dose,
        "unit": unit,
        "route": "iv",
        "vehicle": "",
        "days": CLODRONATE_DAYS,
        "stock_concentration": stock,
    }


DESIGNS: dict[str, dict] = {
    "fig1a-rat-paclitaxel": {
        "format": FORMAT,
        "slug": "fig1a-rat-paclitaxel",
        "title": "IVIg in paclitaxel-induced peripheral neuropathy (rat)",
        **RAT,
        "blinded": False,
        "description": (
            "Figure 1a of the seed paper: mechanical allodynia (von Frey) in rats given "
            "paclitaxel 1 mg/kg i.p. on days 0-4, 7-11, 14 and 15, with IVIg 1 g/kg or saline "
            "i.v. on days 0, 7, 14 and 21; measured at baseline and weeks 3, 4 and 5."
        ),
        "assays": {"von_frey": VON_FREY},
        "groups": [
            {"code": "VEH", "name": "Vehicle", "control": True, "n_per_group": 10},
            {"code": "PTX-SAL", "name": "Paclitaxel + saline", "n_per_group": 15},
            {"code": "PTX-IVIG", "name": "Paclitaxel + IVIg", "n_per_group": 15},
        ],
        "dosing": [
            _vehicle("VEH", RAT_PACLITAXEL_DAYS, 1),
            _rat_paclitaxel("PTX-SAL"),
            _saline("PTX-SAL", RAT_IVIG_DAYS),
            _rat_paclitaxel("PTX-IVIG"),
            _ivig("PTX-IVIG", RAT_IVIG_DAYS),
        ],
        "timepoints": RAT_TIMEPOINTS,
        "comparisons": PAPER_COMPARISONS,
    },
    "fig1b-rat-doxorubicin": {
        "format": FORMAT,
        "slug": "fig1b-rat-doxorubicin",
        "title": "IVIg in doxorubicin-induced peripheral neuropathy (rat)",
        **RAT,
        "blinded": False,
        "description": (
            "Figure 1b of the seed paper: mechanical allodynia (von Frey) in rats given "
            "doxorubicin 6 mg/kg i.v. on day 0, with IVIg 1 g/kg or saline i.v. on days 0, 7, "
            "14 and 21; measured at baseline and weeks 3, 4 and 5."
        ),
        "assays": {"von_frey": VON_FREY},
        "groups": [
            {"code": "VEH", "name": "Vehicle (saline)", "control": True, "n_per_group": 10},
            {"code": "DOX-SAL", "name": "Doxorubicin + saline", "n_per_group": 15},
            {"code": "DOX-IVIG", "name": "Doxorubicin + IVIg", "n_per_group": 15},
        ],
        "dosing": [
            # Doxorubicin's solvent is saline: the vehicle group gets its volume on day 0.
            _saline("VEH", [0], ml_per_kg=3),
            {
                "group": "DOX-SAL",
                "agent": "doxorubicin",
                "dose": 6,
                "unit": "mg/kg",
                "route": "iv",
                "vehicle": "saline",
                "days": [0],
                "stock_concentration": 2,
            },
            _saline("DOX-SAL", RAT_IVIG_DAYS),
            {
                "group": "DOX-IVIG",
                "agent": "doxorubicin",
                "dose": 6,
                "unit": "mg/kg",
                "route": "iv",
                "vehicle": "saline",
                "days": [0],
                "stock_concentration": 2,
            },
            _ivig("DOX-IVIG", RAT_IVIG_DAYS),
        ],
        "timepoints": RAT_TIMEPOINTS,
        "comparisons": [
            {"reference": "VEH", "group": "DOX-SAL", "symbol": "#"},
            {"reference": "DOX-SAL", "group": "DOX-IVIG", "symbol": "*"},
        ],
    },
    "fig2-mouse-paclitaxel": {
        "format": FORMAT,
        "slug": "fig2-mouse-paclitaxel",
        "title": "IVIg in paclitaxel-induced peripheral neuropathy (mouse)",
        **MOUSE,
        "blinded": False,
        "description": (
            "Figure 2 of the seed paper: mechanical allodynia (2a, von Frey) and heat "
            "hyperalgesia (2b, hot plate at 54.5 °C) in mice given paclitaxel 3 mg/kg i.p. on "
            "days 0-4, with IVIg 1 g/kg or saline i.v. on days 0 and 5; measured at baseline "
            "and on days 7, 10 and 14."
        ),
        "assays": {"von_frey": VON_FREY, "hot_plate": HOT_PLATE},
        "groups": [
            {"code": "VEH", "name": "Vehicle", "control": True, "n_per_group": 15},
            {"code": "PTX-SAL", "name": "Paclitaxel + saline", "n_per_group": 15},
            {"code": "PTX-IVIG", "name": "Paclitaxel + IVIg", "n_per_group": 15},
        ],
        "dosing": [
            _vehicle("VEH", MOUSE_PACLITAXEL_DAYS, 10),
            *[
                {
                    "group": group,
                    "agent": "paclitaxel",
                    "dose": 3,
                    "unit": "mg/kg",
                    "route": "ip",
                    "vehicle": PACLITAXEL_VEHICLE,
                    "days": MOUSE_PACLITAXEL_DAYS,
                    "stock_concentration": 0.3,
                }
                for group in ("PTX-SAL", "PTX-IVIG")
            ],
            _saline("PTX-SAL", MOUSE_IVIG_DAYS),
            _ivig("PTX-IVIG", MOUSE_IVIG_DAYS),
        ],
        "timepoints": MOUSE_TIMEPOINTS,
        "comparisons": PAPER_COMPARISONS,
    },
    "fig3-rat-clodronate": {
        "format": FORMAT,
        "slug": "fig3-rat-clodronate",
        "title": "IVIg after macrophage depletion with clodronate liposomes (rat)",
        **RAT,
        "blinded": True,
        "description": (
            "Figure 3 of the seed paper: mechanical allodynia (von Frey) in rats given "
            "paclitaxel 1 mg/kg i.p. as in Figure 1a, IVIg 1 g/kg or saline on days 0, 7, 14 "
            "and 21, and clodronate or control liposomes 5.6 mg/body on days 2, 5, 12 and 19; "
            "measured at baseline and weeks 3, 4 and 5. Blinded: technicians see coded groups."
        ),
        "assays": {"von_frey": VON_FREY},
        "groups": [
            {"code": "VEH", "name": "Vehicle", "control": True, "n_per_group": 5},
            {
                "code": "PTX-SAL",
                "name": "Paclitaxel + control liposome + saline",
                "n_per_group": 8,
            },
            {
                "code": "PTX-IVIG",
                "name": "Paclitaxel + control liposome + IVIg",
                "n_per_group": 8,
            },
            {
                "code": "PTX-CLO-SAL",
                "name": "Paclitaxel + clodronate liposome + saline",
                "n_per_group": 8,
            },
            {
                "code": "PTX-CLO-IVIG",
                "name": "Paclitaxel + clodronate liposome + IVIg",
                "n_per_group": 8,
            },
        ],
        "dosing": [
            _vehicle("VEH", RAT_PACLITAXEL_DAYS, 1),
            _rat_paclitaxel("PTX-SAL"),
            _saline("PTX-SAL", RAT_IVIG_DAYS),
            _liposomes("PTX-SAL", clodronate=False),
            _rat_paclitaxel("PTX-IVIG"),
            _ivig("PTX-IVIG", RAT_IVIG_DAYS),
            _liposomes("PTX-IVIG", clodronate=False),
            _rat_paclitaxel("PTX-CLO-SAL"),
            _saline("PTX-CLO-SAL", RAT_IVIG_DAYS),
            _liposomes("PTX-CLO-SAL", clodronate=True),
            _rat_paclitaxel("PTX-CLO-IVIG"),
            _ivig("PTX-CLO-IVIG", RAT_IVIG_DAYS),
            _liposomes("PTX-CLO-IVIG", clodronate=True),
        ],
        "timepoints": RAT_TIMEPOINTS,
        "comparisons": [
            *PAPER_COMPARISONS,
            # The caption's third test, "$ vs. same time saline vehicle": IVIg against saline
            # in the macrophage-depleted animals, the comparison that shows IVIg losing its
            # effect without macrophages.
            {"reference": "PTX-CLO-SAL", "group": "PTX-CLO-IVIG", "symbol": "$"},
        ],
    },
}


def design_for(
    key: str, *, slug: str, title: str | None = None, day0: dt.date | str | None = None
) -> dict:
    """A fresh copy of the design ``key`` with the given slug (and title and day 0), ready for
    ``study_import``; changing it never changes ``DESIGNS``."""
    if key not in DESIGNS:
        raise KeyError(f"No design {key!r}: choose one of {', '.join(DESIGNS)}.")
    design = copy.deepcopy(DESIGNS[key])
    design["slug"] = slug
    if title is not None:
        design["title"] = title
    if day0 is not None:
        design["day0"] = day0.isoformat() if isinstance(day0, dt.date) else day0
    return design
