"""The embedded Redis socket and the data folder belong to the service user alone.

A local user who plants a server answering PING where the service looks for
its Redis would be trusted (and the cache unpickles what it reads), so a
socket or folder someone else owns is refused with a clear error.
"""

from __future__ import annotations

import os
import shutil
import socket
import stat
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from django.conf import settings

from livestream import embedded_redis
from livestream.private_files import NotPrivate, private_dir
from tests.livestream.test_settings import production_env
from tests.support import ROOT

NOBODY = 65534
needs_root = pytest.mark.skipif(
    os.geteuid() != 0, reason="planting another user's files needs root"
)


class PlantedRedis:
    """A fake redis-server on a unix socket that answers every PING."""

    def __init__(self, path: Path) -> None:
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.listener.bind(str(path))
        self.listener.listen()
        self.listener.settimeout(0.2)
        self.pinged = threading.Event()
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while not self.stopped.is_set():
            try:
                conn, _ = self.listener.accept()
            except OSError:
                continue
            with conn:
                conn.settimeout(1)
                try:
                    if conn.recv(64):
                        self.pinged.set()
                        conn.sendall(b"+PONG\r\n")
                except OSError:
                    pass

    def stop(self) -> None:
        self.stopped.set()
        self.thread.join(timeout=5)
        self.listener.close()


@pytest.fixture
def long_data_dir(tmp_path) -> Path:
    """A data folder whose socket path is too long: the socket goes to the temp folder."""
    data_dir = tmp_path / ("d" * 120)
    sock_dir = embedded_redis.socket_dir(data_dir)
    assert sock_dir != data_dir and len(str(embedded_redis.socket_path(data_dir))) < 100
    yield data_dir
    shutil.rmtree(sock_dir, ignore_errors=True)


@needs_root
def test_a_planted_socket_folder_of_another_user_is_refused(long_data_dir):
    sock_dir = embedded_redis.socket_dir(long_data_dir)
    sock_dir.mkdir(mode=0o755)
    planted = PlantedRedis(embedded_redis.socket_path(long_data_dir))
    os.chown(sock_dir, NOBODY, NOBODY)
    os.chown(embedded_redis.socket_path(long_data_dir), NOBODY, NOBODY)
    try:
        with pytest.raises(NotPrivate, match="not by this service"):
            embedded_redis.ensure_running(long_data_dir)
        assert not planted.pinged.is_set()  # never even asked
    finally:
        planted.stop()


@needs_root
def test_a_planted_socket_in_our_folder_is_refused(long_data_dir):
    sock_dir = private_dir(embedded_redis.socket_dir(long_data_dir))
    planted = PlantedRedis(embedded_redis.socket_path(long_data_dir))
    os.chown(embedded_redis.socket_path(long_data_dir), NOBODY, NOBODY)
    try:
        with pytest.raises(NotPrivate, match="not a socket of this service"):
            embedded_redis.ensure_running(long_data_dir)
        assert not planted.pinged.is_set()
        assert stat.S_IMODE(sock_dir.stat().st_mode) == 0o700
    finally:
        planted.stop()


def test_a_link_instead_of_the_folder_is_refused(tmp_path):
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "data").symlink_to(tmp_path / "elsewhere")
    with pytest.raises(NotPrivate, match="not a link"):
        private_dir(tmp_path / "data")


def test_the_data_folder_and_sqlite_file_are_private(tmp_path):
    data_dir = tmp_path / "data"
    env = production_env(data_dir, SECRET_KEY="k" * 50)
    env.pop("DATABASE_URL", None)  # the default: SQLite in the data folder
    result = subprocess.run(
        [
            sys.executable, "-c",
            "import django; django.setup(); from django.db import connection; "
            "connection.ensure_connection(); connection.cursor().execute('create table t (x)')",
        ],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert stat.S_IMODE(data_dir.stat().st_mode) == 0o700
    assert stat.S_IMODE((data_dir / "db.sqlite3").stat().st_mode) == 0o600


def test_the_test_runs_own_embedded_redis_is_trusted():
    if not settings.REDIS_URL.startswith("unix://"):
        pytest.skip("an external Redis")
    data_dir = Path(os.environ["LIVESTREAM_DATA_DIR"])
    assert embedded_redis.ensure_running(data_dir) == settings.REDIS_URL
