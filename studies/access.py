"""Who may do what in a study: the one place that answers it for pages, API and commands."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.db import connection
from django.db.models import F, FilteredRelation, Q
from django.http import Http404

from studies.models import Membership, Study

PI = Membership.Role.PI
TECHNICIAN = Membership.Role.TECHNICIAN
VIEWER = Membership.Role.VIEWER

# What each role may do. Staff act as a PI in every study.
READ = "read"
RECORD = "record"  # doses, weights, readings
DESIGN = "design"  # the study's design, animals, allocation, unblinding, locking
RESOLVE = "resolve"  # discrepancies

PERMISSIONS: dict[str, set[str]] = {
    PI: {READ, RECORD, DESIGN, RESOLVE},
    TECHNICIAN: {READ, RECORD, RESOLVE},
    VIEWER: {READ},
}


def role_in_study(*, user, study: Study) -> str | None:
    """The user's role in the study, ``pi`` for staff, or None for an outsider."""
    if not _needs_membership(user):
        return PI if user.is_authenticated else None
    membership = Membership.objects.filter(study=study, user=user).only("role").first()
    return membership.role if membership else None


def _needs_membership(user) -> bool:
    """Whether the user's role comes from a membership: staff act as a PI everywhere, and an
    anonymous user has none."""
    return user.is_authenticated and not user.is_staff


def can(role: str | None, action: str) -> bool:
    return role is not None and action in PERMISSIONS.get(role, set())


def sees_allocation(*, role: str | None, study: Study) -> bool:
    """Whether the group of each animal may be shown: not to technicians of a blinded study."""
    if role is None:
        return False
    return not (study.blinded and role == TECHNICIAN)


def with_role(queryset, *, user, study: str = ""):
    """``queryset`` with the user's role in the study read with each row as ``member_role``:
    the study's own rows, or the rows under a study at the path ``study`` (``"study__"``).
    A join on the user's membership, of which there is at most one per study: the study (or
    the row) and the role in one query. :func:`role_read` gives the role from a row."""
    if not _needs_membership(user):
        return queryset
    memberships = f"{study}memberships"
    return queryset.annotate(
        user_membership=FilteredRelation(
            memberships, condition=Q(**{f"{memberships}__user": user})
        ),
        member_role=F("user_membership__role"),
    )


def role_read(row, *, user) -> str | None:
    """The user's role (as :func:`role_in_study`) from a row of a :func:`with_role` query."""
    if _needs_membership(user):
        return row.member_role
    # Staff or anonymous: role_in_study answers without the study, and without a query.
    return role_in_study(user=user, study=None)


def study_for(*, user, slug: str, action: str = READ) -> tuple[Study, str]:
    """The study with ``slug`` and the user's role, if the user may ``action`` in it.

    An outsider gets 404 (a study's existence is not revealed); a member without the right
    gets 403.
    """
    # The membership read with the study: one query on every page of a study. Written in
    # SQL: Django took longer to build the query with its filtered join than the database
    # took to answer it. Memberships are unique per study and user, so there is one row.
    study_table, membership_table = (
        connection.ops.quote_name(model._meta.db_table) for model in (Study, Membership)
    )
    member = user.pk if _needs_membership(user) else None
    found = list(
        Study.objects.raw(
            f"SELECT s.*, m.role AS member_role FROM {study_table} s "
            f"LEFT JOIN {membership_table} m ON m.study_id = s.id AND m.user_id = %s "
            "WHERE s.slug = %s",
            [member, slug],
        )
    )
    if not found:
        raise Http404("No such study.")
    study = found[0]
    role = role_read(study, user=user)
    if role is None:
        raise Http404("No such study.")
    if not can(role, action):
        raise PermissionDenied(f"Your role in this study ({role}) does not allow this.")
    return study, role
