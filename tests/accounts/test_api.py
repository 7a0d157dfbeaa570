"""Registration and JWT tokens: ``/api/auth/register/``, ``/api/auth/token/[refresh/]``."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.core.cache import cache
from rest_framework.throttling import ScopedRateThrottle

pytestmark = pytest.mark.django_db

REGISTER = "/api/auth/register/"
TOKEN = "/api/auth/token/"
REFRESH = "/api/auth/token/refresh/"
GOOD_PASSWORD = "orbit-velvet-93"


def register(client, **data):
    return client.post(REGISTER, data, format="json")


class TestRegister:
    def test_creates_an_ordinary_user(self, api_client):
        response = register(api_client, username="carol", password=GOOD_PASSWORD, email="c@x.io")
        assert response.status_code == 201
        carol = get_user_model().objects.get(username="carol")
        assert response.json() == {"id": str(carol.pk), "username": "carol"}
        assert carol.check_password(GOOD_PASSWORD) and carol.email == "c@x.io"
        assert not carol.is_staff and not carol.is_superuser

    def test_email_is_optional(self, api_client):
        assert register(api_client, username="dan", password=GOOD_PASSWORD).status_code == 201

    def test_duplicate_username_is_400(self, api_client, user):
        response = register(api_client, username=user.username, password=GOOD_PASSWORD)
        assert response.status_code == 400
        assert "username" in response.json()

    @pytest.mark.parametrize(
        "password",
        ["short1", "password123", "1234567890", "erinerin-erin"],
        ids=["too-short", "common", "numeric", "like-the-username"],
    )
    def test_password_validators_run(self, api_client, password):
        response = register(api_client, username="erinerin", password=password)
        assert response.status_code == 400
        assert response.json()["password"]
        assert not get_user_model().objects.filter(username="erinerin").exists()

    @pytest.mark.parametrize(
        "data",
        [
            {},
            {"username": "frank"},
            {"password": GOOD_PASSWORD},
            {"username": "bad name!", "password": GOOD_PASSWORD},
            {"username": "frank", "password": GOOD_PASSWORD, "email": "not-an-email"},
        ],
    )
    def test_invalid_input_is_400(self, api_client, data):
        assert register(api_client, **data).status_code == 400

    def test_ignores_attempts_to_become_staff(self, api_client):
        register(api_client, username="gina", password=GOOD_PASSWORD, is_staff=True)
        assert not get_user_model().objects.get(username="gina").is_staff

    def test_a_stale_token_does_not_block_registration(self, api_client):
        api_client.credentials(HTTP_AUTHORIZATION="Bearer expired.or.bogus")
        assert register(api_client, username="hal", password=GOOD_PASSWORD).status_code == 201


class TestTokens:
    def test_obtain_and_use_a_token(self, api_client, user):
        response = api_client.post(
            TOKEN, {"username": "alice", "password": "correct-horse-42"}, format="json"
        )
        assert response.status_code == 200
        tokens = response.json()
        assert set(tokens) == {"access", "refresh"}
        api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {tokens['access']}")
        assert api_client.get("/api/notifications/").status_code == 200

    def test_wrong_password_is_401(self, api_client, user):
        response = api_client.post(TOKEN, {"username": "alice", "password": "nope"}, format="json")
        assert response.status_code == 401

    def test_refresh(self, api_client, user):
        refresh = api_client.post(
            TOKEN, {"username": "alice", "password": "correct-horse-42"}, format="json"
        ).json()["refresh"]
        response = api_client.post(REFRESH, {"refresh": refresh}, format="json")
        assert response.status_code == 200
        assert set(response.json()) == {"access", "refresh"}  # rotated

    def test_bad_refresh_is_401(self, api_client):
        assert api_client.post(REFRESH, {"refresh": "garbage"}, format="json").status_code == 401


class TestThrottle:
    @pytest.fixture(autouse=True)
    def two_per_minute(self, monkeypatch):
        monkeypatch.setattr(ScopedRateThrottle, "THROTTLE_RATES", {"auth": "2/min"})
        cache.clear()
        yield
        cache.clear()

    @pytest.mark.parametrize("url", [REGISTER, TOKEN, REFRESH])
    def test_auth_endpoints_share_the_auth_scope(self, api_client, url):
        statuses = [api_client.post(url, {}, format="json").status_code for _ in range(3)]
        assert 429 not in statuses[:2] and statuses[2] == 429

    def test_one_budget_for_all_auth_endpoints(self, api_client):
        urls = (REGISTER, TOKEN, REFRESH)
        statuses = [api_client.post(url, {}, format="json").status_code for url in urls]
        assert statuses == [400, 400, 429]

    def test_other_endpoints_are_not_throttled(self, api_client):
        assert {api_client.get("/api/streams/").status_code for _ in range(5)} == {200}
