"""The building blocks of every scenario: connect many clients, join a room, run a chat load.

All clients share one ``Recorder`` (the sink of every frame), so counting stays O(1) per
frame and nothing is lost between the moment a frame arrives and the moment a scenario
looks. Every wait here has a deadline: a scenario reports what it saw and never hangs.
"""

from __future__ import annotations

import asyncio
import sys
import time
from array import array
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from measure import latency_summary_ms, percentile
from sioclient import AuthRefused, ProtocolError, SioClient, event_name

# Chat texts carry "bm:<run>:<sender>:<seq>:<perf_counter_ns>" so every receiver can
# compute latency and attribute the delivery without decoding the JSON.
CHAT_MARKER = '"bm:'


def log(message: str) -> None:
    """Progress lines go to stderr; stdout is kept for the JSON result."""
    print(f"[loadgen {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def int_field(frame: str, key: str) -> int | None:
    """The integer value of ``"key":`` in a JSON frame, tolerant of a space after the colon."""
    start = frame.find(f'"{key}":')
    if start < 0:
        return None
    i = start + len(key) + 3
    while i < len(frame) and frame[i] == " ":
        i += 1
    j = i
    while j < len(frame) and frame[j].isdigit():
        j += 1
    return int(frame[i:j]) if j > i else None


@dataclass
class Recorder:
    """Counts what all clients receive; one instance per load-generator process."""

    run_id: str = ""
    events: Counter = field(default_factory=Counter)
    count_updates: int = 0
    joined: int = 0
    last_count_at: float = 0.0
    last_message_at: float = 0.0
    deliveries: Counter = field(default_factory=Counter)
    delivered_total: int = 0
    stale_deliveries: int = 0
    latencies: array = field(default_factory=lambda: array("q"))
    unexpected_closes: int = 0
    close_reasons: Counter = field(default_factory=Counter)

    def on_event(self, client: SioClient, frame: str) -> None:
        if frame.startswith('42["new_message"'):
            self._on_chat(frame)
            return
        name = event_name(frame)
        self.events[name] += 1
        if name == "viewer_count_updated":
            self.count_updates += 1
            self.last_count_at = time.monotonic()
            client.data["count"] = int_field(frame, "count")
        elif name == "room_joined_successfully":
            client.data["joined"] = True
            self.joined += 1

    def _on_chat(self, frame: str) -> None:
        now = time.perf_counter_ns()
        self.last_message_at = time.monotonic()
        start = frame.find(CHAT_MARKER)
        if start < 0:
            self.events["new_message(foreign)"] += 1
            return
        end = frame.find('"', start + 1)
        run, sender, seq, sent_ns = frame[start + 4 : end].split(":")
        if run != self.run_id:
            self.stale_deliveries += 1
            return
        self.deliveries[(int(sender), int(seq))] += 1
        self.delivered_total += 1
        self.latencies.append(now - int(sent_ns))

    def on_closed(self, client: SioClient) -> None:
        if not client.data.get("closing"):
            self.unexpected_closes += 1
            self.close_reasons[client.close_reason or "unknown"] += 1

    def start_chat_run(self, run_id: str) -> None:
        self.run_id = run_id
        self.deliveries = Counter()
        self.latencies = array("q")
        self.stale_deliveries = 0
        self.delivered_total = 0
        self.last_message_at = time.monotonic()


async def wait_quiet(last_seen: Callable[[], float], quiet: float, deadline: float) -> bool:
    """Wait until nothing was seen for ``quiet`` seconds; False when ``deadline`` came first."""
    while True:
        now = time.monotonic()
        if now - last_seen() >= quiet:
            return True
        if now >= deadline:
            return False
        await asyncio.sleep(min(0.05, max(0.0, deadline - now)))


async def connect_clients(
    http: aiohttp.ClientSession,
    url: str,
    tokens: Sequence[str],
    recorder: Recorder,
    *,
    concurrency: int,
    timeout: float,
    cap: float,
    indices: Sequence[int] | None = None,
) -> tuple[list[SioClient], dict[str, Any]]:
    """Connect and authenticate one client per token, at most ``concurrency`` in flight.

    ``indices`` name the clients (default 0..len-1), so a retry keeps the numbering.
    Returns the connected clients and the S1 figures: wall time until the last ``40{sid}``,
    failures by kind, and per-connection handshake latency.
    """
    gate = asyncio.Semaphore(concurrency)
    connected: list[SioClient] = []
    failures: Counter = Counter()
    samples: dict[str, str] = {}
    handshake_ns = array("q")

    async def one(index: int, token: str) -> None:
        client = SioClient(index, recorder)
        async with gate:
            t0 = time.perf_counter_ns()
            try:
                await asyncio.wait_for(client.connect(http, url, token), timeout)
            except (TimeoutError, aiohttp.ClientError, OSError, AuthRefused, ProtocolError) as exc:
                kind = failure_kind(exc)
                failures[kind] += 1
                samples.setdefault(kind, str(exc)[:200])
            else:
                handshake_ns.append(time.perf_counter_ns() - t0)
                connected.append(client)
                return
            client.data["closing"] = True
            await client.close()

    t0 = time.perf_counter()
    numbers = indices if indices is not None else range(len(tokens))
    tasks = [asyncio.ensure_future(one(i, tok)) for i, tok in zip(numbers, tokens, strict=True)]
    _, pending = await asyncio.wait(tasks, timeout=cap)
    for task in pending:
        task.cancel()
    failures["cap_exceeded"] += len(pending)
    elapsed = time.perf_counter() - t0
    connected.sort(key=lambda c: c.index)
    lat = sorted(handshake_ns)
    return connected, {
        "n": len(tokens),
        "connected": len(connected),
        "failed": sum(failures.values()),
        "failures": {k: v for k, v in failures.items() if v},
        "failure_samples": samples,
        "seconds": round(elapsed, 3),
        "connects_per_s": round(len(connected) / elapsed, 1) if elapsed else None,
        "handshake_p50_ms": _ms(percentile(lat, 50)),
        "handshake_p99_ms": _ms(percentile(lat, 99)),
    }


def failure_kind(exc: BaseException) -> str:
    """A short label for why a connect failed, for the S1 failure counts."""
    if isinstance(exc, AuthRefused):
        return "auth_refused"
    if isinstance(exc, TimeoutError):
        return "timeout"
    if isinstance(exc, aiohttp.ClientConnectorError):
        return "connect_refused"
    if isinstance(exc, aiohttp.WSServerHandshakeError):
        return f"http_{exc.status}"
    if isinstance(exc, ProtocolError):
        return "protocol_error"
    return type(exc).__name__


def _ms(ns: float | None) -> float | None:
    return None if ns is None else round(ns / 1e6, 2)


async def close_clients(clients: Sequence[SioClient], *, concurrency: int = 500) -> None:
    """Close every client gracefully, bounded in time."""
    gate = asyncio.Semaphore(concurrency)

    async def one(client: SioClient) -> None:
        client.data["closing"] = True
        async with gate:
            await client.close()

    tasks = [asyncio.ensure_future(one(c)) for c in clients]
    if tasks:
        _, pending = await asyncio.wait(tasks, timeout=60)
        for task in pending:
            task.cancel()


async def join_room(
    clients: Sequence[SioClient],
    recorder: Recorder,
    stream_id: str,
    *,
    timeout: float,
    count_quiet: float = 1.0,
    count_cap: float = 120.0,
) -> dict[str, Any]:
    """S2: every client joins ``stream_id`` at once (with an ack id).

    Measures the time until every client had both ``room_joined_successfully`` and its ack,
    then counts ``viewer_count_updated`` frames until none came for ``count_quiet`` seconds
    (at most ``count_cap`` seconds after the joins were sent).
    """
    n = len(clients)
    recorder.joined = 0
    recorder.count_updates = 0
    recorder.last_count_at = time.monotonic()
    for client in clients:
        client.data.pop("joined", None)
        client.data.pop("count", None)
    t0 = time.perf_counter()
    futures = []
    for client in clients:
        try:
            futures.append(await client.call("join_stream_room", {"streamId": stream_id}))
        except (aiohttp.ClientError, ConnectionError):
            pass
    sent_at = time.monotonic()
    if futures:
        await asyncio.wait(futures, timeout=timeout)
    outcomes = Counter(ack_outcome(f) for f in futures)
    acked_ok = outcomes.pop(ACK_OK, 0)
    missing = outcomes.pop(None, 0) + n - len(futures)
    # A joiner gets room_joined_successfully before its ack; allow for frames in flight.
    deadline = sent_at + timeout
    while recorder.joined < acked_ok and time.monotonic() < deadline:
        await asyncio.sleep(0.01)
    elapsed = time.perf_counter() - t0
    answered = missing == 0 and recorder.joined >= acked_ok
    quiet = await wait_quiet(lambda: recorder.last_count_at, count_quiet, sent_at + count_cap)
    in_room = [c for c in clients if c.data.get("joined") and not c.closed]
    counts = Counter(c.data.get("count") for c in in_room)
    return {
        "n": n,
        "complete": answered and acked_ok == n,
        # Time until every join was answered (ok or not); None if some never were.
        "seconds": round(elapsed, 3) if answered else None,
        "seconds_waited": round(elapsed, 3),
        "acked_ok": acked_ok,
        "join_failed": sum(outcomes.values()),
        "ack_failed": dict(outcomes),
        "ack_missing": missing,
        "room_joined_received": recorder.joined,
        "viewer_count_updates": recorder.count_updates,
        "viewer_count_updates_per_client": round(recorder.count_updates / n, 2) if n else None,
        "count_quiet_reached": quiet,
        "count_window_s": round(time.monotonic() - sent_at, 2),
        # Joined clients whose last viewer_count_updated equals the room size.
        "room_size": len(in_room),
        "final_count_exact": counts.get(len(in_room), 0),
        "final_counts_seen": {str(k): v for k, v in counts.most_common(5)},
    }


ACK_OK = "ok"


def ack_outcome(fut: asyncio.Future) -> str | None:
    """``ACK_OK``, the error message of an ``{ok: false}`` ack, or None when none came."""
    if not fut.done() or fut.cancelled():
        return None
    reply = fut.result()
    if isinstance(reply, dict):
        return ACK_OK if reply.get("ok") is True else str(reply.get("message"))
    return f"unexpected ack {reply!r}"[:100]


async def join_paced(
    clients: Sequence[SioClient],
    recorder: Recorder,
    stream_id: str,
    *,
    batch: int,
    timeout: float,
) -> int:
    """Join ``batch`` clients at a time, each batch after the previous one's acks.

    Returns how many clients are in the room (acked ok). Used to build rooms for the chat
    scenarios; S2 is the one that measures joining all at once.
    """
    joined = 0
    for start in range(0, len(clients), batch):
        futures = []
        for client in clients[start : start + batch]:
            if client.closed:
                continue
            try:
                futures.append(await client.call("join_stream_room", {"streamId": stream_id}))
            except (aiohttp.ClientError, ConnectionError):
                pass
        if not futures:
            continue
        await asyncio.wait(futures, timeout=timeout)
        joined += sum(1 for f in futures if ack_outcome(f) == ACK_OK)
    return joined


@dataclass
class ChatLoad:
    """One open-loop chat load: ``senders`` each send ``rate`` msg/s for ``duration`` s."""

    stream_id: str
    rate_per_sender: float
    duration: float
    drain_quiet: float = 2.0
    drain_cap: float = 60.0


async def run_chat(
    load: ChatLoad,
    senders: Sequence[SioClient],
    receivers: int,
    recorder: Recorder,
    run_id: str,
) -> dict[str, Any]:
    """S3/S5 step: send, then drain until every delivery came or the room went quiet.

    ``receivers`` is the room size at the start (senders included: they get their own
    messages too). Delivered ratio = deliveries of ok-acked messages / (acked ok x receivers).
    """
    if not senders:
        return {"error": "no sender left in the room", "receivers": receivers}
    recorder.start_chat_run(run_id)
    sent: list[tuple[tuple[int, int], asyncio.Future]] = []
    send_errors = 0
    loop = asyncio.get_running_loop()
    interval = 1.0 / load.rate_per_sender

    async def send_loop(sender_no: int, client: SioClient) -> None:
        nonlocal send_errors
        start = loop.time() + sender_no * interval / max(1, len(senders))
        seq = 0
        while seq * interval < load.duration:
            delay = start + seq * interval - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            text = f"bm:{run_id}:{sender_no}:{seq}:{time.perf_counter_ns()}"
            try:
                fut = await client.call(
                    "chat_message", {"streamId": load.stream_id, "message": text}
                )
            except (aiohttp.ClientError, ConnectionError):
                send_errors += 1
            else:
                sent.append(((sender_no, seq), fut))
            seq += 1

    t0 = time.perf_counter()
    senders_tasks = [asyncio.ensure_future(send_loop(i, c)) for i, c in enumerate(senders)]
    _, pending = await asyncio.wait(senders_tasks, timeout=load.duration + 30)
    for task in pending:
        task.cancel()
    send_seconds = time.perf_counter() - t0

    # Drain: every sent message must be answered (ack, or its connection gone) before the
    # room may count as quiet; then stop when all deliveries came or none came for
    # drain_quiet seconds. The cap bounds it all.
    deadline = time.monotonic() + load.drain_cap
    wanted = len(sent) * receivers
    while time.monotonic() < deadline:
        if all(f.done() for _, f in sent):
            quiet = time.monotonic() - recorder.last_message_at >= load.drain_quiet
            if recorder.delivered_total >= wanted or quiet:
                break
        await asyncio.sleep(0.05)
    drain_seconds = time.perf_counter() - t0 - send_seconds

    ok_keys: set[tuple[int, int]] = set()
    ack_failed: Counter = Counter()
    ack_missing = 0
    for key, fut in sent:
        outcome = ack_outcome(fut)
        if outcome is None:
            ack_missing += 1
            fut.cancel()
        elif outcome == ACK_OK:
            ok_keys.add(key)
        else:
            ack_failed[outcome] += 1
    expected = len(ok_keys) * receivers
    delivered = sum(min(recorder.deliveries[k], receivers) for k in ok_keys)
    duplicates = sum(max(0, n - receivers) for n in recorder.deliveries.values())
    # Messages never acked may still have been broadcast: the ratio over everything sent
    # shows the loss an overloaded server hides by not acking.
    delivered_all = sum(min(n, receivers) for n in recorder.deliveries.values())
    expected_all = len(sent) * receivers
    result: dict[str, Any] = {
        "receivers": receivers,
        "senders": len(senders),
        "target_rate_total": round(load.rate_per_sender * len(senders), 1),
        "duration_s": load.duration,
        "sent": len(sent),
        "send_rate_achieved": round(len(sent) / send_seconds, 1) if send_seconds else None,
        "send_errors": send_errors,
        "acked_ok": len(ok_keys),
        "ack_failed": dict(ack_failed),
        "ack_missing": ack_missing,
        "expected_deliveries": expected,
        "delivered": delivered,
        "lost": expected - delivered,
        "duplicates": duplicates,
        "delivered_ratio": round(delivered / expected, 5) if expected else None,
        "acked_ok_ratio": round(len(ok_keys) / len(sent), 5) if sent else None,
        "delivered_of_sent_ratio": round(delivered_all / expected_all, 5) if expected_all else None,
        "stale_deliveries": recorder.stale_deliveries,
        "drain_seconds": round(drain_seconds, 2),
        **latency_summary_ms(recorder.latencies),
    }
    return result
