"""Moderation over the socket: each action, its broadcast, its refusals, its audit record."""

from __future__ import annotations

import asyncio

import pytest
from asgiref.sync import sync_to_async

from audit.models import ModerationRecord
from chat.models import ChatMessage
from moderation import services
from tests.moderation.conftest import say

pytestmark = pytest.mark.django_db(transaction=True)

NOT_A_MODERATOR = "You are not a moderator of this stream"


@pytest.mark.parametrize(
    ("event", "extra"),
    [
        ("moderation_timeout_user", {"userId": "USER", "seconds": 30}),
        ("moderation_ban_user", {"userId": "USER"}),
        ("moderation_unban_user", {"userId": "USER"}),
        ("moderation_delete_message", {"messageId": 1}),
        ("moderation_clear_chat", {}),
        ("moderation_set_slow_mode", {"seconds": 5}),
    ],
)
async def test_a_viewer_who_is_not_a_moderator_is_refused(channel, make_user, event, extra):
    viewer, target = make_user(), make_user()
    client = await channel(viewer)
    payload = {"streamId": channel.sid, **extra}
    if payload.get("userId") == "USER":
        payload["userId"] = str(target.pk)
    mark = client.mark()
    ack = await client.call(event, payload)
    assert ack == {"ok": False, "message": NOT_A_MODERATOR}
    error = await client.wait_for("moderation_error", after=mark)
    assert error == {"message": NOT_A_MODERATOR}
    assert not await ModerationRecord.objects.aexists()


async def test_owner_times_out_a_viewer_who_then_cannot_chat(channel, make_user):
    viewer = make_user()
    owner, target, other = await channel(channel.owner), await channel(viewer), await channel()
    marks = [c.mark() for c in (owner, target, other)]
    ack = await owner.call(
        "moderation_timeout_user",
        {"streamId": channel.sid, "userId": viewer.pk, "seconds": 42, "reason": "spam"},
    )
    assert ack["ok"] is True and ack["userId"] == str(viewer.pk)
    for client, mark in zip((owner, target, other), marks, strict=True):
        told = await client.wait_for("user_timed_out", after=mark)
        assert told == {"streamId": channel.sid, "userId": str(viewer.pk), "until": ack["until"]}
    mark = target.mark()
    refused = await say(target, channel.sid, "let me speak")
    assert refused["ok"] is False
    assert refused["message"] in {
        "You are timed out for 42 more seconds",
        "You are timed out for 41 more seconds",
    }
    assert (await target.wait_for("message_error", after=mark))["message"] == refused["message"]
    assert not await ChatMessage.objects.filter(user=viewer).aexists()
    record = await ModerationRecord.objects.aget()
    assert (record.action, record.actor_id, record.target_id) == (
        "timeout user",
        channel.owner.pk,
        str(viewer.pk),
    )
    assert record.client_address == "127.0.0.1"
    assert "spam" in record.detail


async def test_a_timeout_expires(channel, make_user):
    viewer = make_user()
    owner, target = await channel(channel.owner), await channel(viewer)
    ack = await owner.call(
        "moderation_timeout_user", {"streamId": channel.sid, "userId": viewer.pk, "seconds": 1}
    )
    assert ack["ok"], ack
    assert (await say(target, channel.sid, "too early"))["ok"] is False
    await asyncio.sleep(1.2)  # the timeout's own length: what this test is about
    assert (await say(target, channel.sid, "on time"))["ok"] is True


async def test_ban_then_unban(channel, make_user):
    viewer = make_user()
    owner, target = await channel(channel.owner), await channel(viewer)
    mark = target.mark()
    ack = await owner.call("moderation_ban_user", {"streamId": channel.sid, "userId": viewer.pk})
    assert ack["ok"], ack
    assert await target.wait_for("user_banned", after=mark) == {
        "streamId": channel.sid,
        "userId": str(viewer.pk),
    }
    refused = await say(target, channel.sid, "hello?")
    assert refused == {"ok": False, "message": "You are banned from this chat"}

    mark = target.mark()
    ack = await owner.call("moderation_unban_user", {"streamId": channel.sid, "userId": viewer.pk})
    assert ack["ok"], ack
    await target.wait_for("user_unbanned", after=mark)
    assert (await say(target, channel.sid, "back again"))["ok"] is True
    actions = [r.action async for r in ModerationRecord.objects.order_by("at", "id")]
    assert actions == ["ban user", "unban user"]


