"""The large-room point of the capacity model: one live stream, N viewers over W workers.

Runs our server (``python -m livestream.serve --workers W``), connects N viewers from one
load-generator process (raw Engine.IO v4 / Socket.IO v5, ``bench/sioclient.py``), makes
them all join one room at once, then lets a few of them chat at each total rate of
``--rates`` for ``--duration`` seconds. Every viewer (the senders too) receives every
message; latency is measured inside the load generator (send to receive, one clock)::

    REDIS_URL=redis://127.0.0.1:6379/5 REDIS_PREFIX=wt_m \\
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/wt_m \\
        flock /tmp/bench.lock .venv/bin/python bench/large_room.py --viewers 10000 --workers 2

Without ``REDIS_URL``/``DATABASE_URL`` it runs on the bench's own SQLite file and embedded
Redis (``bench/results/data-large``). Reports, as JSON on stdout and in
``bench/results/large-room-<stamp>.json``: connect and join wall time, the join acks and
the final viewer counts, per-worker CPU and RSS and connections, Redis's CPU, the load
generator's own CPU (it shares the machine: near 100 % it is the limit, not the server),
and per chat step delivered ratio and latency p50/p95/p99/max.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import aiohttp
import benchenv
import psutil
import redis
from measure import CpuWindow, ServerProcesses, raise_fd_limit
from scenarios import (
    ACK_OK,
    ChatLoad,
    Recorder,
    ack_outcome,
    close_clients,
    connect_clients,
    join_room,
    log,
    run_chat,
    wait_quiet,
)
from sioclient import SioClient

REPO = benchenv.REPO
DATA_DIR = benchenv.RESULTS / "data-large"


class Workers:
    """The launcher's worker processes: CPU seconds, RSS and sockets, one figure each."""

    def __init__(self, launcher_pid: int) -> None:
        self.launcher = psutil.Process(launcher_pid)

    def processes(self) -> list[psutil.Process]:
        try:
            return self.launcher.children(recursive=True)
        except psutil.Error:
            return []

    def cpu(self) -> dict[int, float]:
        out = {}
        for proc in self.processes():
            try:
                times = proc.cpu_times()
            except psutil.Error:
                continue
            out[proc.pid] = times.user + times.system
        return out

    def snapshot(self) -> list[dict[str, Any]]:
        rows = []
        for proc in self.processes():
            try:
                established = sum(
                    1
                    for c in proc.net_connections(kind="tcp")
                    if c.status == psutil.CONN_ESTABLISHED
                )
                rows.append(
                    {
                        "pid": proc.pid,
                        "rss_mb": round(proc.memory_info().rss / 2**20, 1),
                        "tcp_established": established,
                    }
                )
            except psutil.Error:
                continue
        return rows


class Window:
    """CPU over one phase: loadgen, server (all processes), each worker, Redis."""

    def __init__(self, server: ServerProcesses, workers: Workers, redis_proc) -> None:
        self.cpu = CpuWindow(server)
        self.workers = workers
        self.redis_proc = redis_proc

    def _redis_cpu(self) -> float | None:
        if self.redis_proc is None:
            return None
        try:
            times = self.redis_proc.cpu_times()
        except psutil.Error:
            return None
        return times.user + times.system

    def start(self) -> Window:
        self.cpu.start()
        self.workers0 = self.workers.cpu()
        self.redis0 = self._redis_cpu()
        self.machine0 = psutil.cpu_times()
        return self

    def result(self) -> dict[str, Any]:
        out: dict[str, Any] = self.cpu.result()
        wall = out["wall_s"] or 1.0
        now = self.workers.cpu()
        out["worker_cpu_pct"] = [
            round(100 * (now[pid] - self.workers0.get(pid, 0.0)) / wall, 1) for pid in sorted(now)
        ]
        # Every core's busy time, every process's (other engineers' too): % of one core.
        machine = psutil.cpu_times()
        busy = [
            t.user + t.nice + t.system + getattr(t, "irq", 0) + getattr(t, "softirq", 0)
            for t in (self.machine0, machine)
        ]
        out["machine_busy_pct"] = round(100 * (busy[1] - busy[0]) / wall, 1)
        redis1 = self._redis_cpu()
        if redis1 is not None and self.redis0 is not None:
            out["redis_cpu_pct"] = round(100 * (redis1 - self.redis0) / wall, 1)
        return out


