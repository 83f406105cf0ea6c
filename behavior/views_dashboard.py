"""Dashboards: a study's statistics and figures, and the overview of a user's studies.

Views stay thin: check access with ``studies.access``, parse the options, call the selectors in
``behavior.analysis`` and the figures in ``behavior.charts``, render.

Blinding: a technician of a blinded study sees the dashboard with coded group labels only (the
statistics of coded groups reveal nothing about which treatment a group had), without group
names, per-animal curves or doses by group, since those would tie animals or agents to groups.
"""

from __future__ import annotations

import csv
import datetime as dt

from django.contrib.auth.decorators import login_required
from django.core.cache import caches
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse
from django.shortcuts import render
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.http import urlencode
from django.utils.safestring import mark_safe
from django.views.decorators.http import require_GET

from behavior import analysis, charts, stats
from behavior.forms_dashboard import StatsOptionsForm
from behavior.selectors_dashboard import overview_for_user
from studies.access import sees_allocation, study_for
from studies.models import Animal, Assay


def _figure_for_script(figure) -> str:
    """A figure's JSON for a <script> element: ``charts.figure_json`` escapes ``<``, ``>`` and
    ``&``, so that nothing in it can end the element, and the template must not escape it."""
    return mark_safe(charts.figure_json(figure))


def _discrepancies_url(slug: str) -> str | None:
    try:
        return reverse("behavior:discrepancies", kwargs={"slug": slug})
    except NoReverseMatch:
        return None


def _legend(design: analysis.StudyDesign, *, blinded_view: bool):
    """Display label to colour and legend name for each group."""
    labels = analysis.display_labels(design=design, blinded_view=blinded_view)
    if blinded_view:
        ordered = sorted(design.groups, key=lambda g: g.blind_label)
        colours = {
            g.blind_label: charts.FALLBACK_COLOURS[i % len(charts.FALLBACK_COLOURS)]
            for i, g in enumerate(ordered)
        }
        names = {g.blind_label: f"Group {g.blind_label}" for g in ordered}
    else:
        colours = {g.code: g.colour for g in design.groups}
        names = {g.code: g.name for g in design.groups}
    return labels, colours, names


def _options_form(request, design):
    """The options form bound to the query string; every field has a default, so a bare URL
    gives the paper's analysis."""
    form = StatsOptionsForm(request.GET, assays=list(design.assays))
    return form, (form.options() if form.is_valid() else None)


@login_required
@require_GET
def dashboard(request, slug: str):
    study, role = study_for(user=request.user, slug=slug)
    blinded_view = not sees_allocation(role=role, study=study)
    design = analysis.study_design(study=study)
    form, options = _options_form(request, design)
    context = {
        "study": study,
        "role": role,
        "blinded_view": blinded_view,
        "form": form,
        "options": options,
        "nav": "studies",
        "discrepancies_url": _discrepancies_url(study.slug),
    }
    if options is not None:
        context.update(
            _dashboard_content(study=study, design=design, options=options, bv=blinded_view)
        )
    template = (
        "behavior/_dashboard_results.html"
        if request.GET.get("partial") == "1"
        else "behavior/dashboard.html"
    )
    return render(request, template, context, status=200 if options else 400)


