"""Writing streams. Going live and ending are :meth:`Stream.start` and :meth:`Stream.end`."""

from __future__ import annotations

from django.contrib.auth.base_user import AbstractBaseUser

from streams.models import Stream


def stream_create(*, streamer: AbstractBaseUser, title: str) -> Stream:
    """A new idle stream owned by ``streamer``, with a fresh stream key."""
    return Stream.objects.create(streamer=streamer, title=title)
