"""Fixtures shared by the whole suite: users, tokens and streams."""

from __future__ import annotations

import itertools

import pytest
from django.contrib.auth import get_user_model
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import AccessToken

from streams.models import Stream

_names = itertools.count(1)


@pytest.fixture
def make_user(db):
    def make(username: str | None = None, *, password: str = "correct-horse-42", **extra):
        username = username or f"user{next(_names)}"
        return get_user_model().objects.create_user(username=username, password=password, **extra)

    return make


@pytest.fixture
def user(make_user):
    return make_user("alice")


@pytest.fixture
def staff(make_user):
    return make_user("moderator", is_staff=True, is_superuser=True)


@pytest.fixture
def token_for():
    def token(user) -> str:
        return str(AccessToken.for_user(user))

    return token


@pytest.fixture
def make_stream(make_user):
    def make(*, streamer=None, title: str = "Live coding", live: bool = True) -> Stream:
        stream = Stream.objects.create(streamer=streamer or make_user(), title=title)
        if live:
            stream.start()
        return stream

    return make


@pytest.fixture
def api_client() -> APIClient:
    return APIClient()
