"""Rate limiting pieces: the rate format, GCRA, the memory and Redis backends, the LRS key and exemption."""

from __future__ import annotations

import base64
import logging

import pytest

from lti_tool.lrs_mount import pepper_for
from lti_tool.ratelimit import Limiter, RateLimitConfigError, parse_flag, parse_rate
from lti_tool.ratelimit_backends import Decision, MemoryBackend, Rate, RedisBackend, gcra
from tests.conftest import REDIS_URL
from xapi.lrs.auth import worker_credentials

# Nothing listens on port 1 of the loopback address: connections are refused at once.
DEAD_REDIS_URL = "redis://127.0.0.1:1/0"


def _basic(key: str, secret: str) -> str:
    return "Basic " + base64.b64encode(f"{key}:{secret}".encode()).decode()


@pytest.mark.parametrize(("text", "expected"), [
    ("60/minute", Rate(60, 60.0)), ("1/second", Rate(1, 1.0)), (" 30 / hours ", Rate(30, 3600.0)),
    ("1000/DAY", Rate(1000, 86400.0)),
])
def test_rates_are_read_from_the_documented_format(text: str, expected: Rate) -> None:
    assert parse_rate("RATE_LIMIT_LOGIN", text) == expected


def test_off_turns_one_surface_off() -> None:
    assert parse_rate("RATE_LIMIT_LRS", "OFF") is None


@pytest.mark.parametrize("bad", ["60", 60, "0/minute", "60/fortnight", "sixty/minute", "60 per minute", "", None])
def test_a_bad_rate_is_refused_with_the_setting_name(bad: object) -> None:
    with pytest.raises(RateLimitConfigError, match=r"UPSTANDER_RATE_LIMIT_LOGIN=.*600/minute"):
        parse_rate("RATE_LIMIT_LOGIN", bad)


@pytest.mark.parametrize(("value", "expected"), [(True, True), ("false", False), ("On", True), ("0", False)])
def test_flags(value: object, expected: bool) -> None:
    assert parse_flag("RATE_LIMITS_ENABLED", value) is expected


def test_a_bad_flag_is_refused() -> None:
    with pytest.raises(RateLimitConfigError, match="UPSTANDER_RATE_LIMITS_ENABLED"):
        parse_flag("RATE_LIMITS_ENABLED", "maybe")


def test_gcra_allows_a_burst_of_the_limit_then_spaces_requests() -> None:
    rate, tat = Rate(3, 60.0), None
    for _ in range(3):
        decision, tat = gcra(tat, 1000.0, rate)
        assert decision.allowed
    refused, stored = gcra(tat, 1000.0, rate)
    assert refused == Decision(False, 20.0)
    assert stored is None  # a refused request does not push the next chance further away
    assert gcra(tat, 1020.0, rate)[0].allowed


def test_memory_backend_resets_after_the_period_per_key() -> None:
    backend, rate = MemoryBackend(), Rate(2, 10.0)
    assert [backend.hit("a", rate, 0.0).allowed for _ in range(3)] == [True, True, False]
    assert backend.hit("b", rate, 0.0).allowed
    assert backend.hit("a", rate, 10.0).allowed
    assert backend.hit("a", rate, 10.0).allowed
    assert not backend.hit("a", rate, 10.0).allowed


def test_memory_backend_drops_expired_keys_when_it_grows(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(MemoryBackend, "PRUNE_AT", 10)
    backend, rate = MemoryBackend(), Rate(1, 1.0)
    for n in range(10):
        backend.hit(f"old{n}", rate, 0.0)
    backend.hit("new", rate, 5.0)
    assert len(backend) == 1


def test_redis_backend_is_shared_by_two_backends_and_resets(redis_prefix: str) -> None:
    first, second, rate = RedisBackend(REDIS_URL, redis_prefix), RedisBackend(REDIS_URL, redis_prefix), Rate(3, 60.0)
    now = 1_700_000_000.0
    assert first.hit("k", rate, now).allowed
    assert second.hit("k", rate, now).allowed
    assert first.hit("k", rate, now).allowed
    refused = second.hit("k", rate, now)
    assert not refused.allowed
    assert refused.retry_after == pytest.approx(20.0)
    assert first.hit("other", rate, now).allowed
    assert second.hit("k", rate, now + 20.0).allowed


def test_redis_keys_expire_when_idle(redis_prefix: str) -> None:
    backend = RedisBackend(REDIS_URL, redis_prefix)
    backend.hit("k", Rate(10, 60.0), 1_700_000_000.0)
    ttl_ms = backend.client.pttl(redis_prefix + "k")
    assert 0 < ttl_ms <= 6000


def test_redis_handles_rates_finer_than_a_millisecond(redis_prefix: str) -> None:
    backend, rate = RedisBackend(REDIS_URL, redis_prefix), Rate(10**9, 60.0)
    assert all(backend.hit("k", rate, 1_700_000_000.0).allowed for _ in range(3))
    assert backend.failures == 0


def test_redis_down_fails_open_counts_and_warns_once(caplog: pytest.LogCaptureFixture) -> None:
    backend = RedisBackend(DEAD_REDIS_URL, "unused:")
    with caplog.at_level(logging.WARNING, logger="lti_tool.ratelimit_backends"):
        decisions = [backend.hit("k", Rate(1, 60.0), 0.0) for _ in range(5)]
    assert all(d.allowed for d in decisions)
    assert backend.failures == 5
    warnings = [r for r in caplog.records if "Redis unreachable or failing" in r.getMessage()]
    assert len(warnings) == 1


def _limiter() -> Limiter:
    return Limiter({}, MemoryBackend(), exempt=(worker_credentials(pepper_for("k")), ("agency-key", "s3cret")))


def test_lrs_requests_count_under_the_basic_key_never_the_secret() -> None:
    limiter = _limiter()
    assert limiter.lrs_client(_basic("client-7", "its-secret"), "10.0.0.1") == "key:client-7"
    assert limiter.lrs_client(None, "10.0.0.1") == "addr:10.0.0.1"
    assert limiter.lrs_client("Basic !!!", "10.0.0.1") == "addr:10.0.0.1"
    assert limiter.lrs_client(_basic("x" * 65, "s"), "10.0.0.1") == "addr:10.0.0.1"


def test_only_the_workers_real_credentials_are_exempt() -> None:
    limiter = _limiter()
    key, secret = worker_credentials(pepper_for("k"))
    assert limiter.lrs_client(_basic(key, secret), "10.0.0.1") is None
    assert limiter.lrs_client(_basic("agency-key", "s3cret"), "10.0.0.1") is None
    assert limiter.lrs_client(_basic(key, "guessed"), "10.0.0.1") == f"key:{key}"
