"""A two-host cluster per test module, built and torn down whatever happens.

The topology needs root and ``ip netns`` (plus nginx, redis-server and the
PostgreSQL binaries); where any is missing the tests skip, saying which.
"""

from __future__ import annotations

import pytest

from tests.multihost.cluster import MultiHostCluster
from tests.multihost.topology import why_not_available


@pytest.fixture(scope="module")
def cluster():
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
