"""What one join, one chat message and one idle socket cost Redis and PostgreSQL.

The inputs of the capacity model (docs/scaling.md). Runs our server
(``python -m livestream.serve --workers W``) against the Redis instances in
``REDIS_URL`` and the PostgreSQL database in ``DATABASE_URL``, both required and
both used by nothing else meanwhile (Redis's ``INFO commandstats`` counts the whole
instance; ``pg_stat_database`` the whole database)::

    REDIS_URL=redis://127.0.0.1:6392/0 DATABASE_URL=postgres://postgres@127.0.0.1:5432/wt_k \\
        flock /tmp/bench.lock .venv/bin/python bench/redis_cost.py --workers 2

Phases, each between two snapshots of every shard's command counts and network
bytes and of the database's commits and inserted rows: V clients connect; they
join one room; they stay idle for ``--idle-seconds``; senders chat M messages
that every viewer receives. Prints a JSON report.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import aiohttp
import benchenv
import psycopg
import redis
from sioclient import SioClient

REPO = Path(__file__).resolve().parent.parent
_IGNORED = {"info", "config", "flushall", "flushdb", "ping", "hello", "client"}


class Sink:
    def __init__(self) -> None:
        self.messages = 0

    def on_event(self, client: SioClient, frame: str) -> None:
        if frame.startswith('42["new_message"'):
            self.messages += 1

    def on_closed(self, client: SioClient) -> None:
        pass


def redis_snapshot(urls: list[str]) -> dict[str, int]:
    total = {"calls": 0, "publish": 0, "evalsha": 0, "in_bytes": 0, "out_bytes": 0}
    for url in urls:
        client = redis.Redis.from_url(url)
        for name, stats in client.info("commandstats").items():
            command = name.removeprefix("cmdstat_").split("|")[0]
            if command in _IGNORED:
                continue
            total["calls"] += stats["calls"]
            total[f"cmd:{command}"] = total.get(f"cmd:{command}", 0) + stats["calls"]
            if command in ("publish", "spublish"):
                total["publish"] += stats["calls"]
            if command in ("evalsha", "eval", "fcall"):
                total["evalsha"] += stats["calls"]
        stats = client.info("stats")
        total["in_bytes"] += stats["total_net_input_bytes"]
        total["out_bytes"] += stats["total_net_output_bytes"]
        client.close()
    return total


def pg_snapshot(url: str) -> dict[str, int]:
    time.sleep(1.5)  # PostgreSQL 15 flushes backend statistics about once a second
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("SELECT pg_stat_clear_snapshot()")
        commits, inserted = conn.execute(
            "SELECT xact_commit, tup_inserted FROM pg_stat_database "
            "WHERE datname = current_database()"
        ).fetchone()
    return {"commits": commits, "rows_inserted": inserted}


def snapshot(args) -> dict[str, int]:
    return redis_snapshot(args.redis_urls) | pg_snapshot(args.database_url)


def delta(before: dict, after: dict, per: float) -> dict[str, float]:
    """Per unit, the commands that moved listed one by one (``cmd:<name>``)."""
    names = [name for name in after if not name.startswith("cmd:")]
    changed = sorted(
        (name for name in after if name.startswith("cmd:")),
        key=lambda name: before.get(name, 0) - after[name],
    )
    names += [name for name in changed if after[name] != before.get(name, 0)]
    return {name: round((after[name] - before.get(name, 0)) / per, 2) for name in names}


async def measure(args, url: str, fixture: dict) -> dict:
    tokens, stream_id = fixture["tokens"], fixture["stream_ids"][0]
    sink = Sink()
    report: dict = {}
    # limit=0: aiohttp's default pool holds 100 connections, and every WebSocket keeps one.
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as http:
        clients = [SioClient(n, sink) for n in range(args.viewers)]
        before = snapshot(args)
        for start in range(0, len(clients), 50):
            batch = clients[start : start + 50]
            await asyncio.gather(
                *(c.connect(http, url, t) for c, t in zip(batch, tokens[start:], strict=False))
            )
        await asyncio.sleep(2)
        after = snapshot(args)
        report["per_connect"] = delta(before, after, args.viewers)

        before = after
        for start in range(0, len(clients), 20):
            acks = [
                await c.call("join_stream_room", {"streamId": stream_id})
                for c in clients[start : start + 20]
            ]
            await asyncio.wait_for(asyncio.gather(*acks), 30)
        await asyncio.sleep(2)
        after = snapshot(args)
        report["per_join"] = delta(before, after, args.viewers)

        before = redis_snapshot(args.redis_urls)
        await asyncio.sleep(args.idle_seconds)
        after = redis_snapshot(args.redis_urls)
        report["per_idle_socket_per_minute"] = delta(
            before, after, args.viewers * args.idle_seconds / 60
        )

        before = snapshot(args)
        senders = clients[: args.senders]
        interval = args.senders / args.rate
        started = time.monotonic()
        acks = []
        for n in range(args.messages):
            sender = senders[n % len(senders)]
            acks.append(
                await sender.call("chat_message", {"streamId": stream_id, "message": f"m{n}"})
            )
            await asyncio.sleep(max(0.0, started + (n + 1) / args.rate - time.monotonic()))
        results = await asyncio.wait_for(asyncio.gather(*acks), 60)
        ok = sum(1 for result in results if result and result.get("ok"))
        expected = ok * args.viewers
        deadline = time.monotonic() + 60
        while sink.messages < expected and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        await asyncio.sleep(1)
        after = snapshot(args)
        report["per_message"] = delta(before, after, ok)
        report["chat"] = {
            "sent": args.messages,
            "acked_ok": ok,
            "deliveries": sink.messages,
            "expected_deliveries": expected,
            "interval_s": interval,
        }
        for client in clients:
            await client.close()
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--viewers", type=int, default=200)
    parser.add_argument("--senders", type=int, default=10)
    parser.add_argument("--messages", type=int, default=300)
    parser.add_argument("--rate", type=float, default=50.0, help="chat messages per second")
    parser.add_argument("--idle-seconds", type=float, default=60.0)
    parser.add_argument("--port", type=int, default=8931)
    args = parser.parse_args()
    if not os.environ.get("REDIS_URL") or not os.environ.get("DATABASE_URL", "").startswith(
        "postgres"
    ):
        sys.exit("set REDIS_URL and DATABASE_URL (PostgreSQL), both used by nothing else")
    args.redis_urls = os.environ["REDIS_URL"].split(",")
    args.database_url = os.environ["DATABASE_URL"]

    env = benchenv.django_env()
    env.update(
        REDIS_URL=os.environ["REDIS_URL"],
        DATABASE_URL=args.database_url,
        LIVESTREAM_DATA_DIR=str(benchenv.RESULTS / "data-cost"),
    )
    (benchenv.RESULTS / "data-cost").mkdir(parents=True, exist_ok=True, mode=0o700)
    python = sys.executable
    subprocess.run([python, "manage.py", "migrate", "-v0"], cwd=REPO, env=env, check=True)
    out = subprocess.run(
        [python, "bench/django_fixture.py", "--users", str(args.viewers), "--streams", "1"],
        cwd=REPO,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    fixture = json.loads(out.strip().splitlines()[-1])
    server = subprocess.Popen(
        [
            python,
            "-m",
            "livestream.serve",
            "--port",
            str(args.port),
            "--workers",
            str(args.workers),
        ],
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                import urllib.request

                urllib.request.urlopen(f"http://127.0.0.1:{args.port}/admin/login/", timeout=2)
                break
            except OSError as exc:
                if getattr(exc, "code", None):
                    break
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        url = f"ws://127.0.0.1:{args.port}/socket.io/?EIO=4&transport=websocket"
        report = asyncio.run(measure(args, url, fixture))
    finally:
        os.killpg(server.pid, 15)
        server.wait(timeout=30)
    report["setup"] = {
        "workers": args.workers,
        "viewers": args.viewers,
        "shards": len(args.redis_urls),
        "rate": args.rate,
        "idle_seconds": args.idle_seconds,
        "ping_interval_ms": 25000,
        "commit": subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True
        ).stdout.strip(),
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
