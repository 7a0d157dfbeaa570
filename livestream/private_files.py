"""Folders and files only the service user can read: the data folder and what is in it.

The data folder holds the signing key, the SQLite database, logs and the
embedded Redis socket (whose cache unpickles what it stores). Another local
user who could read or replace any of them could read tokens or run code as
the service, so the folder is 0700 and owned by us, or we refuse to start.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path


class NotPrivate(RuntimeError):
    """A path that should be ours alone is not: someone else owns it or can write to it."""


def private_dir(path: Path) -> Path:
    """Create ``path`` (mode 0700) or check that it is a real folder of ours; tighten it to 0700."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    info = path.lstat()
    if not stat.S_ISDIR(info.st_mode):
        raise NotPrivate(f"{path} must be a folder, not a link or a file; refusing to use it")
    if info.st_uid != os.geteuid():
        raise NotPrivate(
            f"{path} is owned by uid {info.st_uid}, not by this service (uid {os.geteuid()}); "
            "refusing to use it: remove it, or set LIVESTREAM_DATA_DIR elsewhere"
        )
    if stat.S_IMODE(info.st_mode) & 0o077:
        path.chmod(0o700)
    return path


def private_file(path: Path) -> Path:
    """Create ``path`` empty with mode 0600 unless it exists (files made later keep that mode)."""
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except FileExistsError:
        pass
    return path


def owned_socket(path: Path) -> bool:
    """Whether ``path`` is a unix socket owned by this service; False when it does not exist.

    Raises :class:`NotPrivate` for anything else there: a socket someone else
    made is never connected to.
    """
    try:
        info = path.lstat()
    except FileNotFoundError:
        return False
    if not stat.S_ISSOCK(info.st_mode) or info.st_uid != os.geteuid():
        raise NotPrivate(
            f"{path} is not a socket of this service (owner uid {info.st_uid}); "
            "refusing to trust it: remove it if it is stale"
        )
    return True
