"""``chat_messages_remove``: removed once, announced to the stream's room after commit."""

from __future__ import annotations

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from django.db import transaction

from chat.models import ChatMessage
from chat.services import chat_messages_remove
from tests.support import room_listener


@pytest.fixture
def announced(monkeypatch):
    """What the service announces, in order: ("invalidate", stream) and ("emit", room, ...)."""
    calls: list[tuple] = []
    monkeypatch.setattr(
        "chat.services.emit_to_room_sync",
        lambda room, event, data: calls.append(("emit", room, event, data)),
    )
    monkeypatch.setattr(
        "chat.history.invalidate", lambda stream_id: calls.append(("invalidate", stream_id))
    )
    return calls


@pytest.mark.django_db
class TestRemove:
    def test_marks_messages_removed_by_the_moderator(self, make_stream, make_message, staff):
        stream = make_stream()
        spam, kept = make_message(stream, "spam"), make_message(stream, "fine")
        assert chat_messages_remove(messages=ChatMessage.objects.filter(pk=spam.pk), by=staff) == 1
        spam.refresh_from_db()
        kept.refresh_from_db()
        assert spam.removed_at is not None and spam.removed_by == staff
        assert kept.removed_at is None
        assert list(ChatMessage.objects.visible()) == [kept]

    def test_already_removed_messages_are_not_counted_again(
        self, make_stream, make_message, staff, make_user
    ):
        stream = make_stream()
        first, _second = make_message(stream), make_message(stream)
        chat_messages_remove(messages=ChatMessage.objects.filter(pk=first.pk), by=staff)
        other_moderator = make_user(is_staff=True)
        assert chat_messages_remove(messages=ChatMessage.objects.all(), by=other_moderator) == 1
        first.refresh_from_db()
        assert first.removed_by == staff
        assert chat_messages_remove(messages=ChatMessage.objects.all(), by=staff) == 0

    def test_announces_after_commit_cache_first(
        self, make_stream, make_message, staff, announced, django_capture_on_commit_callbacks
    ):
        one, two = make_stream(), make_stream()
        a, b, c = make_message(one), make_message(one), make_message(two)
        with django_capture_on_commit_callbacks() as callbacks:
            assert chat_messages_remove(messages=ChatMessage.objects.all(), by=staff) == 3
        assert announced == []
        for callback in callbacks:
            callback()
        one_id, two_id = str(one.pk), str(two.pk)
        expected = [
            ("invalidate", one_id),
            ("emit", one_id, "message_deleted", {"streamId": one_id, "messageId": str(a.pk)}),
            ("emit", one_id, "message_deleted", {"streamId": one_id, "messageId": str(b.pk)}),
            ("invalidate", two_id),
            ("emit", two_id, "message_deleted", {"streamId": two_id, "messageId": str(c.pk)}),
        ]
        assert announced == expected

    def test_nothing_to_remove_announces_nothing(
        self, make_stream, staff, announced, django_capture_on_commit_callbacks
    ):
        with django_capture_on_commit_callbacks(execute=True):
            assert chat_messages_remove(messages=ChatMessage.objects.all(), by=staff) == 0
        assert announced == []

    def test_works_on_querysets_the_admin_builds(self, make_stream, make_message, staff):
        stream = make_stream()
        make_message(stream, "spam one")
        make_message(stream, "spam two")
        queryset = (
            ChatMessage.objects.select_related("user", "stream", "removed_by")
            .filter(text__startswith="spam")
            .distinct()
            .order_by("-created_at")
        )
        assert chat_messages_remove(messages=queryset, by=staff) == 2


@pytest.mark.django_db(transaction=True)
class TestBroadcast:
    def test_viewers_get_message_deleted(self, make_stream, make_message, staff):
        stream = make_stream()
        spam = make_message(stream, "spam")

        async def scenario():
            async with room_listener(str(stream.pk)) as receive:
                # sync_to_async inside async_to_sync: the ORM stays on this test's thread.
                removed = await sync_to_async(chat_messages_remove)(
                    messages=ChatMessage.objects.filter(pk=spam.pk), by=staff
                )
                return removed, await receive()

        assert async_to_sync(scenario)() == (
            1,
            ("message_deleted", {"streamId": str(stream.pk), "messageId": str(spam.pk)}),
        )

    def test_rolled_back_removal_is_not_announced(
        self, make_stream, make_message, staff, announced
    ):
        stream = make_stream()
        spam = make_message(stream)
        with pytest.raises(RuntimeError), transaction.atomic():
            chat_messages_remove(messages=ChatMessage.objects.all(), by=staff)
            raise RuntimeError("abort")
        spam.refresh_from_db()
        assert spam.removed_at is None
        assert announced == []

    def test_redis_failure_does_not_undo_the_removal(
        self, make_stream, make_message, staff, monkeypatch
    ):
        def down(*args, **kwargs):
            raise ConnectionError("redis is down")

        monkeypatch.setattr("chat.services.emit_to_room_sync", down)
        stream = make_stream()
        spam = make_message(stream)
        assert chat_messages_remove(messages=ChatMessage.objects.all(), by=staff) == 1
        spam.refresh_from_db()
        assert spam.removed_at is not None
