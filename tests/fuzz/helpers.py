"""What the property-based tests share: bounded settings, a rollback per example, row counts."""

from __future__ import annotations

import os
from contextlib import contextmanager

from django.db import transaction
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from behavior.models import Discrepancy, Entry, MeasurementSession, Reading
from studies.models import Animal, ChangeRecord, DosingSchedule, Study, Timepoint, TreatmentGroup

# Bounded and reproducible: the same inputs on every run, so a failure can be replayed.
# FUZZ_EXAMPLES raises the bound for a longer search (make fuzz).
FUZZ = settings(
    max_examples=int(os.environ.get("FUZZ_EXAMPLES", "60")),
    deadline=None,
    derandomize=True,
    database=None,
    # The database fixtures are function-scoped on purpose: each example runs in a savepoint
    # that is rolled back (``rolled_back``), so examples cannot see each other's rows.
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.filter_too_much,
    ],
)

COUNTED = [
    Study,
    TreatmentGroup,
    Animal,
    Timepoint,
    DosingSchedule,
    MeasurementSession,
    Reading,
    Entry,
    Discrepancy,
    ChangeRecord,
]


def row_counts() -> dict[str, int]:
    """Rows of every table an import or an entry may write, by model name."""
    return {model.__name__: model.objects.count() for model in COUNTED}


class _Rollback(Exception):
    pass


@contextmanager
def rolled_back():
    """Run one example inside a savepoint that is always rolled back."""
    try:
        with transaction.atomic():
            yield
            raise _Rollback
    except _Rollback:
        pass


# Text of any kind, including control characters, surrogate-free unicode and the empty string.
junk_text = st.text(max_size=16)

# Any JSON value (as json.loads could return it, NaN and infinities included).
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | junk_text,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=12,
)
