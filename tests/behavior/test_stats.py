"""Tests of behavior/stats.py: published values first, then the rules of the statistics contract.

Reference values come from /work/shared/reference/published_stats.json (each entry names the
call that produced it); the call is written beside every assertion. A published number is
matched to half a unit in its last printed digit. No test here needs Django.
"""

import io
import json
import math
from decimal import Decimal
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy import stats as scipy_stats

from behavior import stats

REFERENCE = json.loads(
    (
        Path(__file__).resolve().parents[2].parent / "shared" / "reference" / "published_stats.json"
    ).read_text()
)


def published(value, decimals=None):
    """Match a printed number to half a unit in its last printed digit.

    ``decimals`` gives the printed precision where JSON lost trailing zeros (1.0 printed as
    1.00000 by a call that rounds to five decimals).
    """
    if decimals is None:
        decimals = -Decimal(repr(float(value))).as_tuple().exponent
    return pytest.approx(value, abs=0.5 * 10.0**-decimals + 1e-12)


def values_frame(rows):
    """rows: (animal, group, day, value); the timepoint label is derived from the day."""
    return pd.DataFrame(
        [(a, g, f"day {d}", d, v) for a, g, d, v in rows],
        columns=list(stats.VALUE_COLUMNS),
    )


def one_timepoint(groups, day=21):
    """{group: [values]} -> a values frame at one day, one animal per value."""
    rows = []
    for group, numbers in groups.items():
        for index, number in enumerate(numbers):
            rows.append((f"{group}-{index}", group, day, number))
    return values_frame(rows)


TIMEPOINTS = {-1: "baseline", 21: "week 3", 28: "week 4"}


def footpad(animal, group, day, side, numbers, states=None):
    """Readings of one von Frey footpad: one row per application."""
    states = states or ["verified"] * len(numbers)
    return [
        (animal, group, TIMEPOINTS[day], day, side, application, number, state)
        for application, (number, state) in enumerate(zip(numbers, states, strict=True), 1)
    ]


def readings_frame(rows):
    return pd.DataFrame(rows, columns=list(stats.READING_COLUMNS))


def sleep_values():
    data = REFERENCE["r_sleep"]["data"]
    rows = [
        (f"S{index}", str(group), 0, extra)
        for index, (extra, group) in enumerate(zip(data["extra"], data["group"], strict=True))
    ]
    return values_frame(rows)


# R's t.test(extra ~ group) reports group 1 minus group 2; ours is group minus reference, so
# group 2 is the reference and both report the same sign.
SLEEP_COMPARISON = [{"reference": "2", "group": "1", "symbol": "*"}]


# ------------------------------------------------------------------------------------------
# Published values
# ------------------------------------------------------------------------------------------


def test_student_t_matches_r_on_sleep_data():
    expected = REFERENCE["r_sleep"]["published"]["student"]
    row = stats.compare(sleep_values(), SLEEP_COMPARISON, test="student").iloc[0]
    # R: t.test(extra ~ group, data = sleep, var.equal = TRUE)
    assert row["statistic"] == published(expected["t"])
    assert row["df"] == expected["df"]
    assert row["p"] == published(expected["p"])
    assert row["ci_low"] == published(expected["ci95"][0])
    assert row["ci_high"] == published(expected["ci95"][1])
    assert row["test"] == "student"


def test_welch_t_matches_r_on_sleep_data():
    expected = REFERENCE["r_sleep"]["published"]["welch"]
    row = stats.compare(sleep_values(), SLEEP_COMPARISON, test="welch").iloc[0]
    # R: t.test(extra ~ group, data = sleep)
    assert row["statistic"] == published(expected["t"])
    assert row["df"] == published(expected["df"])
    assert row["p"] == published(expected["p"])
    assert row["ci_low"] == published(expected["ci95"][0])
    assert row["ci_high"] == published(expected["ci95"][1])
    # R: t.test(extra ~ group, data = sleep)$estimate  (mean in group 1, mean in group 2)
    assert row["mean_difference"] == pytest.approx(expected["means"][0] - expected["means"][1])


def test_group_means_and_sds_match_r_on_sleep_data():
    summary = stats.describe(sleep_values()).set_index("group")
    means = REFERENCE["r_sleep"]["published"]["welch"]["means"]
    sds = REFERENCE["r_sleep"]["published"]["group_sd"]
    # R: tapply(sleep$extra, sleep$group, mean)
    assert summary.loc["1", "mean"] == published(means[0])
    assert summary.loc["2", "mean"] == published(means[1])
    # R: tapply(sleep$extra, sleep$group, sd)
    assert summary.loc["1", "sd"] == published(sds["sd1"])
    assert summary.loc["2", "sd"] == published(sds["sd2"])
    # R: tapply(sleep$extra, sleep$group, function(x) sd(x) / sqrt(length(x)))
    assert summary.loc["1", "sem"] == pytest.approx(summary.loc["1", "sd"] / math.sqrt(10))
    assert list(summary["n"]) == [10, 10]


@pytest.mark.parametrize("name", sorted(REFERENCE["nist_strd_univariate"]["datasets"]))
def test_mean_and_sd_match_nist_certified_values(name):
    dataset = REFERENCE["nist_strd_univariate"]["datasets"][name]
    values = one_timepoint({"G": dataset["data"]})
    row = stats.describe(values).iloc[0]
    # NIST StRD univariate: certified values to 15 significant digits (GSL test_nist.c checks
    # the mean to 1e-15 and the SD to 1e-13 relative).
    assert row["mean"] == pytest.approx(dataset["certified"]["mean"], rel=1e-14)
    assert row["sd"] == pytest.approx(dataset["certified"]["sd"], rel=1e-13)


@pytest.mark.parametrize(
    ("x0", "low", "high", "sd_rel"),
    [
        # NumAcc2-4: x0 then 500 pairs (low, high), as generated in GSL statistics/test_nist.c;
        # certified mean x0 and SD 0.1. GSL's own tolerances on the SD: 1e-15, 1e-9, 1e-7 (the
        # inputs themselves are not exact in binary).
        (1.2, 1.1, 1.3, 1e-15),
        (1000000.2, 1000000.1, 1000000.3, 1e-9),
        (10000000.2, 10000000.1, 10000000.3, 1e-7),
    ],
)
def test_mean_and_sd_match_nist_certified_values_on_the_numacc_sets(x0, low, high, sd_rel):
    numbers = [x0] + [low, high] * 500
    row = stats.describe(one_timepoint({"G": numbers})).iloc[0]
    # NIST StRD NumAcc2/3/4: mean = x0, sd = 0.1
    assert row["n"] == 1001
    assert row["mean"] == pytest.approx(x0, rel=1e-15)
    assert row["sd"] == pytest.approx(0.1, rel=sd_rel)


def test_one_way_anova_matches_r_on_plant_growth():
    entry = REFERENCE["r_anova_plantgrowth"]
    data = pd.DataFrame({"weight": entry["data"]["weight"], "group": entry["data"]["group"]})
    expected = entry["published"]
    row = stats.one_way_anova(data, dv="weight", group="group").iloc[0]
    # R: anova(lm(weight ~ group, data = PlantGrowth))
    assert [row["df"], row["df_error"]] == expected["df"]
    assert row["ss"] == published(expected["SS"][0])
    assert row["ss_error"] == published(expected["SS"][1])
    assert row["ms"] == published(expected["MS"][0])
    assert row["ms_error"] == published(expected["MS"][1])
    assert row["f"] == published(expected["F"])
    assert row["p"] == published(expected["p"])