def _dashboard_content(*, study, design, options, bv: bool) -> dict:
    labels, colours, names = _legend(design, blinded_view=bv)
    group_labels = labels if bv else None
    every_animal = analysis.study_animals(study=study)
    animals = analysis.animals_by_group(study=study, animals=every_animal)
    active_per_group = {
        group: counts.get(Animal.Status.ACTIVE, 0)
        for group, counts in animals.items()
        if group is not None
    }
    sessions = analysis.study_sessions(study=study, assays=design.assays)
    # The statistics and figures of the assays, unless computed already from the same
    # summaries, design, animals and options (see CACHES in the settings).
    key = "dashboard:" + analysis.statistics_key(
        design=design,
        animals=every_animal,
        sessions=sessions,
        extra=(sorted(vars(options).items()), bv),
    )
    sections = caches["statistics"].get(key)
    if sections is None:
        frames = analysis.footpad_frames(
            study=study, assays=list(design.assays), animals=every_animal, sessions=sessions
        )
        sections = _assay_sections(
            study=study,
            design=design,
            options=options,
            frames=frames,
            legend=(group_labels, colours, names),
            active=sum(active_per_group.values()),
        )
        caches["statistics"].set(key, sections)
    weights = analysis.body_weight_values(study=study, group_labels=group_labels)
    weight_summary = stats.describe(weights) if not weights.empty else None
    weight_figure = None
    if weight_summary is not None:
        weight_figure = charts.body_weight_figure(
            weight_summary,
            colours=colours,
            names=names,
            group_order=sorted(names) if bv else [g.code for g in design.groups],
        )
    doses = analysis.dose_progress(
        study=study,
        today=timezone.localdate(),
        active_per_group=active_per_group,
        blinded_view=bv,
    )
    groups = [
        {
            "label": labels[g.code],
            "name": names[labels[g.code]],
            "colour": colours[labels[g.code]],
            "active": active_per_group.get(g.code, 0),
        }
        for g in design.groups
    ]
    if bv:
        groups.sort(key=lambda g: g["label"])
    return {
        "sections": sections,
        "groups": groups,
        "unallocated": sum(animals.get(None, {}).values()),
        "weight_figure_json": (_figure_for_script(weight_figure) if weight_figure else None),
        "doses": doses,
        "open_discrepancies": sum(s["open_discrepancies"] for s in sections),
        "today": timezone.localdate(),
        "study_day": (timezone.localdate() - study.day0).days if study.day0 else None,
    }


def _assay_sections(*, study, design, options, frames, legend, active: int) -> list[dict]:
    """Each assay's statistics, figure and tables for the page (no queries). ``legend`` is
    (group labels when blinded, else None; colours; names) as :func:`_legend` gives them."""
    group_labels, colours, names = legend
    titles = (
        analysis.Y_TITLES_PERCENT if options.outcome == "percent_baseline" else analysis.Y_TITLES
    )
    sections = []
    for assay in (a for a in Assay.values if a in design.assays):
        result = analysis.assay_statistics(
            design=design,
            frame=frames[assay],
            assay=assay,
            options=options,
            group_labels=group_labels,
        )
        figure = charts.group_means_figure(
            result.summary,
            result.comparisons,
            colours=colours,
            names=names,
            group_order=result.group_order,
            symbols=result.comparison_specs,
            y_title=titles[assay],
            ticks=design.timepoints,
            unit=result.unit,
        )
        summary_rows = stats.to_records(result.summary)
        completeness = analysis.completeness(design=design, result=result, active_animals=active)
        for row in summary_rows:
            row["name"] = names.get(row["group"], row["group"])
            row["colour"] = colours.get(row["group"], "#888888")
        sections.append(
            {
                "assay": assay,
                "label": dict(Assay.choices)[assay],
                "has_readings": not frames[assay].empty,
                "unit": result.unit,
                "figure_json": _figure_for_script(figure),
                # Per-animal curves and the group x time models cost more than the rest of the
                # page together: fetched when their section is opened (dashboard_part).
                "curves_url": None if group_labels else _part_url(study, "curves", assay, options),
                "models_url": _part_url(study, "models", assay, options),
                "summary": summary_rows,
                "summary_by_day": _by_day(summary_rows),
                "comparisons": stats.to_records(result.comparisons),
                "excluded": stats.to_records(result.excluded),
                "dropped": stats.to_records(result.dropped),
                "completeness": completeness,
                # Value slots in an open discrepancy: every session is at a timepoint.
                "open_discrepancies": sum(row.disputed for row in completeness),
                "csv_url": reverse("behavior:dashboard_csv", kwargs={"slug": study.slug})
                + "?"
                + urlencode({"assay": assay, **options.as_query()}),
            }
        )
    return sections


def _part_url(study, part: str, assay: str, options) -> str:
    url = reverse("behavior:dashboard_part", kwargs={"slug": study.slug, "part": part})
    return url + "?" + urlencode({"assay": assay, **options.as_query()})


def _by_day(rows: list[dict]) -> list[dict]:
    """Summary rows grouped by timepoint, for a table with one row group per timepoint."""
    days: dict[int, dict] = {}
    for row in rows:
        days.setdefault(row["day"], {"timepoint": row["timepoint"], "rows": []})["rows"].append(row)
    return list(days.values())


DASHBOARD_PARTS = ("curves", "models")


