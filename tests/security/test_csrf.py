"""Every form is protected against cross-site request forgery, and a session ends after a working
day of inactivity.

The CSRF test posts without a token to every URL the resolver knows (through the permission
matrix, which must name them all): Django's middleware refuses such a POST before any view
runs, so a 403 everywhere proves that no view is exempt. The same POST with the token gets
past the check, so the test is not passing for another reason.
"""

from __future__ import annotations

import datetime as dt
import json
import time

import pytest
from django.conf import settings
from django.contrib.sessions.backends.db import SessionStore
from django.contrib.sessions.models import Session
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from cipn_lab.middleware import REFRESHED_KEY
from tests.security import scenario
from tests.security.test_permission_matrix import MATRIX, all_url_names

pytestmark = pytest.mark.django_db

POSTS = [row for row in MATRIX if row.method == "post"]


@pytest.fixture
def scn(study, alice, bob, carol):
    return scenario.build(study, pi=alice, first=bob, second=carol)


def _url(row, scn) -> str:
    kwargs = (
        row.kwargs(scn) if row.kwargs else ({"slug": scn.study.slug} if row.study_scoped else {})
    )
    return reverse(row.name, kwargs=kwargs)


def _logged_in(user) -> tuple[Client, str]:
    """A client that enforces CSRF like a browser, logged in, and its CSRF token."""
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    client.get(reverse("studies:today"))  # the page sets the CSRF cookie
    return client, client.cookies[settings.CSRF_COOKIE_NAME].value


def _post(client, row, scn, **headers):
    data = row.data(scn)
    if row.json:
        return client.post(
            _url(row, scn), json.dumps(data), content_type="application/json", **headers
        )
    return client.post(_url(row, scn), data, **headers)


def test_every_url_is_posted_to_without_a_token():
    assert all_url_names() <= {row.name for row in MATRIX}


@pytest.mark.parametrize("row", MATRIX, ids=lambda row: row.id)
def test_a_post_without_a_csrf_token_is_refused_everywhere(scn, root, row):
    client, _token = _logged_in(root)

    response = _post(client, row, scn)

    assert response.status_code == 403, response.content[:300]
    assert b"CSRF" in response.content


@pytest.mark.parametrize("row", POSTS, ids=lambda row: row.id)
def test_the_same_post_with_the_token_gets_past_the_check(scn, root, row):
    client, token = _logged_in(root)

    response = _post(client, row, scn, headers={"X-CSRFToken": token})

    assert b"CSRF" not in response.content
    assert response.status_code != 403 or b"locked" in response.content


def test_the_api_with_a_token_needs_no_csrf_cookie(scn, root):
    """Scripts authenticate with a token, not a cookie: a forged request cannot carry it."""
    from rest_framework.authtoken.models import Token

    token = Token.objects.create(user=root)
    client = Client(enforce_csrf_checks=True)

    response = client.post(
        reverse("api-timepoints", args=[scn.study.slug]),
        json.dumps({"label": "week 6", "day": 42}),
        content_type="application/json",
        headers={"Authorization": f"Token {token.key}"},
    )

    assert response.status_code == 201


# --- sessions ---------------------------------------------------------------------------------


def test_sessions_expire_after_a_working_day_of_inactivity():
    assert settings.SESSION_COOKIE_AGE == 8 * 60 * 60
    assert settings.SESSION_REFRESH_SECONDS == 60
    assert "cipn_lab.middleware.SessionRefreshMiddleware" in settings.MIDDLEWARE
    assert settings.SESSION_ENGINE == "django.contrib.sessions.backends.db"


def test_each_request_moves_the_expiry_a_working_day_ahead(client, alice):
    client.force_login(alice)
    session = Session.objects.get()
    Session.objects.filter(pk=session.pk).update(
        expire_date=timezone.now() + dt.timedelta(minutes=5)
    )

    assert client.get(reverse("studies:today")).status_code == 200

    left = Session.objects.get(pk=session.pk).expire_date - timezone.now()
    assert dt.timedelta(hours=7, minutes=59) < left <= dt.timedelta(hours=8)


def test_the_expiry_moves_at_most_once_a_minute(client, alice):
    client.force_login(alice)
    assert client.get(reverse("studies:today")).status_code == 200  # refreshed
    session = Session.objects.get()
    Session.objects.filter(pk=session.pk).update(expire_date=timezone.now() + dt.timedelta(hours=7))

    # Within the minute: the session row is read, not written.
    with CaptureQueriesContext(connection) as queries:
        assert client.get(reverse("studies:today")).status_code == 200
    assert not [q for q in queries if "django_session" in q["sql"] and "UPDATE" in q["sql"]]
    left = Session.objects.get(pk=session.pk).expire_date - timezone.now()
    assert left <= dt.timedelta(hours=7)

    # A minute on, the next request moves it a working day ahead again.
    stored = SessionStore(session_key=session.pk)
    stored[REFRESHED_KEY] = time.time() - settings.SESSION_REFRESH_SECONDS - 1
    stored.save()
    Session.objects.filter(pk=session.pk).update(expire_date=timezone.now() + dt.timedelta(hours=7))
    assert client.get(reverse("studies:today")).status_code == 200
    left = Session.objects.get(pk=session.pk).expire_date - timezone.now()
    assert dt.timedelta(hours=7, minutes=59) < left <= dt.timedelta(hours=8)


def test_an_inactive_session_has_expired_and_asks_for_a_login(client, alice):
    client.force_login(alice)
    Session.objects.update(expire_date=timezone.now() - dt.timedelta(seconds=1))

    response = client.get(reverse("studies:today"))

    assert response.status_code == 302
    assert response.url.startswith(reverse("login"))
