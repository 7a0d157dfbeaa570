"""/healthz and /readyz for load balancers; /metrics only for allowed networks or a token."""

from __future__ import annotations

import asyncio
import http.client
import json
import time
from urllib.parse import urlsplit

import pytest

from tests.support import TIMEOUT

pytestmark = pytest.mark.django_db(transaction=True)


def get(base_url: str, path: str, *, source: str = "127.0.0.1", headers=None):
    """GET ``path`` from the local address ``source``; (status, body)."""
    parsed = urlsplit(base_url)
    conn = http.client.HTTPConnection(
        parsed.hostname, parsed.port, timeout=TIMEOUT, source_address=(source, 0)
    )
    try:
        conn.request("GET", path, headers=headers or {})
        response = conn.getresponse()
        return response.status, response.read().decode()
    finally:
        conn.close()


async def test_readyz_names_redis_while_it_is_down_and_recovers(own_redis, start_server):
    server = start_server(REDIS_URL=own_redis.url, READINESS_TIMEOUT_MS="500")
    status, body = await asyncio.to_thread(get, server.url, "/readyz")
    assert status == 200, body
    assert json.loads(body)["checks"] == {"database": "ok", "redis": "ok"}

    own_redis.stop()
    status, body = await asyncio.to_thread(get, server.url, "/readyz")
    assert status == 503
    answer = json.loads(body)
    assert answer["failing"] == ["redis"]
    assert answer["checks"]["database"] == "ok"
    # Alive all the same: a load balancer must not restart it for Redis.
    assert (await asyncio.to_thread(get, server.url, "/healthz"))[0] == 200

    own_redis.start()
    deadline = time.monotonic() + TIMEOUT
    while (await asyncio.to_thread(get, server.url, "/readyz"))[0] != 200:
        assert time.monotonic() < deadline, "not ready again after Redis came back"
        await asyncio.sleep(0.1)


async def test_probes_answer_whatever_the_host_header(server):
    # Load balancers probe by address; ALLOWED_HOSTS must not turn that into a 400.
    headers = {"Host": "10.1.2.3:8000"}
    assert (await asyncio.to_thread(get, server.url, "/healthz", headers=headers))[0] == 200
    assert (await asyncio.to_thread(get, server.url, "/readyz", headers=headers))[0] == 200


async def test_metrics_are_refused_to_other_networks_without_the_token(start_server):
    server = start_server(METRICS_ALLOWED_NETWORKS="127.0.0.1/32", METRICS_TOKEN="s3cret-scrape")
    status, body = await asyncio.to_thread(get, server.url, "/metrics", source="127.0.0.2")
    assert status == 403
    assert "METRICS_TOKEN" in json.loads(body)["error"]
    wrong = {"Authorization": "Bearer guess"}
    status, _ = await asyncio.to_thread(
        get, server.url, "/metrics", source="127.0.0.2", headers=wrong
    )
    assert status == 403

    token = {"Authorization": "Bearer s3cret-scrape"}
    status, body = await asyncio.to_thread(
        get, server.url, "/metrics", source="127.0.0.2", headers=token
    )
    assert status == 200 and "socketio_sockets" in body
    # From an allowed network no token is needed.
    status, body = await asyncio.to_thread(get, server.url, "/metrics", source="127.0.0.1")
    assert status == 200 and "socketio_sockets" in body


async def test_metrics_behind_a_proxy_judge_the_forwarded_client(start_server):
    server = start_server(TRUSTED_PROXIES="127.0.0.1/32")
    outside = {"X-Forwarded-For": "203.0.113.9"}
    status, _ = await asyncio.to_thread(get, server.url, "/metrics", headers=outside)
    assert status == 403
    inside = {"X-Forwarded-For": "127.0.0.1"}
    assert (await asyncio.to_thread(get, server.url, "/metrics", headers=inside))[0] == 200
