"""One command for the whole benchmark: our server vs the Node socket.io and python-socketio peers.

    python bench/run.py            # full run (about 25-40 minutes on 2 cores)
    python bench/run.py --quick    # N=200 smoke test, a few minutes
    python bench/run.py --only S5 --servers ours,node

Starts each server on a free loopback port, runs bench/loadgen.py against it in its own
process, stops the server (always, in ``finally``), then prints a Markdown table and
writes everything to bench/results/. Unknown options are passed on to the loadgen
(e.g. ``--duration 5 --rates 5``).
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import benchenv
from measure import raise_fd_limit
from peers import node_peer
from report import markdown_report

# Ours runs as in production: the project's launcher (listen backlog 2048, WebSocket
# frame limits, graceful shutdown), its access log off as uvicorn runs the peer's.
OURS_CMD = "{python} -m livestream.serve --host 127.0.0.1 --port {port} --workers {workers}"
PYSIO_CMD = "{python} bench/peers/pysio_server.py --port {port} --backlog 2048"
NODE_CMD = "node server.js"
SERVERS = ("ours", "node", "pysio")


def parse_args() -> tuple[argparse.Namespace, list[str]]:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="small N: a smoke test")
    p.add_argument("--only", help="comma-separated scenarios, e.g. S1,S5 (default all)")
    p.add_argument(
        "--servers",
        default=",".join(SERVERS),
        help="which servers to run, in order (ours,node,pysio)",
    )
    p.add_argument("--sizes", help="N for S1-S3 (default 3000,1000; --quick 200)")
    p.add_argument(
        "--server-cmd",
        default=None,
        help="command for our server; {python} and {port} are filled in",
    )
    p.add_argument(
        "--workers",
        type=int,
        default=1,
        help="server processes for ours (>1 runs python -m livestream.serve --workers N)",
    )
    p.add_argument(
        "--max-seconds", type=float, default=2400.0, help="hard cap per server for the loadgen"
    )
    p.add_argument(
        "--py-spy",
        metavar="FILE",
        help="profile our server with py-spy during the load (collapsed stacks to FILE)",
    )
    args, passthrough = p.parse_known_args()
    if args.workers < 1:
        p.error("--workers must be at least 1")
    if args.server_cmd is None:
        args.server_cmd = OURS_CMD
    args.servers = [s.strip() for s in args.servers.split(",") if s.strip()]
    for name in args.servers:
        if name not in SERVERS:
            p.error(f"unknown server {name!r}; choose from {SERVERS}")
    return args, passthrough


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_listening(port: int, proc: subprocess.Popen, timeout: float) -> str | None:
    """None once the port accepts connections; otherwise why it never did."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return f"server exited with code {proc.returncode} before listening"
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return None
        except OSError:
            time.sleep(0.2)
    return f"server did not listen on port {port} within {timeout:g} s"


def stop(proc: subprocess.Popen) -> None:
    """Stop the server and everything it started in its own process group."""
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)
        except ProcessLookupError:
            pass


def start_profiler(out: str | None, pid: int) -> subprocess.Popen | None:
    """py-spy sampling ``pid`` (and its worker processes) until :func:`stop_profiler`."""
    if not out:
        return None
    spy = Path(benchenv.PYTHON).with_name("py-spy")
    argv = [str(spy), "record", "--pid", str(pid), "--subprocesses", "--rate", "100", "--gil"]
    argv += ["--format", "raw", "--output", out]
    return subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def stop_profiler(profiler: subprocess.Popen | None) -> None:
    if profiler is None:
        return
    profiler.send_signal(signal.SIGINT)  # py-spy writes its file on SIGINT
    try:
        profiler.wait(30)
    except subprocess.TimeoutExpired:
        profiler.kill()
        profiler.wait(10)