async def test_the_owner_and_moderators_cannot_be_banned(channel, make_user, name_moderator):
    moderator = await name_moderator(make_user())
    owner = await channel(channel.owner)
    for target in (channel.owner, moderator):
        ack = await owner.call(
            "moderation_ban_user", {"streamId": channel.sid, "userId": target.pk}
        )
        assert ack["ok"] is False
        assert ack["message"] == services.CANNOT_TARGET


async def test_a_named_moderator_acts_and_is_exempt_from_slow_mode(
    channel, make_user, name_moderator
):
    moderator = await name_moderator(make_user())
    mod, viewer = await channel(moderator), await channel()
    mark = viewer.mark()
    ack = await mod.call("moderation_set_slow_mode", {"streamId": channel.sid, "seconds": 30})
    assert ack == {"ok": True, "streamId": channel.sid, "seconds": 30}
    assert await viewer.wait_for("slow_mode_changed", after=mark) == {
        "streamId": channel.sid,
        "seconds": 30,
    }
    assert (await say(viewer, channel.sid, "first"))["ok"] is True
    assert await say(viewer, channel.sid, "second") == {
        "ok": False,
        "message": "Slow mode: wait 30 seconds",
    }
    owner = await channel(channel.owner)
    for client in (mod, owner):
        assert (await say(client, channel.sid, "one"))["ok"] is True
        assert (await say(client, channel.sid, "two"))["ok"] is True

    ack = await mod.call("moderation_set_slow_mode", {"streamId": channel.sid, "seconds": 0})
    assert ack["ok"], ack
    assert (await say(viewer, channel.sid, "third"))["ok"] is True


async def test_a_site_moderator_moderates_every_stream(channel, staff, make_user):
    viewer = make_user()
    mod, target = await channel(staff), await channel(viewer)
    ack = await mod.call("moderation_ban_user", {"streamId": channel.sid, "userId": viewer.pk})
    assert ack["ok"], ack
    assert (await say(target, channel.sid, "hi"))["message"] == "You are banned from this chat"
    ack = await mod.call("moderation_set_slow_mode", {"streamId": channel.sid, "seconds": 30})
    assert ack["ok"], ack
    for text in ("site moderators", "are exempt"):
        assert (await say(mod, channel.sid, text))["ok"] is True


async def test_delete_one_message_and_clear_the_chat(channel, make_user, connect, server):
    owner, viewer = await channel(channel.owner), await channel()
    sent = [await say(viewer, channel.sid, text) for text in ("one", "two", "three")]
    mark = viewer.mark()
    ack = await owner.call(
        "moderation_delete_message", {"streamId": channel.sid, "messageId": sent[0]["id"]}
    )
    assert ack["ok"], ack
    assert await viewer.wait_for("message_deleted", after=mark) == {
        "streamId": channel.sid,
        "messageId": sent[0]["id"],
    }
    again = await owner.call(
        "moderation_delete_message", {"streamId": channel.sid, "messageId": sent[0]["id"]}
    )
    assert again == {"ok": False, "message": "Message not found"}

    mark = viewer.mark()
    ack = await owner.call("moderation_clear_chat", {"streamId": channel.sid})
    assert ack == {"ok": True, "streamId": channel.sid, "removed": 2}
    assert await viewer.wait_for("chat_cleared", after=mark) == {"streamId": channel.sid}
    assert not await ChatMessage.objects.visible().filter(stream=channel.stream).aexists()
    newcomer = await connect(server, make_user())
    mark = newcomer.mark()
    await newcomer.call("join_stream_room", {"streamId": channel.sid})
    history = await newcomer.wait_for("recent_chat_history", after=mark)
    assert history["messages"] == []
    actions = {r.action async for r in ModerationRecord.objects.all()}
    assert actions == {"remove chat message", "clear chat"}


async def test_blocked_terms_see_through_unicode_tricks(channel, make_user, staff):
    await sync_to_async(services.blocked_term_add)(term="Badword", by=staff)
    await sync_to_async(services.blocked_term_add)(
        term="spoiler", by=channel.owner, stream=channel.stream
    )
    viewer = await channel()
    for text in (
        "badword",
        "a BADWORD here",
        "ｂａｄｗｏｒｄ",  # full-width letters
        "bad\u200dword",  # zero-width joiner
        "b\u00adadw\u200bord",  # soft hyphen, zero-width space
        "a SPOILER!",
    ):
        mark = viewer.mark()
        ack = await say(viewer, channel.sid, text)
        assert ack == {"ok": False, "message": "Your message contains a blocked term"}, text
        error = await viewer.wait_for("message_error", after=mark)
        assert error == {"message": "Your message contains a blocked term"}
    assert viewer.received("new_message") == []
    assert not await ChatMessage.objects.filter(stream=channel.stream).aexists()
    assert (await say(viewer, channel.sid, "bad words are fine apart"))["ok"] is True


