"""The one error shape of the REST API, and the DRF exception handler that produces it.

Every error response has the same body::

    {"message": "Force must be at most 26 g.", "extra": {"fields": {"value": ["..."]}}}

- ``message``: one sentence for a person.
- ``extra.fields``: for invalid input, each field's messages, keyed by the field's name (nested
  input is keyed by its path, e.g. ``values[3].value``); empty otherwise.
- ``extra.problems``: for an import, every problem as ``{"where": ..., "message": ...}``.

Status codes:

- 400: invalid input (a Django ``ValidationError`` from a service, a serializer error,
  malformed JSON, ``studies.errors.ImportProblems``);
- 401/403: not logged in; 403: the user's role does not allow the action, **or the study is
  locked** (``StudyLocked``: nobody may change a locked study, so retrying cannot help, unlike
  a 409);
- 404: no such object, or a study the user is not a member of (its existence is not revealed);
- 409: ``ConflictError``, someone else changed the object since it was read (re-read, retry).
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import set_rollback

from studies.errors import ConflictError, ImportProblems, StudyLocked


def _flatten(detail, prefix: str = "") -> dict[str, list[str]]:
    """Serializer errors as ``{"path": [messages]}``, nested lists and dicts as paths."""
    fields: dict[str, list[str]] = {}
    if isinstance(detail, dict):
        for key, value in detail.items():
            if isinstance(key, int):  # DRF keys a list's errors by index
                path = f"{prefix}[{key}]"
            else:
                path = f"{prefix}.{key}" if prefix else str(key)
            fields.update(_flatten(value, path))
    elif isinstance(detail, list):
        if all(not isinstance(item, dict | list) for item in detail):
            fields[prefix or "non_field_errors"] = [str(item) for item in detail]
        else:
            for index, item in enumerate(detail):
                if item:  # DRF puts an empty dict for each valid item of a list
                    fields.update(_flatten(item, f"{prefix}[{index}]"))
    else:
        fields[prefix or "non_field_errors"] = [str(detail)]
    return fields


def _first_message(fields: dict[str, list[str]], default: str) -> str:
    for name, messages in fields.items():
        if messages:
            if name in ("non_field_errors", "__all__"):
                return messages[0]
            return f"{name}: {messages[0]}"
    return default


def error_body(message: str, *, fields=None, **extra) -> dict:
    return {"message": message, "extra": {"fields": fields or {}, **extra}}


def _django_validation_fields(exc: DjangoValidationError) -> dict[str, list[str]]:
    if hasattr(exc, "error_dict"):
        return {
            ("non_field_errors" if name == "__all__" else name): list(messages)
            for name, messages in exc.message_dict.items()
        }
    return {"non_field_errors": list(exc.messages)}


def api_exception_handler(exc, context):
    """Turn every exception the API knows into the one error shape; leave the rest to Django.

    Installed as ``REST_FRAMEWORK["EXCEPTION_HANDLER"]``.
    """
    if isinstance(exc, DjangoValidationError):
        fields = _django_validation_fields(exc)
        set_rollback()
        return Response(
            error_body(_first_message(fields, "Invalid input."), fields=fields),
            status=status.HTTP_400_BAD_REQUEST,
        )
    if isinstance(exc, ImportProblems):
        fields: dict[str, list[str]] = {}
        for where, message in exc.problems:
            fields.setdefault(where, []).append(message)
        count = len(exc.problems)
        set_rollback()
        return Response(
            error_body(
                f"Nothing was saved: {count} problem{'s' if count != 1 else ''} in the input.",
                fields=fields,
                problems=[{"where": where, "message": message} for where, message in exc.problems],
            ),
            status=status.HTTP_400_BAD_REQUEST,
        )
    if isinstance(exc, ConflictError):
        set_rollback()
        message = str(exc) or "Someone else changed this since you read it: reload and try again."
        return Response(error_body(message), status=status.HTTP_409_CONFLICT)
    if isinstance(exc, StudyLocked):
        set_rollback()
        return Response(error_body(str(exc), code="study_locked"), status=status.HTTP_403_FORBIDDEN)
    if isinstance(exc, Http404):
        exc = exceptions.NotFound(str(exc) or "Not found.")
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied(str(exc) or None)

    if not isinstance(exc, exceptions.APIException):
        return None  # a programming error: Django's 500 handling and logging apply

    headers = {}
    if getattr(exc, "auth_header", None):
        headers["WWW-Authenticate"] = exc.auth_header
    if getattr(exc, "wait", None):
        headers["Retry-After"] = str(int(exc.wait))
    set_rollback()

    if isinstance(exc, exceptions.ValidationError):
        fields = _flatten(exc.detail)
        body = error_body(_first_message(fields, "Invalid input."), fields=fields)
    else:
        detail = exc.detail
        if isinstance(detail, dict | list):
            fields = _flatten(detail)
            body = error_body(_first_message(fields, str(exc)), fields=fields)
        else:
            body = error_body(str(detail))
    return Response(body, status=exc.status_code, headers=headers)
