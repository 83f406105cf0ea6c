"""Who may open and use each studies page: outsiders get 404, members without the right 403,
and a technician of a blinded study never sees a group's code or name."""

from __future__ import annotations

import pytest
from django.urls import reverse
from django.utils import timezone

from studies.models import Animal, BodyWeight, DoseRecord, Membership, Study
from tests.factories import add_schedule


def _pages(study: Study) -> dict[str, tuple[str, str, dict]]:
    """Each studies page of ``study``: (method, url, data)."""
    animal = study.animals.first()
    schedule = study.schedules.first()
    slug = study.slug
    return {
        "detail": ("get", reverse("studies:detail", args=[slug]), {}),
        "edit": ("get", reverse("studies:edit", args=[slug]), {}),
        "edit-post": ("post", reverse("studies:edit", args=[slug]), {"title": "x", "version": 1}),
        "add-group": (
            "post",
            reverse("studies:design_item_add", args=[slug, "group"]),
            {"group-code": "NEW", "group-name": "New"},
        ),
        "stock": (
            "post",
            reverse("studies:schedule_stock", args=[slug, schedule.pk]),
            {f"stock{schedule.pk}-stock_concentration": "10"},
        ),
        "members": ("get", reverse("studies:members", args=[slug]), {}),
        "members-post": (
            "post",
            reverse("studies:members", args=[slug]),
            {"username": "eve", "role": "pi"},
        ),
        "animals": ("get", reverse("studies:animals", args=[slug]), {}),
        "animals-post": ("post", reverse("studies:animals", args=[slug]), {"text": "Z9"}),
        "animal-status": (
            "post",
            reverse("studies:animal_status", args=[slug, animal.pk]),
            {"status": "dead", "reason": "x"},
        ),
        "allocate": ("get", reverse("studies:allocate", args=[slug]), {}),
        "allocate-post": (
            "post",
            reverse("studies:allocate", args=[slug]),
            {"seed": 1, "balance_on": "weight"},
        ),
        "status": ("post", reverse("studies:status", args=[slug]), {"status": "locked"}),
        "dose": (
            "post",
            reverse("studies:dose_record", args=[slug]),
            {"schedule": schedule.pk, "animal": animal.pk, "day": 0, "status": "given"},
        ),
        "weight": (
            "post",
            reverse("studies:weight_record", args=[slug]),
            {"animal": animal.pk, "grams": 250},
        ),
    }


PI_ONLY = [
    "edit",
    "edit-post",
    "add-group",
    "stock",
    "members",
    "members-post",
    "animals",
    "animals-post",
    "animal-status",
    "allocate",
    "allocate-post",
    "status",
]
RECORDING = ["dose", "weight"]


@pytest.fixture
def dosed_study(study):
    add_schedule(study, "VEH", "saline", dose=5, unit="mL/kg", days=[0])
    return study


def _request(client, method: str, url: str, data: dict):
    return client.get(url) if method == "get" else client.post(url, data)


def _unchanged(study: Study) -> None:
    """Nothing an outsider or a member without the right sent was written."""
    fresh = Study.objects.get(pk=study.pk)
    assert not fresh.is_locked and fresh.version == 1
    assert not Animal.objects.filter(code="Z9").exists()
    assert not study.groups.filter(code="NEW").exists()
    assert not Membership.objects.filter(study=study, role="pi").exclude(user__username="alice")
    assert not DoseRecord.objects.exists() and not BodyWeight.objects.exists()
    assert not study.schedules.filter(stock_concentration=10).exists()
    assert not Animal.objects.filter(study=study, status="dead").exists()


@pytest.mark.parametrize("page", ["detail", *PI_ONLY, *RECORDING])
def test_an_outsider_gets_not_found_on_every_page_of_a_study(client, eve, dosed_study, page):
    client.force_login(eve)
    method, url, data = _pages(dosed_study)[page]
    assert _request(client, method, url, data).status_code == 404
    _unchanged(dosed_study)


@pytest.mark.parametrize("user", ["bob", "dave"])
@pytest.mark.parametrize("page", PI_ONLY)
def test_a_technician_or_viewer_is_refused_the_pis_pages(client, request, dosed_study, user, page):
    client.force_login(request.getfixturevalue(user))
    method, url, data = _pages(dosed_study)[page]
    assert _request(client, method, url, data).status_code == 403
    _unchanged(dosed_study)


@pytest.mark.parametrize("page", RECORDING)
def test_a_viewer_cannot_record_doses_or_weights(client, dave, dosed_study, page):
    client.force_login(dave)
    method, url, data = _pages(dosed_study)[page]
    assert _request(client, method, url, data).status_code == 403
    _unchanged(dosed_study)


def test_a_technician_records_doses_and_weights(client, bob, dosed_study):
    client.force_login(bob)
    pages = _pages(dosed_study)
    for page in RECORDING:
        method, url, data = pages[page]
        assert _request(client, method, url, data).status_code == 302
    assert DoseRecord.objects.count() == 1 and BodyWeight.objects.count() == 1


def test_staff_may_open_the_pis_pages_of_any_study(client, root, dosed_study):
    client.force_login(root)
    for page in ("edit", "members", "animals", "allocate"):
        method, url, data = _pages(dosed_study)[page]
        assert _request(client, method, url, data).status_code == 200


# --- blinding ---------------------------------------------------------------------------------

REVEALING = ["VEH", "PTX-SAL", "PTX-IVIG", "PTX + SAL", "PTX + IVIG", "IVIg", "saline"]


@pytest.fixture
def blinded_today(blinded_study):
    blinded_study.day0 = timezone.localdate()
    blinded_study.save(update_fields=["day0"])
    add_schedule(blinded_study, "PTX-IVIG", "IVIg", stock_concentration=50, days=[0, 7])
    add_schedule(blinded_study, "PTX-SAL", "saline", dose=5, unit="mL/kg", days=[0, 7])
    for animal in blinded_study.animals.all():
        BodyWeight.objects.create(animal=animal, date=timezone.localdate(), grams=250)
    return blinded_study


@pytest.mark.parametrize("url_name", ["studies:detail", "studies:today", "studies:list"])
def test_a_technician_of_a_blinded_study_sees_no_group_code_or_name(
    client, bob, blinded_today, url_name
):
    client.force_login(bob)
    url = reverse(url_name, args=[blinded_today.slug] if url_name == "studies:detail" else [])
    html = client.get(url).content.decode()
    for text in REVEALING:
        assert text not in html, f"{text!r} is on {url}"
    if url_name != "studies:list":
        assert "Group B" in html or "Group C" in html  # the coded labels are there instead


def test_the_pi_of_a_blinded_study_sees_the_groups(client, alice, blinded_today):
    client.force_login(alice)
    html = client.get(reverse("studies:detail", args=[blinded_today.slug])).content.decode()
    assert "PTX-IVIG" in html and "IVIg" in html
