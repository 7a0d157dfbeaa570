"""The admin's moderation pages go through the services: checked, audited, live at once."""

from __future__ import annotations

import pytest
from asgiref.sync import async_to_sync
from django.contrib.auth.models import Permission
from django.urls import reverse

from audit.models import ModerationRecord
from chat.limits import Refused
from moderation import hotpath
from moderation.models import BlockedTerm, ChatBan

pytestmark = pytest.mark.django_db(transaction=True)
ADDRESS = "203.0.113.77"


def admit(user, stream, text="hello") -> str | None:
    """The hot path's answer for one message: None if admitted, else the refusal."""
    try:
        async_to_sync(hotpath.admit)(
            user_id=str(user.pk), stream_id=str(stream.pk), text=text, site_moderator=False
        )
    except Refused as exc:
        return exc.reason
    return None


def test_a_ban_added_and_deleted_in_the_admin_is_live_and_audited(
    client, staff, make_user, make_stream
):
    stream, viewer = make_stream(), make_user()
    client.force_login(staff)
    response = client.post(
        reverse("admin:moderation_chatban_add"),
        {"stream": stream.pk, "user": viewer.pk, "seconds": "", "reason": "abuse"},
        REMOTE_ADDR=ADDRESS,
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    assert admit(viewer, stream) == "You are banned from this chat"
    ban = ChatBan.objects.get()
    response = client.post(
        reverse("admin:moderation_chatban_delete", args=[ban.pk]), {"post": "yes"},
        REMOTE_ADDR=ADDRESS,
    )  # fmt: skip
    assert response.status_code == 302
    assert admit(viewer, stream) is None
    records = ModerationRecord.objects.order_by("id")
    assert [(r.action, r.client_address, r.actor_name) for r in records] == [
        ("ban user", ADDRESS, staff.username),
        ("unban user", ADDRESS, staff.username),
    ]


def test_a_site_wide_term_from_the_admin_applies_to_every_stream(
    client, staff, make_user, make_stream
):
    stream, viewer = make_stream(), make_user()
    assert admit(viewer, stream, "ｆｏｒｂｉｄｄｅｎ") is None
    client.force_login(staff)
    response = client.post(
        reverse("admin:moderation_blockedterm_add"), {"term": "forbidden", "stream": ""}
    )
    assert response.status_code == 302
    assert BlockedTerm.objects.get().stream is None
    assert admit(viewer, stream, "ｆｏｒｂｉｄｄｅｎ") == "Your message contains a blocked term"
    assert ModerationRecord.objects.get().action == "add blocked term"


def test_staff_without_the_moderation_permission_cannot_add_a_site_wide_term(client, make_user):
    clerk = make_user(is_staff=True)
    clerk.user_permissions.add(Permission.objects.get(codename="add_blockedterm"))
    client.force_login(clerk)
    response = client.post(reverse("admin:moderation_blockedterm_add"), {"term": "x", "stream": ""})
    assert response.status_code == 403
    assert not BlockedTerm.objects.exists()


def test_the_audit_trail_shows_a_moderator_only_their_streams(client, make_user, make_stream):
    from moderation import services

    owner, other_owner, viewer = make_user(), make_user(), make_user("someone")
    mine, theirs = make_stream(streamer=owner), make_stream(streamer=other_owner)
    services.user_restrict(stream=mine, user=viewer, by=owner, seconds=5, reason="mine-reason")
    services.user_restrict(stream=theirs, user=viewer, by=other_owner, seconds=5, reason="theirs")
    owner.is_staff = True
    owner.save()
    owner.user_permissions.add(Permission.objects.get(codename="view_moderationrecord"))
    client.force_login(owner)
    page = client.get(reverse("admin:audit_moderationrecord_changelist")).content.decode()
    assert "mine-reason" in page and "theirs" not in page
