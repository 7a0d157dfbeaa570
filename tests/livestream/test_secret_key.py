"""With DEBUG on and no SECRET_KEY the signing key is random, private and kept; never a literal."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from datetime import timedelta

import jwt
import pytest
from django.utils import timezone

from livestream import secret_key
from tests.livestream.test_settings import production_env
from tests.support import ROOT

# The literal the settings used to fall back to: anyone could mint tokens with it.
OLD_LITERAL_KEY = "django-insecure-dev-only-key-do-not-use-in-production"


def settings_key(tmp_path, **env: str) -> str:
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            "import django; django.setup(); from django.conf import settings; "
            "print(settings.SECRET_KEY, settings.SIMPLE_JWT['SIGNING_KEY'])",
        ],
        cwd=ROOT, env=production_env(tmp_path, DEBUG="1", **env),
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    key, signing_key = result.stdout.split()
    assert key == signing_key
    return key


def test_debug_without_secret_key_makes_a_private_key_once_and_reuses_it(tmp_path):
    first = settings_key(tmp_path)
    path = tmp_path / secret_key.FILE_NAME
    assert path.read_text().strip() == first
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert len(first) >= 50 and first != OLD_LITERAL_KEY
    assert settings_key(tmp_path) == first


def test_secret_key_from_the_environment_wins(tmp_path):
    assert settings_key(tmp_path, SECRET_KEY="from-the-environment-" + "x" * 40).startswith(
        "from-the-environment-"
    )
    assert not (tmp_path / secret_key.FILE_NAME).exists()


def test_an_unusable_key_file_is_refused_with_a_clear_error(tmp_path):
    (tmp_path / secret_key.FILE_NAME).write_text("short")
    with pytest.raises(RuntimeError, match="no usable key"):
        secret_key.load_or_create(tmp_path)


def mint(user, key: str) -> str:
    now = timezone.now()
    claims = {
        "token_type": "access",
        "user_id": str(user.pk),
        "jti": os.urandom(16).hex(),
        "iat": int(now.timestamp()),
        "exp": int((now + timedelta(minutes=5)).timestamp()),
    }
    return jwt.encode(claims, key, algorithm="HS256")


async def test_a_dev_server_refuses_tokens_signed_with_the_old_literal_key(
    start_server, connect, make_user
):
    staff = make_user(is_staff=True, is_superuser=True)
    dev = start_server(DEBUG="1", SECRET_KEY="")  # what bin/serve starts
    dev_key = (ROOT / os.environ["LIVESTREAM_DATA_DIR"] / secret_key.FILE_NAME).read_text()

    refused = await connect.refused(dev, mint(staff, OLD_LITERAL_KEY))
    assert refused == {"message": "Authentication error"}
    # The server does accept tokens signed with its own key: the refusal is the key's.
    assert (await connect(dev, token=mint(staff, dev_key.strip()))).sio.connected