def rm_anova2_data():
    data = REFERENCE["rm_anova2_pingouin"]["data"]
    rows = []
    for cell, numbers in data["cells"].items():
        time, metric = cell.split("|")
        for subject, number in zip(data["subjects"], numbers, strict=True):
            rows.append((subject, time, metric, number))
    return pd.DataFrame(rows, columns=data["long_format_columns"])


def test_two_way_repeated_measures_anova_matches_pingouin_and_jamovi():
    expected = REFERENCE["rm_anova2_pingouin"]["published"]
    table = stats.rm_anova2(
        rm_anova2_data(), dv="Performance", within=["Time", "Metric"], subject="Subject"
    ).set_index("source")
    sources = ["Time", "Metric", "Time*Metric"]
    # Python: pg.rm_anova(data=pg.read_dataset("rm_anova2"), subject="Subject",
    #                     within=["Time", "Metric"], dv="Performance")  (= JAMOVI)
    # (pingouin's test rounds every column to 5 decimals before comparing)
    for index, source in enumerate(sources):
        assert table.loc[source, "ms"] == published(expected["MS"][source], 5)
        assert table.loc[source, "f"] == published(expected["F"][source], 5)
        assert table.loc[source, "ng2"] == published(expected["ng2"][index], 5)
        assert table.loc[source, "np2"] == published(expected["np2"][index], 5)
        assert table.loc[source, "eps_gg"] == published(expected["eps_GG"][index], 5)
    assert list(table["df"]) == [1, 2, 2]
    assert list(table["df_error"]) == [9, 18, 18]


@pytest.mark.parametrize("case", REFERENCE["holm_p_adjust"]["cases"])
def test_holm_matches_r_p_adjust(case):
    # R: p.adjust(p, method = "holm")
    assert stats.holm(case["p"]).tolist() == pytest.approx(case["published_holm"], rel=1e-12)


def test_hedges_g_matches_borenstein_worked_example():
    # Borenstein, Hedges, Higgins & Rothstein (2009), Introduction to Meta-Analysis, ch. 4:
    # means 103 vs 100, SD 5.5 vs 4.5, n 50 + 50 -> g = 0.5924, V_g = 0.0411, SE_g = 0.2028.
    # R: effsize::cohen.d(x1, x2, hedges.correction = TRUE)$estimate == 0.5924 on the same
    # summaries (mtorchiano/effsize tests/testthat/testCohenD.R).
    g, low, high = stats.hedges_g(
        mean_reference=100,
        sd_reference=4.5,
        n_reference=50,
        mean_group=103,
        sd_group=5.5,
        n_group=50,
    )
    se = (high - low) / (2 * scipy_stats.norm.ppf(0.975))
    assert g == published(0.5924)
    assert se == published(0.2028)
    assert se**2 == published(0.0411)


def test_compare_reports_the_borenstein_hedges_g_from_raw_values():
    z = np.linspace(-1.0, 1.0, 50)
    z = (z - z.mean()) / z.std(ddof=1)
    values = one_timepoint({"control": list(100 + 4.5 * z), "treated": list(103 + 5.5 * z)})
    comparison = [{"reference": "control", "group": "treated", "symbol": "*"}]
    row = stats.compare(values, comparison).iloc[0]
    # Borenstein et al. (2009), ch. 4: g = 0.5924
    assert row["hedges_g"] == published(0.5924)
    assert row["g_ci_low"] < row["hedges_g"] < row["g_ci_high"]


def test_student_and_welch_match_scipy_on_unequal_groups():
    reference, group = [4, 7, 8, 6, 3, 2], [6, 8, 7, 10, 11, 9, 12]
    values = one_timepoint({"A": reference, "B": group})
    for test, equal_var in (("student", True), ("welch", False)):
        row = stats.compare(values, [{"reference": "A", "group": "B", "symbol": "*"}], test=test)
        expected = scipy_stats.ttest_ind(group, reference, equal_var=equal_var)
        ci = expected.confidence_interval(0.95)
        # Python: scipy.stats.ttest_ind(group, reference, equal_var=...)
        assert row["statistic"].iloc[0] == pytest.approx(expected.statistic, rel=1e-12)
        assert row["df"].iloc[0] == pytest.approx(expected.df, rel=1e-12)
        assert row["p"].iloc[0] == pytest.approx(expected.pvalue, rel=1e-10)
        assert row["ci_low"].iloc[0] == pytest.approx(ci.low, rel=1e-10)
        assert row["ci_high"].iloc[0] == pytest.approx(ci.high, rel=1e-10)


