"""Errors raised by services, shared by pages, the API and commands."""

from __future__ import annotations


class StudyLocked(Exception):
    """The study is locked: nothing in it may change."""

    def __init__(self, study_slug: str):
        super().__init__(f"Study {study_slug} is locked: it is read-only.")


class ConflictError(Exception):
    """Someone else changed the object since it was read (an optimistic version check failed).

    ``field``, when the service knows it, names the stale input (``values[2].expected_version``
    in a batch)."""

    field: str | None = None


class ImportProblems(Exception):
    """Input that cannot be imported; ``problems`` lists (where, message) pairs."""

    def __init__(self, problems: list[tuple[str, str]]):
        self.problems = problems
        super().__init__("; ".join(f"{where}: {message}" for where, message in problems))