def tail(path: Path, lines: int = 25) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def run_one(
    name: str, args: argparse.Namespace, passthrough: list[str], stamp: str, users: int
) -> dict[str, Any]:
    """Start one server, run the loadgen against it, stop the server; return its results."""
    benchenv.RESULTS.mkdir(parents=True, exist_ok=True)
    port = free_port()
    log_path = benchenv.RESULTS / f"{stamp}-{name}-server.log"
    out_path = benchenv.RESULTS / f"{stamp}-{name}.json"
    fixture_path = benchenv.RESULTS / f"{stamp}-{name}-fixture.json"
    cwd = benchenv.REPO
    if name == "ours":
        env = benchenv.django_env()
        print(
            f"== ours: migrating and creating {users} users in {benchenv.DATA_DIR}",
            file=sys.stderr,
            flush=True,
        )
        try:
            fixture = benchenv.django_fixture(users)
        except subprocess.CalledProcessError as exc:
            return {"failed": f"fixture setup failed: {(exc.stderr or '')[-2000:]}"}
        cmd = args.server_cmd
        loadgen_server = "django"
    elif name == "node":
        try:
            cwd = node_peer.prepare(benchenv.RESULTS)
        except (OSError, subprocess.SubprocessError) as exc:
            return {"failed": f"node peer setup failed: {exc}"}
        env, fixture, cmd, loadgen_server = node_peer.env(port), None, NODE_CMD, "node"
    else:
        env = dict(os.environ)
        fixture = benchenv.pysio_fixture(users)
        cmd = PYSIO_CMD
        loadgen_server = "pysio"
    argv = shlex.split(
        cmd.format(python=shlex.quote(benchenv.PYTHON), port=port, workers=args.workers)
    )
    print(f"== {name}: {' '.join(argv)}", file=sys.stderr, flush=True)
    with open(log_path, "w") as log_file:
        proc = subprocess.Popen(
            argv,
            cwd=cwd,
            env=env,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        problem = wait_listening(port, proc, timeout=60)
        if problem:
            return {"failed": problem, "server_log_tail": tail(log_path)}
        if fixture is None:  # the Node peer's streams are made through its REST API
            fixture = node_peer.fixture(port, users, benchenv.STREAMS)
        fixture_path.write_text(json.dumps(fixture))
        pids = [proc.pid]
        redis = benchenv.embedded_redis_pid() if name == "ours" else None
        if redis:
            pids.append(redis)
        loadgen = [
            benchenv.PYTHON,
            str(benchenv.BENCH / "loadgen.py"),
            "--server",
            loadgen_server,
            "--port",
            str(port),
            "--fixture",
            str(fixture_path),
            "--out",
            str(out_path),
            "--max-seconds",
            str(args.max_seconds),
        ]
        for pid in pids:
            loadgen += ["--server-pid", str(pid)]
        if args.quick:
            loadgen.append("--quick")
        if args.only:
            loadgen += ["--only", args.only]
        if args.sizes:
            loadgen += ["--sizes", args.sizes]
        loadgen += passthrough
        profiler = start_profiler(args.py_spy, proc.pid) if name == "ours" else None
        try:
            done = subprocess.run(
                loadgen,
                cwd=benchenv.REPO,
                stdout=subprocess.DEVNULL,
                timeout=args.max_seconds + 180,
            )
        except subprocess.TimeoutExpired:
            return {"failed": "loadgen did not finish in time", "server_log_tail": tail(log_path)}
        finally:
            stop_profiler(profiler)
        if done.returncode != 0 or not out_path.exists():
            return {
                "failed": f"loadgen exited with code {done.returncode}",
                "server_log_tail": tail(log_path),
            }
        results = json.loads(out_path.read_text())
        if proc.poll() is not None:
            results["server_exited"] = proc.returncode
        return results
    finally:
        stop(proc)
        if name == "ours":
            benchenv.stop_embedded_redis()


def main() -> int:
    args, passthrough = parse_args()
    raise_fd_limit()
    sizes = [int(x) for x in (args.sizes or ("200" if args.quick else "3000,1000")).split(",")]
    users = max(sizes) + 100
    stamp = time.strftime("%Y%m%d-%H%M%S")
    all_results: dict[str, Any] = {"stamp": stamp, "argv": sys.argv[1:], "servers": {}}
    for name in args.servers:
        all_results["servers"][name] = run_one(name, args, passthrough, stamp, users)
        failed = all_results["servers"][name].get("failed")
        if failed:
            print(f"== {name} FAILED: {failed}", file=sys.stderr, flush=True)
            log_tail = all_results["servers"][name].get("server_log_tail")
            if log_tail:
                print(log_tail, file=sys.stderr)
    table = markdown_report(all_results["servers"])
    all_results["markdown"] = table
    (benchenv.RESULTS / f"run-{stamp}.json").write_text(json.dumps(all_results, indent=1))
    (benchenv.RESULTS / "latest.md").write_text(table)
    print(table)
    return 1 if any(r.get("failed") for r in all_results["servers"].values()) else 0


if __name__ == "__main__":
    sys.exit(main())
