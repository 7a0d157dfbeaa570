"""What a chat message's text may be, and its one normal form."""

from __future__ import annotations

import re
import unicodedata

from django.conf import settings

EMPTY = "Message cannot be empty"
INVALID = "Message contains invalid characters"
NOT_TEXT = "Message must be a string"

# C0 controls other than tab and newline, and lone surrogates.
_FORBIDDEN = re.compile(r"[\x00-\x08\x0b-\x1f\ud800-\udfff]")


def too_long() -> str:
    return f"Message too long (max {settings.CHAT_MESSAGE_MAX_LENGTH} characters)"


def _invisible(char: str) -> bool:
    return char.isspace() or unicodedata.category(char) == "Cf"


class InvalidText(ValueError):
    pass


def clean(text: object) -> str:
    """Trim whitespace and invisible format characters; raise InvalidText."""
    if not isinstance(text, str):
        raise InvalidText(NOT_TEXT)
    start, end = 0, len(text)
    while start < end and _invisible(text[start]):
        start += 1
    while end > start and _invisible(text[end - 1]):
        end -= 1
    if end - start > settings.CHAT_MESSAGE_MAX_LENGTH:
        raise InvalidText(too_long())
    text = text[start:end]
    if not text:
        raise InvalidText(EMPTY)
    if _FORBIDDEN.search(text):
        raise InvalidText(INVALID)
    return text
