"""``/api/streams/``: public reads, authenticated writes, owner-only transitions."""

from __future__ import annotations

import uuid

import pytest
import redis

from streams.models import Stream
from tests.support import api_client_for

pytestmark = pytest.mark.django_db

LIST = "/api/streams/"


def detail(stream_or_id) -> str:
    return f"/api/streams/{getattr(stream_or_id, 'pk', stream_or_id)}/"


@pytest.fixture
def owner(make_user):
    return make_user("streamer")


@pytest.fixture
def stream(make_stream, owner):
    return make_stream(streamer=owner, live=False)


@pytest.fixture
def as_owner(owner):
    return api_client_for(owner)


@pytest.fixture
def as_other(make_user):
    return api_client_for(make_user("bystander"))


@pytest.fixture
def as_staff(staff):
    return api_client_for(staff)


class TestRead:
    def test_list_is_public_paginated_newest_first(self, api_client, make_stream):
        first, second = make_stream(title="one"), make_stream(title="two")
        response = api_client.get(LIST)
        assert response.status_code == 200
        body = response.json()
        assert set(body) == {"count", "next", "previous", "results"}
        assert body["count"] == 2
        assert [item["id"] for item in body["results"]] == [str(second.pk), str(first.pk)]

    def test_list_pages(self, api_client, make_stream, settings):
        for n in range(21):
            make_stream(title=f"s{n}", live=False)
        body = api_client.get(LIST).json()
        assert (body["count"], len(body["results"])) == (21, 20)
        assert body["next"].endswith("?page=2")
        assert len(api_client.get(body["next"]).json()["results"]) == 1

    @pytest.mark.parametrize("status", ["idle", "live", "ended"])
    def test_list_filters_by_status(self, api_client, make_stream, status):
        make_stream(live=False)
        make_stream()
        make_stream().end()
        results = api_client.get(LIST, {"status": status}).json()["results"]
        assert [item["status"] for item in results] == [status]

    @pytest.mark.parametrize("status", ["LIVE", "paused", "all"])
    def test_list_rejects_an_unknown_status(self, api_client, status):
        response = api_client.get(LIST, {"status": status})
        assert response.status_code == 400
        assert "status" in response.json()

    def test_blank_status_means_any(self, api_client, make_stream):
        make_stream()
        make_stream(live=False)
        assert api_client.get(LIST, {"status": ""}).json()["count"] == 2

    def test_detail_shape(self, api_client, stream, owner):
        body = api_client.get(detail(stream)).json()
        assert body == {
            "id": str(stream.pk),
            "title": stream.title,
            "status": "idle",
            "streamer": {"id": str(owner.pk), "username": "streamer"},
            "viewer_count": 0,
            "playback_url": None,
            "created_at": body["created_at"],
            "started_at": None,
            "ended_at": None,
        }
        assert body["created_at"].endswith("Z")

    def test_playback_url_only_while_live(self, api_client, stream, settings):
        settings.PLAYBACK_URL_TEMPLATE = "https://cdn.example/hls/{stream_id}/index.m3u8"
        stream.start()
        url = f"https://cdn.example/hls/{stream.pk}/index.m3u8"
        assert api_client.get(detail(stream)).json()["playback_url"] == url
        assert api_client.get(LIST).json()["results"][0]["playback_url"] == url
        stream.end()
        assert api_client.get(detail(stream)).json()["playback_url"] is None

    @pytest.mark.parametrize("stream_id", [uuid.uuid4(), "not-a-uuid", "123"])
    def test_detail_of_unknown_or_malformed_id_is_404(self, api_client, stream_id):
        response = api_client.get(detail(stream_id))
        assert response.status_code == 404
        assert "detail" in response.json()


class TestStreamKeyVisibility:
    def test_hidden_from_anonymous_and_other_users(self, api_client, as_other, stream):
        for client in (api_client, as_other):
            assert "stream_key" not in client.get(detail(stream)).json()
            assert "stream_key" not in client.get(LIST).json()["results"][0]

    def test_shown_to_owner_and_staff(self, as_owner, as_staff, stream):
        for client in (as_owner, as_staff):
            assert client.get(detail(stream)).json()["stream_key"] == stream.stream_key
            assert client.get(LIST).json()["results"][0]["stream_key"] == stream.stream_key

    def test_list_shows_only_own_key(self, as_owner, make_stream, stream):
        make_stream(title="someone else's")
        results = as_owner.get(LIST).json()["results"]
        assert [("stream_key" in item) for item in results] == [False, True]


class TestViewerCount:
    def test_a_page_costs_one_lookup_of_the_live_streams(
        self, api_client, make_stream, monkeypatch
    ):
        live, other_live = make_stream(), make_stream()
        make_stream(live=False)
        calls = []

        def viewer_counts(stream_ids):
            calls.append(sorted(stream_ids))
            return {stream_id: 7 for stream_id in stream_ids}

        monkeypatch.setattr("streams.presence.viewer_counts", viewer_counts)
        results = api_client.get(LIST).json()["results"]
        assert calls == [sorted([str(live.pk), str(other_live.pk)])]
        assert [item["viewer_count"] for item in results] == [0, 7, 7]

    def test_detail_counts_viewers(self, api_client, make_stream, monkeypatch):
        stream = make_stream()
        monkeypatch.setattr("streams.presence.viewer_counts", lambda ids: dict.fromkeys(ids, 3))
        assert api_client.get(detail(stream)).json()["viewer_count"] == 3

    def test_real_presence_of_an_unwatched_live_stream_is_zero(self, api_client, make_stream):
        stream = make_stream()
        assert api_client.get(detail(stream)).json()["viewer_count"] == 0

    def test_redis_outage_shows_zero(self, api_client, make_stream, monkeypatch):
        stream = make_stream()

        def down(stream_ids):
            raise redis.ConnectionError("down")

        monkeypatch.setattr("streams.presence.viewer_counts", down)
        response = api_client.get(LIST)
        assert response.status_code == 200
        assert response.json()["results"][0]["viewer_count"] == 0
        assert api_client.get(detail(stream)).json()["viewer_count"] == 0


