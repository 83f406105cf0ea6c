"""Behavioural measurements: sessions, value slots, each experimenter's entries, discrepancies.

A *reading* is one value slot: an animal's footpad and application (von Frey) or trial (hot
plate) in a measurement session. Each experimenter's typed value is an *entry* under it. Under
double entry the reading counts once two experimenters agree (``verified``); a disagreement
opens a *discrepancy* until someone resolves it with a value and a reason (``resolved``). Without
double entry the first entry verifies the reading.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import F, Q

from studies.models import Animal, Assay, Study, Timepoint


class Behaviour(models.TextChoices):
    LICK = "lick", "Licking"
    FLUTTER = "flutter", "Fluttering"
    RAISE = "raise", "Raising"
    JUMP = "jump", "Jumping"


BEHAVIOUR_VALUES = ["", *Behaviour.values]


class MeasurementSession(models.Model):
    class Status(models.TextChoices):
        OPEN = "open", "Open"
        ENTERED = "entered", "Entered"
        VERIFIED = "verified", "Verified"
        LOCKED = "locked", "Locked"

    study = models.ForeignKey(Study, on_delete=models.CASCADE, related_name="sessions")
    timepoint = models.ForeignKey(Timepoint, on_delete=models.PROTECT, related_name="sessions")
    assay = models.CharField(max_length=20, choices=Assay.choices)
    date = models.DateField(null=True, blank=True)
    instrument = models.CharField(max_length=100, blank=True)
    temperature_c = models.FloatField(null=True, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)
    created_at = models.DateTimeField(auto_now_add=True)
    version = models.PositiveIntegerField(default=1)

    class Meta:
        ordering = ["study", "timepoint__day", "assay"]
        constraints = [
            models.UniqueConstraint(
                fields=["study", "timepoint", "assay"],
                name="session_one_per_timepoint_and_assay",
                violation_error_message="This timepoint already has a session for this assay.",
            ),
            models.CheckConstraint(
                condition=Q(assay__in=Assay.values),
                name="session_assay_valid",
                violation_error_message="Assay must be von_frey or hot_plate.",
            ),
            models.CheckConstraint(
                condition=Q(status__in=["open", "entered", "verified", "locked"]),
                name="session_status_valid",
                violation_error_message="Unknown session status.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.study.slug} {self.timepoint.label} {self.assay}"


class Reading(models.Model):
    class State(models.TextChoices):
        UNVERIFIED = "unverified", "Waiting for the second entry"
        VERIFIED = "verified", "Verified"
        DISPUTED = "disputed", "Open discrepancy"
        RESOLVED = "resolved", "Resolved"

    # No index of its own: the unique slot (session, animal, footpad, application) and the
    # (session, state) index both begin with it, and an import writes 30,000 readings at once.
    session = models.ForeignKey(
        MeasurementSession, on_delete=models.PROTECT, related_name="readings", db_index=False
    )
    animal = models.ForeignKey(Animal, on_delete=models.PROTECT, related_name="readings")
    # Copied from the session so that the footpad rule can be a database constraint.
    assay = models.CharField(max_length=20, choices=Assay.choices)
    footpad = models.CharField(max_length=5, blank=True)
    application = models.PositiveSmallIntegerField()
    value = models.FloatField(null=True, blank=True, help_text="The value that counts.")
    behavior = models.CharField(max_length=10, blank=True)
    state = models.CharField(max_length=12, choices=State.choices, default=State.UNVERIFIED)
    updated_at = models.DateTimeField(auto_now=True)
    version = models.PositiveIntegerField(default=1)

    class Meta:
        ordering = ["session", "animal__code", "footpad", "application"]
        constraints = [
            models.UniqueConstraint(
                fields=["session", "animal", "footpad", "application"],
                name="reading_one_per_slot",
                violation_error_message="This footpad and application already has a reading.",
            ),
            models.CheckConstraint(
                condition=(Q(assay="von_frey") & Q(footpad__in=["left", "right"]))
                | (Q(assay="hot_plate") & Q(footpad="")),
                name="reading_footpad_matches_assay",
                violation_error_message=(
                    "Footpad must be left or right for von Frey and empty for the hot plate."
                ),
            ),
            models.CheckConstraint(
                condition=Q(application__gte=1),
                name="reading_application_positive",
                violation_error_message="Application numbers start at 1.",
            ),
            models.CheckConstraint(
                condition=Q(state__in=["unverified", "disputed"]) | Q(value__isnull=False),
                name="reading_counted_has_value",
                violation_error_message="A verified or resolved reading needs a value.",
            ),
            models.CheckConstraint(
                condition=Q(value__isnull=True) | Q(value__gt=0),
                name="reading_value_positive",
                violation_error_message="A value must be greater than 0.",
            ),
            models.CheckConstraint(
                condition=Q(behavior__in=BEHAVIOUR_VALUES),
                name="reading_behavior_valid",
                violation_error_message="Behaviour must be lick, flutter, raise, jump or empty.",
            ),
        ]
        indexes = [models.Index(fields=["session", "state"])]


class Entry(models.Model):
    """One experimenter's value for a reading."""

    # Indexed by the unique (reading, experimenter), which begins with it: a second index of
    # the reading alone would be written with every entry and serve no query the first does not.
    reading = models.ForeignKey(
        Reading, on_delete=models.PROTECT, related_name="entries", db_index=False
    )
    experimenter = models.CharField(max_length=150)
    value = models.FloatField()
    behavior = models.CharField(max_length=10, blank=True)
    # The instrument's maximum force or the cut-off, copied from the study's settings when the
    # value was entered, so that the range is a database constraint on this row.
    max_value = models.FloatField()
    entered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    entered_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    version = models.PositiveIntegerField(default=1)

    class Meta:
        ordering = ["reading", "entered_at"]
        verbose_name_plural = "entries"
        constraints = [
            models.UniqueConstraint(
                fields=["reading", "experimenter"],
                name="entry_one_per_experimenter",
                violation_error_message="This experimenter has already entered this value.",
            ),
            models.CheckConstraint(
                condition=Q(value__gt=0) & Q(value__lte=F("max_value")),
                name="entry_value_in_range",
                violation_error_message="The value must be above 0 and at most the maximum.",
            ),
            models.CheckConstraint(
                condition=Q(behavior__in=BEHAVIOUR_VALUES),
                name="entry_behavior_valid",
                violation_error_message="Behaviour must be lick, flutter, raise, jump or empty.",
            ),
            models.CheckConstraint(
                condition=Q(value__lt=F("max_value")) | Q(behavior=""),
                name="entry_no_behavior_at_cutoff",
                violation_error_message="At the cut-off no behaviour is recorded.",
            ),
            models.CheckConstraint(
                condition=~Q(experimenter=""),
                name="entry_experimenter_not_empty",
                violation_error_message="An entry needs an experimenter.",
            ),
        ]


