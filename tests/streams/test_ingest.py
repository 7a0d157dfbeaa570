"""The media servers' publish hooks: each adapter's requests, every refusal, grace and sweep."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from streams.ingest import SILENT_REASON, STOPPED_REASON, ingest_sweep
from streams.models import Stream

pytestmark = pytest.mark.django_db

SECRET = "hook-secret"
NGINX = f"/ingest/nginx-rtmp/?secret={SECRET}"
SRS = f"/ingest/srs/?secret={SECRET}"
MEDIAMTX = f"/ingest/mediamtx/?secret={SECRET}"
GRACE = 15


@pytest.fixture(autouse=True)
def ingest_settings(settings, monkeypatch):
    settings.INGEST_HOOK_SECRET = SECRET
    settings.INGEST_ALLOWED_NETWORKS = []
    settings.INGEST_RECONNECT_GRACE_SECONDS = GRACE
    settings.INGEST_LIVENESS_TIMEOUT_SECONDS = 90
    # The periodic sweep belongs to a server's loop; here the tests sweep themselves.
    monkeypatch.setattr("streams.ingest_views.ensure_sweeper", lambda: None)
    return settings


@pytest.fixture
def idle(make_stream):
    return make_stream(live=False)


def nginx(client, call: str, name: str, clientid: str = "7", url: str = NGINX):
    """A request as nginx-rtmp sends it (notify_method post)."""
    form = {"call": call, "app": "live", "name": name, "addr": "192.0.2.5"}
    form |= {"clientid": clientid, "type": "live", "flashver": "FMLE/3.0", "tcurl": "rtmp://x/live"}
    return client.post(url, form)


def state(stream: Stream) -> Stream:
    return Stream.objects.get(pk=stream.pk)


def later(seconds: float):
    return timezone.now() + timedelta(seconds=seconds)


# --- nginx-rtmp --------------------------------------------------------------------


def test_nginx_publish_of_a_key_starts_the_stream_and_renames_it_to_its_id(client, idle):
    response = nginx(client, "publish", idle.stream_key)
    assert response.status_code == 302
    assert response["Location"] == str(idle.pk)
    stream = state(idle)
    assert stream.status == "live"
    assert stream.encoder_id == "nginx-rtmp:192.0.2.5/7"
    assert stream.encoder_connected_at is not None


@pytest.mark.parametrize("key", ["", "nope", "x" * 65])
def test_nginx_publish_of_an_unknown_key_is_refused(client, idle, key):
    assert nginx(client, "publish", key).status_code == 403
    assert state(idle).status == "idle"


def test_nginx_publish_of_a_near_miss_key_is_refused(client, idle):
    assert nginx(client, "publish", idle.stream_key[:-1] + "!").status_code == 403


def test_nginx_publish_of_an_ended_stream_is_refused(client, idle):
    idle.end()
    assert nginx(client, "publish", idle.stream_key).status_code == 403


def test_nginx_publish_of_a_deactivated_streamer_is_refused(client, make_user, make_stream):
    stream = make_stream(streamer=make_user(is_active=False), live=False)
    assert nginx(client, "publish", stream.stream_key).status_code == 403
    assert state(stream).status == "idle"


def test_nginx_second_connection_is_refused_while_the_first_publishes(client, idle):
    assert nginx(client, "publish", idle.stream_key, clientid="1").status_code == 302
    assert nginx(client, "publish", idle.stream_key, clientid="2").status_code == 409
    assert state(idle).encoder_id.endswith("/1")


def test_nginx_second_connection_takes_over_a_silent_one(client, idle):
    nginx(client, "publish", idle.stream_key, clientid="1")
    Stream.objects.filter(pk=idle.pk).update(encoder_seen_at=later(-91))
    assert nginx(client, "publish", idle.stream_key, clientid="2").status_code == 302
    assert state(idle).encoder_id.endswith("/2")


def test_nginx_publish_done_keeps_the_stream_live_for_the_grace(client, idle):
    nginx(client, "publish", idle.stream_key)
    assert nginx(client, "publish_done", str(idle.pk)).status_code == 204
    stream = state(idle)
    assert stream.status == "live" and stream.encoder_id == "" and stream.encoder_left_at
    assert ingest_sweep(now=later(GRACE - 1)) == 0
    assert state(idle).status == "live"
    assert ingest_sweep(now=later(GRACE + 1)) == 1
    stream = state(idle)
    assert stream.status == "ended" and stream.end_reason == STOPPED_REASON


def test_nginx_publish_again_within_the_grace_resumes(client, idle):
    nginx(client, "publish", idle.stream_key, clientid="1")
    connected = state(idle).encoder_connected_at
    nginx(client, "publish_done", str(idle.pk), clientid="1")
    assert nginx(client, "publish", idle.stream_key, clientid="2").status_code == 302
    stream = state(idle)
    assert stream.encoder_left_at is None and stream.encoder_connected_at == connected
    assert ingest_sweep(now=later(GRACE + 1)) == 0


def test_nginx_publish_done_of_another_connection_changes_nothing(client, idle):
    nginx(client, "publish", idle.stream_key, clientid="1")
    nginx(client, "publish_done", str(idle.pk), clientid="2")
    assert state(idle).encoder_left_at is None


def test_nginx_update_refreshes_liveness_and_silence_ends_the_stream(client, idle):
    nginx(client, "publish", idle.stream_key)
    Stream.objects.filter(pk=idle.pk).update(encoder_seen_at=later(-60))
    assert nginx(client, "update_publish", str(idle.pk)).status_code == 204
    assert ingest_sweep(now=later(60)) == 0
    assert ingest_sweep(now=later(91)) == 1
    assert state(idle).end_reason == SILENT_REASON


def test_nginx_update_of_an_ended_stream_drops_the_publisher(client, idle):
    nginx(client, "publish", idle.stream_key)
    idle.end()
    assert nginx(client, "update_publish", str(idle.pk)).status_code == 404


def test_a_stream_started_over_rest_is_not_swept(make_stream):
    stream = make_stream()
    assert ingest_sweep(now=later(10_000)) == 0
    assert state(stream).status == "live"


def test_nginx_play_is_refused_and_the_relay_update_accepted(client, idle):
    assert nginx(client, "play", str(idle.pk)).status_code == 403
    assert nginx(client, "update_play", str(idle.pk)).status_code == 204


# --- the guard ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "url", ["/ingest/nginx-rtmp/", "/ingest/nginx-rtmp/?secret=wrong", "/ingest/srs/?secret="]
)
def test_hooks_without_the_secret_are_refused(client, idle, url):
    assert nginx(client, "publish", idle.stream_key, url=url).status_code == 403
    assert state(idle).status == "idle"


def test_hooks_are_refused_when_no_secret_is_configured(client, idle, ingest_settings):
    ingest_settings.INGEST_HOOK_SECRET = ""
    assert (
        nginx(client, "publish", idle.stream_key, url="/ingest/nginx-rtmp/?secret=").status_code
        == 403
    )


def test_hooks_from_outside_the_allowed_networks_are_refused(client, idle, ingest_settings):
    ingest_settings.INGEST_ALLOWED_NETWORKS = ["10.0.0.0/8"]
    assert nginx(client, "publish", idle.stream_key).status_code == 403
    ingest_settings.INGEST_ALLOWED_NETWORKS = ["127.0.0.0/8"]
    assert nginx(client, "publish", idle.stream_key).status_code == 302


def test_hooks_take_post_only_and_bounded_bodies(client, idle):
    assert client.get(NGINX).status_code == 405
    big = {"call": "publish", "name": idle.stream_key, "pad": "x" * 20_000}
    assert client.post(NGINX, big).status_code == 413


# --- SRS (HTTP callbacks, JSON) -------------------------------------------------------


def srs(client, action: str, stream: str, param: str = "", client_id: str = "341w361a"):
    """A callback as SRS documents it (on_publish / on_unpublish)."""
    body = {
        "server_id": "vid-0xk989d",
        "service_id": "ln8t3u8s",
        "action": action,
        "client_id": client_id,
        "ip": "127.0.0.1",
        "vhost": "__defaultVhost__",
        "app": "live",
        "tcUrl": "rtmp://127.0.0.1:1935/live",
        "stream": stream,
        "param": param,
        "stream_url": f"/live/{stream}",
        "stream_id": "vid-124q9y3",
    }
    return client.post(SRS, json.dumps(body), content_type="application/json")


def test_srs_publish_with_the_key_as_name_answers_code_0(client, idle):
    response = srs(client, "on_publish", idle.stream_key)
    assert response.status_code == 200 and response.json() == {"code": 0}
    assert state(idle).status == "live"


def test_srs_publish_of_the_id_with_the_key_as_param(client, idle):
    response = srs(client, "on_publish", str(idle.pk), param=f"?key={idle.stream_key}")
    assert response.json() == {"code": 0}
    assert state(idle).encoder_id == "srs:341w361a"


def test_srs_publish_of_another_streams_id_with_a_key_is_refused(client, idle, make_stream):
    other = make_stream(live=False)
    response = srs(client, "on_publish", str(other.pk), param=f"?key={idle.stream_key}")
    assert response.json()["code"] != 0
    assert state(idle).status == "idle" and state(other).status == "idle"


def test_srs_refusal_is_a_non_zero_code(client, idle):
    response = srs(client, "on_publish", "wrong-key")
    assert response.status_code == 403 and response.json()["code"] == 403


def test_srs_unpublish_starts_the_grace(client, idle):
    srs(client, "on_publish", idle.stream_key)
    assert srs(client, "on_unpublish", idle.stream_key).json() == {"code": 0}
    assert state(idle).encoder_left_at is not None


def test_srs_garbage_is_a_clear_400(client):
    response = client.post(SRS, "not json", content_type="application/json")
    assert response.status_code == 400 and response.json()["code"] == 400
    response = client.post(SRS, "[1]", content_type="application/json")
    assert response.status_code == 400


# --- MediaMTX (external HTTP authentication) -------------------------------------------


def mediamtx(client, action: str, path: str, *, query: str = "", password: str = ""):
    """A request as MediaMTX's authHTTPAddress documents it."""
    body = {
        "user": "",
        "password": password,
        "token": "",
        "ip": "127.0.0.1",
        "action": action,
        "path": path,
        "protocol": "rtmp",
        "id": "d8a3b4f0-6a1f-4a4b-9b7c-8c1f0e0b8a11",
        "query": query,
    }
    return client.post(MEDIAMTX, json.dumps(body), content_type="application/json")


