"""Blocked-term matching: Unicode look-alikes are caught, and a search is linear in the text."""

from __future__ import annotations

import random
import time

import pytest

from moderation.terms import Matcher, normalise


@pytest.mark.parametrize(
    "text",
    [
        "BADWORD",
        "ｂａｄｗｏｒｄ",  # full-width
        "bad\u200dword",  # zero-width joiner
        "b\u00ada\u200bd\u2060word",  # soft hyphen, zero-width space, word joiner
        "\u202ebadword",  # right-to-left override
        "BADWOR\u1e0a"[:-1] + "D\u0307"[:1],  # plain D after stripping nothing
    ],
)
def test_look_alikes_normalise_to_the_plain_term(text):
    assert "badword" in normalise(text)
    assert Matcher(["BadWord"]).matches(text)


def test_ligatures_and_sharp_s_fold():
    assert normalise("ﬁne Straße") == "fine strasse"
    assert Matcher(["strasse"]).matches("STRAẞE")


def test_agrees_with_a_plain_substring_search():
    rng = random.Random(13)
    for _ in range(2000):
        terms = ["".join(rng.choices("abc", k=rng.randint(1, 5))) for _ in range(rng.randint(1, 6))]
        text = "".join(rng.choices("abcd", k=rng.randint(0, 30)))
        assert Matcher(terms).matches(text) == any(term in text for term in terms), (terms, text)


def test_no_terms_match_nothing():
    assert not Matcher([])
    assert not Matcher(["\u200d", ""]).matches("anything")


def _cpu_seconds(matcher: Matcher, text: str) -> float:
    best = float("inf")
    for _ in range(3):
        started = time.process_time()
        assert not matcher.matches(text)
        best = min(best, time.process_time() - started)
    return best


def test_a_1_mb_adversarial_message_is_matched_in_linear_time():
    # Every position starts a long near-match: a backtracking matcher of
    # alternatives pays text × term length here.
    terms = ["a" * 99 + "b"] + ["a" * k + "c" for k in range(1, 99)]
    matcher = Matcher(terms)
    small = _cpu_seconds(matcher, "\u200d".join("a" * 50_000))
    large = _cpu_seconds(matcher, "\u200d".join("a" * 500_000))  # 1 MB of text
    assert large < 2.0
    assert large / max(small, 1e-4) < 30  # ten times the text: far from quadratic
