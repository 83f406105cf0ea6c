"""Assertions shared by the REST API tests."""

import json

from django.db import connection
from django.test.utils import CaptureQueriesContext


def body(response) -> dict:
    return json.loads(response.content)


def assert_error(response, status: int, *, field: str | None = None) -> dict:
    """The one error shape: a message, and the named field among ``extra.fields``."""
    assert response.status_code == status, response.content
    data = body(response)
    assert set(data) == {"message", "extra"}
    assert isinstance(data["message"], str) and data["message"]
    assert isinstance(data["extra"]["fields"], dict)
    if field is not None:
        assert field in data["extra"]["fields"], data
        assert all(isinstance(m, str) and m for m in data["extra"]["fields"][field])
    return data


def queries_of(client, url: str) -> int:
    """How many queries one GET of ``url`` runs (it must answer 200)."""
    with CaptureQueriesContext(connection) as context:
        response = client.get(url)
    assert response.status_code == 200, response.content
    return len(context)
