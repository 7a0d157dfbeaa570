"""A two-host cluster per test module, built and torn down whatever happens.

The topology needs root and ``ip netns`` (plus nginx, redis-server and the
PostgreSQL binaries); where any is missing the tests skip, saying which.
"""

from __future__ import annotations

import pytest

from tests.multihost.cluster import MultiHostCluster
from tests.multihost.topology import why_not_available


def _cluster():
    reason = why_not_available()
    if reason:
        pytest.skip(f"multi-host topology unavailable: {reason}")
    built = MultiHostCluster()
    try:
        try:
            built.start()
        except Exception:
            print(built.log())
            raise
        yield built
    finally:
        built.close()


@pytest.fixture(scope="module")
def cluster():
    """One cluster shared by a module's tests, which leave it whole."""
    yield from _cluster()


@pytest.fixture
def cluster_to_break():
    """A cluster of its own, for a test that takes a host down."""
    yield from _cluster()
