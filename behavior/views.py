"""The entry pages at the bench: sessions, the von Frey grid, the hot plate, progress,
discrepancies and readings upload.

Views parse, check the role through ``studies.access.study_for``, call a service or selector
and render. Every write goes through ``behavior.services``.
"""

from __future__ import annotations

import csv
import json

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection
from django.http import Http404, HttpResponseNotAllowed, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST

from behavior import selectors
from behavior.forms import (
    DiscrepancyResolveForm,
    EntryValueForm,
    ReadingsUploadForm,
    SessionOpenForm,
)
from behavior.models import Discrepancy
from behavior.readings_io import parse_readings_csv, parse_readings_xlsx
from behavior.services import discrepancy_resolve as resolve_discrepancy
from behavior.services import (
    entries_save,
    entry_save,
    planned_date,
    readings_import,
    session_open,
)
from studies.access import READ, RECORD, RESOLVE, can, sees_allocation, study_for
from studies.errors import ConflictError, ImportProblems, StudyLocked
from studies.models import Animal, Assay

# The hot plate's behaviours, each chosen with one key.
BEHAVIOUR_KEYS = [
    ("lick", "L", "Lick"),
    ("flutter", "F", "Flutter"),
    ("raise", "R", "Raise"),
    ("jump", "J", "Jump"),
]


def _study_assay_or_404(study, assay: str):
    if assay not in Assay.values:
        raise Http404("No such assay.")
    study_assay = selectors.study_assay_get(study=study, assay=assay)
    if study_assay is None:
        raise Http404(f"This study does not measure {assay}.")
    return study_assay


def _entry_url(session) -> str:
    return reverse(
        "behavior:session_entry",
        kwargs={"slug": session.study.slug, "day": session.timepoint.day, "assay": session.assay},
    )


# ---------------------------------------------------------------------------------------------
# Sessions


