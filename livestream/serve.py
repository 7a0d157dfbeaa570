"""Run the service: one or more daphne workers on one listening socket.

    python -m livestream.serve [--host 127.0.0.1] [--port 8000] [--workers N]
                               [--tls-cert cert.pem --tls-key key.pem]

With several workers the launcher binds the socket once and every worker
accepts from it (the kernel spreads connections), so N workers need no proxy
on one machine; they share Redis and the database like workers on many
machines would. The WebSocket frame limit comes from ``SOCKETIO_MAX_PAYLOAD``,
so oversized frames are refused by the WebSocket layer (close code 1009)
before they are buffered. With a certificate and key (``--tls-cert``/``--tls-key``
or ``TLS_CERT_FILE``/``TLS_KEY_FILE``; not SSL_CERT_FILE,
which OpenSSL reads as its CA bundle) daphne serves TLS itself (https, wss) on
that port, for one worker; several workers sit behind a TLS proxy. SIGTERM
shuts a worker down gracefully: see :mod:`gateway.shutdown`.

Several workers share their metrics through ``prometheus_client``'s
multiprocess mode (:mod:`livestream.metrics`): the launcher gives them an
empty ``PROMETHEUS_MULTIPROC_DIR`` (a private temporary folder, removed on exit,
unless the operator set one, which is emptied), and drops the live gauges of a
worker that exits before it starts another.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

# Twisted is import-order sensitive: daphne installs its asyncio reactor first.
import daphne.server  # noqa: F401  isort:skip

from livestream.env import env_bool, env_int, env_str

GRACE_SECONDS = 15
# Twisted's default listen backlog (50) drops SYNs in a connect storm.
BACKLOG = 2048


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m livestream.serve", description=__doc__)
    parser.add_argument("--host", default=env_str("HOST", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=env_int("PORT", 8000))
    parser.add_argument("--workers", type=int, default=env_int("WORKERS", 1, minimum=1))
    parser.add_argument("--tls-cert", default=env_str("TLS_CERT_FILE", ""))
    parser.add_argument("--tls-key", default=env_str("TLS_KEY_FILE", ""))
    parser.add_argument("--fd", type=int, help=argparse.SUPPRESS)  # set for workers
    args = parser.parse_args(argv)
    if bool(args.tls_cert) != bool(args.tls_key):
        parser.error("--tls-cert and --tls-key go together")
    if args.tls_cert and args.workers > 1:
        # Workers adopt an inherited plain socket; Twisted has no TLS endpoint for that.
        parser.error("TLS is served by one worker; put several behind a TLS proxy")
    return args


def _escape(value: str) -> str:
    """A value inside a Twisted endpoint string, where ``:`` and ``=`` separate fields."""
    return value.replace("\\", "\\\\").replace(":", r"\:").replace("=", r"\=")


def listen_endpoint(host: str, port: int, *, cert: str = "", key: str = "") -> str:
    """The daphne (Twisted) endpoint string for ``host:port``, TLS when given a certificate."""
    common = f"port={port}:interface={_escape(host.strip('[]'))}:backlog={BACKLOG}"
    if cert:
        return f"ssl:{common}:certKey={_escape(cert)}:privateKey={_escape(key)}"
    return f"tcp:{common}"


def run_worker(*, endpoints: list[str]) -> None:
    """Serve livestream.asgi in this process until SIGTERM/SIGINT."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "livestream.settings")
    from twisted.internet import reactor

    from gateway import shutdown
    from gateway.settings import realtime_settings
    from livestream import gc_tuning
    from livestream.access_log import AccessLogMiddleware
    from livestream.asgi import application

    max_payload = realtime_settings().max_payload
    # Our access log names the real client (behind TRUSTED_PROXIES), daphne's the TCP peer.
    if env_bool("ACCESS_LOG", True):
        application = AccessLogMiddleware(application)
    server = daphne.server.Server(
        application=application,
        endpoints=endpoints,
        signal_handlers=False,
        websocket_max_message_size=max_payload,
        websocket_max_frame_size=max_payload,
        server_name="livestream",
    )
    reactor.callWhenRunning(shutdown.install_signal_handlers, server)
    reactor.callWhenRunning(_close_with_a_code, server)
    gc_tuning.tune_for_serving()
    server.run()


def _close_with_a_code(server: daphne.server.Server) -> None:
    # Autobahn fails a connection (frame over the limit: 1009, invalid UTF-8:
    # 1007, protocol error: 1002) by dropping TCP unless told otherwise; with a
    # close frame the client learns why. server.run() made the factory by now.
    server.ws_factory.setProtocolOptions(failByDrop=False)


def _bind(host: str, port: int) -> socket.socket:
    # Twisted adopts inherited sockets as IPv4 only.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host.strip("[]"), port))
    sock.listen(BACKLOG)
    sock.set_inheritable(True)
    return sock


def supervise(host: str, port: int, workers: int) -> int:
    """Start ``workers`` processes on one socket; restart any that crash."""
    chosen = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    folder = Path(chosen) if chosen else Path(tempfile.mkdtemp(prefix="livestream-metrics-"))
    # Set before anything imports prometheus_client, here or in the workers.
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(folder)
    from livestream import metrics

    metrics.prepare_multiprocess_dir(folder)
    try:
        return _supervise(host, port, workers)
    finally:
        if not chosen:
            metrics.remove_multiprocess_dir(folder)


def _supervise(host: str, port: int, workers: int) -> int:
    from livestream import metrics

    sock = _bind(host, port)
    fd = sock.fileno()
    command = [sys.executable, "-m", "livestream.serve", "--fd", str(fd)]
    children: list[subprocess.Popen] = []
    stopping = False

    def spawn() -> subprocess.Popen:
        return subprocess.Popen(command, pass_fds=(fd,))

    def stop(signum, frame) -> None:
        nonlocal stopping
        stopping = True
        for child in children:
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    children.extend(spawn() for _ in range(workers))
    print(f"livestream: {workers} workers on http://{host}:{port}", flush=True)
    while not stopping:
        for index, child in enumerate(children):
            if child.poll() is not None and not stopping:
                print(f"livestream: worker {child.pid} exited ({child.returncode}); restarting")
                metrics.forget_process(child.pid)
                children[index] = spawn()
        time.sleep(0.5)
    deadline = time.monotonic() + GRACE_SECONDS + 5
    for child in children:
        try:
            child.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            child.kill()
    return 0


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    from livestream.startup import settings_or_exit

    settings_or_exit("livestream.serve")
    if args.fd is not None:
        run_worker(endpoints=[f"fd:fileno={args.fd}"])
        return 0
    if args.workers > 1:
        return supervise(args.host, args.port, args.workers)
    run_worker(
        endpoints=[listen_endpoint(args.host, args.port, cert=args.tls_cert, key=args.tls_key)]
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
