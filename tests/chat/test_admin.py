"""The chat admin: moderators find messages and remove them (never add or bulk-delete)."""

from __future__ import annotations

import pytest
from django.urls import reverse

from audit.models import ModerationRecord
from chat.models import ChatMessage
from chat.services import REMOVE_MESSAGE

pytestmark = pytest.mark.django_db

CHANGELIST = reverse("admin:chat_chatmessage_changelist")


@pytest.fixture
def moderator(client, staff):
    client.force_login(staff)
    return client


def test_changelist_search_and_filter(moderator, make_stream, make_message, make_user):
    first, second = make_stream(title="First"), make_stream(title="Second")
    make_message(first, "hello from carol", user=make_user("carol"))
    make_message(second, "buy cheap stuff", user=make_user("dave"))
    page = moderator.get(CHANGELIST)
    assert page.status_code == 200
    content = page.content.decode()
    assert "hello from carol" in content and "buy cheap stuff" in content
    assert "delete_selected" not in content and "remove_messages" in content

    by_text = moderator.get(CHANGELIST, {"q": "cheap"}).content.decode()
    assert "buy cheap stuff" in by_text and "hello from carol" not in by_text
    by_user = moderator.get(CHANGELIST, {"q": "carol"}).content.decode()
    assert "hello from carol" in by_user and "buy cheap stuff" not in by_user
    by_stream = moderator.get(CHANGELIST, {"stream__id__exact": str(second.pk)}).content.decode()
    assert "buy cheap stuff" in by_stream and "hello from carol" not in by_stream


def test_change_page_is_read_only_and_adding_is_off(moderator, make_stream, make_message):
    message = make_message(make_stream(), "look but do not touch")
    response = moderator.get(reverse("admin:chat_chatmessage_change", args=[message.pk]))
    assert response.status_code == 200
    assert "look but do not touch" in response.content.decode()
    assert 'name="text"' not in response.content.decode()
    assert moderator.get(reverse("admin:chat_chatmessage_add")).status_code == 403


def test_remove_action(
    moderator, make_stream, make_message, staff, monkeypatch, django_capture_on_commit_callbacks
):
    emitted = []
    monkeypatch.setattr(
        "chat.services.emit_to_room_sync", lambda room, event, data: emitted.append((event, data))
    )
    stream = make_stream()
    spam, fine = make_message(stream, "spam"), make_message(stream, "fine")
    with django_capture_on_commit_callbacks(execute=True):
        response = moderator.post(
            CHANGELIST, {"action": "remove_messages", "_selected_action": [spam.pk]}
        )
    assert response.status_code == 302
    spam.refresh_from_db()
    fine.refresh_from_db()
    assert spam.removed_by == staff and fine.removed_at is None
    assert emitted == [("message_deleted", {"streamId": str(stream.pk), "messageId": str(spam.pk)})]
    assert list(ChatMessage.objects.visible()) == [fine]
    assert "Removed 1 message" in moderator.get(CHANGELIST).content.decode()


def test_per_object_delete_removes_through_the_service_and_is_audited(
    moderator, make_stream, make_message, staff, monkeypatch, django_capture_on_commit_callbacks
):
    emitted, invalidated = [], []
    monkeypatch.setattr(
        "chat.services.emit_to_room_sync", lambda room, event, data: emitted.append((event, data))
    )
    monkeypatch.setattr("chat.history.invalidate", invalidated.append)
    stream = make_stream()
    spam = make_message(stream, "delete me")
    with django_capture_on_commit_callbacks(execute=True):
        response = moderator.post(
            reverse("admin:chat_chatmessage_delete", args=[spam.pk]),
            {"post": "yes"},
            REMOTE_ADDR="203.0.113.9",
        )
    assert response.status_code == 302
    spam.refresh_from_db()  # kept, as removed
    assert spam.removed_by == staff
    assert emitted == [("message_deleted", {"streamId": str(stream.pk), "messageId": str(spam.pk)})]
    assert invalidated == [str(stream.pk)]
    record = ModerationRecord.objects.get()
    assert (record.action, record.target_id, record.client_address, record.actor) == (
        REMOVE_MESSAGE,
        str(spam.pk),
        "203.0.113.9",
        staff,
    )
