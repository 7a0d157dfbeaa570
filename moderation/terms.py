"""Blocked terms: how text is normalised and how one message is matched against many terms.

Text and terms go through the same :func:`normalise`: format characters
(Unicode category Cf: zero-width joiners and spaces, bidi marks, soft
hyphens) are removed, then NFKC folds compatibility look-alikes (full-width
``ｂａｄ``, ligatures, circled letters) onto plain letters and ``casefold``
erases case, then NFKC again because case folding can leave decomposed text.
Each step is one pass over the text.

The matcher is one compiled regular expression of escaped literal
alternatives. Python's ``re`` has nothing to backtrack into in a pattern with
no quantifiers or groups: at each position of the text it tries each
alternative once, so a search costs at most len(text) × (the longest term,
capped at ``MAX_TERM_LENGTH``) character comparisons — linear in the text.
tests/moderation/test_terms.py measures a 1 MB adversarial message.
"""

from __future__ import annotations

import functools
import re
import sys
import unicodedata
from collections.abc import Iterable

MAX_TERM_LENGTH = 100


@functools.cache
def _format_characters() -> dict[int, None]:
    """A ``str.translate`` table deleting every Cf character (built once, on first use)."""
    return dict.fromkeys(
        code for code in range(sys.maxunicode + 1) if unicodedata.category(chr(code)) == "Cf"
    )


def normalise(text: str) -> str:
    text = unicodedata.normalize("NFKC", text.translate(_format_characters()))
    return unicodedata.normalize("NFKC", text.casefold())


class Matcher:
    """Whether a text contains any of a set of terms, after :func:`normalise`."""

    __slots__ = ("_pattern",)

    def __init__(self, terms: Iterable[str]) -> None:
        normalised = sorted({n for n in map(normalise, terms) if n})
        self._pattern = re.compile("|".join(map(re.escape, normalised))) if normalised else None

    def __bool__(self) -> bool:
        return self._pattern is not None

    def matches(self, text: str) -> bool:
        return self._pattern is not None and self._pattern.search(normalise(text)) is not None
