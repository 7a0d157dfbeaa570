"""The streams admin: moderators see who is watching and can end streams or rotate keys."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.urls import reverse

from streams.admin import MODERATOR_END_REASON
from streams.models import Stream

pytestmark = pytest.mark.django_db

CHANGELIST = reverse("admin:streams_stream_changelist")


@pytest.fixture
def moderator(client, staff):
    client.force_login(staff)
    return client


@pytest.fixture
def counted(monkeypatch):
    """Presence answers 5 for every live stream; records each lookup."""
    calls: list[list[str]] = []

    def viewer_counts(stream_ids):
        calls.append(list(stream_ids))
        return dict.fromkeys(stream_ids, 5)

    monkeypatch.setattr("streams.presence.viewer_counts", viewer_counts)
    return calls


def run_action(client, action: str, streams) -> None:
    response = client.post(
        CHANGELIST, {"action": action, "_selected_action": [str(s.pk) for s in streams]}
    )
    assert response.status_code == 302


def test_changelist_shows_viewers_with_one_lookup(moderator, make_stream, counted):
    make_stream(title="Alpha")
    make_stream(title="Beta")
    make_stream(title="Gamma", live=False)
    response = moderator.get(CHANGELIST)
    assert response.status_code == 200
    content = response.content.decode()
    assert "Viewers now" in content and "Alpha" in content and "Gamma" in content
    assert len(counted) == 1 and len(counted[0]) == 2
    assert content.count('<td class="field-viewers_now">5</td>') == 2
    assert content.count('<td class="field-viewers_now">0</td>') == 1


def test_changelist_shows_whether_an_encoder_is_connected_and_since_when(
    moderator, make_stream, counted
):
    since = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    make_stream(title="Encoded")
    Stream.objects.filter(title="Encoded").update(encoder_id="x", encoder_connected_at=since)
    make_stream(title="Dropped")
    Stream.objects.filter(title="Dropped").update(encoder_left_at=since)
    make_stream(title="By hand")
    content = moderator.get(CHANGELIST).content.decode()
    assert '<td class="field-encoder">connected since 2026-01-02 03:04:05 UTC</td>' in content
    assert '<td class="field-encoder">reconnecting since 2026-01-02 03:04:05 UTC</td>' in content
    assert content.count('<td class="field-encoder">-</td>') == 1


def test_changelist_filters_by_status_and_searches(moderator, make_stream, make_user):
    make_stream(title="Cooking live")
    make_stream(title="Chess", live=False, streamer=make_user("grandmaster"))
    live = moderator.get(CHANGELIST, {"status__exact": "live"}).content.decode()
    assert "Cooking live" in live and "Chess" not in live
    by_name = moderator.get(CHANGELIST, {"q": "grandmaster"}).content.decode()
    assert "Chess" in by_name and "Cooking live" not in by_name
    by_title = moderator.get(CHANGELIST, {"q": "cooking"}).content.decode()
    assert "Cooking live" in by_title and "Chess" not in by_title


def test_change_page_shows_the_key_read_only(moderator, make_stream, counted):
    stream = make_stream()
    response = moderator.get(reverse("admin:streams_stream_change", args=[stream.pk]))
    assert response.status_code == 200
    content = response.content.decode()
    assert stream.stream_key in content
    assert 'name="stream_key"' not in content and 'name="status"' not in content
    assert counted == [[str(stream.pk)]]


def test_add_page_creates_an_idle_stream(moderator, user):
    url = reverse("admin:streams_stream_add")
    assert moderator.get(url).status_code == 200
    response = moderator.post(url, {"title": "From admin", "streamer": user.pk})
    assert response.status_code == 302
    stream = Stream.objects.get(title="From admin")
    assert (stream.streamer, stream.status) == (user, "idle")


def test_end_action_ends_each_stream_once(
    moderator, make_stream, ended_signals, django_capture_on_commit_callbacks
):
    live, idle, ended = make_stream(), make_stream(live=False), make_stream()
    ended.end(reason="earlier")
    untouched = make_stream()
    with django_capture_on_commit_callbacks(execute=True):
        run_action(moderator, "end_streams", [live, idle, ended])
    for stream in (live, idle):
        stream.refresh_from_db()
        assert (stream.status, stream.end_reason) == ("ended", MODERATOR_END_REASON)
    ended.refresh_from_db()
    assert ended.end_reason == "earlier"
    untouched.refresh_from_db()
    assert untouched.is_live
    assert sorted(ended_signals) == sorted(
        [(str(live.pk), MODERATOR_END_REASON), (str(idle.pk), MODERATOR_END_REASON)]
    )


def test_regenerate_key_action(moderator, make_stream):
    first, second = make_stream(), make_stream()
    keys = {first.pk: first.stream_key, second.pk: second.stream_key}
    run_action(moderator, "regenerate_keys", [first])
    first.refresh_from_db()
    second.refresh_from_db()
    assert first.stream_key != keys[first.pk]
    assert second.stream_key == keys[second.pk]


def test_non_staff_are_sent_to_login(client, user):
    client.force_login(user)
    response = client.get(CHANGELIST)
    assert response.status_code == 302
    assert reverse("admin:login") in response["Location"]