def test_mediamtx_publish_with_the_key_in_the_query(client, idle):
    response = mediamtx(client, "publish", f"live/{idle.pk}", query=f"key={idle.stream_key}")
    assert response.status_code == 204
    stream = state(idle)
    assert stream.status == "live" and stream.encoder_seen_at is None  # no liveness updates


def test_mediamtx_publish_with_the_key_as_password_or_path(client, idle, make_stream):
    assert (
        mediamtx(client, "publish", f"live/{idle.pk}", password=idle.stream_key).status_code == 204
    )
    other = make_stream(live=False)
    assert mediamtx(client, "publish", f"live/{other.stream_key}").status_code == 204


def test_mediamtx_refusals_are_401(client, idle):
    assert mediamtx(client, "publish", f"live/{idle.pk}", query="key=wrong").status_code == 401
    assert mediamtx(client, "api", "").status_code == 401
    assert state(idle).status == "idle"


def test_mediamtx_reading_is_public(client, idle):
    assert mediamtx(client, "read", f"live/{idle.pk}").status_code == 204


def test_mediamtx_unpublish_starts_the_grace(client, idle):
    mediamtx(client, "publish", f"live/{idle.pk}", query=f"key={idle.stream_key}")
    assert mediamtx(client, "unpublish", f"live/{idle.pk}").status_code == 204
    assert state(idle).encoder_left_at is not None


# --- operators -------------------------------------------------------------------------


def test_end_stale_streams_command_ends_what_the_grace_left(client, idle, capsys, ingest_settings):
    nginx(client, "publish", idle.stream_key)
    nginx(client, "publish_done", str(idle.pk))
    ingest_settings.INGEST_RECONNECT_GRACE_SECONDS = 0
    call_command("end_stale_streams")
    assert "Ended 1 stale stream(s)." in capsys.readouterr().out
    assert state(idle).status == "ended"