def _one_assay(request, *, study, design, blinded_view: bool):
    """``(assay, options, statistics)`` of the assay and options in the query string, or a
    400 answer naming each bad parameter."""
    form = StatsOptionsForm(request.GET, assays=list(design.assays), require_assay=True)
    if not form.is_valid():
        errors = "; ".join(f"{name}: {' '.join(msgs)}" for name, msgs in form.errors.items())
        return HttpResponse(errors, status=400, content_type="text/plain; charset=utf-8")
    assay = form.cleaned_data["assay"]
    options = form.options()
    labels = analysis.display_labels(design=design, blinded_view=blinded_view)
    result = analysis.assay_statistics(
        design=design,
        frame=analysis.footpad_frame(study=study, assay=assay),
        assay=assay,
        options=options,
        group_labels=labels if blinded_view else None,
    )
    return assay, options, result


@login_required
@require_GET
def dashboard_part(request, slug: str, part: str):
    """One assay's per-animal curves or group x time models, for the dashboard section that
    asks for them when it is opened (a fragment with ``partial=1``, else a page of its own)."""
    if part not in DASHBOARD_PARTS:
        raise Http404("No such part of the dashboard.")
    study, role = study_for(user=request.user, slug=slug)
    blinded_view = not sees_allocation(role=role, study=study)
    if part == "curves" and blinded_view:
        raise PermissionDenied(
            "Per-animal curves are hidden in a blinded study until it is unblinded."
        )
    design = analysis.study_design(study=study)
    computed = _one_assay(request, study=study, design=design, blinded_view=blinded_view)
    if isinstance(computed, HttpResponse):
        return computed
    assay, options, result = computed
    _, colours, names = _legend(design, blinded_view=blinded_view)
    context = {
        "study": study,
        "part": part,
        "assay": assay,
        "assay_label": dict(Assay.choices)[assay],
        "nav": "studies",
        "back_url": reverse("behavior:dashboard", kwargs={"slug": study.slug})
        + "?"
        + urlencode(options.as_query()),
    }
    if part == "curves":
        titles = (
            analysis.Y_TITLES_PERCENT
            if options.outcome == "percent_baseline"
            else analysis.Y_TITLES
        )
        figure = None
        if not result.values.empty:
            figure = charts.animal_curves_figure(
                result.values,
                colours=colours,
                names=names,
                group_order=result.group_order,
                y_title=titles[assay],
                ticks=design.timepoints,
            )
        context["figure_json"] = _figure_for_script(figure) if figure else None
    else:
        models = analysis.group_time_models(result)
        context.update(
            mixed=models.mixed,
            mixed_effects=stats.to_records(models.mixed.effects) if models.mixed else [],
            mixed_problem=models.mixed_problem,
            anova=stats.to_records(models.anova) if models.anova is not None else [],
            anova_problem=models.anova_problem,
        )
    template = (
        "behavior/_dashboard_part.html"
        if request.GET.get("partial") == "1"
        else "behavior/dashboard_part.html"
    )
    return render(request, template, context)


@login_required
@require_GET
def dashboard_csv(request, slug: str):
    """The numbers behind an assay's figure, as CSV (group, timepoint, n, mean, SD, SEM, P)."""
    study, role = study_for(user=request.user, slug=slug)
    blinded_view = not sees_allocation(role=role, study=study)
    design = analysis.study_design(study=study)
    computed = _one_assay(request, study=study, design=design, blinded_view=blinded_view)
    if isinstance(computed, HttpResponse):
        return computed
    assay, _, result = computed
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    stamp = dt.date.today().isoformat()
    response["Content-Disposition"] = f'attachment; filename="{study.slug}-{assay}-{stamp}.csv"'
    rows = charts.figure_rows(result.summary, result.comparisons)
    fields = ["group", "timepoint", "day", "n", "mean", "sd", "sem", "compared_with", "p", "marker"]
    writer = csv.DictWriter(response, fieldnames=fields)
    writer.writeheader()
    for row in rows:
        writer.writerow({k: ("" if isinstance(v, float) and v != v else v) for k, v in row.items()})
    return response


@login_required
@require_GET
def overview(request):
    """Every study of the user with status, progress, latest entries and open discrepancies."""
    studies, recent = overview_for_user(user=request.user)
    for row in studies:
        row.discrepancies_url = _discrepancies_url(row.slug)
    return render(
        request,
        "behavior/overview.html",
        {"studies": studies, "recent": recent, "nav": "overview"},
    )
