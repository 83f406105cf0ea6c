"""Test set-up shared by the whole suite."""

import os

import pytest

# Playwright's sync API runs an event loop in the test thread; without this Django refuses
# database access from it (SynchronousOnlyOperation).
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    return {
        **browser_type_launch_args,
        "executable_path": CHROMIUM,
        "args": [
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
        ],
    }


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    """Every test makes its users with a password: a slow hasher would dominate the run."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def no_statistics_cached_before():
    """Each test starts with no dashboard statistics kept from an earlier one."""
    from django.core.cache import caches

    caches["statistics"].clear()