# Pingouin's "mixed_anova_unbalanced" data set (raphaelvallat/pingouin,
# src/pingouin/datasets/mixed_anova_unbalanced.csv): 3 groups (7, 9, 10 subjects) x 4 times.
MIXED_ANOVA_UNBALANCED = """\
Scores,Time,Group,Subject
5.971435163732493,T0,Control,0
4.309024305293535,T0,Control,1
6.387162940307738,T0,Control,5
6.359588413717416,T0,Control,6
4.863476495582651,T0,Control,7
5.515696372114429,T0,Control,8
3.2573150458145945,T0,Control,9
6.650035724719818,T1,Control,0
6.4919460223426775,T1,Control,1
5.502118364683486,T1,Control,5
5.905453411570191,T1,Control,6
5.789091940980035,T1,Control,7
6.821158192129386,T1,Control,8
3.95309444677076,T1,Control,9
5.297353675370818,T2,Control,0
4.844030655861066,T2,Control,1
5.0306947152941,T2,Control,5
6.175554085122381,T2,Control,6
3.6829727734098032,T2,Control,7
5.316891459821001,T2,Control,8
6.558969187571151,T2,Control,9
5.102159771800008,T3,Control,0
5.837437653613972,T3,Control,1
5.3779084251523255,T3,Control,5
5.624712953768216,T3,Control,6
5.177205194391704,T3,Control,7
6.3416747129961415,T3,Control,8
7.890960515463033,T3,Control,9
5.776199587837237,T0,Therapy,10
5.133554069535044,T0,Therapy,11
5.7361419366840725,T0,Therapy,12
3.625022399309971,T0,Therapy,13
5.947792199748547,T0,Therapy,14
4.802843215560301,T0,Therapy,15
5.563205166738653,T0,Therapy,16
5.7182891913492195,T0,Therapy,17
6.455413982398135,T0,Therapy,18
6.5410087949313915,T1,Therapy,10
4.254189922955694,T1,Therapy,11
4.298026718499156,T1,Therapy,12
5.599081800051087,T1,Therapy,13
5.151757550813145,T1,Therapy,14
5.555380491630616,T1,Therapy,15
6.054020332199238,T1,Therapy,16
5.66448697472186,T1,Therapy,17
6.2657383060625955,T1,Therapy,18
4.725763666232685,T2,Therapy,10
5.6296551228958975,T2,Therapy,11
6.007968855216035,T2,Therapy,12
5.491501236894121,T2,Therapy,13
6.733800732555499,T2,Therapy,14
3.2995463661877045,T2,Therapy,15
7.730603620838799,T2,Therapy,16
4.5573687109772365,T2,Therapy,17
5.911883386777701,T2,Therapy,18
4.914564788236803,T3,Therapy,10
6.162059737162049,T3,Therapy,11
6.404228225462175,T3,Therapy,12
6.223507967893809,T3,Therapy,13
4.773745686469774,T3,Therapy,14
7.707842950778001,T3,Therapy,15
5.926962541870895,T3,Therapy,16
4.547340890749048,T3,Therapy,17
6.33197944580913,T3,Therapy,18
5.864392325050896,T0,Meditation,20
1.836483339375265,T0,Meditation,21
6.721105615470206,T0,Meditation,22
5.552630552204535,T0,Meditation,23
5.564529542932399,T0,Meditation,24
4.969904309123513,T0,Meditation,25
6.167368735752412,T0,Meditation,26
6.384919841909897,T0,Meditation,27
5.670835848826805,T0,Meditation,28
6.791986193446408,T0,Meditation,29
5.879842313008629,T1,Meditation,20
5.400035419303477,T1,Meditation,21
4.772149441318094,T1,Meditation,22
5.215281788739212,T1,Meditation,23
6.616593926547842,T1,Meditation,24
5.718052948173335,T1,Meditation,25
5.455233985745355,T1,Meditation,26
6.328288145297394,T1,Meditation,27
4.7310112165198674,T1,Meditation,28
5.288118690873185,T1,Meditation,29
6.591205359743063,T2,Meditation,20
6.866533696353573,T2,Meditation,21
6.803591759111203,T2,Meditation,22
6.5852956847818565,T2,Meditation,23
6.78428811274975,T2,Meditation,24
7.663481512426145,T2,Meditation,25
5.518894716374608,T2,Meditation,26
5.8319823336625145,T2,Meditation,27
7.524574355126174,T2,Meditation,28
5.0188917248559575,T2,Meditation,29
7.275475504274325,T3,Meditation,20
4.689284675970471,T3,Meditation,21
5.949234896863726,T3,Meditation,22
7.149163805919065,T3,Meditation,23
6.196067133898749,T3,Meditation,24
6.217824588334266,T3,Meditation,25
7.080656004381456,T3,Meditation,26
4.581501009608386,T3,Meditation,27
6.447071635325711,T3,Meditation,28
6.794844209327205,T3,Meditation,29
"""


def test_mixed_design_anova_matches_jasp_on_an_unbalanced_design():
    raw = pd.read_csv(io.StringIO(MIXED_ANOVA_UNBALANCED))
    values = pd.DataFrame(
        {
            "animal": raw["Subject"].astype(str),
            "group": raw["Group"],
            "timepoint": raw["Time"],
            "day": raw["Time"].str[1:].astype(int),
            "value": raw["Scores"],
        }
    )
    table = stats.rm_anova(values).set_index("source")
    # Python: pg.mixed_anova(data=df, dv="Scores", subject="Subject", within="Time",
    #                        between="Group", correction=True)  (pingouin tests: "JASP",
    #                        GG epsilon "compare with R afex::aov_ez / ezANOVA")
    assert list(table["df"]) == [2, 3, 6]
    assert list(table["df_error"]) == [23, 69, 69]
    assert list(table["f"]) == [published(2.3026, 4), published(1.7071, 4), published(0.8877, 4)]
    assert list(table["p"]) == [published(0.1226, 4), published(0.1736, 4), published(0.5088, 4)]
    assert list(table["np2"]) == [published(0.1668, 4), published(0.0691, 4), published(0.0717, 4)]
    assert list(table["ng2"]) == [published(0.0371, 4), published(0.0566, 4), published(0.0587, 4)]
    assert list(table["eps_gg"].iloc[1:]) == [published(0.9254, 4), published(0.9254, 4)]
    assert list(table["p_gg"].iloc[1:]) == [published(0.1779, 4), published(0.5031, 4)]


# ------------------------------------------------------------------------------------------
# From readings to animal values
# ------------------------------------------------------------------------------------------


def test_animal_value_is_the_mean_of_its_footpad_means():
    readings = readings_frame(
        footpad("R01", "VEH", 21, "left", [10, 12])
        + footpad("R01", "VEH", 21, "right", [14, 15, 16])
    )
    values, excluded = stats.animal_values(readings, assay="von_frey")
    # left mean 11, right mean 15: the animal is (11 + 15) / 2, not the mean of five values
    assert values.to_dict("records") == [
        {"animal": "R01", "group": "VEH", "timepoint": "week 3", "day": 21, "value": 13.0}
    ]
    assert excluded.empty
    assert list(excluded.columns) == ["animal", "day", "footpad", "reason"]


def test_footpad_with_an_open_discrepancy_is_left_out_and_the_other_footpad_counts():
    readings = readings_frame(
        footpad("R01", "VEH", 21, "left", [10, np.nan], ["verified", "disputed"])
        + footpad("R01", "VEH", 21, "right", [14, 16])
    )
    values, excluded = stats.animal_values(readings, assay="von_frey")
    assert values["value"].tolist() == [15.0]
    assert excluded.to_dict("records") == [
        {"animal": "R01", "day": 21, "footpad": "left", "reason": "open discrepancy"}
    ]


def test_open_discrepancy_wins_over_not_verified_as_the_reason():
    readings = readings_frame(
        footpad("R01", "VEH", 21, "left", [10, np.nan, 9], ["unverified", "disputed", "verified"])
        + footpad("R01", "VEH", 21, "right", [14, 16], ["unverified", "verified"])
    )
    values, excluded = stats.animal_values(readings, assay="von_frey")
    assert values.empty
    assert excluded[["footpad", "reason"]].values.tolist() == [
        ["left", "open discrepancy"],
        ["right", "not verified"],
    ]


def test_resolved_values_count_like_verified_ones():
    readings = readings_frame(
        footpad("R01", "VEH", 21, "left", [10, 12], ["verified", "resolved"])
        + footpad("R01", "VEH", 21, "right", [14, 16], ["resolved", "resolved"])
    )
    values, excluded = stats.animal_values(readings, assay="von_frey")
    assert values["value"].tolist() == [13.0]
    assert excluded.empty


def test_include_unverified_counts_single_entries_but_never_open_discrepancies():
    readings = readings_frame(
        footpad("R01", "VEH", 21, "left", [10, 12], ["unverified", "verified"])
        + footpad("R01", "VEH", 21, "right", [14, np.nan], ["verified", "disputed"])
    )
    strict, strict_excluded = stats.animal_values(readings, assay="von_frey")
    lenient, lenient_excluded = stats.animal_values(
        readings, assay="von_frey", include_unverified=True
    )
    assert strict.empty
    assert strict_excluded["reason"].tolist() == ["not verified", "open discrepancy"]
    assert lenient["value"].tolist() == [11.0]
    assert lenient_excluded.to_dict("records") == [
        {"animal": "R01", "day": 21, "footpad": "right", "reason": "open discrepancy"}
    ]


