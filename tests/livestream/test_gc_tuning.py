"""A serving worker's garbage collector: what start-up loaded is frozen, the young
generation is large (livestream/gc_tuning.py says why; docs/performance.md the figures)."""

from __future__ import annotations

import gc
import sys

import pytest
from django.core.exceptions import ImproperlyConfigured

from livestream import gc_tuning
from tests.livestream.test_first_run import run
from tests.livestream.test_settings import production_env


@pytest.fixture
def restored_gc():
    thresholds = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*thresholds)


def test_serving_freezes_what_is_loaded_and_collects_the_young_less_often(restored_gc, settings):
    settings.GC_THRESHOLDS = (50_000, 20, 100)
    gc_tuning.tune_for_serving()
    assert gc.get_threshold() == (50_000, 20, 100)
    assert gc.get_freeze_count() > 10_000  # Django and the apps, out of every collection


def test_the_default_is_what_was_measured():
    assert gc_tuning.parse_thresholds(gc_tuning.DEFAULT_THRESHOLDS) == (50_000, 20, 100)


@pytest.mark.parametrize("raw", ["", "1,2", "a,b,c", "0,10,10", "700,10,10,10"])
def test_bad_thresholds_are_refused(raw):
    with pytest.raises(ImproperlyConfigured, match="GC_THRESHOLDS"):
        gc_tuning.parse_thresholds(raw)


def test_the_server_says_bad_thresholds_in_one_line(tmp_path):
    env = production_env(tmp_path, SECRET_KEY="k" * 50, GC_THRESHOLDS="700,10")
    result = run([sys.executable, "-m", "livestream.serve"], env)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert "GC_THRESHOLDS must be three positive integers" in result.stderr
