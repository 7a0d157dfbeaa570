from __future__ import annotations

from datetime import UTC, datetime


def iso_z(moment: datetime) -> str:
    """Format like JavaScript's ``Date.toISOString()``: UTC, milliseconds, ``Z``."""
    utc = moment.astimezone(UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"