class TestCreate:
    def test_creates_an_idle_stream_for_the_user(self, as_owner, owner):
        response = as_owner.post(LIST, {"title": "  Morning show "}, format="json")
        assert response.status_code == 201
        body = response.json()
        stream = Stream.objects.get(pk=body["id"])
        assert (stream.streamer, stream.title, stream.status) == (owner, "Morning show", "idle")
        assert body["status"] == "idle"
        assert body["stream_key"] == stream.stream_key

    def test_requires_authentication(self, api_client):
        response = api_client.post(LIST, {"title": "x"}, format="json")
        assert response.status_code == 401
        assert not Stream.objects.exists()

    def test_rejects_a_bad_token(self, api_client):
        api_client.credentials(HTTP_AUTHORIZATION="Bearer not.a.token")
        assert api_client.post(LIST, {"title": "x"}, format="json").status_code == 401

    @pytest.mark.parametrize("data", [{}, {"title": ""}, {"title": "   "}, {"title": "x" * 201}])
    def test_requires_a_title(self, as_owner, data):
        response = as_owner.post(LIST, data, format="json")
        assert response.status_code == 400
        assert "title" in response.json()


class TestStart:
    def test_owner_starts(self, as_owner, stream):
        response = as_owner.post(detail(stream) + "start/")
        assert response.status_code == 200
        assert response.json()["status"] == "live"
        assert response.json()["started_at"] is not None
        assert Stream.objects.get(pk=stream.pk).is_live

    def test_start_when_live_is_a_no_op(self, as_owner, stream):
        stream.start()
        response = as_owner.post(detail(stream) + "start/")
        assert response.status_code == 200
        assert response.json()["status"] == "live"

    def test_start_after_end_is_409(self, as_owner, stream):
        stream.end()
        response = as_owner.post(detail(stream) + "start/")
        assert response.status_code == 409
        assert response.json() == {"detail": "An ended stream cannot be started again."}

    @pytest.mark.parametrize("client", ["as_other", "as_staff"])
    def test_others_may_not_start(self, request, client, stream):
        response = request.getfixturevalue(client).post(detail(stream) + "start/")
        assert response.status_code == 403
        assert Stream.objects.get(pk=stream.pk).status == "idle"

    def test_requires_authentication(self, api_client, stream):
        assert api_client.post(detail(stream) + "start/").status_code == 401

    @pytest.mark.parametrize("stream_id", [uuid.uuid4(), "nope"])
    def test_unknown_stream_is_404(self, as_owner, stream_id):
        assert as_owner.post(detail(stream_id) + "start/").status_code == 404


class TestEnd:
    def test_owner_ends_with_a_reason(self, as_owner, stream, ended_signals):
        stream.start()
        response = as_owner.post(detail(stream) + "end/", {"reason": "bye"}, format="json")
        assert response.status_code == 200
        assert response.json()["status"] == "ended"
        assert response.json()["ended_at"] is not None
        assert Stream.objects.get(pk=stream.pk).end_reason == "bye"

    def test_reason_is_optional(self, as_owner, stream):
        response = as_owner.post(detail(stream) + "end/")
        assert response.status_code == 200
        assert Stream.objects.get(pk=stream.pk).end_reason == ""

    def test_staff_may_end(self, as_staff, stream):
        response = as_staff.post(detail(stream) + "end/")
        assert response.status_code == 200
        assert response.json()["status"] == "ended"

    def test_ending_an_ended_stream_is_a_no_op(self, as_owner, stream):
        stream.end(reason="first")
        response = as_owner.post(detail(stream) + "end/", {"reason": "second"}, format="json")
        assert response.status_code == 200
        assert response.json()["status"] == "ended"
        assert Stream.objects.get(pk=stream.pk).end_reason == "first"

    def test_others_may_not_end(self, as_other, stream):
        response = as_other.post(detail(stream) + "end/", {"reason": "x" * 500}, format="json")
        assert response.status_code == 403
        assert Stream.objects.get(pk=stream.pk).status == "idle"

    def test_reason_too_long_is_400(self, as_owner, stream):
        response = as_owner.post(detail(stream) + "end/", {"reason": "x" * 201}, format="json")
        assert response.status_code == 400
        assert Stream.objects.get(pk=stream.pk).status == "idle"

    def test_requires_authentication(self, api_client, stream):
        assert api_client.post(detail(stream) + "end/").status_code == 401

    @pytest.mark.parametrize("stream_id", [uuid.uuid4(), "nope"])
    def test_unknown_stream_is_404(self, as_staff, stream_id):
        assert as_staff.post(detail(stream_id) + "end/").status_code == 404

    def test_get_is_not_allowed(self, as_owner, stream):
        assert as_owner.get(detail(stream) + "end/").status_code == 405
