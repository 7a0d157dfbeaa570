"""Moderating streams takes the ``streams.moderate_stream`` permission (REST, socket, admin),
and every moderation action is in the audit trail with the client's address."""

from __future__ import annotations

import pytest
from asgiref.sync import sync_to_async
from django.contrib.auth.models import Permission
from django.urls import reverse

from audit.models import ModerationRecord
from streams.admin import MODERATOR_END_REASON
from streams.models import END_STREAM, REGENERATE_KEY, Stream
from streams.receivers import DELETED_END_MESSAGE
from tests.support import api_client_for

pytestmark = pytest.mark.django_db

CHANGELIST = reverse("admin:streams_stream_changelist")


def grant(user, codename: str) -> None:
    user.user_permissions.add(Permission.objects.get(codename=codename))


@pytest.fixture
def plain_staff(make_user):
    """Staff who may use the admin and edit streams, but not moderate them."""
    staff = make_user(is_staff=True)
    for codename in ("view_stream", "change_stream", "delete_stream"):
        grant(staff, codename)
    return staff


@pytest.fixture
def moderator(make_user):
    moderator = make_user(is_staff=True)
    for codename in ("view_stream", "change_stream", "moderate_stream"):
        grant(moderator, codename)
    return moderator


def end_over_rest(user, stream, address: str):
    return api_client_for(user).post(
        f"/api/streams/{stream.pk}/end/", {"reason": "rules"}, format="json", REMOTE_ADDR=address
    )


def test_rest_staff_without_the_permission_cannot_end_or_see_the_key(plain_staff, make_stream):
    stream = make_stream()
    assert end_over_rest(plain_staff, stream, "192.0.2.10").status_code == 403
    assert Stream.objects.get(pk=stream.pk).is_live
    shown = api_client_for(plain_staff).get(f"/api/streams/{stream.pk}/").json()
    assert shown.get("stream_key") is None
    assert not ModerationRecord.objects.exists()


def test_rest_moderator_ends_a_stream_and_it_is_audited(moderator, make_stream):
    stream = make_stream()
    assert api_client_for(moderator).get(f"/api/streams/{stream.pk}/").json()["stream_key"]
    assert end_over_rest(moderator, stream, "192.0.2.20").status_code == 200
    record = ModerationRecord.objects.get()
    assert (record.actor, record.action, record.target_id, record.client_address) == (
        moderator,
        END_STREAM,
        str(stream.pk),
        "192.0.2.20",
    )
    assert record.detail == "rules"


def test_a_streamer_ending_their_own_stream_is_no_moderation(make_stream):
    stream = make_stream()
    assert end_over_rest(stream.streamer, stream, "192.0.2.30").status_code == 200
    assert not ModerationRecord.objects.exists()


def run_action(client, action: str, streams, address: str = "198.51.100.5"):
    return client.post(
        CHANGELIST,
        {"action": action, "_selected_action": [str(s.pk) for s in streams]},
        REMOTE_ADDR=address,
    )


def test_admin_actions_need_the_permission(client, plain_staff, make_stream):
    stream = make_stream()
    key = stream.stream_key
    client.force_login(plain_staff)
    page = client.get(CHANGELIST).content.decode()
    assert "end_streams" not in page and "regenerate_keys" not in page
    run_action(client, "end_streams", [stream])
    run_action(client, "regenerate_keys", [stream])
    stream.refresh_from_db()
    assert stream.is_live and stream.stream_key == key
    change = client.get(reverse("admin:streams_stream_change", args=[stream.pk]))
    assert change.status_code == 200 and key not in change.content.decode()


def test_admin_actions_are_audited_with_the_client_address(client, moderator, make_stream):
    stream = make_stream()
    client.force_login(moderator)
    assert run_action(client, "end_streams", [stream]).status_code == 302
    assert run_action(client, "regenerate_keys", [stream]).status_code == 302
    records = {r.action: r for r in ModerationRecord.objects.all()}
    assert set(records) == {END_STREAM, REGENERATE_KEY}
    assert records[END_STREAM].detail == MODERATOR_END_REASON
    assert {r.client_address for r in records.values()} == {"198.51.100.5"}
    assert {r.actor_name for r in records.values()} == {moderator.username}


def test_audit_trail_is_visible_read_only_in_the_admin(client, staff, moderator, make_stream):
    stream = make_stream()
    end_over_rest(moderator, stream, "192.0.2.44")
    client.force_login(staff)
    page = client.get(reverse("admin:audit_moderationrecord_changelist")).content.decode()
    assert "192.0.2.44" in page and moderator.username in page
    record = ModerationRecord.objects.get()
    assert (
        client.get(reverse("admin:audit_moderationrecord_delete", args=[record.pk])).status_code
        == 403
    )
    assert client.get(reverse("admin:audit_moderationrecord_add")).status_code == 403


def test_deleting_a_live_stream_ends_it_first(
    client, staff, make_stream, ended_signals, django_capture_on_commit_callbacks
):
    stream = make_stream()
    client.force_login(staff)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("admin:streams_stream_delete", args=[stream.pk]), {"post": "yes"}
        )
    assert response.status_code == 302
    assert not Stream.objects.filter(pk=stream.pk).exists()
    assert ended_signals == [(str(stream.pk), DELETED_END_MESSAGE)]


@pytest.mark.django_db(transaction=True)
async def test_socket_stream_key_follows_the_permission(server, connect, make_user, make_stream):
    stream = make_stream()
    staff_only, moderator = make_user(is_staff=True), make_user()
    await sync_to_async(grant)(moderator, "moderate_stream")  # not even staff: the permission
    replies = {}
    for name, user in (("staff_only", staff_only), ("moderator", moderator)):
        client = await connect(server, user)
        replies[name] = await client.call("join_stream_room", {"streamId": str(stream.pk)})
    assert replies["staff_only"]["streamKeyForDev"] is None
    assert replies["moderator"]["streamKeyForDev"] == stream.stream_key
