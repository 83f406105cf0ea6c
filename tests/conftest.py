"""Users whose access differs, as in every permission test:

- alice: PI of the study under test;
- bob and carol: its technicians (two experimenters for double entry);
- dave: a viewer of it;
- eve: a user with no role in it;
- root: staff.
"""

import pytest

from tests.factories import make_study, make_user


@pytest.fixture
def alice(db):
    return make_user("alice")


@pytest.fixture
def bob(db):
    return make_user("bob")


@pytest.fixture
def carol(db):
    return make_user("carol")


@pytest.fixture
def dave(db):
    return make_user("dave")


@pytest.fixture
def eve(db):
    return make_user("eve")


@pytest.fixture
def root(db):
    return make_user("root", staff=True)


@pytest.fixture
def study(alice, bob, carol, dave):
    """An open (unblinded) rat study: three groups of three, baseline and week 3."""
    return make_study(
        slug="rat-ptx",
        members={alice: "pi", bob: "technician", carol: "technician", dave: "viewer"},
    )


@pytest.fixture
def blinded_study(alice, bob, carol, dave):
    return make_study(
        slug="rat-blind",
        blinded=True,
        members={alice: "pi", bob: "technician", carol: "technician", dave: "viewer"},
    )
