"""Every constraint of studies/models.py refuses a bad row: its check names the reason,
``full_clean`` refuses the row, and the database itself refuses it when it is saved unchecked."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from studies.models import (
    Agent,
    Animal,
    BodyWeight,
    Comparison,
    DoseRecord,
    DosingSchedule,
    Membership,
    Study,
    StudyAssay,
    Timepoint,
    TreatmentGroup,
)
from tests.factories import add_schedule


def _group(study, **kw):
    values = {"study": study, "code": "NEW", "name": "New", "blind_label": "Z"} | kw
    return TreatmentGroup(**values)


def _dose(study, **kw):
    schedule = add_schedule(study, "VEH", "saline", dose=5, unit="mL/kg", days=[0])
    values = {
        "schedule": schedule,
        "animal": study.animals.get(code="R01"),
        "day": 0,
        "status": "given",
        "given_at": timezone.now(),
    } | kw
    return DoseRecord(**values)


def _schedule(study, **kw):
    values = {
        "study": study,
        "group": study.groups.first(),
        "agent": Agent.objects.get_or_create(name="IVIg")[0],
        "dose": 1,
        "unit": "g/kg",
        "route": "iv",
        "days": [0],
    } | kw
    return DosingSchedule(**values)


def _second_dose(study):
    first = _dose(study)
    first.save()
    return DoseRecord(
        schedule=first.schedule,
        animal=first.animal,
        day=0,
        status="missed",
        reason="again",
    )


def _weight(study, **kw):
    values = {"animal": study.animals.get(code="R01"), "date": timezone.localdate(), "grams": 250}
    return BodyWeight(**(values | kw))


def _second_weight(study):
    _weight(study).save()
    return _weight(study, grams=251)


def _comparison(study, **kw):
    veh, sal, _ivig = study.groups.all()
    return Comparison(**({"study": study, "reference": veh, "group": sal, "symbol": "#"} | kw))


# (constraint name, a builder of a row that breaks it)
BAD_ROWS = {
    "study_species_valid": lambda s: Study(slug="x", title="x", species="dog"),
    "study_status_valid": lambda s: Study(slug="x", title="x", species="rat", status="done"),
    "studyassay_one_per_study": lambda s: StudyAssay(study=s, assay="von_frey", max_value=26),
    "studyassay_assay_valid": lambda s: StudyAssay(study=s, assay="tail_flick", max_value=26),
    "studyassay_applications_range": lambda s: StudyAssay(
        study=Study.objects.create(slug="y", title="y", species="rat"),
        assay="von_frey",
        applications=51,
        max_value=26,
    ),
    "studyassay_max_value_positive": lambda s: StudyAssay(
        study=Study.objects.create(slug="y", title="y", species="rat"),
        assay="von_frey",
        max_value=0,
    ),
    "membership_one_per_user": lambda s: Membership(
        study=s, user=s.memberships.first().user, role="viewer"
    ),
    "membership_role_valid": lambda s: Membership(
        study=Study.objects.create(slug="y", title="y", species="rat"),
        user=s.memberships.first().user,
        role="owner",
    ),
    "group_code_unique_in_study": lambda s: _group(s, code="VEH"),
    "group_blind_label_unique_in_study": lambda s: _group(s, blind_label="A"),
    "group_colour_hex": lambda s: _group(s, colour="red"),
    "group_code_not_empty": lambda s: _group(s, code=""),
    "animal_code_unique_in_study": lambda s: Animal(study=s, code="R01"),
    "animal_code_not_empty": lambda s: Animal(study=s, code=""),
    "animal_exclusion_has_reason_and_date": lambda s: Animal(study=s, code="R99", status="dead"),
    "schedule_dose_positive": lambda s: _schedule(s, dose=0),
    "schedule_stock_positive": lambda s: _schedule(s, stock_concentration=-1),
    "schedule_unit_valid": lambda s: _schedule(s, unit="drops"),
    "schedule_route_valid": lambda s: _schedule(s, route="im"),
    "dose_record_one_per_due_dose": _second_dose,
    "dose_record_given_has_time_missed_has_reason": lambda s: _dose(s, status="missed"),
    "dose_record_volume_positive": lambda s: _dose(s, volume_ml=0),
    "dose_record_weight_positive": lambda s: _dose(s, weight_g=-250),
    "bodyweight_one_per_day": _second_weight,
    "bodyweight_grams_range": lambda s: _weight(s, grams=5000),
    "timepoint_day_unique_in_study": lambda s: Timepoint(study=s, label="other", day=21),
    "timepoint_label_unique_in_study": lambda s: Timepoint(study=s, label="week 3", day=22),
    "comparison_groups_differ": lambda s: _comparison(s, group=s.groups.first()),
    "comparison_unique_pair": lambda s: _comparison(s),
    "comparison_symbol_not_empty": lambda s: _comparison(
        s, group=s.groups.get(code="PTX-IVIG"), symbol=""
    ),
}


def _constraint(model, name: str):
    return next(c for c in model._meta.constraints if c.name == name)


def test_every_constraint_of_the_studies_models_has_a_bad_row_below():
    from django.apps import apps

    names = {
        c.name
        for model in apps.get_app_config("studies").get_models()
        for c in model._meta.constraints
    }
    assert names == set(BAD_ROWS)


@pytest.mark.parametrize("name", list(BAD_ROWS))
def test_a_row_that_breaks_the_constraint_is_refused(study, name):
    row = BAD_ROWS[name](study)
    message = _constraint(type(row), name).violation_error_message
    with pytest.raises(ValidationError) as error:
        row.validate_constraints()
    assert message in error.value.messages
    # full_clean refuses it too, possibly first on the field (a choice, a blank code).
    with pytest.raises(ValidationError):
        row.full_clean()
    with pytest.raises(IntegrityError), transaction.atomic():
        row.save()


def test_an_agent_name_is_unique(db):
    Agent.objects.create(name="IVIg")
    with pytest.raises(IntegrityError), transaction.atomic():
        Agent.objects.create(name="IVIg")


def test_a_study_slug_is_unique(study):
    with pytest.raises(IntegrityError), transaction.atomic():
        Study.objects.create(slug=study.slug, title="again", species="rat")
