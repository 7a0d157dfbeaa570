"""``LOG_FORMAT=json``: one JSON object per line, for log collectors.

Each line has ``time`` (UTC, ISO 8601), ``level``, ``logger`` and
``message``, plus ``sid``, ``user_id`` and ``stream_id`` when known (from
:mod:`livestream.log_context`, or given with ``extra=``) and ``exception``
with its traceback. Only these fields are written: never the record's other
attributes, request bodies or headers, so no token reaches the logs through
the format.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime

from livestream import log_context


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, str] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        context = log_context.current()
        for field in log_context.FIELDS:
            value = getattr(record, field, None) or context.get(field)
            if value is not None:
                entry[field] = str(value)
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        elif record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return json.dumps(entry, ensure_ascii=False)