def server_env(args: argparse.Namespace) -> dict[str, str]:
    env = benchenv.django_env()
    env["LIVESTREAM_DATA_DIR"] = str(DATA_DIR)
    for name in ("REDIS_URL", "REDIS_PREFIX", "DATABASE_URL"):
        if os.environ.get(name):
            env[name] = os.environ[name]
    return env


def fixture(env: dict[str, str], users: int) -> dict[str, Any]:
    python = sys.executable
    subprocess.run(
        [python, "manage.py", "migrate", "--noinput", "-v0"],
        cwd=REPO,
        env=env,
        check=True,
        timeout=600,
    )
    out = subprocess.run(
        [python, "bench/django_fixture.py", "--users", str(users), "--streams", "1"],
        cwd=REPO,
        env=env,
        check=True,
        capture_output=True,
        text=True,
        timeout=600,
    ).stdout
    return json.loads(out.strip().splitlines()[-1])


def redis_process(env: dict[str, str]) -> psutil.Process | None:
    """The (first) Redis instance's process, to read its CPU: the embedded one's pid file,
    or the pid a shared instance reports in INFO (same machine)."""
    url = env.get("REDIS_URL", "").split(",")[0].strip()
    try:
        if not url:
            return psutil.Process(int((DATA_DIR / "redis.pid").read_text().strip()))
        client = redis.Redis.from_url(url, socket_timeout=5)
        pid = client.info("server")["process_id"]
        client.close()
        return psutil.Process(pid)
    except (redis.RedisError, psutil.Error, OSError, KeyError, ValueError):
        return None


def stop_embedded_redis() -> None:
    """Stop the redis-server our settings started for DATA_DIR (a daemon, not our child)."""
    try:
        proc = psutil.Process(int((DATA_DIR / "redis.pid").read_text().strip()))
        if "redis" in proc.name():
            proc.terminate()
            proc.wait(10)
    except (OSError, ValueError, psutil.Error):
        pass


def wait_listening(port: int, deadline: float) -> None:
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


async def wait_idle(server: ServerProcesses, *, below_pct: float = 10.0, cap: float = 60.0) -> None:
    deadline = time.monotonic() + cap
    while time.monotonic() < deadline:
        before = server.cpu_seconds()
        await asyncio.sleep(1.0)
        if (server.cpu_seconds() - before) * 100 < below_pct:
            return
    log("server still busy after the idle wait; going on")


async def join_batches(
    clients: list[SioClient], recorder: Recorder, stream_id: str, batch: int
) -> dict[str, Any]:
    """Join ``batch`` clients at a time, each batch once the previous one's acks came.

    Viewers arrive over time in production; this is the room's build-up at the rate the
    server answers. Then waits until no viewer count came for 1 s (at most 120 s) and
    reports how many joiners hold the exact room size as their last count.
    """
    recorder.joined = 0
    recorder.count_updates = 0
    outcomes: Counter = Counter()
    t0 = time.perf_counter()
    for start in range(0, len(clients), batch):
        futures = []
        for client in clients[start : start + batch]:
            if not client.closed:
                futures.append(await client.call("join_stream_room", {"streamId": stream_id}))
        if futures:
            await asyncio.wait(futures, timeout=60)
        outcomes.update(ack_outcome(f) for f in futures)
    elapsed = time.perf_counter() - t0
    sent_at = time.monotonic()
    quiet = await wait_quiet(lambda: recorder.last_count_at, 1.0, sent_at + 120)
    in_room = [c for c in clients if c.data.get("joined") and not c.closed]
    counts = Counter(c.data.get("count") for c in in_room)
    acked_ok = outcomes.pop(ACK_OK, 0)
    return {
        "n": len(clients),
        "batch": batch,
        "seconds": round(elapsed, 3),
        "joins_per_s": round(acked_ok / elapsed, 1) if elapsed else None,
        "acked_ok": acked_ok,
        "ack_failed": {str(k): v for k, v in outcomes.items()},
        "room_joined_received": recorder.joined,
        "viewer_count_updates": recorder.count_updates,
        "count_quiet_reached": quiet,
        "room_size": len(in_room),
        "final_count_exact": counts.get(len(in_room), 0),
        "final_counts_seen": {str(k): v for k, v in counts.most_common(5)},
    }