def test_footpads_option_restricts_the_animal_value_to_the_chosen_footpad():
    readings = readings_frame(
        footpad("R01", "VEH", 21, "left", [10, 12])
        + footpad("R01", "VEH", 21, "right", [20, np.nan], ["verified", "disputed"])
    )
    left, left_excluded = stats.animal_values(readings, assay="von_frey", footpads=["left"])
    right, right_excluded = stats.animal_values(readings, assay="von_frey", footpads=("right",))
    assert left["value"].tolist() == [11.0]
    assert left_excluded.empty  # the right footpad's discrepancy is not part of this analysis
    assert right.empty
    assert right_excluded["footpad"].tolist() == ["right"]


def test_hot_plate_animal_is_left_out_for_the_day_when_any_trial_does_not_count():
    rows = [
        ("M01", "VEH", "day 7", 7, "", 1, 12.0, "verified"),
        ("M01", "VEH", "day 7", 7, "", 2, 14.0, "verified"),
        ("M02", "VEH", "day 7", 7, "", 1, 9.0, "verified"),
        ("M02", "VEH", "day 7", 7, "", 2, 11.0, "unverified"),
    ]
    values, excluded = stats.animal_values(readings_frame(rows), assay="hot_plate")
    assert values[["animal", "value"]].values.tolist() == [["M01", 13.0]]
    assert excluded.to_dict("records") == [
        {"animal": "M02", "day": 7, "footpad": "", "reason": "not verified"}
    ]


def test_animal_values_are_ordered_by_day_then_group_then_animal():
    readings = readings_frame(
        footpad("R02", "PTX", 21, "left", [5])
        + footpad("R01", "VEH", 21, "left", [9])
        + footpad("R02", "PTX", -1, "left", [15])
        + footpad("R01", "VEH", -1, "left", [16])
    )
    values, _ = stats.animal_values(readings, assay="von_frey", footpads=["left"])
    assert values[["animal", "day"]].values.tolist() == [
        ["R02", -1],
        ["R01", -1],
        ["R02", 21],
        ["R01", 21],
    ]


def test_animal_values_refuses_bad_input_with_a_clear_message():
    good = readings_frame(footpad("R01", "VEH", 21, "left", [10]))
    with pytest.raises(ValueError, match="unknown assay"):
        stats.animal_values(good, assay="tail_flick")
    with pytest.raises(ValueError, match="missing column"):
        stats.animal_values(good.drop(columns="state"), assay="von_frey")
    with pytest.raises(ValueError, match="unknown state"):
        stats.animal_values(good.assign(state="maybe"), assay="von_frey")
    with pytest.raises(ValueError, match="unknown footpad"):
        stats.animal_values(good, assay="von_frey", footpads=["front"])
    with pytest.raises(ValueError, match="footpad 'left' or 'right'"):
        stats.animal_values(good.assign(footpad=""), assay="von_frey")


# ------------------------------------------------------------------------------------------
# Description
# ------------------------------------------------------------------------------------------


def test_describe_with_one_animal_gives_no_sd_or_sem_and_json_null():
    summary = stats.describe(one_timepoint({"VEH": [12.5]}))
    assert list(summary.columns) == ["group", "timepoint", "day", "n", "mean", "sd", "sem"]
    row = summary.iloc[0]
    assert (row["n"], row["mean"]) == (1, 12.5)
    assert math.isnan(row["sd"]) and math.isnan(row["sem"])
    record = stats.to_records(summary)[0]
    assert record["sd"] is None and record["sem"] is None
    assert record["n"] == 1 and type(record["n"]) is int


def test_describe_orders_rows_by_day_then_group_order():
    values = values_frame(
        [
            ("a", "PTX", 21, 5.0),
            ("b", "VEH", 21, 15.0),
            ("a", "PTX", -1, 16.0),
            ("b", "VEH", -1, 15.5),
        ]
    )
    seen = stats.describe(values)
    ordered = stats.describe(values, group_order=["VEH", "PTX"])
    assert seen[["day", "group"]].values.tolist() == [
        [-1, "PTX"],
        [-1, "VEH"],
        [21, "PTX"],
        [21, "VEH"],
    ]
    assert ordered[["day", "group"]].values.tolist() == [
        [-1, "VEH"],
        [-1, "PTX"],
        [21, "VEH"],
        [21, "PTX"],
    ]


def test_describe_has_no_row_for_a_group_without_animals_at_a_timepoint():
    values = values_frame([("a", "VEH", -1, 15.0), ("a", "VEH", 21, 14.0), ("b", "PTX", -1, 16.0)])
    summary = stats.describe(values)
    assert summary[["day", "group"]].values.tolist() == [[-1, "VEH"], [-1, "PTX"], [21, "VEH"]]


def test_missing_animal_values_are_dropped_before_counting():
    values = values_frame(
        [("a", "VEH", 21, 10.0), ("b", "VEH", 21, np.nan), ("c", "VEH", 21, 12.0)]
    )
    row = stats.describe(values).iloc[0]
    assert (row["n"], row["mean"]) == (2, 11.0)


# ------------------------------------------------------------------------------------------
# Comparisons
# ------------------------------------------------------------------------------------------

VEH_VS_PTX = [{"reference": "VEH", "group": "PTX", "symbol": "#"}]


def test_statistic_is_positive_when_the_group_mean_exceeds_the_reference():
    values = one_timepoint({"VEH": [1.0, 2.0, 3.0], "PTX": [4.0, 5.0, 7.0]})
    up = stats.compare(values, VEH_VS_PTX).iloc[0]
    down = stats.compare(values, [{"reference": "PTX", "group": "VEH", "symbol": "#"}]).iloc[0]
    assert up["statistic"] > 0 and up["mean_difference"] > 0
    assert down["statistic"] == pytest.approx(-up["statistic"])
    assert down["ci_low"] == pytest.approx(-up["ci_high"])
    assert down["hedges_g"] == pytest.approx(-up["hedges_g"])


@pytest.mark.parametrize(
    ("shift", "marker"),
    [
        (1.0, "n.s."),  # t = 1.22, df 4: P = 0.29
        (3.0, "#"),  # t = 3.67: P = 0.021
        (5.0, "##"),  # t = 6.12: P = 0.0036
    ],
)
def test_marker_is_the_symbol_once_below_005_and_twice_below_001(shift, marker):
    values = one_timepoint({"VEH": [1.0, 2.0, 3.0], "PTX": [1.0 + shift, 2.0 + shift, 3.0 + shift]})
    row = stats.compare(values, VEH_VS_PTX).iloc[0]
    assert row["marker"] == marker
    assert row["p_adjusted"] == row["p"]


def test_comparison_with_fewer_than_two_animals_states_why():
    values = one_timepoint({"VEH": [1.0, 2.0, 3.0], "PTX": [4.0]})
    row = stats.compare(values, VEH_VS_PTX).iloc[0]
    assert row["marker"] == "n < 2"
    assert (row["n_reference"], row["n_group"]) == (3, 1)
    assert row["mean_difference"] == 2.0
    record = stats.to_records(stats.compare(values, VEH_VS_PTX))[0]
    assert record["statistic"] is None and record["df"] is None and record["p"] is None


