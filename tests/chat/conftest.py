from __future__ import annotations

import itertools
from datetime import timedelta

import pytest
from django.utils import timezone

from chat.models import ChatMessage


@pytest.fixture
def make_message(make_user):
    """``make_message(stream, text, user=None, at=None)``; by default each is 1s newer."""
    clock = itertools.count()
    start = timezone.now() - timedelta(days=1)

    def make(stream, text: str = "hello", *, user=None, at=None) -> ChatMessage:
        return ChatMessage.objects.create(
            stream=stream,
            user=user or make_user(),
            text=text,
            created_at=at or start + timedelta(seconds=next(clock)),
        )

    return make