async def measure(args, url: str, fix: dict, server: ServerProcesses, workers: Workers, redis_proc):
    tokens, stream_id = fix["tokens"], fix["stream_ids"][0]
    recorder = Recorder()
    report: dict[str, Any] = {}

    def window() -> Window:
        return Window(server, workers, redis_proc).start()

    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as http:
        warm, info = await connect_clients(
            http, url, tokens[:10], recorder, concurrency=10, timeout=30, cap=60
        )
        if len(warm) != 10:
            raise SystemExit(f"cannot connect to {url}: {info['failures']}")
        await close_clients(warm)
        await wait_idle(server)
        rss0 = server.rss_bytes()

        cpu = window()
        clients, connect = await connect_clients(
            http,
            url,
            tokens[: args.viewers],
            recorder,
            concurrency=args.concurrency,
            timeout=60,
            cap=max(120.0, args.viewers / 20),
        )
        report["connect"] = connect | cpu.result()
        log(f"connect: {json.dumps(report['connect'])}")

        cpu = window()
        if args.join_batch:
            join = await join_batches(clients, recorder, stream_id, args.join_batch)
        else:
            join = await join_room(clients, recorder, stream_id, timeout=300, count_cap=120)
        report["join"] = join | cpu.result()
        log(f"join: {json.dumps(report['join'])}")
        await wait_idle(server)
        room = [c for c in clients if c.data.get("joined") and not c.closed]

        cpu = window()
        await asyncio.sleep(args.idle_seconds)
        report["idle"] = {"seconds": args.idle_seconds, "connections": len(room)} | cpu.result()
        rss = server.rss_bytes()
        report["memory"] = {
            "server_rss_mb_before": round(rss0 / 2**20, 1),
            "server_rss_mb_room": round(rss / 2**20, 1),
            "kb_per_connection": round((rss - rss0) / 1024 / max(1, len(room)), 1),
            "workers": workers.snapshot(),
        }
        log(f"idle: {json.dumps(report['idle'])} memory: {json.dumps(report['memory'])}")

        report["chat"] = []
        for step, rate in enumerate(args.rates):
            room = [c for c in clients if c.data.get("joined") and not c.closed]
            senders = room[: args.senders]
            load = ChatLoad(stream_id, rate / max(1, len(senders)), args.duration)
            cpu = window()
            result = await run_chat(load, senders, len(room), recorder, f"L{step}")
            result |= cpu.result()
            result["deliveries_per_s_per_worker"] = round(
                result["delivered"] / result["wall_s"] / args.workers
            )
            result["unexpected_closes_so_far"] = recorder.unexpected_closes
            report["chat"].append(result)
            log(f"chat {rate} msg/s: {json.dumps(result)}")
            await wait_idle(server)
        report["unexpected_closes"] = recorder.unexpected_closes
        report["close_reasons"] = dict(recorder.close_reasons.most_common(5))
        await close_clients(clients)
    return report


NODE_DIR = benchenv.BENCH / "node-loadgen"