def test_comparison_of_a_group_with_no_animals_at_a_timepoint_states_n_below_two():
    values = values_frame([("a", "VEH", 21, 1.0), ("b", "VEH", 21, 2.0), ("c", "PTX", -1, 3.0)])
    rows = stats.compare(values, VEH_VS_PTX)
    assert rows[["day", "marker", "n_reference", "n_group"]].values.tolist() == [
        [-1, "n < 2", 0, 1],
        [21, "n < 2", 2, 0],
    ]


@pytest.mark.parametrize("test", ["student", "welch"])
@pytest.mark.parametrize("ptx", [[5.0, 5.0, 5.0], [9.0, 9.0, 9.0]])
def test_comparison_without_variance_states_no_variance_whether_or_not_means_differ(test, ptx):
    values = one_timepoint({"VEH": [5.0, 5.0, 5.0], "PTX": ptx})
    row = stats.compare(values, VEH_VS_PTX, test=test).iloc[0]
    assert row["marker"] == "no variance"
    assert all(math.isnan(row[field]) for field in ("statistic", "df", "p", "hedges_g"))
    assert row["mean_difference"] == ptx[0] - 5.0


def test_comparison_with_variance_in_one_group_only_is_tested():
    values = one_timepoint({"VEH": [5.0, 5.0, 5.0], "PTX": [7.0, 8.0, 9.0]})
    welch = stats.compare(values, VEH_VS_PTX, test="welch").iloc[0]
    assert welch["df"] == pytest.approx(2.0)  # all the variance comes from PTX: df = n - 1
    assert welch["statistic"] == pytest.approx(3.0 / math.sqrt(1.0 / 3.0))


def test_holm_adjusts_each_comparison_family_separately():
    rows = []
    for day, shift in ((21, 3.0), (28, 3.0), (35, 0.5)):
        for index, base in enumerate([1.0, 2.0, 3.0]):
            rows += [
                (f"v{index}", "VEH", day, base),
                (f"p{index}", "PTX", day, base + shift),
                (f"i{index}", "IVIG", day, base + shift + 5.0),
            ]
    values = values_frame(rows)
    comparisons = VEH_VS_PTX + [{"reference": "PTX", "group": "IVIG", "symbol": "*"}]
    raw = stats.compare(values, comparisons)
    adjusted = stats.compare(values, comparisons, correction="holm")
    for reference in ("VEH", "PTX"):
        family = adjusted["reference"] == reference
        expected = stats.holm(raw.loc[family, "p"])
        assert adjusted.loc[family, "p_adjusted"].tolist() == pytest.approx(expected.tolist())
    veh = adjusted[adjusted["reference"] == "VEH"]
    # P = 0.021 twice and 0.63: unadjusted "#", Holm 0.064 -> "n.s."
    assert raw.loc[raw["reference"] == "VEH", "marker"].tolist() == ["#", "#", "n.s."]
    assert veh["marker"].tolist() == ["n.s.", "n.s.", "n.s."]
    assert veh["p"].tolist() == raw.loc[raw["reference"] == "VEH", "p"].tolist()


def test_holm_leaves_timepoints_without_a_p_out_of_the_family():
    values = values_frame(
        [
            ("a", "VEH", 21, 1.0),
            ("b", "VEH", 21, 2.0),
            ("c", "PTX", 21, 7.0),
            ("d", "PTX", 21, 8.0),
            ("a", "VEH", 28, 1.0),
            ("c", "PTX", 28, 8.0),
        ]
    )
    rows = stats.compare(values, VEH_VS_PTX, correction="holm")
    assert rows["p_adjusted"].iloc[0] == rows["p"].iloc[0]  # a family of one
    assert math.isnan(rows["p_adjusted"].iloc[1])
    assert rows["marker"].tolist()[1] == "n < 2"


def test_compare_refuses_unknown_tests_corrections_and_malformed_comparisons():
    values = one_timepoint({"VEH": [1.0, 2.0], "PTX": [3.0, 4.0]})
    with pytest.raises(ValueError, match="unknown test"):
        stats.compare(values, VEH_VS_PTX, test="mann-whitney")
    with pytest.raises(ValueError, match="unknown correction"):
        stats.compare(values, VEH_VS_PTX, correction="bonferroni")
    with pytest.raises(ValueError, match="missing symbol"):
        stats.compare(values, [{"reference": "VEH", "group": "PTX"}])
    with pytest.raises(ValueError, match="with itself"):
        stats.compare(values, [{"reference": "VEH", "group": "VEH", "symbol": "#"}])
    with pytest.raises(ValueError, match="missing column"):
        stats.compare(values.drop(columns="day"), VEH_VS_PTX)


def test_compare_output_has_the_fixed_columns():
    values = one_timepoint({"VEH": [1.0, 2.0], "PTX": [3.0, 4.0]})
    assert tuple(stats.compare(values, VEH_VS_PTX).columns) == stats.COMPARISON_COLUMNS


def test_holm_refuses_p_values_outside_zero_and_one():
    with pytest.raises(ValueError, match="between 0 and 1"):
        stats.holm([0.2, 1.5])


# ------------------------------------------------------------------------------------------
# Alternative outcomes and group x time
# ------------------------------------------------------------------------------------------


def test_percent_of_baseline_uses_each_animals_own_baseline_and_lists_animals_without_one():
    values = values_frame(
        [
            ("a", "VEH", -1, 20.0),
            ("a", "VEH", 21, 15.0),
            ("b", "PTX", 21, 5.0),  # no baseline
            ("c", "PTX", -1, 0.0),
            ("c", "PTX", 21, 4.0),
        ]
    )
    percent, dropped = stats.percent_of_baseline(values, baseline_day=-1)
    assert percent[["animal", "day", "value"]].values.tolist() == [
        ["a", -1, 100.0],
        ["a", 21, 75.0],
    ]
    assert dropped.to_dict("records") == [
        {"animal": "b", "group": "PTX", "reason": "no baseline value"},
        {"animal": "c", "group": "PTX", "reason": "baseline value is zero"},
    ]


def test_area_under_curve_is_trapezoidal_over_the_days_each_animal_has():
    values = values_frame(
        [
            ("a", "VEH", -1, 10.0),
            ("a", "VEH", 21, 20.0),
            ("a", "VEH", 28, 20.0),
            ("b", "PTX", -1, 10.0),
            ("b", "PTX", 28, 4.0),
            ("c", "PTX", 21, 6.0),
        ]
    )
    auc = stats.area_under_curve(values).set_index("animal")
    assert list(auc.reset_index().columns) == ["animal", "group", "auc", "days_used"]
    assert auc.loc["a", "auc"] == 22 * 15.0 + 7 * 20.0
    assert auc.loc["b", "auc"] == 29 * 7.0
    assert auc.loc["b", "days_used"] == [-1, 28]
    assert math.isnan(auc.loc["c", "auc"]) and auc.loc["c", "days_used"] == [21]


# Three groups of four animals on three days; large animal-to-animal differences, so the
# estimated animal variance is positive.
GROUP_BY_TIME = {
    "VEH": [15.3, 14.7, 14.1, 13.1, 14.2, 15.4, 13.4, 14.5, 14.4, 14.3, 15.2, 15.9],
    "PTX": [11.9, 8.9, 8.0, 11.1, 8.5, 8.6, 15.1, 11.3, 11.8, 15.0, 11.9, 11.4],
    "IVIG": [12.2, 13.4, 10.7, 15.8, 13.6, 13.3, 15.3, 13.2, 13.8, 16.2, 17.8, 16.3],
}


