"""``GET /api/streams/{id}/messages/``: a stream's chat history, newest first, by cursor."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from livestream.timefmt import iso_z

pytestmark = pytest.mark.django_db


def messages_url(stream_or_id) -> str:
    return f"/api/streams/{getattr(stream_or_id, 'pk', stream_or_id)}/messages/"


def test_newest_first_in_the_wire_shape(api_client, make_stream, make_message, make_user):
    stream = make_stream()
    bob = make_user("bob")
    older = make_message(stream, "first", user=bob)
    newer = make_message(stream, "second", user=bob)
    response = api_client.get(messages_url(stream))
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"next", "previous", "results"}
    assert body["results"] == [
        {
            "id": str(message.pk),
            "userId": str(bob.pk),
            "username": "bob",
            "message": message.text,
            "timestamp": iso_z(message.created_at),
            "streamId": str(stream.pk),
        }
        for message in (newer, older)
    ]


def test_removed_and_other_streams_messages_are_left_out(
    api_client, make_stream, make_message, staff
):
    stream, other = make_stream(), make_stream()
    kept = make_message(stream, "kept")
    removed = make_message(stream, "spam")
    removed.removed_at, removed.removed_by = timezone.now(), staff
    removed.save()
    make_message(other, "elsewhere")
    results = api_client.get(messages_url(stream)).json()["results"]
    assert [item["id"] for item in results] == [str(kept.pk)]


def test_cursor_pages_cover_everything_once(api_client, make_stream, make_message, make_user):
    stream = make_stream()
    same_moment = timezone.now() - timedelta(days=2)  # older: the ties straddle page 1 and 2
    user = make_user()
    made = [make_message(stream, f"m{n}", user=user) for n in range(15)]
    # Ties on created_at are ordered by id, and never split or repeated across pages.
    made += [make_message(stream, f"t{n}", user=user, at=same_moment) for n in range(10)]
    seen, url, pages = [], messages_url(stream), 0
    while url:
        body = api_client.get(url).json()
        seen += [item["id"] for item in body["results"]]
        url, pages = body["next"], pages + 1
    expected = sorted(made, key=lambda m: (m.created_at, m.pk), reverse=True)
    assert seen == [str(m.pk) for m in expected]
    assert pages == 2


def test_query_count_does_not_grow_with_the_page(
    api_client, make_stream, make_message, django_assert_max_num_queries
):
    stream = make_stream()
    for n in range(20):
        make_message(stream, f"m{n}")
    with django_assert_max_num_queries(2):
        assert len(api_client.get(messages_url(stream)).json()["results"]) == 20


def test_ended_streams_keep_their_history(api_client, make_stream, make_message):
    stream = make_stream()
    make_message(stream)
    stream.end()
    assert len(api_client.get(messages_url(stream)).json()["results"]) == 1


def test_empty_history(api_client, make_stream):
    body = api_client.get(messages_url(make_stream(live=False))).json()
    assert body == {"next": None, "previous": None, "results": []}


@pytest.mark.parametrize("stream_id", [uuid.uuid4(), "not-a-uuid"])
def test_unknown_or_malformed_stream_is_404(api_client, stream_id):
    response = api_client.get(messages_url(stream_id))
    assert response.status_code == 404
    assert "detail" in response.json()


def test_read_only(api_client, make_stream, user):
    api_client.force_authenticate(user)
    assert api_client.post(messages_url(make_stream()), {"message": "hi"}).status_code == 405
