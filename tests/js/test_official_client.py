"""The gateway against the official JS client (socket.io-client 4.8, pinned in package.json),
in each of ``CLIENT_MODES``: WebSocket only, default options (long-polling, then
the upgrade), long-polling only, and ``upgrade: false``.

The cases live in ``official_client.test.mjs`` and run under ``node --test``;
these tests create their users and streams, hand them over in the environment
and fail with node's output when any case fails: once over ws:// and once over
wss:// to daphne serving TLS itself.
"""

from __future__ import annotations

import datetime
import ipaddress
import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support import ROOT, child_env

pytestmark = pytest.mark.django_db(transaction=True)

JS_DIR = Path(__file__).resolve().parent
TEST_FILE = JS_DIR / "official_client.test.mjs"
NODE_TIMEOUT = 120
NPM_TIMEOUT = 300


def run(args: list[str], *, cwd: Path, env: dict[str, str], timeout: float) -> tuple[int, str]:
    """Run a command in its own process group; kill the whole group on timeout."""
    process = subprocess.Popen(
        args,
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        output, _ = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        output, _ = process.communicate()
        pytest.fail(f"{' '.join(args)} did not finish within {timeout}s:\n{output}")
    return process.returncode, output


@pytest.fixture(scope="module")
def node() -> str:
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not on PATH: the official JS client tests need Node.js 18+ and npm")
    if not (JS_DIR / "node_modules" / "socket.io-client").is_dir():
        npm = shutil.which("npm")
        if npm is None:
            pytest.skip("npm is not on PATH: cannot install tests/js dependencies (npm ci)")
        code, output = run(
            [npm, "ci", "--no-audit", "--no-fund"],
            cwd=JS_DIR,
            env=dict(os.environ),
            timeout=NPM_TIMEOUT,
        )
        assert code == 0, f"npm ci in tests/js failed:\n{output}"
    return node


# How the client is configured: WebSocket only, then what apps use by default
# (long-polling and the upgrade), long-polling only, and no upgrade.
CLIENT_MODES = ["websocket", "default", "polling", "no-upgrade"]


@pytest.mark.parametrize("mode", CLIENT_MODES)
def test_official_js_client(mode, node, server, make_user, make_stream, token_for):
    run_official_client(node, server, make_user, make_stream, token_for, mode=mode)


def test_official_js_client_over_tls(
    node, start_server, tmp_path, make_user, make_stream, token_for
):
    """Default options (long-polling over https, then wss://) to daphne serving TLS itself."""
    tls_server = start_server(tls=self_signed_certificate(tmp_path))
    assert tls_server.url.startswith("https://")
    run_official_client(
        node,
        tls_server,
        make_user,
        make_stream,
        token_for,
        mode="default",
        NODE_TLS_REJECT_UNAUTHORIZED="0",  # fetch() to the self-signed server
    )


def self_signed_certificate(directory: Path) -> tuple[Path, Path]:
    """A throwaway certificate for 127.0.0.1 and its key, as PEM files."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


def run_official_client(
    node, server, make_user, make_stream, token_for, *, mode: str, **extra_env
) -> None:
    """Run official_client.test.mjs against ``server`` with fresh users and streams."""
    viewer_a = make_user()
    viewer_b = make_user()
    streamer = make_user()
    users = {
        name: {"id": str(user.pk), "username": user.get_username(), "token": token_for(user)}
        for name, user in {"viewerA": viewer_a, "viewerB": viewer_b, "streamer": streamer}.items()
    }
    streams = {
        name: {
            "id": str(make_stream(streamer=streamer, title=f"JS {name}").pk),
            "streamerToken": token_for(streamer),
        }
        for name in ("chat", "endRest", "endCommand", "moderation")
    }
    fixture = {
        "badToken": token_for(viewer_a)[:-4] + "AAAA",  # a forged signature
        "users": users,
        "streams": streams,
        "python": sys.executable,
        "root": str(ROOT),
    }
    env = child_env(
        LIVESTREAM_URL=server.url,
        LIVESTREAM_FIXTURE=json.dumps(fixture),
        LIVESTREAM_CLIENT_MODE=mode,
        **extra_env,
    )

    code, output = run(
        [node, "--test", "--test-reporter=spec", str(TEST_FILE)],
        cwd=JS_DIR,
        env=env,
        timeout=NODE_TIMEOUT,
    )
    print(output)  # shown with -s / -rP
    if code != 0:
        pytest.fail(
            f"node --test exited with {code}:\n{output}\n"
            f"--- daphne log ({server.log_path}) ---\n{server.log()}"
        )