@login_required
def sessions(request, slug: str):
    study, role = study_for(user=request.user, slug=slug, action=READ)
    return render(
        request,
        "behavior/sessions.html",
        {
            "study": study,
            "role": role,
            "can_record": can(role, RECORD) and not study.is_locked,
            "rows": selectors.sessions_overview(study=study),
            "open_form": SessionOpenForm(),
            "nav": "studies",
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
def session_entry(request, slug: str, day: int, assay: str):
    """GET: the entry grid (von Frey) or the hot plate page of this experimenter; a session not
    yet opened offers to open it. POST: open the session (get or create) and go to it."""
    action = RECORD if request.method == "POST" else READ
    study, role = study_for(user=request.user, slug=slug, action=action)
    study_assay = _study_assay_or_404(study, assay)
    timepoint = selectors.timepoint_get(study=study, day=day)
    if timepoint is None:
        raise Http404(f"This study has no timepoint on day {day}.")

    if request.method == "POST":
        form = SessionOpenForm(request.POST)
        if form.is_valid():
            try:
                session = session_open(
                    study=study,
                    timepoint=timepoint,
                    assay=assay,
                    user=request.user,
                    date=form.cleaned_data["date"],
                    instrument=form.cleaned_data["instrument"],
                    temperature_c=form.cleaned_data["temperature_c"],
                )
            except StudyLocked as exc:
                raise PermissionDenied(str(exc)) from None
            except ValidationError as exc:
                form.add_error(None, exc)
            else:
                return redirect(_entry_url(session))
        return render(
            request,
            "behavior/session_open.html",
            {"study": study, "timepoint": timepoint, "study_assay": study_assay, "form": form},
            status=400,
        )

    session = selectors.session_get(study=study, day=day, assay=assay)
    can_record = can(role, RECORD)
    if session is None:
        if not can_record or study.is_locked:
            raise Http404("This session has not been opened yet.")
        initial = {
            "date": planned_date(study, timepoint.day) or timezone.localdate(),
            "temperature_c": study_assay.temperature_c,
        }
        return render(
            request,
            "behavior/session_open.html",
            {
                "study": study,
                "timepoint": timepoint,
                "study_assay": study_assay,
                "form": SessionOpenForm(initial=initial),
            },
        )
    if not can_record:
        # A viewer has no values of their own to enter: the progress page is theirs.
        return redirect("behavior:session_progress", slug=slug, day=day, assay=assay)

    grid = selectors.entry_grid(
        session=session,
        study_assay=study_assay,
        experimenter=request.user.get_username(),
        show_groups=sees_allocation(role=role, study=study),
    )
    template = "behavior/hot_plate.html" if assay == Assay.HOT_PLATE else "behavior/von_frey.html"
    return render(
        request,
        template,
        {
            "study": study,
            "role": role,
            "session": session,
            "study_assay": study_assay,
            "grid": grid,
            "locked": study.is_locked,
            "behaviours": BEHAVIOUR_KEYS,
            "config": {
                "url": reverse(
                    "behavior:entry_value", kwargs={"slug": slug, "day": day, "assay": assay}
                ),
                "storageKey": f"cipn-entry:{session.id}:{request.user.get_username()}",
                "assay": assay,
                "max": study_assay.max_value,
                "unit": study_assay.unit,
                "applications": study_assay.applications,
                "doubleEntry": study_assay.double_entry,
                "locked": study.is_locked,
                # Values of one animal that queued up go in one request of at most this many.
                "batchMax": MAX_BATCH,
            },
            "nav": "studies",
        },
    )


# ---------------------------------------------------------------------------------------------
# The JSON endpoint the grid posts each value to


def _json_error(status: int, message: str, fields: dict | None = None, **extra) -> JsonResponse:
    return JsonResponse(
        {"ok": False, "message": message, "extra": {"fields": fields or {}, **extra}},
        status=status,
    )


def _validation_fields(exc: ValidationError) -> dict[str, list[str]]:
    if hasattr(exc, "error_dict"):
        return {
            ("non_field_errors" if name == "__all__" else name): list(msgs)
            for name, msgs in exc.message_dict.items()
        }
    return {"non_field_errors": list(exc.messages)}


def _first(fields: dict[str, list[str]]) -> str:
    for name, msgs in fields.items():
        if msgs:
            return msgs[0] if name == "non_field_errors" else f"{name}: {msgs[0]}"
    return "Invalid input."


NOT_JSON = object()  # a body that did not parse


def _animal_id(payload) -> int:
    """The body's animal id, to read the animal with the session: 0 (no animal) when the body
    has none that could be one; its checks then say why."""
    try:
        animal_id = EntryValueForm.base_fields["animal"].clean(payload.get("animal"))
    except (AttributeError, ValidationError):
        return 0
    _, highest = connection.ops.integer_field_range(Animal._meta.pk.get_internal_type())
    return animal_id if animal_id <= highest else 0


def entry_value(request, slug: str, day: int, assay: str):
    """Save one value of the logged-in experimenter (POST, JSON body, CSRF-protected).

    Body: ``{"animal": id, "footpad": "left", "application": 1, "value": 12.5,
    "behavior": "", "reason": "", "expected_version": null}``.

    200: ``{"ok": true, "value", "version", "state", "footpad_mean", "message", ...}``; 400 with
    ``{"message", "extra": {"fields": {...}}}`` naming the field; 401 not logged in; 403 wrong
    role or locked study; 404 not a member, or no such session/animal; 409 stale version (the
    stored entry is returned under ``extra.current``).
    """
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    if not request.user.is_authenticated:
        return _json_error(401, "You are logged out: log in again; your values are kept here.")
    try:
        study, role = study_for(user=request.user, slug=slug, action=RECORD)
    except Http404:
        return _json_error(404, "No such study.")
    except PermissionDenied as exc:
        return _json_error(403, str(exc))
    if study.is_locked:
        return _json_error(403, f"Study {study.slug} is locked: it is read-only.", code="locked")
    try:
        payload = json.loads(request.body or b"{}")
    except (ValueError, UnicodeDecodeError):
        payload = NOT_JSON
    # The session read with its settings and the body's animal: one query.
    target = selectors.entry_target(
        study=study, day=day, assay=assay, animal_id=_animal_id(payload)
    )
    if target is None or target.study_assay is None:
        return _json_error(404, "This session has not been opened.")
    if payload is NOT_JSON:
        return _json_error(400, "The request body is not JSON.")
    if not isinstance(payload, dict):
        return _json_error(400, "The request body must be a JSON object.")
    if "values" in payload:
        return _entry_values(request, target, payload)
    data, fields = EntryValueForm.checked(payload)
    if fields:
        return _json_error(400, _first(fields), fields)
    session, study_assay, animal = target.session, target.study_assay, target.animal
    if animal is None:
        fields = {"animal": ["This animal is not in the study."]}
        return _json_error(400, _first(fields), fields)
    experimenter = request.user.get_username()

    try:
        result = entry_save(
            session=session,
            animal=animal,
            footpad=data["footpad"],
            application=data["application"],
            value=data["value"],
            behavior=data["behavior"],
            reason=data["reason"],
            experimenter=experimenter,
            user=request.user,
            expected_version=data["expected_version"],
            via="page",
        )
    except ValidationError as exc:
        fields = _validation_fields(exc)
        return _json_error(400, _first(fields), fields)
    except StudyLocked as exc:
        return _json_error(403, str(exc), code="locked")
    except PermissionDenied as exc:
        return _json_error(403, str(exc))
    except ConflictError as exc:
        current = selectors.entry_of_slot(
            session=session,
            animal=animal,
            footpad=data["footpad"],
            application=data["application"],
            experimenter=experimenter,
        )
        return _json_error(
            409,
            str(exc) or "This value was changed elsewhere since the page was loaded.",
            current=(
                {"value": current.value, "behavior": current.behavior, "version": current.version}
                if current
                else None
            ),
        )

    status = selectors.slot_status(
        session=session,
        study_assay=study_assay,
        animal=animal,
        footpad=data["footpad"],
        experimenter=experimenter,
    )
    entry = result.entry
    if not result.created and not result.changed:
        message = "Already saved."
    elif result.changed:
        message = "Changed."
    else:
        message = "Saved."
    return JsonResponse(
        {
            "ok": True,
            "value": entry.value,
            "behavior": entry.behavior,
            "version": entry.version,
            # Under blind double entry the reading's state would tell whether the other
            # experimenter typed the same value: it is withheld until both have finished.
            "state": result.reading.state if status.agreement_visible else "entered",
            "footpad_mean": status.footpad_mean,
            "entered": status.entered,
            "expected": status.expected,
            "complete": status.agreement_visible and status.entered >= status.expected,
            "created": result.created,
            "changed": result.changed,
            "message": message,
        }
    )


MAX_BATCH = 50  # one animal's von Frey values (2 x 10 x up to 2 entries) and room to spare


def _entry_values(request, target: selectors.EntryTarget, payload: dict) -> JsonResponse:
    """Several values of one animal in one request, all or none: what the page sends when
    values have queued up (typed while offline or while a save was under way).

    Body: ``{"animal": id, "values": [{"footpad", "application", "value", "behavior",
    "reason", "expected_version"}, ...]}``. 200: ``{"ok": true, "results": [...],
    "footpad_means": {...}, "entered", "expected", "complete"}``, each result as the single
    answer's fields; 400 names ``values[i].field``; 409 names the stale item.
    """
    items = payload.get("values")
    if not isinstance(items, list) or not items or len(items) > MAX_BATCH:
        fields = {"values": [f"Send a list of 1 to {MAX_BATCH} values."]}
        return _json_error(400, _first(fields), fields)
    cleaned, fields = [], {}
    for index, item in enumerate(items):
        data, errors = EntryValueForm.checked(
            {**item, "animal": payload.get("animal")} if isinstance(item, dict) else {}
        )
        cleaned.append(data)
        for name, reasons in errors.items():
            fields[name if name == "animal" else f"values[{index}].{name}"] = reasons
    if fields:
        return _json_error(400, _first(fields), fields)
    session, study_assay, animal = target.session, target.study_assay, target.animal
    if animal is None:
        fields = {"animal": ["This animal is not in the study."]}
        return _json_error(400, _first(fields), fields)
    experimenter = request.user.get_username()
    try:
        results = entries_save(
            session=session,
            animal=animal,
            values=cleaned,
            experimenter=experimenter,
            user=request.user,
            via="page",
        )
    except ValidationError as exc:
        fields = _validation_fields(exc)
        return _json_error(400, _first(fields), fields)
    except StudyLocked as exc:
        return _json_error(403, str(exc), code="locked")
    except PermissionDenied as exc:
        return _json_error(403, str(exc))
    except ConflictError as exc:
        message = str(exc) or "A value was changed elsewhere: reload the page."
        return _json_error(409, message, {exc.field: [message]} if exc.field else None)
    footpads = list(dict.fromkeys(data["footpad"] for data in cleaned))
    statuses = selectors.slot_statuses(
        session=session,
        study_assay=study_assay,
        animal=animal,
        footpads=footpads,
        experimenter=experimenter,
    )
    status = statuses[footpads[-1]]
    return JsonResponse(
        {
            "ok": True,
            "results": [
                {
                    "footpad": data["footpad"],
                    "application": data["application"],
                    "value": result.entry.value,
                    "behavior": result.entry.behavior,
                    "version": result.entry.version,
                    "state": result.reading.state if status.agreement_visible else "entered",
                    "created": result.created,
                    "changed": result.changed,
                }
                for data, result in zip(cleaned, results, strict=True)
            ],
            "footpad_means": {fp: st.footpad_mean for fp, st in statuses.items()},
            "entered": status.entered,
            "expected": status.expected,
            "complete": status.agreement_visible and status.entered >= status.expected,
        }
    )


# ---------------------------------------------------------------------------------------------
# Progress


@login_required
def session_progress(request, slug: str, day: int, assay: str):
    study, role = study_for(user=request.user, slug=slug, action=READ)
    study_assay = _study_assay_or_404(study, assay)
    session = selectors.session_get(study=study, day=day, assay=assay)
    if session is None:
        raise Http404("This session has not been opened yet.")
    return render(
        request,
        "behavior/progress.html",
        {
            "study": study,
            "session": session,
            "study_assay": study_assay,
            "progress": selectors.session_progress(session=session, study_assay=study_assay),
            "can_record": can(role, RECORD) and not study.is_locked,
            "nav": "studies",
        },
    )


# ---------------------------------------------------------------------------------------------
# Discrepancies


def _discrepancy_page(request, study, role, *, forms=None, status=200):
    session = None
    session_id = request.GET.get("session") or request.POST.get("session") or ""
    if session_id.isdigit():
        session = study.sessions.select_related("timepoint").filter(pk=int(session_id)).first()
    show = request.GET.get("show", "open")
    items = selectors.discrepancy_list(
        study=study, session=session, status=None if show == "all" else Discrepancy.Status.OPEN
    )
    forms = forms or {}
    can_resolve = can(role, RESOLVE) and not study.is_locked
    rows = [
        (d, forms.get(d.pk) or DiscrepancyResolveForm(prefix=f"d{d.pk}"))
        if can_resolve and d.status == Discrepancy.Status.OPEN
        else (d, None)
        for d in items
    ]
    return render(
        request,
        "behavior/discrepancies.html",
        {
            "study": study,
            "session": session,
            "show": show,
            "rows": rows,
            "can_resolve": can_resolve,
            "nav": "studies",
        },
        status=status,
    )


@login_required
def discrepancies(request, slug: str):
    study, role = study_for(user=request.user, slug=slug, action=READ)
    return _discrepancy_page(request, study, role)


@login_required
@require_POST
def discrepancy_resolve(request, slug: str, pk: int):
    """Resolve one open discrepancy with the value that counts, a reason and a note."""
    study, role = study_for(user=request.user, slug=slug, action=RESOLVE)
    discrepancy = selectors.discrepancy_get(study=study, pk=pk)
    if discrepancy is None:
        raise Http404("No such discrepancy.")
    form = DiscrepancyResolveForm(request.POST, prefix=f"d{pk}")
    if form.is_valid():
        try:
            resolve_discrepancy(
                discrepancy=discrepancy,
                value=form.cleaned_data["value"],
                reason=form.cleaned_data["reason"],
                behavior=form.cleaned_data["behavior"],
                note=form.cleaned_data["note"],
                user=request.user,
                via="page",
            )
        except StudyLocked as exc:
            raise PermissionDenied(str(exc)) from None
        except (ValidationError, ConflictError) as exc:
            if isinstance(exc, ValidationError) and hasattr(exc, "error_dict"):
                for name, msgs in exc.message_dict.items():
                    target = name if name in form.fields else None
                    for msg in msgs:
                        if name == "discrepancy":
                            # Resolved by someone else meanwhile: its form is no longer on
                            # the page, so the reason is shown above the list.
                            messages.error(request, msg)
                        else:
                            form.add_error(target, msg)
            else:
                form.add_error(None, str(exc) or "Changed elsewhere: reload and try again.")
        else:
            reading = discrepancy.reading
            messages.success(
                request,
                f"Resolved {reading.animal.code} "
                f"{reading.footpad + ' ' if reading.footpad else ''}#{reading.application}: "
                f"{form.cleaned_data['value']:g} {_unit(reading.assay)}.",
            )
            url = reverse("behavior:discrepancies", kwargs={"slug": slug})
            session_id = request.POST.get("session", "")
            return redirect(f"{url}?session={session_id}" if session_id.isdigit() else url)
    return _discrepancy_page(request, study, role, forms={pk: form}, status=400)


def _unit(assay: str) -> str:
    return "s" if assay == Assay.HOT_PLATE else "g"


# ---------------------------------------------------------------------------------------------
# Upload


def _problem_rows(problems: list[tuple[str, str]]) -> list[dict]:
    """("row 7", "value: must be at most 26 g") as row, column and reason for the table."""
    rows = []
    for where, message in problems:
        column, sep, reason = message.partition(": ")
        if not sep or " " in column:
            column, reason = "", message
        rows.append({"where": where, "column": column, "reason": reason})
    return rows


class UnreadableFile(Exception):
    pass


def _parse_upload(upload_file) -> list[dict]:
    """The rows of an uploaded .csv or .xlsx, or UnreadableFile saying why it cannot be read."""
    name = upload_file.name
    if name.lower().endswith(".xlsx"):
        try:
            return parse_readings_xlsx(upload_file)
        except Exception:  # openpyxl raises zip, XML and key errors for a damaged workbook
            raise UnreadableFile(f"{name}: not a readable .xlsx workbook.") from None
    try:
        return parse_readings_csv(upload_file)
    except UnicodeDecodeError:
        raise UnreadableFile(f"{name}: not UTF-8 text; save it as CSV UTF-8.") from None
    except csv.Error as exc:
        raise UnreadableFile(f"{name}: not a readable CSV file ({exc}).") from None


@login_required
@require_http_methods(["GET", "POST"])
def upload(request, slug: str):
    """Import a readings file (interchange.md section 2): every row or none."""
    study, role = study_for(
        user=request.user, slug=slug, action=RECORD if request.method == "POST" else READ
    )
    context = {"study": study, "can_record": can(role, RECORD) and not study.is_locked}
    if request.method == "GET":
        return render(
            request,
            "behavior/upload.html",
            {**context, "form": ReadingsUploadForm(), "nav": "studies"},
        )
    form = ReadingsUploadForm(request.POST, request.FILES)
    problems: list[dict] = []
    if form.is_valid():
        upload_file = form.cleaned_data["file"]
        try:
            rows = _parse_upload(upload_file)
            summary = readings_import(study=study, rows=rows, user=request.user, via="upload")
        except UnreadableFile as exc:
            form.add_error("file", str(exc))
        except StudyLocked as exc:
            raise PermissionDenied(str(exc)) from None
        except ImportProblems as exc:
            problems = _problem_rows(exc.problems)
        else:
            messages.success(
                request,
                f"Imported {upload_file.name}: {summary.values} values "
                f"({summary.already_there} already there), {summary.verified_sets} verified, "
                f"{summary.open_discrepancies} open discrepancies.",
            )
            return redirect("behavior:sessions", slug=slug)
    return render(
        request,
        "behavior/upload.html",
        {**context, "form": form, "problems": problems, "nav": "studies"},
        status=400,
    )
