from __future__ import annotations

from datetime import UTC, datetime


def iso_z(moment: datetime) -> str:
    """Format like JavaScript's ``Date.toISOString()``: UTC, milliseconds, ``Z``."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