def measure_node(args, url: str, fix: dict, server: ServerProcesses, workers: Workers, redis_proc):
    """The same phases, the clients in ``node-loadgen/large_room.mjs`` (one Node process).

    Node prints ``ready <phase>``; here the server is let go idle and the CPU windows
    start, then ``go``; Node answers ``done <phase> <json>``. The loadgen's CPU is the Node
    process's.
    """
    if not (NODE_DIR / "node_modules" / "ws").is_dir():
        subprocess.run(
            ["npm", "ci", "--no-audit", "--no-fund"], cwd=NODE_DIR, check=True, timeout=300
        )
    config = {
        "url": url,
        "tokens": fix["tokens"][: args.viewers],
        "streamId": fix["stream_ids"][0],
        "senders": args.senders,
        "rates": args.rates,
        "duration": args.duration,
        "idleSeconds": args.idle_seconds,
        "concurrency": args.concurrency,
        "joinBatch": args.join_batch or args.viewers,
    }
    config_file = DATA_DIR / "node-config.json"
    config_file.write_text(json.dumps(config))
    node = subprocess.Popen(
        ["node", "--max-old-space-size=4096", str(NODE_DIR / "large_room.mjs"), str(config_file)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    loadgen = ServerProcesses([node.pid])
    report: dict[str, Any] = {"chat": []}
    rss0 = server.rss_bytes()
    try:
        window = None
        for line in node.stdout:
            kind, _, rest = line.strip().partition(" ")
            if kind == "ready":
                asyncio.run(wait_idle(server))
                node_cpu0 = loadgen.cpu_seconds()
                window = Window(server, workers, redis_proc).start()
                node.stdin.write("go\n")
                node.stdin.flush()
            elif kind == "done":
                name, _, payload = rest.partition(" ")
                result = json.loads(payload) | window.result()
                wall = result["wall_s"] or 1.0
                result["loadgen_cpu_pct"] = round(
                    100 * (loadgen.cpu_seconds() - node_cpu0) / wall, 1
                )
                result.pop("loadgen_cpu_s", None)
                if name.startswith("chat:"):
                    result["deliveries_per_s_per_worker"] = round(
                        result["delivered"] / wall / args.workers
                    )
                    report["chat"].append(result)
                else:
                    report[name] = result
                if name == "idle":
                    rss = server.rss_bytes()
                    report["memory"] = {
                        "server_rss_mb_before": round(rss0 / 2**20, 1),
                        "server_rss_mb_room": round(rss / 2**20, 1),
                        "kb_per_connection": round(
                            (rss - rss0) / 1024 / max(1, result["connections"]), 1
                        ),
                        "workers": workers.snapshot(),
                        "loadgen_rss_mb": round(loadgen.rss_bytes() / 2**20, 1),
                    }
                log(f"{name}: {json.dumps(result)}")
        node.wait(timeout=60)
    finally:
        if node.poll() is None:
            node.kill()
            node.wait(timeout=10)
    return report


def main() -> None:
    global DATA_DIR
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--viewers", type=int, default=10_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--senders", type=int, default=5)
    parser.add_argument("--rates", default="2,5,10", help="total chat msg/s, one step each")
    parser.add_argument("--duration", type=float, default=20.0, help="seconds of chat per step")
    parser.add_argument("--idle-seconds", type=float, default=30.0)
    parser.add_argument(
        "--join-batch", type=int, default=500, help="joins in flight; 0: all at once (a storm)"
    )
    parser.add_argument(
        "--loadgen", choices=("python", "node"), default="python", help="who holds the clients"
    )
    parser.add_argument("--concurrency", type=int, default=200, help="connects in flight")
    parser.add_argument("--port", type=int, default=8961)
    parser.add_argument(
        "--data-dir", type=Path, default=DATA_DIR, help="SQLite file and embedded Redis"
    )
    parser.add_argument("--out", type=Path, help="the JSON report (default: bench/results/)")
    args = parser.parse_args()
    args.rates = [float(r) for r in args.rates.split(",") if r]

    DATA_DIR = args.data_dir.resolve()
    limit = raise_fd_limit()  # the workers inherit it
    if limit < args.viewers + 1000:
        sys.exit(f"open-files limit {limit} is too low for {args.viewers} viewers")
    DATA_DIR.mkdir(parents=True, exist_ok=True, mode=0o700)
    env = server_env(args)
    log("migrate + fixture")
    fix = fixture(env, args.viewers)
    cmd = [sys.executable, "-m", "livestream.serve", "--port", str(args.port)]
    cmd += ["--workers", str(args.workers)]
    launcher = subprocess.Popen(
        cmd,
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=open(DATA_DIR / "server.log", "w"),  # noqa: SIM115
        start_new_session=True,
    )
    try:
        wait_listening(args.port, time.monotonic() + 60)
        time.sleep(2)  # every worker imported and accepting
        server = ServerProcesses([launcher.pid])
        workers = Workers(launcher.pid)
        redis_proc = redis_process(env)
        url = f"ws://127.0.0.1:{args.port}/socket.io/?EIO=4&transport=websocket"
        if args.loadgen == "node":
            report = measure_node(args, url, fix, server, workers, redis_proc)
        else:
            report = asyncio.run(measure(args, url, fix, server, workers, redis_proc))
    finally:
        os.killpg(launcher.pid, 15)
        try:
            launcher.wait(timeout=40)
        except subprocess.TimeoutExpired:
            os.killpg(launcher.pid, 9)
            launcher.wait(timeout=10)
        if not os.environ.get("REDIS_URL"):
            stop_embedded_redis()
    report["setup"] = {
        "viewers": args.viewers,
        "workers": args.workers,
        "senders": args.senders,
        "rates": args.rates,
        "duration_s": args.duration,
        "join_batch": args.join_batch,
        "loadgen": args.loadgen,
        "redis": "REDIS_URL" if os.environ.get("REDIS_URL") else "embedded",
        "database": "DATABASE_URL" if os.environ.get("DATABASE_URL") else "sqlite",
        "cores": os.cpu_count(),
        "commit": subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True
        ).stdout.strip(),
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
    }
    text = json.dumps(report, indent=2)
    out = args.out or benchenv.RESULTS / f"large-room-{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