class Discrepancy(models.Model):
    class Status(models.TextChoices):
        OPEN = "open", "Open"
        RESOLVED = "resolved", "Resolved"

    class Reason(models.TextChoices):
        REMEASURED = "remeasured", "Re-measured"
        TYPING_ERROR = "typing_error", "Typing error"
        INSTRUMENT = "instrument", "Instrument read-out checked"
        OTHER = "other", "Other"

    reading = models.ForeignKey(Reading, on_delete=models.PROTECT, related_name="discrepancies")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)
    values = models.JSONField(default=dict, help_text="Each experimenter's value when opened.")
    opened_at = models.DateTimeField(auto_now_add=True)
    resolved_value = models.FloatField(null=True, blank=True)
    resolved_behavior = models.CharField(max_length=10, blank=True)
    reason = models.CharField(max_length=20, choices=Reason.choices, blank=True)
    note = models.CharField(max_length=500, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    resolved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-opened_at"]
        verbose_name_plural = "discrepancies"
        constraints = [
            models.UniqueConstraint(
                fields=["reading"],
                condition=Q(status="open"),
                name="discrepancy_one_open_per_reading",
                violation_error_message="This reading already has an open discrepancy.",
            ),
            models.CheckConstraint(
                condition=Q(status="open")
                | (
                    # A NULL value would pass "> 0" in SQL (unknown is not false): say it.
                    Q(resolved_value__isnull=False)
                    & Q(resolved_value__gt=0)
                    & ~Q(reason="")
                    & Q(resolved_at__isnull=False)
                ),
                name="discrepancy_resolution_complete",
                violation_error_message="A resolution needs a value, a reason and a time.",
            ),
        ]


class FootpadSummary(models.Model):
    """One session's slots of one animal's footpad (von Frey) or trials (hot plate), reduced.

    Derived from the readings, never entered: every service that writes readings refreshes the
    rows of the animals it touched in the same transaction
    (:func:`behavior.summaries.summaries_refresh`), so that the statistics read a row
    per footpad instead of aggregating every slot of the study on each request.
    ``manage.py refresh_summaries`` rebuilds them from the readings.
    """

    # Indexed by the unique (session, animal, footpad), which begins with it.
    session = models.ForeignKey(
        MeasurementSession, on_delete=models.CASCADE, related_name="+", db_index=False
    )
    animal = models.ForeignKey(Animal, on_delete=models.CASCADE, related_name="+")
    assay = models.CharField(max_length=20, choices=Assay.choices)
    footpad = models.CharField(max_length=5, blank=True)
    slots = models.PositiveIntegerField()
    with_value = models.PositiveIntegerField()
    mean = models.FloatField(null=True, help_text="Mean of the slots that have a value.")
    n_verified = models.PositiveIntegerField()
    n_resolved = models.PositiveIntegerField()
    n_unverified = models.PositiveIntegerField()
    n_disputed = models.PositiveIntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["session", "animal", "footpad"],
                name="footpadsummary_one_per_footpad",
                violation_error_message="This footpad already has a summary in this session.",
            ),
            models.CheckConstraint(
                condition=Q(with_value__lte=F("slots"))
                & Q(slots=F("n_verified") + F("n_resolved") + F("n_unverified") + F("n_disputed")),
                name="footpadsummary_counts_add_up",
                violation_error_message="A summary's state counts must add up to its slots.",
            ),
        ]


class EntryTally(models.Model):
    """How many values one experimenter has entered for one animal in one session.

    Derived from the entries, never entered, and kept in step with them as
    :class:`FootpadSummary` is (:func:`behavior.summaries.summaries_refresh`). Blind double
    entry shows agreement only once both experimenters have entered the whole session, which
    every save must answer: counting the session's entries through their readings grows with
    the study, a few hundred tallies do not.
    """

    # Indexed by the unique (session, animal, experimenter), which begins with it.
    session = models.ForeignKey(
        MeasurementSession, on_delete=models.CASCADE, related_name="+", db_index=False
    )
    animal = models.ForeignKey(Animal, on_delete=models.CASCADE, related_name="+")
    experimenter = models.CharField(max_length=150)
    entries = models.PositiveIntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["session", "animal", "experimenter"],
                name="entrytally_one_per_experimenter",
                violation_error_message="This experimenter already has a tally for this animal.",
            ),
        ]
