"""Loading the settings at the start of a command, with one line for what is wrong.

A missing ``SECRET_KEY``, an integer setting that is not one, or a data folder
someone else owns is the operator's to fix, not a bug: ``manage.py`` and
``livestream.serve`` say so in one line and exit with status 2 instead of
printing a traceback (and the launcher does not restart workers that would
fail the same way).
"""

from __future__ import annotations

import os
import sys


def settings_or_exit(program: str) -> None:
    """Load ``DJANGO_SETTINGS_MODULE``; on a configuration error, explain and exit."""
    from django.conf import settings
    from django.core.exceptions import ImproperlyConfigured

    from livestream.private_files import NotPrivate

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "livestream.settings")
    try:
        settings.INSTALLED_APPS  # noqa: B018  (reads the settings module)
    except (ImproperlyConfigured, NotPrivate) as exc:
        print(f"{program}: configuration error: {exc}", file=sys.stderr)
        sys.exit(2)