async def test_a_blocked_term_of_one_stream_is_allowed_in_another(
    channel, make_user, make_stream, connect, server
):
    await sync_to_async(services.blocked_term_add)(
        term="spoiler", by=channel.owner, stream=channel.stream
    )
    elsewhere = make_stream()
    client = await connect(server, make_user())
    assert (await client.call("join_stream_room", {"streamId": str(elsewhere.pk)}))["ok"]
    assert (await say(client, str(elsewhere.pk), "spoiler"))["ok"] is True


async def test_a_term_added_after_a_message_applies_to_the_next(channel, staff):
    viewer = await channel()
    assert (await say(viewer, channel.sid, "sneaky"))["ok"] is True
    await sync_to_async(services.blocked_term_add)(term="sneaky", by=staff)
    assert (await say(viewer, channel.sid, "sneaky again"))["ok"] is False


async def test_a_moderator_on_one_worker_times_out_a_user_on_another(
    start_server, connect, make_user, make_stream
):
    here, there = start_server(), start_server()
    owner = make_user()
    stream = make_stream(streamer=owner)
    viewer = make_user()
    sid = str(stream.pk)
    mod = await connect(here, owner)
    target = await connect(there, viewer)
    for client in (mod, target):
        assert (await client.call("join_stream_room", {"streamId": sid}))["ok"]
    # The viewer's worker has seen the stream's moderation state before the change.
    assert (await say(target, sid, "before"))["ok"] is True
    mark = target.mark()
    ack = await mod.call(
        "moderation_timeout_user", {"streamId": sid, "userId": viewer.pk, "seconds": 60}
    )
    assert ack["ok"], ack
    assert (await target.wait_for("user_timed_out", after=mark))["userId"] == str(viewer.pk)
    refused = await say(target, sid, "after")
    assert refused["ok"] is False and refused["message"].startswith("You are timed out for")


@pytest.mark.parametrize(
    ("event", "payload", "message"),
    [
        ("moderation_ban_user", None, "Invalid streamId"),
        ("moderation_ban_user", {"streamId": "x", "userId": 1}, "Invalid streamId"),
        ("moderation_ban_user", {"streamId": "SID", "userId": "1e3"}, "Invalid userId"),
        ("moderation_ban_user", {"streamId": "SID", "userId": True}, "Invalid userId"),
        ("moderation_ban_user", {"streamId": "SID", "userId": "9" * 10_000}, "Invalid userId"),
        ("moderation_ban_user", {"streamId": "SID", "userId": 10**9}, "User not found"),
        (
            "moderation_ban_user",
            {"streamId": "SID", "userId": "TARGET", "reason": "r" * 201},
            "Invalid reason",
        ),
        (
            "moderation_timeout_user",
            {"streamId": "SID", "userId": "TARGET", "seconds": 0},
            "seconds must be a whole number from 1 to 1209600",
        ),
        (
            "moderation_timeout_user",
            {"streamId": "SID", "userId": "TARGET", "seconds": 1.5},
            "seconds must be a whole number from 1 to 1209600",
        ),
        (
            "moderation_set_slow_mode",
            {"streamId": "SID", "seconds": 3601},
            "seconds must be a whole number from 0 to 3600",
        ),
        ("moderation_delete_message", {"streamId": "SID", "messageId": "a"}, "Invalid messageId"),
        (
            "moderation_clear_chat",
            {"streamId": "00000000-0000-0000-0000-000000000000"},
            "Stream not found",
        ),
    ],
)
async def test_bad_moderation_input_is_answered_and_the_room_is_unharmed(
    channel, make_user, event, payload, message
):
    target = make_user()
    owner, bystander = await channel(channel.owner), await channel()
    if isinstance(payload, dict):
        payload = {
            k: {"SID": channel.sid, "TARGET": target.pk}.get(v, v) if isinstance(v, str) else v
            for k, v in payload.items()
        }
    mark = owner.mark()
    assert await owner.call(event, payload) == {"ok": False, "message": message}
    assert await owner.wait_for("moderation_error", after=mark) == {"message": message}
    assert (await say(bystander, channel.sid, "still fine"))["ok"] is True
    assert (await say(owner, channel.sid, "me too"))["ok"] is True
