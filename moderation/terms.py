"""Blocked terms: how text is normalised and how one message is matched against many terms.

Text and terms go through the same :func:`normalise`: format characters
(Unicode category Cf: zero-width joiners and spaces, bidi marks, soft
hyphens) are removed, then NFKC folds compatibility look-alikes (full-width
``ｂａｄ``, ligatures, circled letters) onto plain letters and ``casefold``
erases case, then NFKC again because case folding can leave decomposed text.
Each step is one pass over the text.

The matcher is an Aho–Corasick automaton compiled to a table of transitions
(each state's dictionary already holds what its failure links would lead to),
so a search reads each character of the text once with one dictionary lookup:
linear in the text whatever the terms. A regular expression of escaped
alternatives is linear too, but tries every alternative at every position
(text × total term length): 1 MB of ``a`` against terms ``aa…ab`` took
seconds; this takes a fraction of one (tests/moderation/test_terms.py).
"""

from __future__ import annotations

import functools
import sys
import unicodedata
from collections import deque
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

    __slots__ = ("_final", "_next")

    def __init__(self, terms: Iterable[str]) -> None:
        goto: list[dict[str, int]] = [{}]
        final = [False]
        for term in {n for n in map(normalise, terms) if n}:
            state = 0
            for char in term:
                following = goto[state].get(char)
                if following is None:
                    following = goto[state][char] = len(goto)
                    goto.append({})
                    final.append(False)
                state = following
            final[state] = True
        # Breadth first, so a state's failure target is complete before the state.
        self._next: list[dict[str, int]] = [dict(goto[0])] + [{}] * (len(goto) - 1)
        queue = deque((child, 0) for child in goto[0].values())
        while queue:
            state, fail = queue.popleft()
            final[state] = final[state] or final[fail]
            self._next[state] = {**self._next[fail], **goto[state]}
            for char, child in goto[state].items():
                queue.append((child, self._next[fail].get(char, 0)))
        self._final = final

    def __bool__(self) -> bool:
        return len(self._final) > 1

    def matches(self, text: str) -> bool:
        if len(self._final) == 1:
            return False
        transitions, final, state = self._next, self._final, 0
        for char in normalise(text):
            state = transitions[state].get(char, 0)
            if final[state]:
                return True
        return False
