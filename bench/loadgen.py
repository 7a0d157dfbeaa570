"""Load generator: thousands of raw Socket.IO clients in one asyncio process.

Runs the scenarios S1-S5 (see bench/README.md) against one server and prints the results
as JSON on stdout (progress goes to stderr). Every scenario also reports the CPU seconds
of this process and of the server, so a reader can tell which side was the bottleneck:
a loadgen near 100 % CPU means the figures measure the loadgen, not the server.

    python bench/loadgen.py --server pysio --port 8001
    python bench/loadgen.py --server django --port 8000 --only S1,S4
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from pathlib import Path
from typing import Any

import benchenv
from measure import ServerProcesses, pids_listening_on, raise_fd_limit
from scenarios import log
from suite import ALL_SCENARIOS, Bench

QUICK_DEFAULTS = {
    "sizes": "200",
    "duration": 3.0,
    "drain_cap": 20.0,
    "s5_room": 50,
    "s5_steps": "100,200,400",
    "s5_step_seconds": 2.0,
}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument(
        "--server",
        choices=("django", "pysio", "node"),
        required=True,
        help="how to get tokens and live streams (Django ORM, made up, or --fixture for node)",
    )
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8001)
    p.add_argument(
        "--fixture", type=Path, help="JSON with tokens and stream_ids (default: create them now)"
    )
    p.add_argument(
        "--server-pid",
        type=int,
        action="append",
        default=[],
        help="server PID to measure (repeatable; children included); "
        "default: whoever listens on --port",
    )
    p.add_argument(
        "--only",
        default=",".join(ALL_SCENARIOS),
        help="comma-separated scenarios to run, e.g. S1,S4",
    )
    p.add_argument("--quick", action="store_true", help="small N, short steps: a smoke test")
    p.add_argument("--sizes", default="3000,1000", help="N for S1-S3")
    p.add_argument("--mem-n", type=int, default=0, help="N for S4 (default: largest size)")
    p.add_argument("--concurrency", type=int, default=200, help="connects in flight (S1)")
    p.add_argument("--connect-timeout", type=float, default=30.0)
    p.add_argument("--join-timeout", type=float, default=120.0, help="S2 join wait")
    p.add_argument(
        "--join-batch", type=int, default=100, help="S3/S5 rooms fill this many joins at a time"
    )
    p.add_argument(
        "--recover-cap",
        type=float,
        default=600.0,
        help="seconds to wait for the server to go idle before building a room",
    )
    p.add_argument("--senders", type=int, default=5, help="S3 senders")
    p.add_argument("--rates", default="5,20", help="S3 msg/s per sender")
    p.add_argument("--duration", type=float, default=10.0, help="S3 seconds of sending")
    p.add_argument(
        "--drain-cap",
        type=float,
        default=60.0,
        help="S3: seconds to wait for late deliveries after sending stops",
    )
    p.add_argument("--s5-room", type=int, default=100)
    p.add_argument("--s5-senders", type=int, default=10)
    p.add_argument(
        "--s5-steps",
        default="100,200,400,600,800,900,1000,1100,1200,1400,1600,2000,2400,2800,3200,4000",
        help="S5 total msg/s, in order",
    )
    p.add_argument("--s5-step-seconds", type=float, default=5.0)
    p.add_argument(
        "--max-seconds",
        type=float,
        default=2400.0,
        help="hard cap on the whole run; partial results are still printed",
    )
    p.add_argument("--out", type=Path, help="also write the JSON here")
    if p.parse_args(argv).quick:
        # Only the defaults change: options given explicitly still win.
        p.set_defaults(**QUICK_DEFAULTS)
    args = p.parse_args(argv)
    if args.server == "node" and not args.fixture:
        p.error("--server node needs --fixture (bench/run.py makes one)")
    args.only = {s.strip().upper() for s in args.only.split(",") if s.strip()}
    unknown = args.only - set(ALL_SCENARIOS)
    if unknown:
        p.error(f"unknown scenarios {sorted(unknown)}; choose from {ALL_SCENARIOS}")
    args.sizes = [int(x) for x in args.sizes.split(",")]
    args.rates = [float(x) for x in args.rates.split(",")]
    args.s5_steps = [float(x) for x in args.s5_steps.split(",")]
    args.mem_n = args.mem_n or max(args.sizes)
    return args


async def main_async(args: argparse.Namespace) -> dict[str, Any]:
    fd_limit = raise_fd_limit()
    need = max(args.sizes) + 100
    if args.fixture:
        fixture = json.loads(args.fixture.read_text())
    else:
        log(f"creating a {args.server} fixture for {need} users")
        fixture = benchenv.load_fixture(args.server, need)
    pids = args.server_pid or pids_listening_on(args.port)
    bench = Bench(args, fixture, ServerProcesses(pids))
    bench.results.update(
        {
            "fd_limit": fd_limit,
            "args": {
                k: sorted(v) if isinstance(v, set) else (str(v) if isinstance(v, Path) else v)
                for k, v in vars(args).items()
            },
        }
    )
    if not bench.results["server_pids"]:
        log("no server PID known: CPU and memory figures will read 0")
    started = time.perf_counter()
    try:
        await asyncio.wait_for(bench.run(), args.max_seconds)
    except TimeoutError:
        bench.results["aborted"] = f"hard cap of {args.max_seconds:g} s reached"
        log(bench.results["aborted"])
    bench.results["total_seconds"] = round(time.perf_counter() - started, 1)
    bench.results["unexpected_closes_total"] = bench.recorder.unexpected_closes
    bench.results["unexpected_close_reasons"] = dict(bench.recorder.close_reasons.most_common(10))
    return bench.results


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    try:
        import uvloop

        runner = asyncio.Runner(loop_factory=uvloop.new_event_loop)
        args.event_loop = "uvloop"
    except ImportError:
        runner = asyncio.Runner()
        args.event_loop = "asyncio"
    with runner:
        results = runner.run(main_async(args))
    text = json.dumps(results, indent=1)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text)
    sys.stdout.write(text + "\n")


if __name__ == "__main__":
    main()
