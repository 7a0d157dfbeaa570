"""Refresh tokens can be revoked: rotation, logout, password change; a deleted user gets 401."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.django_db

TOKEN = "/api/auth/token/"
REFRESH = "/api/auth/token/refresh/"
LOGOUT = "/api/auth/logout/"
PASSWORD = "correct-horse-42"


@pytest.fixture
def refresh_token(api_client, user):
    response = api_client.post(
        TOKEN, {"username": user.username, "password": PASSWORD}, format="json"
    )
    assert response.status_code == 200
    return response.json()["refresh"]


def refresh(client, token: str):
    return client.post(REFRESH, {"refresh": token}, format="json")


def test_a_refresh_rotates_and_the_used_token_is_refused_after(api_client, refresh_token):
    first = refresh(api_client, refresh_token)
    assert first.status_code == 200 and first.json()["refresh"] != refresh_token
    assert refresh(api_client, refresh_token).status_code == 401
    assert refresh(api_client, first.json()["refresh"]).status_code == 200


def test_logout_blacklists_the_refresh_token(api_client, refresh_token):
    response = api_client.post(LOGOUT, {"refresh": refresh_token}, format="json")
    assert response.status_code == 200
    assert refresh(api_client, refresh_token).status_code == 401


@pytest.mark.parametrize("body", [{}, {"refresh": "garbage"}, {"refresh": ["x"]}, []])
def test_logout_with_a_bad_token_is_a_client_error(api_client, body):
    assert api_client.post(LOGOUT, body, format="json").status_code in (400, 401)


def test_a_password_change_revokes_outstanding_refresh_tokens(api_client, user, refresh_token):
    user.set_password("a-new-password-77")
    user.save()
    assert refresh(api_client, refresh_token).status_code == 401


def test_other_saves_leave_refresh_tokens_alone(api_client, user, refresh_token):
    user.email = "alice@example.com"
    user.save()
    assert refresh(api_client, refresh_token).status_code == 200


def test_a_refresh_for_a_deleted_user_is_401(api_client, user, refresh_token):
    user.delete()
    response = refresh(api_client, refresh_token)
    assert response.status_code == 401


def test_a_refresh_for_a_deactivated_user_is_401(api_client, user, refresh_token):
    user.is_active = False
    user.save()
    assert refresh(api_client, refresh_token).status_code == 401
