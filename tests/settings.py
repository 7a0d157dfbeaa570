"""Settings for the test suite: the project's settings with test-friendly defaults.

The environment variables set here are inherited by the daphne servers the
end-to-end fixtures start, so every process of a test run shares one data
folder (SQLite file, embedded Redis) apart from a developer's ``var/``.
"""

import os
from pathlib import Path

os.environ.setdefault("DEBUG", "0")
os.environ.setdefault("SECRET_KEY", "test-secret-key-not-for-production-0123456789abcdef")
os.environ.setdefault(
    "LIVESTREAM_DATA_DIR", str(Path(__file__).resolve().parent.parent / "var" / "test")
)
os.environ.setdefault("REDIS_PREFIX", "lstest")
os.environ.setdefault("AUTH_THROTTLE_RATE", "1000/min")

from livestream.settings import *  # noqa: E402,F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
SESSION_COOKIE_SECURE = False
CSRF_COOKIE_SECURE = False
