"""Fixtures for the scale-out tests: the delivery tests' LRS, recording proxy and statement queue."""

from __future__ import annotations

# Shared with tests/delivery (fixtures are found by name in a conftest's namespace).
from tests.delivery.conftest import lrs, proxy, queue, registration  # noqa: F401
