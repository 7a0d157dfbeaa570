"""The per-message check costs no database query; a change is seen on the next message."""

from __future__ import annotations

import pytest
from asgiref.sync import sync_to_async

from chat.limits import Refused
from moderation import hotpath, services

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def loads(monkeypatch):
    """How often the hot path read the database (stream state, blocked terms)."""
    counts = {"state": 0, "terms": 0}

    def counting(name, load):
        async def wrapped(stream_id):
            counts[name] += 1
            return await load(stream_id)

        return wrapped

    monkeypatch.setattr(hotpath, "_load_state", counting("state", hotpath._load_state))
    monkeypatch.setattr(hotpath, "_load_terms", counting("terms", hotpath._load_terms))
    monkeypatch.setattr(hotpath, "_matchers", hotpath._Matchers())
    return counts


async def test_messages_after_the_first_read_no_database(make_stream, make_user, loads):
    stream, user = make_stream(), make_user()
    for n in range(20):
        await hotpath.admit(
            user_id=str(user.pk), stream_id=str(stream.pk), text=f"hi {n}", site_moderator=False
        )
    assert loads == {"state": 1, "terms": 1}


async def test_a_change_is_read_once_then_cached_again(make_stream, make_user, staff, loads):
    stream, user = make_stream(), make_user()
    ids = {"user_id": str(user.pk), "stream_id": str(stream.pk), "site_moderator": False}
    await hotpath.admit(text="warm", **ids)
    await sync_to_async(services.blocked_term_add)(term="nope", by=staff)
    await sync_to_async(services.user_restrict)(stream=stream, user=user, by=staff, seconds=60)
    with pytest.raises(Refused, match="You are timed out for 60 more seconds"):
        await hotpath.admit(text="again", **ids)
    with pytest.raises(Refused, match="You are timed out"):
        await hotpath.admit(text="nope", **ids)
    assert loads == {"state": 2, "terms": 2}
