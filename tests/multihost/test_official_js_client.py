"""The official JS client's whole seed flow (tests/js/official_client.test.mjs) through
nginx to two hosts, over WebSocket and over long-polling; its ``manage.py end_stream``
case runs the command on h2 while its viewers may be on either host."""

from __future__ import annotations

import asyncio
import itertools
import json
import sys

import pytest

from tests.js.test_official_client import JS_DIR, NODE_TIMEOUT, TEST_FILE, node, run  # noqa: F401
from tests.support import ROOT

_names = itertools.count(1)


def _fixture(cluster, mode: str) -> dict:
    users = {
        role: cluster.user(f"js{mode}{role}{next(_names)}")
        for role in ("viewerA", "viewerB", "streamer")
    }
    streamer = users["streamer"]
    streams = {
        name: {
            "id": cluster.live_stream(streamer, f"JS {name}"),
            "streamerToken": streamer["token"],
        }
        for name in ("chat", "endRest", "endCommand", "moderation")
    }
    # The JS cases run `<python> manage.py end_stream ...`: make that run on h2.
    wrapper = cluster.topology.dir / "python-on-h2"
    wrapper.write_text(
        f'#!/bin/sh\nexec ip netns exec {cluster.topology.ns("h2")} {sys.executable} "$@"\n'
    )
    wrapper.chmod(0o755)
    bad = users["viewerA"]["token"][:-4] + "AAAA"  # a forged signature
    return {"badToken": bad, "users": users, "streams": streams, "python": str(wrapper)}


@pytest.mark.parametrize("mode", ["websocket", "polling"])
async def test_official_js_client_through_two_hosts(cluster, node, mode):  # noqa: F811
    fixture = await asyncio.to_thread(_fixture, cluster, mode)
    fixture["root"] = str(ROOT)
    env = cluster.env(
        "h2",
        LIVESTREAM_URL=cluster.url,
        LIVESTREAM_FIXTURE=json.dumps(fixture),
        LIVESTREAM_CLIENT_MODE=mode,
    )
    code, output = await asyncio.to_thread(
        run,
        [node, "--test", "--test-reporter=spec", str(TEST_FILE)],
        cwd=JS_DIR,
        env=env,
        timeout=NODE_TIMEOUT,
    )
    if code != 0:
        pytest.fail(f"node --test exited with {code}:\n{output}\n{cluster.log()}")
