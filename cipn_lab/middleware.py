"""Middleware of the project."""

from __future__ import annotations

import time

from django.conf import settings
from django.contrib.auth import SESSION_KEY

REFRESHED_KEY = "_refreshed_at"


class SessionRefreshMiddleware:
    """Move a signed-in session's expiry a whole ``SESSION_COOKIE_AGE`` ahead at most once every
    ``SESSION_REFRESH_SECONDS``, rather than on every request.

    Sessions expire after a working day of inactivity. Saving the session on every request
    (``SESSION_SAVE_EVERY_REQUEST``) keeps that exact, at the price of an UPDATE and a commit to
    disk on every page and every saved value; refreshed once a minute, a session expires at most
    a minute early. It marks the session modified, which makes ``SessionMiddleware`` save it
    with a new expiry and cookie: so it must come after ``SessionMiddleware`` (its answer is
    handled before).
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        session = getattr(request, "session", None)
        # A session that holds a login: an API client signed in otherwise has none to keep.
        if session is None or session.get(SESSION_KEY) is None:
            return response
        now = time.time()
        refreshed = session.get(REFRESHED_KEY)
        if not isinstance(refreshed, (int, float)) or not (
            0 <= now - refreshed < settings.SESSION_REFRESH_SECONDS
        ):
            session[REFRESHED_KEY] = now
        return response
