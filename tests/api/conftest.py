"""Fixtures of the REST API tests: an API client per user of tests/conftest.py."""

import pytest
from rest_framework.test import APIClient


@pytest.fixture
def api():
    """A client that sends and reads JSON; ``api.as_user(user)`` logs in through a session."""
    client = APIClient()

    def as_user(user):
        client.force_login(user)
        return client

    client.as_user = as_user
    return client


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    """The users of every test are made with a password: a slow hasher would dominate the run."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
