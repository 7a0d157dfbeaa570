"""The scenario suite: S1-S5 in the order that keeps each one's figures clean.

Per N: S1 connects N clients (S4 reads the server's RSS around that on a fresh server),
S2 makes the same clients join one room at once; then S3 builds a settled room of N and
runs the chat loads. S5 ramps the chat rate in a room of 100. Between scenarios the
server is given time to go idle, so one scenario's backlog does not land in the next.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from typing import Any

import aiohttp
from measure import CpuWindow, ServerProcesses
from scenarios import (
    ChatLoad,
    Recorder,
    close_clients,
    connect_clients,
    join_paced,
    join_room,
    log,
    run_chat,
    wait_quiet,
)
from sioclient import SioClient

ALL_SCENARIOS = ("S1", "S2", "S3", "S4", "S5")
S5_P99_LIMIT_MS = 200.0
S5_MIN_DELIVERED = 0.99


class Bench:
    """One load-generator run against one server; ``results`` fills in as scenarios end."""

    def __init__(
        self, args: argparse.Namespace, fixture: dict[str, Any], server: ServerProcesses
    ) -> None:
        self.args = args
        self.tokens: list[str] = fixture["tokens"]
        self.stream_ids: list[str] = fixture["stream_ids"]
        self.server = server
        self.url = f"ws://{args.host}:{args.port}/socket.io/?EIO=4&transport=websocket"
        self.recorder = Recorder()
        self.streams_used = 0
        self.results: dict[str, Any] = {
            "server": args.server,
            "url": self.url,
            "server_pids": [p.pid for p in server.processes()],
            "scenarios": {},
        }

    def record(self, scenario: str, key: str, value: dict[str, Any]) -> None:
        self.results["scenarios"].setdefault(scenario, {})[key] = value
        log(f"{scenario} {key}: {json.dumps(value)}")

    async def run(self) -> None:
        connector = aiohttp.TCPConnector(limit=0)
        async with aiohttp.ClientSession(connector=connector) as http:
            self.http = http
            await self.warm_up()
            for n in self.args.sizes:
                if self.args.only & {"S1", "S2", "S3", "S4"}:
                    await self.phase(n)
            if "S5" in self.args.only:
                await self.s5(self.next_stream())

    async def warm_up(self) -> None:
        """Pay one-time costs (imports, DB connections) before anything is timed."""
        clients, info = await self.connect(self.tokens[:10])
        if not clients:
            raise SystemExit(f"cannot connect to {self.url}: {info['failures']}")
        await close_clients(clients)
        await self.wait_server_idle()

    async def connect(self, tokens: list[str]) -> tuple[list[SioClient], dict[str, Any]]:
        return await connect_clients(
            self.http,
            self.url,
            tokens,
            self.recorder,
            concurrency=self.args.concurrency,
            timeout=self.args.connect_timeout,
            cap=max(120.0, len(tokens) / 20),
        )

    async def wait_server_idle(self, *, below_pct: float = 10.0, cap: float = 60.0) -> None:
        """Let the server finish the previous scenario's work (disconnects, broadcasts)."""
        deadline = time.monotonic() + cap
        await asyncio.sleep(0.5)
        while time.monotonic() < deadline:
            before = self.server.cpu_seconds()
            await asyncio.sleep(0.5)
            if (self.server.cpu_seconds() - before) / 0.5 * 100 < below_pct:
                return
        log("server still busy after the idle wait; going on")

    def next_stream(self) -> str:
        """A stream nobody joined yet in this run: every room starts empty."""
        if self.streams_used >= len(self.stream_ids):
            raise SystemExit(f"fixture has only {len(self.stream_ids)} live streams")
        self.streams_used += 1
        return self.stream_ids[self.streams_used - 1]

    async def phase(self, n: int) -> None:
        """S1 (+S4 when n is the memory size) and S2 on the same N clients; then S3."""
        if n > len(self.tokens):
            raise SystemExit(f"fixture has {len(self.tokens)} tokens, S1 needs {n}")
        args, only = self.args, self.args.only
        if only & {"S1", "S2", "S4"}:
            await self.wait_server_idle()
            measure_mem = "S4" in only and n == args.mem_n
            rss_before = self.server.rss_bytes() if measure_mem else 0
            closes0 = self.recorder.unexpected_closes
            window = CpuWindow(self.server).start()
            clients, s1 = await self.connect(self.tokens[:n])
            s1.update(window.result())
            if "S1" in only:
                self.record("S1", str(n), s1)
            try:
                if measure_mem:
                    await self.s4(n, clients, rss_before)
                if "S2" in only:
                    window = CpuWindow(self.server).start()
                    s2 = await join_room(
                        clients, self.recorder, self.next_stream(), timeout=args.join_timeout
                    )
                    s2.update(window.result())
                    s2["unexpected_closes"] = self.recorder.unexpected_closes - closes0
                    self.record("S2", str(n), s2)
            finally:
                await close_clients(clients)
        if "S3" in only:
            await self.s3(n)

    async def s4(self, n: int, clients: list[SioClient], rss_before: int) -> None:
        await asyncio.sleep(2.0)
        rss_after = self.server.rss_bytes()
        connected = len([c for c in clients if not c.closed])
        per_conn = (rss_after - rss_before) / 1024 / connected if connected else None
        self.record(
            "S4",
            str(n),
            {
                "connections": connected,
                "rss_before_mb": round(rss_before / 2**20, 1),
                "rss_after_mb": round(rss_after / 2**20, 1),
                "kb_per_connection": None if per_conn is None else round(per_conn, 2),
                "processes": len(self.server.processes()),
            },
        )

    async def room(self, n: int, stream_id: str) -> tuple[list[SioClient], dict[str, Any]]:
        """N connected clients in ``stream_id``, joined in paced batches, room settled.

        S3 and S5 measure chat fan-out, not joins: batching keeps a server that broadcasts
        every join from drowning in its own viewer counts while the room fills up.
        """
        await self.wait_server_idle(cap=self.args.recover_cap)
        clients, connect = await self.connect(self.tokens[:n])
        retried = 0
        # Connects are S1's business; here a refused one is retried more gently.
        for _ in range(3):
            have = {c.index for c in clients}
            missing = [i for i in range(n) if i not in have]
            if not missing:
                break
            retried += len(missing)
            more, _ = await connect_clients(
                self.http,
                self.url,
                [self.tokens[i] for i in missing],
                self.recorder,
                concurrency=20,
                timeout=self.args.connect_timeout,
                cap=120.0,
                indices=missing,
            )
            clients = sorted([*clients, *more], key=lambda c: c.index)
        t0 = time.monotonic()
        joined = await join_paced(
            clients, self.recorder, stream_id, batch=self.args.join_batch, timeout=120.0
        )
        info = {
            "connected": len(clients),
            "connect_retries": retried,
            "joined": joined,
            "join_seconds": round(time.monotonic() - t0, 1),
        }
        info["settle_seconds"] = await self.settle()
        log(f"room of {n} ready: {info}")
        return clients, info

    def in_room(self, clients: list[SioClient]) -> list[SioClient]:
        return [c for c in clients if c.data.get("joined") and not c.closed]

    async def settle(self, cap: float = 300.0) -> float:
        """Wait until no viewer count came for 2 s and the server is idle; seconds waited."""
        deadline = time.monotonic() + cap
        t0 = time.monotonic()
        await wait_quiet(lambda: self.recorder.last_count_at, 2.0, deadline)
        await self.wait_server_idle(cap=max(1.0, deadline - time.monotonic()))
        return round(time.monotonic() - t0, 1)

    async def s3(self, n: int) -> None:
        stream_id = self.next_stream()
        clients, setup = await self.room(n, stream_id)
        try:
            for rate in self.args.rates:
                await self.wait_server_idle()
                room = self.in_room(clients)
                key = f"{n}@{rate:g}"
                if len(room) < self.args.senders:
                    self.record("S3", key, {"error": "room is empty", "setup": setup})
                    continue
                closes0 = self.recorder.unexpected_closes
                load = ChatLoad(stream_id, rate, self.args.duration, drain_cap=self.args.drain_cap)
                window = CpuWindow(self.server).start()
                result = await run_chat(
                    load,
                    room[: self.args.senders],
                    len(room),
                    self.recorder,
                    run_id=f"s3n{n}r{rate:g}",
                )
                result.update(window.result())
                result["unexpected_closes"] = self.recorder.unexpected_closes - closes0
                result["room_setup"] = setup
                self.record("S3", key, result)
        finally:
            await close_clients(clients)

    async def s5(self, stream_id: str) -> None:
        """Raise the total chat rate step by step until p99 or delivery breaks the limit."""
        args = self.args
        clients, setup = await self.room(args.s5_room, stream_id)
        summary: dict[str, Any] = {
            "room": args.s5_room,
            "senders": args.s5_senders,
            "p99_limit_ms": S5_P99_LIMIT_MS,
            "min_delivered": S5_MIN_DELIVERED,
            "max_rate_held": None,
            "stopped_because": "all steps held",
            "room_setup": setup,
            "steps": [],
        }
        try:
            if setup["joined"] < args.s5_room:
                summary["stopped_because"] = "room setup failed"
                return
            for total in args.s5_steps:
                await self.wait_server_idle()
                room = self.in_room(clients)
                load = ChatLoad(
                    stream_id,
                    total / args.s5_senders,
                    args.s5_step_seconds,
                    drain_quiet=1.0,
                    drain_cap=20.0,
                )
                window = CpuWindow(self.server).start()
                step = await run_chat(
                    load, room[: args.s5_senders], len(room), self.recorder, run_id=f"s5r{total:g}"
                )
                step.update(window.result())
                summary["steps"].append(step)
                if "error" in step:
                    summary["stopped_because"] = f"{total:g} msg/s: {step['error']}"
                    break
                log(
                    f"S5 step {total:g} msg/s: p99={step['p99_ms']} ms "
                    f"delivered={step['delivered_ratio']} acked={step['acked_ok']}/{step['sent']}"
                    f" loadgen_cpu={step['loadgen_cpu_pct']}%"
                )
                reason = s5_failure(step, total)
                if reason:
                    summary["stopped_because"] = f"{total:g} msg/s: {reason}"
                    break
                summary["max_rate_held"] = total
        finally:
            await close_clients(clients)
            self.record("S5", str(args.s5_room), summary)


def s5_failure(step: dict[str, Any], target: float) -> str | None:
    """Why an S5 step does not count as held, or None when it does."""
    if "error" in step:
        return step["error"]
    if not step["sent"]:
        return "nothing sent"
    if step["send_rate_achieved"] is not None and step["send_rate_achieved"] < 0.9 * target:
        return f"loadgen sent only {step['send_rate_achieved']} msg/s"
    if step["acked_ok"] < S5_MIN_DELIVERED * step["sent"]:
        return f"only {step['acked_ok']}/{step['sent']} acked ok ({step['ack_failed']})"
    if step["delivered_ratio"] is None or step["delivered_ratio"] < S5_MIN_DELIVERED:
        return f"delivered {step['delivered_ratio']}"
    if step["p99_ms"] is None or step["p99_ms"] > S5_P99_LIMIT_MS:
        return f"p99 {step['p99_ms']} ms"
    return None
