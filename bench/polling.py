"""Long-polling figures next to the WebSocket ones: S1 over polling-then-upgrade, idle KB.

    python bench/polling.py idle --clients 1000      # KB per idle long-polling client
    python bench/polling.py connect --clients 3000   # S1: connects over polling, then upgrade

Starts our server (``python -m livestream.serve``, the bench environment and data dir).
``idle`` opens one warm-up client, reads the RSS of the worker and its embedded
redis-server, then opens N clients: handshake, Socket.IO CONNECT with a token, and a GET
held open (each answering PINGs, like an idle browser tab); after they settle it reads
the RSS again and prints (after - before) / N. ``connect`` runs N clients the way a
default official client connects (handshake GET, CONNECT POST, GET for ``40``, then the
WebSocket probe ``2probe``/``3probe``/``5``), at most 200 in flight like S1, and prints
the wall time until the last upgrade. Everything talks to 127.0.0.1; every wait has a
timeout; the server is stopped in ``finally``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import time

import aiohttp
from benchenv import PYTHON, REPO, django_env, django_fixture, embedded_redis_pid
from measure import ServerProcesses, raise_fd_limit

TIMEOUT = 30


class Idle:
    def __init__(self, http: aiohttp.ClientSession, base: str) -> None:
        self.http = http
        self.base = base
        self.url = ""

    async def open(self, token: str) -> None:
        async with self.http.get(f"{self.base}?EIO=4&transport=polling") as response:
            sid = json.loads((await response.text())[1:])["sid"]
        self.url = f"{self.base}?EIO=4&transport=polling&sid={sid}"
        await self.post("40" + json.dumps({"token": token}))
        assert (await self.get()).startswith("40"), "CONNECT refused"

    async def get(self) -> str:
        async with self.http.get(self.url) as response:
            return await response.text()

    async def post(self, body: str) -> None:
        async with self.http.post(self.url, data=body.encode()) as response:
            await response.read()

    async def idle(self) -> None:
        while True:
            packets = (await self.get()).split("\x1e")
            if "1" in packets:
                return
            if "2" in packets:
                await self.post("3")

    async def upgrade(self) -> None:
        ws_url = self.url.replace("http://", "ws://").replace(
            "transport=polling", "transport=websocket"
        )
        async with self.http.ws_connect(ws_url) as ws:
            await ws.send_str("2probe")
            assert (await ws.receive_str()) == "3probe"
            await ws.send_str("5")
            await ws.close()


async def connect_run(port: int, tokens: list[str], clients: int) -> dict:
    base = f"http://127.0.0.1:{port}/socket.io/"
    connector = aiohttp.TCPConnector(limit=0)
    gate = asyncio.Semaphore(200)
    failures = 0
    async with aiohttp.ClientSession(connector=connector) as http:

        async def one(index: int) -> None:
            nonlocal failures
            client = Idle(http, base)
            async with gate:
                try:
                    await asyncio.wait_for(client.open(tokens[index % len(tokens)]), TIMEOUT)
                    await asyncio.wait_for(client.upgrade(), TIMEOUT)
                except (TimeoutError, aiohttp.ClientError, OSError, AssertionError):
                    failures += 1

        started = time.perf_counter()
        await asyncio.gather(*(one(i) for i in range(clients)))
        seconds = time.perf_counter() - started
    return {"clients": clients, "failed": failures, "seconds": round(seconds, 2)}


def rss_kb(server: ServerProcesses) -> float:
    total = server.rss_bytes()
    redis = embedded_redis_pid()
    if redis is not None:
        total += ServerProcesses([redis]).rss_bytes()
    return total / 1024


async def measure(port: int, tokens: list[str], clients: int) -> dict:
    base = f"http://127.0.0.1:{port}/socket.io/"
    connector = aiohttp.TCPConnector(limit=0)
    timeout = aiohttp.ClientTimeout(total=None, sock_connect=TIMEOUT)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as http:
        warm = Idle(http, base)
        await asyncio.wait_for(warm.open(tokens[0]), TIMEOUT)
        tasks = [asyncio.ensure_future(warm.idle())]
        await asyncio.sleep(2)
        server = ServerProcesses(_server_pids(port))
        before = rss_kb(server)
        for start in range(0, clients, 100):
            batch = [Idle(http, base) for _ in range(start, min(clients, start + 100))]
            await asyncio.wait_for(
                asyncio.gather(
                    *(c.open(tokens[(start + i + 1) % len(tokens)]) for i, c in enumerate(batch))
                ),
                TIMEOUT * 2,
            )
            tasks += [asyncio.ensure_future(c.idle()) for c in batch]
        await asyncio.sleep(5)
        after = rss_kb(server)
        for task in tasks:
            task.cancel()
    return {
        "clients": clients,
        "rss_before_kb": round(before),
        "rss_after_kb": round(after),
        "kb_per_idle_polling_client": round((after - before) / clients, 1),
    }


_server_process: subprocess.Popen | None = None


def _server_pids(port: int) -> list[int]:
    return [_server_process.pid]


def main() -> None:
    global _server_process
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("scenario", choices=["idle", "connect"])
    parser.add_argument("--clients", type=int, default=1000)
    parser.add_argument("--port", type=int, default=8391)
    args = parser.parse_args()
    raise_fd_limit()
    fixture = django_fixture(min(args.clients, 1000) + 1)
    # Connection slots are per user; tokens are reused, so lift that limit.
    env = {**django_env(), "SOCKETIO_MAX_CONNECTIONS_PER_USER": "0"}
    _server_process = subprocess.Popen(
        [PYTHON, "-m", "livestream.serve", "--host", "127.0.0.1", "--port", str(args.port)],
        cwd=REPO,
        env=env,
    )
    try:
        deadline = time.monotonic() + TIMEOUT
        while time.monotonic() < deadline:
            try:
                import urllib.request

                urllib.request.urlopen(f"http://127.0.0.1:{args.port}/admin/login/", timeout=2)
                break
            except OSError:
                time.sleep(0.2)
        run = measure if args.scenario == "idle" else connect_run
        result = asyncio.run(run(args.port, fixture["tokens"], args.clients))
        print(json.dumps(result, indent=2))
    finally:
        _server_process.terminate()
        _server_process.wait(timeout=30)


if __name__ == "__main__":
    main()
