"""The change history pages: a study's audit trail, and the full history of one reading.

Who sees what:

- the study's history (every change to every object, filterable) is for the study's PI and
  staff, who may see the allocation and every experimenter's values;
- a reading's history is for every member who may read the study, except that a technician
  waits until the value no longer waits for its second entry (blind double entry: the history
  would show the other experimenter's value), and a technician of a blinded study never sees
  the animal's group.
"""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import render
from django.views.decorators.http import require_GET

from behavior.models import Reading
from studies import access
from studies import selectors_history as selectors


def _whole_number(raw: str | None) -> int | None:
    raw = (raw or "").strip()
    return int(raw) if raw.isdigit() else None


@login_required
@require_GET
def study_history(request, slug: str):
    """Every change in the study, newest first: ``?entity=entry&object=12`` narrows it to one
    object, ``?session=3`` to what happened in one measurement session."""
    study, role = access.study_for(user=request.user, slug=slug, action=access.DESIGN)
    entity = request.GET.get("entity", "").strip()[:40]
    object_id = _whole_number(request.GET.get("object"))
    session_id = _whole_number(request.GET.get("session"))
    page, items = selectors.study_history_page(
        study=study,
        entity=entity,
        object_id=object_id,
        session_id=session_id,
        page=request.GET.get("page", 1),
        sees_allocation=access.sees_allocation(role=role, study=study),
    )
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "studies/history.html",
        {
            "nav": "studies",
            "study": study,
            "page": page,
            "items": items,
            "entities": selectors.history_entities(study=study),
            "entity": entity,
            "object_id": object_id,
            "session_id": session_id,
            "query": query.urlencode(),
        },
    )


@login_required
@require_GET
def reading_history(request, slug: str, reading_id: int):
    """Everything that happened to one value: each experimenter's entry and its edits, the
    discrepancy and its resolution, and the counted value's changes."""
    study, role = access.study_for(user=request.user, slug=slug, action=access.READ)
    reading = selectors.reading_get(study=study, pk=reading_id)
    if reading is None:
        raise Http404("No such value in this study.")
    if role == access.TECHNICIAN and reading.state == Reading.State.UNVERIFIED:
        raise PermissionDenied(
            "This value waits for its second entry: its history is shown once both "
            "experimenters have entered it."
        )
    sees_allocation = access.sees_allocation(role=role, study=study)
    history = selectors.reading_history(reading=reading, sees_allocation=sees_allocation)
    return render(
        request,
        "studies/history.html",
        {
            "nav": "studies",
            "study": study,
            "reading_view": True,
            "history": history,
            "reading": reading,
            "items": history.items,
            "sees_allocation": sees_allocation,
            "can_see_study_history": access.can(role, access.DESIGN),
        },
    )
