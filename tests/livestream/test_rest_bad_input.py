"""Every REST endpoint answers malformed input with a 4xx, never a 500.

A sweep over the URL space (ids, cursors, page numbers, query filters, bodies
and content types), signed in as staff so that permission checks do not stop a
request before the input is parsed. A 500 here is a crash an attacker can
repeat at will.
"""

from __future__ import annotations

import base64
from urllib.parse import quote

import pytest
from django.core.cache import cache
from django.test import Client
from rest_framework_simplejwt.tokens import AccessToken

pytestmark = pytest.mark.django_db


def cursor(raw: str) -> str:
    return quote(base64.b64encode(raw.encode()).decode())


BAD_CURSORS = [
    "garbage",
    "%%%",
    cursor("p=not-a-date"),
    cursor("p=2024-13-45T99:00:00"),
    cursor("o=abc&p=x"),
    cursor("o=-1&r=1&p=x"),
    cursor("p=" + "9" * 500),
    cursor("o=99999999999999999999999"),
    cursor("\x00"),
]
BAD_IDS = ["not-a-uuid", "0", "-1", "99999999999999999999999", "%00", "a" * 300, "%E2%80%AE"]
BAD_BODIES = [
    ("application/json", "{"),
    ("application/json", "[]"),
    ("application/json", "null"),
    ("application/json", '"text"'),
    ("application/json", '{"title": {"a": 1}, "reason": [1], "refresh": 5}'),
    ("application/json", '{"title": "\\ud800"}'),
    ("application/json", "\xff\xfe"),
    ("text/plain", "hello"),
    ("application/x-www-form-urlencoded", "title=%ZZ&%%%"),
    ("multipart/form-data; boundary=x", "--x\r\nbroken"),
    ("application/xml", "<a/>"),
]


@pytest.fixture
def client(staff) -> Client:
    cache.clear()  # the auth throttle starts empty
    return Client(
        HTTP_AUTHORIZATION=f"Bearer {AccessToken.for_user(staff)}", raise_request_exception=False
    )


@pytest.fixture
def stream_id(make_stream, staff) -> str:
    return str(make_stream(streamer=staff).pk)


def get_paths(stream_id: str) -> list[str]:
    paths = []
    for bad in BAD_CURSORS:
        paths += [
            f"/api/streams/{stream_id}/messages/?cursor={bad}",
            f"/api/notifications/?page={bad}",
        ]
    for bad in BAD_IDS:
        paths += [f"/api/streams/{bad}/", f"/api/streams/{bad}/messages/"]
    for bad in ["-1", "0", "x", "9" * 30, "1e9"]:
        paths += [f"/api/streams/?page={bad}", f"/api/notifications/?page={bad}"]
    paths += ["/api/streams/?status=nope", "/api/streams/?status=", "/api/streams/?status=%00"]
    return paths


def post_paths(stream_id: str) -> list[str]:
    paths = [
        "/api/auth/register/", "/api/auth/token/", "/api/auth/token/refresh/",
        "/api/auth/logout/", "/api/streams/",
        f"/api/streams/{stream_id}/start/", f"/api/streams/{stream_id}/end/",
    ]  # fmt: skip
    for bad in BAD_IDS:
        paths += [f"/api/streams/{bad}/end/", f"/api/notifications/{bad}/read/"]
    return paths


def test_no_get_with_malformed_input_is_a_server_error(client, stream_id):
    failures = [
        (path, status)
        for path in get_paths(stream_id)
        if (status := client.get(path).status_code) >= 500 or status < 200
    ]
    assert failures == []


def test_no_post_with_malformed_input_is_a_server_error(client, stream_id):
    failures = []
    for path in post_paths(stream_id):
        for content_type, body in BAD_BODIES:
            status = client.post(path, body, content_type=content_type).status_code
            if status >= 500:
                failures.append((path, content_type, body, status))
    assert failures == []


def test_a_malformed_cursor_is_a_client_error(client, stream_id):
    bad_positions = ["p=not-a-date", "p=2024-13-45T99:00:00", "o=1&r=1&p=x", "p=" + "9" * 500]
    for bad in map(cursor, bad_positions):
        status = client.get(f"/api/streams/{stream_id}/messages/?cursor={bad}").status_code
        assert status in (400, 404), (bad, status)
