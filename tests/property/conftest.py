"""Hypothesis settings for the property tests: bounded and deterministic, so CI sees the same examples.

``derandomize`` draws examples from a seed derived from each test, and no example database is kept,
so a run never depends on an earlier one. Set HYPOTHESIS_PROFILE=explore for a longer random search.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

settings.register_profile("ci", derandomize=True, database=None, deadline=None, print_blob=True,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("explore", deadline=None, database=None, max_examples=2000,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