def group_by_time_values():
    rows = []
    for group, numbers in GROUP_BY_TIME.items():
        numbers = iter(numbers)  # animal by animal, days -1, 21, 28
        for index in range(4):
            for day in (-1, 21, 28):
                rows.append((f"{group}{index}", group, day, next(numbers)))
    return values_frame(rows)


def test_mixed_model_keeps_an_animal_with_a_missing_timepoint():
    values = group_by_time_values()
    incomplete = values[~((values["animal"] == "PTX1") & (values["day"] == 28))]
    with pytest.raises(ValueError, match=r"PTX1 \(day 28\).*mixed_model"):
        stats.rm_anova(incomplete)
    fit = stats.mixed_model(incomplete, group_order=["VEH", "PTX", "IVIG"])
    assert fit.n_animals == 12
    assert fit.n_observations == 35
    assert fit.converged
    assert list(fit.coefficients.columns) == ["term", "estimate", "se", "z", "p"]
    assert fit.coefficients["term"].tolist()[:3] == ["Intercept", "group[PTX]", "group[IVIG]"]
    assert fit.effects["effect"].tolist() == ["group", "day", "group*day"]
    assert fit.effects["df"].tolist() == [2, 2, 4]


def test_mixed_model_wald_tests_agree_with_the_anova_f_on_complete_data():
    values = group_by_time_values()
    fit = stats.mixed_model(values)
    table = stats.rm_anova(values)
    assert fit.animal_variance > 0
    # With complete data and a positive animal variance, REML gives the ANOVA estimates of
    # the variances, so each Wald chi-square / df is the ANOVA F (to the optimiser's tolerance).
    ratio = (fit.effects["chi2"] / fit.effects["df"]).tolist()
    assert ratio == pytest.approx(table["f"].tolist(), rel=1e-5)


def test_mixed_model_intercept_is_the_reference_group_mean_on_the_first_day():
    values = group_by_time_values()
    fit = stats.mixed_model(values, group_order=["PTX", "VEH", "IVIG"])
    first = values[(values["group"] == "PTX") & (values["day"] == -1)]["value"].mean()
    assert fit.coefficients.set_index("term").loc["Intercept", "estimate"] == pytest.approx(
        first, rel=1e-6
    )


def test_mixed_model_refuses_a_group_with_no_animal_on_a_day():
    values = group_by_time_values()
    values = values[~((values["group"] == "IVIG") & (values["day"] == 21))]
    with pytest.raises(ValueError, match="IVIG on day 21"):
        stats.mixed_model(values)


# Shaped like the mouse paclitaxel demo: three groups of 10-15 animals, a baseline and three
# later days, von Frey thresholds near 3.4 g. After dosing the drug + saline group falls to about
# half of baseline and IVIG keeps about 88 %, unless ``interaction`` is off.
DEMO_GROUPS = {"VEH": 1.0, "PTX-SAL": 0.45, "PTX-IVIG": 0.88}
DEMO_DAYS = (-1, 7, 10, 14)


def demo_shaped_values(seed, *, animal_sd=0.25, noise_sd=0.15, interaction=True, unit=1.0):
    rng = np.random.default_rng(seed)
    rows = []
    for group, kept in DEMO_GROUPS.items():
        for index in range(int(rng.integers(10, 16))):
            offset = rng.normal(0.0, animal_sd)
            for day in DEMO_DAYS:
                mean = 3.4 * (kept if interaction and day > 0 else 1.0)
                value = (mean + offset + rng.normal(0.0, noise_sd)) * unit
                rows.append((f"{group}-{index:02d}", group, day, value))
    return values_frame(rows)


@pytest.mark.parametrize("seed", range(8))
def test_mixed_model_converges_on_demo_shaped_data_and_finds_the_interaction(seed):
    fit = stats.mixed_model(demo_shaped_values(seed), group_order=list(DEMO_GROUPS))
    assert fit.converged
    assert fit.messages == ()
    assert not fit.at_boundary and fit.animal_variance > 0
    effects = fit.effects.set_index("effect")
    assert effects.loc["group*day", "df"] == 6
    assert effects.loc["group*day", "p"] < 0.001


def test_mixed_model_finds_no_interaction_where_the_groups_run_parallel():
    values = demo_shaped_values(1, interaction=False)
    fit = stats.mixed_model(values, group_order=list(DEMO_GROUPS))
    assert fit.converged
    assert fit.effects.set_index("effect").loc["group*day", "p"] > 0.05


def test_mixed_model_keeps_a_demo_shaped_animal_missing_a_timepoint():
    values = demo_shaped_values(3)
    incomplete = values[~((values["animal"] == "PTX-SAL-04") & (values["day"] == 10))]
    with pytest.raises(ValueError, match=r"PTX-SAL-04 \(day 10\)"):
        stats.rm_anova(incomplete)
    full = stats.mixed_model(values, group_order=list(DEMO_GROUPS))
    fit = stats.mixed_model(incomplete, group_order=list(DEMO_GROUPS))
    assert fit.converged and fit.messages == ()
    assert fit.n_animals == full.n_animals
    assert fit.n_observations == full.n_observations - 1
    assert fit.effects.set_index("effect").loc["group*day", "p"] < 0.001
    # One value fewer moves the estimates a little, not the picture: the drug + saline
    # group's fall at day 10 stays within a standard error of the complete-data estimate.
    term = "group[PTX-SAL]:day[10]"
    with_all = full.coefficients.set_index("term").loc[term]
    without = fit.coefficients.set_index("term").loc[term]
    assert without["estimate"] == pytest.approx(with_all["estimate"], abs=with_all["se"])
    assert without["se"] > with_all["se"]


@pytest.mark.parametrize("seed", range(6))
def test_mixed_model_gives_the_same_tests_in_grams_and_in_kilograms(seed):
    # Animals that differ little: in kilograms their variance is below statsmodels' absolute
    # "boundary" threshold of 0.01, in grams it is not; the REML fit must not care.
    grams = demo_shaped_values(seed, animal_sd=0.08)
    kilograms = demo_shaped_values(seed, animal_sd=0.08, unit=0.001)
    in_g = stats.mixed_model(grams, group_order=list(DEMO_GROUPS))
    in_kg = stats.mixed_model(kilograms, group_order=list(DEMO_GROUPS))
    assert in_g.converged and in_kg.converged
    assert in_g.at_boundary == in_kg.at_boundary
    assert in_kg.effects["chi2"].tolist() == pytest.approx(in_g.effects["chi2"].tolist(), rel=1e-6)
    assert in_kg.animal_variance == pytest.approx(in_g.animal_variance * 1e-6, rel=1e-6, abs=0)
    assert (in_kg.coefficients["estimate"] * 1000).tolist() == pytest.approx(
        in_g.coefficients["estimate"].tolist(), rel=1e-6
    )


