"""REST for a stream's moderation: the same actions as the socket, for its moderators only."""

from __future__ import annotations

import pytest
from asgiref.sync import sync_to_async

from audit.models import ModerationRecord
from chat.models import ChatMessage
from moderation.models import ChatBan
from tests.moderation.conftest import say
from tests.support import api_client_for

ADDRESS = "198.51.100.23"


@pytest.fixture
def stream(make_stream, make_user):
    return make_stream(streamer=make_user())


def url(stream, tail: str) -> str:
    return f"/api/streams/{stream.pk}/moderation/{tail}"


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("method", "tail", "body"),
    [
        ("get", "bans/", None),
        ("post", "bans/", {"userId": 1}),
        ("delete", "bans/1/", None),
        ("get", "slow-mode/", None),
        ("put", "slow-mode/", {"seconds": 3}),
        ("post", "clear/", None),
        ("delete", "messages/1/", None),
        ("get", "blocked-terms/", None),
        ("post", "blocked-terms/", {"term": "x"}),
        ("get", "moderators/", None),
        ("post", "moderators/", {"userId": 1}),
        ("get", "audit/", None),
    ],
)
def test_only_moderators_of_the_stream_may(stream, make_user, method, tail, body):
    response = getattr(api_client_for(make_user()), method)(url(stream, tail), body, format="json")
    assert response.status_code == 403
    assert response.json() == {"detail": "You are not a moderator of this stream"}


@pytest.mark.django_db
def test_timeout_list_and_lift(stream, make_user, django_capture_on_commit_callbacks):
    viewer, owner = make_user("troll"), api_client_for(stream.streamer)
    with django_capture_on_commit_callbacks(execute=True):
        created = owner.post(
            url(stream, "bans/"),
            {"userId": viewer.pk, "seconds": 90, "reason": "spam"},
            format="json",
            REMOTE_ADDR=ADDRESS,
        )
    assert created.status_code == 201, created.content
    assert created.json()["userId"] == str(viewer.pk) and created.json()["until"]
    listed = owner.get(url(stream, "bans/")).json()["results"]
    assert [(b["username"], b["reason"]) for b in listed] == [("troll", "spam")]

    with django_capture_on_commit_callbacks(execute=True):
        lifted = owner.delete(url(stream, f"bans/{viewer.pk}/"), REMOTE_ADDR=ADDRESS)
    assert lifted.status_code == 204
    assert owner.get(url(stream, "bans/")).json()["results"] == []
    assert owner.delete(url(stream, f"bans/{viewer.pk}/")).status_code == 404
    records = ModerationRecord.objects.order_by("id")
    assert [(r.action, r.client_address, r.stream_id) for r in records] == [
        ("timeout user", ADDRESS, str(stream.pk)),
        ("unban user", ADDRESS, str(stream.pk)),
    ]
    audit = owner.get(url(stream, "audit/")).json()["results"]
    assert [r["action"] for r in audit] == ["unban user", "timeout user"]
    assert audit[0]["clientAddress"] == ADDRESS


@pytest.mark.django_db
def test_slow_mode_terms_and_moderators(stream, make_user, django_capture_on_commit_callbacks):
    owner, helper = api_client_for(stream.streamer), make_user("helper")
    with django_capture_on_commit_callbacks(execute=True):
        assert owner.put(url(stream, "slow-mode/"), {"seconds": 7}, format="json").json() == {
            "seconds": 7
        }
        term = owner.post(url(stream, "blocked-terms/"), {"term": "spoiler"}, format="json")
        named = owner.post(url(stream, "moderators/"), {"userId": helper.pk}, format="json")
    assert owner.get(url(stream, "slow-mode/")).json() == {"seconds": 7}
    assert term.status_code == 201 and term.json()["siteWide"] is False
    assert named.status_code == 201
    terms = owner.get(url(stream, "blocked-terms/")).json()["results"]
    assert [t["term"] for t in terms] == ["spoiler"]
    moderators = owner.get(url(stream, "moderators/")).json()["results"]
    assert moderators == [{"userId": str(helper.pk), "username": "helper"}]

    # The named moderator moderates, but only the owner names moderators.
    helper_client = api_client_for(helper)
    assert helper_client.get(url(stream, "bans/")).status_code == 200
    response = helper_client.post(url(stream, "moderators/"), {"userId": helper.pk}, format="json")
    assert response.status_code == 403
    with django_capture_on_commit_callbacks(execute=True):
        deleted = helper_client.delete(url(stream, f"blocked-terms/{term.json()['id']}/"))
    assert deleted.status_code == 204
    assert owner.get(url(stream, "blocked-terms/")).json()["results"] == []


@pytest.mark.django_db
def test_delete_and_clear_messages(stream, make_user, django_capture_on_commit_callbacks):
    owner = api_client_for(stream.streamer)
    author = make_user()
    first, second = (ChatMessage.objects.create(stream=stream, user=author, text=t) for t in "ab")
    with django_capture_on_commit_callbacks(execute=True):
        assert owner.delete(url(stream, f"messages/{first.pk}/")).status_code == 204
        assert owner.delete(url(stream, f"messages/{first.pk}/")).status_code == 404
        assert owner.post(url(stream, "clear/")).json() == {"removed": 1}
    assert not ChatMessage.objects.visible().filter(stream=stream).exists()


@pytest.mark.django_db
def test_a_bad_request_says_why(stream, make_user):
    owner = api_client_for(stream.streamer)
    response = owner.post(url(stream, "bans/"), {"userId": "x", "seconds": -1}, format="json")
    assert response.status_code == 400
    assert set(response.json()) == {"userId", "seconds"}
    response = owner.post(url(stream, "bans/"), {"userId": stream.streamer_id}, format="json")
    assert response.status_code == 400
    assert response.json() == {
        "detail": "The owner and moderators of this stream cannot be banned or timed out"
    }
    assert not ChatBan.objects.exists()


@pytest.mark.django_db(transaction=True)
async def test_a_rest_ban_reaches_the_room_at_once(server, connect, make_user, make_stream):
    owner, viewer = make_user(), make_user()
    stream = make_stream(streamer=owner)
    client = await connect(server, viewer)
    assert (await client.call("join_stream_room", {"streamId": str(stream.pk)}))["ok"]
    mark = client.mark()
    response = await sync_to_async(api_client_for(owner).post)(
        url(stream, "bans/"), {"userId": viewer.pk}, format="json"
    )
    assert response.status_code == 201
    assert await client.wait_for("user_banned", after=mark) == {
        "streamId": str(stream.pk),
        "userId": str(viewer.pk),
    }
    refused = await say(client, str(stream.pk), "hello")
    assert refused == {"ok": False, "message": "You are banned from this chat"}
