"""Through deploy/'s nginx recipe: the probes pass, /metrics stays internal."""

import asyncio
import shutil
import urllib.error
import urllib.request

import pytest

from tests.servers import ProxiedCluster
from tests.support import TIMEOUT

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(shutil.which("nginx") is None, reason="nginx is not installed"),
]


def status_of(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=TIMEOUT) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


async def test_probes_pass_the_proxy_and_metrics_do_not(transactional_db, server_logs):
    cluster = ProxiedCluster(server_logs, workers=2).start()
    try:
        assert await asyncio.to_thread(status_of, f"{cluster.url}/healthz") == 200
        assert await asyncio.to_thread(status_of, f"{cluster.url}/readyz") == 200
        # A worker would serve nginx's own address; the recipe refuses before that.
        assert await asyncio.to_thread(status_of, f"{cluster.url}/metrics") == 403
        worker = cluster.workers[0].url
        assert await asyncio.to_thread(status_of, f"{worker}/metrics") == 200
    finally:
        cluster.stop()