def percent_of_baseline_two_days():
    """% of baseline with one day after it: every baseline is exactly 100, so the only
    information about animals is on one day, where it cannot be told from residual noise."""
    values = demo_shaped_values(0)
    values = values[values["day"].isin([-1, 7])]
    percent, dropped = stats.percent_of_baseline(values, baseline_day=-1)
    assert dropped.empty
    return percent


def test_mixed_model_states_an_animal_variance_at_zero_as_a_result_not_a_failure():
    fit = stats.mixed_model(percent_of_baseline_two_days(), group_order=list(DEMO_GROUPS))
    assert fit.converged
    assert fit.at_boundary
    assert fit.animal_variance == 0
    assert fit.messages == (
        "animal variance estimated at 0: the model reduces to ordinary least squares",
    )


def test_mixed_model_at_zero_animal_variance_is_the_least_squares_fit():
    import statsmodels.formula.api as smf

    values = percent_of_baseline_two_days()
    fit = stats.mixed_model(values, group_order=list(DEMO_GROUPS))
    # statsmodels: ols("value ~ C(group, levels=...) * C(day)", data).fit()
    ols = smf.ols(f"value ~ C(group, levels={list(DEMO_GROUPS)}) * C(day)", data=values).fit()
    assert fit.coefficients["estimate"].tolist() == pytest.approx(ols.params.tolist(), rel=1e-9)
    assert fit.coefficients["se"].tolist() == pytest.approx(ols.bse.tolist(), rel=1e-9)
    assert fit.residual_variance == pytest.approx(ols.scale, rel=1e-9)


def test_mixed_model_refuses_values_that_do_not_vary():
    values = group_by_time_values().assign(value=100.0)
    with pytest.raises(ValueError, match="values that vary; every value is 100"):
        stats.mixed_model(values)


def test_mixed_model_refuses_values_with_no_spread_within_a_group_and_day():
    values = group_by_time_values()
    values["value"] = values.groupby(["group", "day"])["value"].transform("mean")
    with pytest.raises(ValueError, match="spread within each group and day"):
        stats.mixed_model(values)


# ------------------------------------------------------------------------------------------
# The JSON document
# ------------------------------------------------------------------------------------------


def contract_readings():
    rows = []
    for group, base in (("VEH", 15.0), ("PTX-SAL", 8.0)):
        for index in range(3):
            animal = f"{group}-{index}"
            for side in ("left", "right"):
                rows += footpad(animal, group, 21, side, [base + index, base + index + 1.0])
    rows += footpad("R99", "PTX-IVIG", 21, "left", [12.0])
    rows += footpad("R99", "PTX-IVIG", 21, "right", [np.nan], ["disputed"])
    return readings_frame(rows)


def test_stats_document_follows_the_interchange_contract():
    document = stats.stats_document(
        contract_readings(),
        study="rat-ptx-ivig",
        assay="von_frey",
        comparisons=[
            {"reference": "VEH", "group": "PTX-SAL", "symbol": "#"},
            {"reference": "PTX-SAL", "group": "PTX-IVIG", "symbol": "*"},
        ],
    )
    json.dumps(document, allow_nan=False)  # valid JSON: no NaN anywhere
    assert {"study", "assay", "unit", "test", "summary", "comparisons", "excluded"} <= set(document)
    assert (document["study"], document["assay"], document["unit"], document["test"]) == (
        "rat-ptx-ivig",
        "von_frey",
        "g",
        "student",
    )
    assert set(document["summary"][0]) == set(stats.SUMMARY_COLUMNS)
    ivig = document["summary"][2]
    assert (ivig["group"], ivig["n"], ivig["mean"], ivig["sd"]) == ("PTX-IVIG", 1, 12.0, None)
    first, second = document["comparisons"]
    assert first["marker"] == "##" and first["statistic"] < 0 and first["df"] == 4.0
    assert {"reference", "group", "timepoint", "day", "test", "statistic", "df", "p"} <= set(first)
    assert second["marker"] == "n < 2" and second["p"] is None
    assert document["excluded"] == [
        {"animal": "R99", "day": 21, "footpad": "right", "reason": "open discrepancy"}
    ]


def test_stats_document_of_no_readings_is_empty_but_valid():
    document = stats.stats_document(
        readings_frame([]),
        study="empty",
        assay="hot_plate",
        comparisons=VEH_VS_PTX,
        test="welch",
    )
    assert document["unit"] == "s"
    assert document["test"] == "welch"
    assert document["summary"] == [] and document["comparisons"] == []
    assert document["excluded"] == []
    json.dumps(document, allow_nan=False)


# ------------------------------------------------------------------------------------------
# Grouping by integer codes gives what pandas groupby on the text keys gives
# ------------------------------------------------------------------------------------------

