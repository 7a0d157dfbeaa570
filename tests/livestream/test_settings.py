"""Settings come from the environment; production needs them set, and then passes check --deploy."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from io import StringIO

import pytest
from django.conf import settings
from django.core.management import call_command

from tests.support import ROOT, manage_py


def production_env(tmp_path, **overrides: str) -> dict[str, str]:
    """The environment of a production process: only what an operator would set."""
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("DJANGO_", "SECRET_KEY", "DEBUG", "SECURE_", "DATABASE_URL"))
    }
    env.update(
        DJANGO_SETTINGS_MODULE="livestream.settings",
        LIVESTREAM_DATA_DIR=str(tmp_path),
        # The test run's Redis, so that no embedded redis-server is started here.
        REDIS_URL=settings.REDIS_URL,
        DEBUG="0",
    )
    env.update(overrides)
    return env


def test_debug_off_without_secret_key_is_refused(tmp_path):
    result = subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        cwd=ROOT,
        env=production_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert "SECRET_KEY must be set" in result.stderr


def test_production_settings_pass_check_deploy(tmp_path):
    env = production_env(
        tmp_path,
        SECRET_KEY=secrets.token_urlsafe(50),
        SECURE_SSL_REDIRECT="1",
        SECURE_HSTS_SECONDS="31536000",
        SECURE_HSTS_INCLUDE_SUBDOMAINS="1",
        SECURE_HSTS_PRELOAD="1",
    )
    result = subprocess.run(
        manage_py("check", "--deploy", "--fail-level", "WARNING"),
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues (0 silenced)." in result.stdout


@pytest.mark.django_db
def test_models_and_migrations_agree():
    out = StringIO()
    call_command("makemigrations", "--check", "--dry-run", stdout=out)
    assert "No changes detected" in out.getvalue()


@pytest.mark.django_db
def test_admin_renders_with_css_when_debug_is_off(client):
    assert settings.DEBUG is False
    page = client.get("/admin/login/")
    assert page.status_code == 200
    assert 'href="/static/admin/css/base.css"' in page.content.decode()
    css = client.get("/static/admin/css/base.css")
    assert css.status_code == 200
    assert css["Content-Type"].startswith("text/css")
