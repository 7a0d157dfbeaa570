"""What a chat message's text may be, and its one normal form."""

from __future__ import annotations

import re
import sys
import unicodedata

from django.conf import settings

EMPTY = "Message cannot be empty"
INVALID = "Message contains invalid characters"
NOT_TEXT = "Message must be a string"

# C0 controls other than tab and newline, and lone surrogates.
_FORBIDDEN = re.compile(r"[\x00-\x08\x0b-\x1f\ud800-\udfff]")


def too_long() -> str:
    return f"Message too long (max {settings.CHAT_MESSAGE_MAX_LENGTH} characters)"


def _invisible() -> str:
    """Whitespace and format (Cf) characters: what trimming removes at both ends."""
    return "".join(
        char
        for char in map(chr, range(sys.maxunicode + 1))
        if char.isspace() or unicodedata.category(char) == "Cf"
    )


# Built at import (a scan of every code point, ~0.3 s), not on the first message,
# where it stalled the event loop and every socket with it.
_INVISIBLE = _invisible()


class InvalidText(ValueError):
    pass


def clean(text: object) -> str:
    """Trim whitespace and invisible format characters; raise InvalidText."""
    if not isinstance(text, str):
        raise InvalidText(NOT_TEXT)
    text = text.strip(_INVISIBLE)
    if len(text) > settings.CHAT_MESSAGE_MAX_LENGTH:
        raise InvalidText(too_long())
    if not text:
        raise InvalidText(EMPTY)
    if _FORBIDDEN.search(text):
        raise InvalidText(INVALID)
    return text