# Bounded and reproducible, like the fuzz tests: the same examples on every run.
EXAMPLES = settings(
    max_examples=60,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
THREE_COMPARISONS = [
    {"reference": "VEH", "group": "PTX", "symbol": "#"},
    {"reference": "PTX", "group": "IVIG", "symbol": "*"},
    {"reference": "IVIG", "group": "VEH", "symbol": "$"},
]


def groupby_animal_values(readings, *, assay, footpads, include_unverified):
    """``animal_values`` of valid readings written with pandas groupby on the text keys, as
    the module first did it: the reference for its reduction by integer codes."""
    text = dict.fromkeys(["animal", "group", "timepoint", "state", "footpad"], str)
    frame = readings.fillna({"footpad": ""}).astype({**text, "day": "int64", "value": "float64"})
    if assay == stats.VON_FREY:
        frame = frame[frame["footpad"].isin(list(footpads))]
    else:
        frame = frame.assign(footpad="")
    animal_rank = {code: rank for rank, code in enumerate(pd.unique(frame["animal"]))}
    group_rank = {code: rank for rank, code in enumerate(pd.unique(frame["group"]))}
    counted = {"verified", "resolved"} | ({"unverified"} if include_unverified else set())
    problem = np.select(
        [frame["state"].eq("disputed"), ~frame["state"].isin(counted), frame["value"].isna()],
        [3, 2, 1],
        default=0,
    )
    units = (
        frame.assign(problem=problem)
        .groupby(["animal", "group", "timepoint", "day", "footpad"], sort=False)
        .agg(problem=("problem", "max"), value=("value", "mean"))
        .reset_index()
    )
    bad = units["problem"] > 0
    excluded = units.loc[bad, ["animal", "day", "footpad"]].assign(
        reason=units.loc[bad, "problem"].map(
            {1: "no value", 2: "not verified", 3: "open discrepancy"}
        ),
    )
    excluded = excluded.assign(
        _a=excluded["animal"].map(animal_rank), _f=excluded["footpad"].eq("right")
    ).sort_values(["day", "_a", "_f"], kind="mergesort")
    values = (
        units.loc[~bad]
        .groupby(["animal", "group", "timepoint", "day"], sort=False)["value"]
        .mean()
        .reset_index()
    )
    values = values.assign(
        _g=values["group"].map(group_rank), _a=values["animal"].map(animal_rank)
    ).sort_values(["day", "_g", "_a"], kind="mergesort")
    return (
        values.loc[:, list(stats.VALUE_COLUMNS)].reset_index(drop=True),
        excluded.loc[:, list(stats.EXCLUDED_COLUMNS)].reset_index(drop=True),
    )


measured = st.floats(0.5, 26.0).map(lambda x: round(x, 2)) | st.floats(0.5, 26.0)


@st.composite
def random_readings(draw):
    """Von Frey-shaped readings of up to 8 animals: several applications per footpad, values
    missing now and then, every state, rows in order or shuffled."""
    applications = draw(st.integers(1, 3))
    days = draw(st.lists(st.sampled_from([-1, 21, 28]), min_size=1, max_size=3, unique=True))
    rows = []
    for index in range(draw(st.integers(0, 8))):
        animal, group = f"A{index}", draw(st.sampled_from(["VEH", "PTX", "IVIG"]))
        for day in days:
            if draw(st.integers(0, 6)) == 0:
                continue  # this animal was not measured that day
            for side in ("left", "right"):
                for application in range(1, applications + 1):
                    value = math.nan if draw(st.integers(0, 12)) == 0 else draw(measured)
                    state = draw(
                        st.sampled_from(["verified"] * 5 + ["resolved", "unverified", "disputed"])
                    )
                    rows.append(
                        (animal, group, TIMEPOINTS[day], day, side, application, value, state)
                    )
    if draw(st.booleans()):
        rows = draw(st.permutations(rows))
    return readings_frame(rows)


@EXAMPLES
@given(
    random_readings(),
    st.sampled_from(stats.ASSAYS),
    st.sampled_from([("left", "right"), ("left",), ("right",)]),
    st.booleans(),
)
def test_animal_values_equal_a_plain_groupby_on_random_readings(
    readings, assay, footpads, include_unverified
):
    values, excluded = stats.animal_values(
        readings, assay=assay, footpads=footpads, include_unverified=include_unverified
    )
    expected_values, expected_excluded = groupby_animal_values(
        readings, assay=assay, footpads=footpads, include_unverified=include_unverified
    )
    # The means are summed in row order where pandas compensates its sums: the last bit or two
    # may differ; everything else is exact.
    pd.testing.assert_frame_equal(values, expected_values, check_exact=False, rtol=1e-14)
    pd.testing.assert_frame_equal(excluded, expected_excluded, check_exact=True)


@st.composite
def random_values(draw):
    """Values frames with missing values, groups of one or none at a day and, now and then, a
    second timepoint label on a day."""
    rows = []
    for index in range(draw(st.integers(0, 12))):
        group = draw(st.sampled_from(["VEH", "PTX", "IVIG"]))
        for day in draw(st.lists(st.sampled_from([-1, 21, 28]), max_size=3, unique=True)):
            label = draw(st.sampled_from([TIMEPOINTS[day]] * 6 + ["extra"]))
            value = math.nan if draw(st.integers(0, 8)) == 0 else draw(measured)
            rows.append((f"A{index}", group, label, day, value))
    if draw(st.booleans()):
        rows = draw(st.permutations(rows))
    return pd.DataFrame(rows, columns=list(stats.VALUE_COLUMNS))


@EXAMPLES
@given(
    random_values(),
    st.sampled_from(stats.TESTS),
    st.sampled_from(stats.CORRECTIONS),
    st.sampled_from([None, ["PTX", "VEH"]]),
)
def test_summary_and_comparisons_equal_describe_and_compare(values, test, correction, order):
    summary, comparisons = stats.summary_and_comparisons(
        values, THREE_COMPARISONS, group_order=order, test=test, correction=correction
    )
    pd.testing.assert_frame_equal(
        summary, stats.describe(values, group_order=order), check_exact=True
    )
    pd.testing.assert_frame_equal(
        comparisons,
        stats.compare(values, THREE_COMPARISONS, test=test, correction=correction),
        check_exact=True,
    )


def test_summary_and_comparisons_refuse_bad_input_as_describe_then_compare_would():
    repeated = values_frame([("a", "VEH", 21, 10.0), ("a", "VEH", 21, 11.0)])
    with pytest.raises(ValueError, match=r"one value per animal and day; repeated: a \(day 21\)"):
        stats.summary_and_comparisons(repeated, VEH_VS_PTX, group_order="VEH", test="z")
    good = one_timepoint({"VEH": [10.0, 11.0], "PTX": [5.0, 6.0]})
    with pytest.raises(ValueError, match="group_order must be a list of group codes"):
        stats.summary_and_comparisons(good, VEH_VS_PTX, group_order="VEH", test="z")
    with pytest.raises(ValueError, match="unknown test 'z'"):
        stats.summary_and_comparisons(good, [{"reference": "VEH"}], test="z")
    with pytest.raises(ValueError, match=r"comparisons\[0\] is missing group, symbol"):
        stats.summary_and_comparisons(good, [{"reference": "VEH"}])


def test_values_frame_checks_name_what_is_wrong():
    two_groups = values_frame([("a", "VEH", -1, 10.0), ("a", "PTX", 21, 11.0)])
    with pytest.raises(ValueError, match="each animal must belong to one group; in several: a"):
        stats.describe(two_groups)
    with pytest.raises(ValueError, match="values must be finite"):
        stats.compare(values_frame([("a", "VEH", 21, np.inf)]), VEH_VS_PTX)
    with pytest.raises(ValueError, match="column 'day' must hold whole numbers"):
        stats.describe(values_frame([("a", "VEH", 21.5, 10.0)]))


def test_to_records_gives_plain_python_values_and_none_where_a_number_is_undefined():
    frame = pd.DataFrame(
        {
            "x": [1.5, np.nan, np.inf],
            "n": np.array([1, 2, 3], dtype=np.int64),
            "ok": [True, False, True],
            "label": ["a", None, "c"],
            "mixed": [np.float64(2.5), np.int32(3), [np.int64(1), np.nan]],
        }
    )
    records = stats.to_records(frame)
    assert records == [
        {"x": 1.5, "n": 1, "ok": True, "label": "a", "mixed": 2.5},
        {"x": None, "n": 2, "ok": False, "label": None, "mixed": 3},
        {"x": None, "n": 3, "ok": True, "label": "c", "mixed": [1, None]},
    ]
    assert [type(records[0][key]) for key in ("x", "n", "ok", "mixed")] == [float, int, bool, float]
    assert type(records[1]["mixed"]) is int


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["a", "b", "c", None]),
            st.sampled_from(["VEH", "PTX", None]),
            st.sampled_from([-1, 21, 28]),
        ),
        min_size=1,
        max_size=12,
    )
)
def test_values_frames_are_refused_exactly_for_repeats_and_animals_in_two_groups(rows):
    # The definitions, in pandas: a missing animal code counts as one animal, as `duplicated`
    # counts it; an animal's groups are counted among rows with both known.
    frame = values_frame([(a, g, d, 10.0) for a, g, d in rows])
    repeated = frame.duplicated(["animal", "day"]).any()
    known = frame.dropna(subset=["animal", "group"])
    two_groups = (known.groupby("animal")["group"].nunique() > 1).any()
    if repeated:
        with pytest.raises(ValueError, match="one value per animal and day; repeated"):
            stats.describe(frame)
    elif two_groups:
        with pytest.raises(ValueError, match="each animal must belong to one group"):
            stats.describe(frame)
    else:
        assert stats.describe(frame)["n"].sum() == frame["group"].notna().sum()
