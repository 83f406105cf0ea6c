"""Logging in and out, the lock after repeated failures, and the admin for staff only."""

from django.urls import reverse

from tests.factories import PASSWORD


def test_it_logs_a_user_in_and_out(client, alice):
    response = client.post(reverse("login"), {"username": "alice", "password": PASSWORD})
    assert response.status_code == 302
    assert client.session.get("_auth_user_id") == str(alice.pk)

    response = client.post(reverse("logout"))
    assert response.status_code == 302
    assert "_auth_user_id" not in client.session


def test_it_refuses_a_wrong_password_with_a_message(client, alice):
    response = client.post(reverse("login"), {"username": "alice", "password": "wrong"})
    assert response.status_code == 200
    assert "Please enter a correct username and password" in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_it_locks_an_account_after_five_failed_logins(client, alice, settings):
    for _ in range(settings.AXES_FAILURE_LIMIT):
        client.post(reverse("login"), {"username": "alice", "password": "wrong"})

    response = client.post(reverse("login"), {"username": "alice", "password": PASSWORD})

    assert response.status_code == 429
    assert "Too many failed logins for this account" in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_pages_need_a_login(client, db):
    response = client.get(reverse("studies:today"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_the_admin_refuses_a_user_who_is_not_staff(client, alice):
    client.force_login(alice)
    response = client.get(reverse("admin:index"))
    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]


def test_the_admin_opens_for_staff(client, root):
    client.force_login(root)
    assert client.get(reverse("admin:index")).status_code == 200


def test_forms_carry_a_csrf_token(client, db):
    response = client.get(reverse("login"))
    assert 'name="csrfmiddlewaretoken"' in response.content.decode()
