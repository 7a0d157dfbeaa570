"""The signing key of a development install: random, made once, kept private.

Development stays zero-setup without a key anyone can read in the repository:
the first start writes a random key to ``<data folder>/secret_key`` (mode 0600;
two processes starting together agree on one key) and
every later start reads it back. ``SECRET_KEY`` in the environment always wins.
"""

from __future__ import annotations

import os
import secrets
import tempfile
from pathlib import Path

from livestream.private_files import private_dir

FILE_NAME = "secret_key"


def load(data_dir: Path) -> str | None:
    """The key kept in ``data_dir`` if a development run made one; never creates it."""
    if not (data_dir / FILE_NAME).exists():
        return None
    return load_or_create(data_dir)


def load_or_create(data_dir: Path) -> str:
    """The key kept in ``data_dir``, created on first use."""
    private_dir(data_dir)
    path = data_dir / FILE_NAME
    if not path.exists():
        # Written whole under a private name, then linked into place: a process
        # starting at the same moment sees either no key or the complete one.
        fd, temp = tempfile.mkstemp(dir=data_dir, prefix=".secret_key.")  # mode 0600
        try:
            with os.fdopen(fd, "w") as file:
                file.write(secrets.token_urlsafe(50))
            os.link(temp, path)
        except FileExistsError:
            pass  # another process won the race; its key is the one
        finally:
            os.unlink(temp)
    key = path.read_text().strip()
    if len(key) < 32:
        raise RuntimeError(f"{path} holds no usable key; delete it to have a new one made")
    return key
