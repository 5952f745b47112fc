"""Pure parts of delivery: backoff, Retry-After, settings, masking, destination resolution."""

from __future__ import annotations

import random
from datetime import timedelta
from email.utils import format_datetime

import httpx
import pytest

from tests.delivery.conftest import SEALER, SessionFactory
from xapi import targets
from xapi.client import retry_after
from xapi.db import utcnow
from xapi.delivery import Settings, backoff
from xapi.sealing import Sealer, SealError


def test_backoff_grows_exponentially_with_jitter_up_to_the_cap() -> None:
    settings = Settings(backoff_base=2, backoff_max=60)
    rng = random.Random(1)
    for failures, ceiling in [(1, 2), (2, 4), (3, 8), (5, 32), (6, 60), (30, 60)]:
        delays = {backoff(failures, settings, None, rng) for _ in range(50)}
        assert all(ceiling / 2 <= d <= ceiling for d in delays)
        assert len(delays) > 1  # jittered


def test_retry_after_wins_but_is_capped() -> None:
    settings = Settings(backoff_max=600)
    rng = random.Random(1)
    assert backoff(9, settings, 3.0, rng) == 3.0
    assert backoff(1, settings, 86400.0, rng) == 600


def test_retry_after_header_forms() -> None:
    def answer(value: str | None) -> httpx.Response:
        return httpx.Response(503, headers={"Retry-After": value} if value is not None else {})

    assert retry_after(answer("120")) == 120
    assert retry_after(answer(None)) is None
    assert retry_after(answer("soon")) is None
    later = retry_after(answer(format_datetime(utcnow() + timedelta(seconds=90), usegmt=True)))
    assert later is not None and 80 < later <= 90


def test_settings_from_config_and_the_lease_rule() -> None:
    settings = Settings.from_config({"XAPI_BATCH_SIZE": "7", "XAPI_READ_TIMEOUT": 2, "XAPI_CLAIM_LEASE": None})
    assert (settings.batch_size, settings.read_timeout, settings.claim_lease) == (7, 2.0, 120.0)
    with pytest.raises(ValueError, match="LEASE"):
        Settings(connect_timeout=5, read_timeout=15, claim_lease=20)
    with pytest.raises(ValueError, match="BATCH"):
        Settings(batch_size=0)


def test_mask_shows_two_characters() -> None:
    assert targets.mask("hunter2") == "hu***"
    assert targets.mask("") == "***"


def test_builtin_destination_from_configuration() -> None:
    unset = targets.builtin_destination({"PUBLIC_URL": "https://tool.example/"})
    assert unset.endpoint == "https://tool.example/xapi/" and unset.problem
    given = targets.builtin_destination({"PUBLIC_URL": "https://tool.example", "LRS_ENDPOINT": "http://lrs/x/",
                                         "LRS_KEY": "k", "LRS_SECRET": "s"})
    assert (given.endpoint, given.username, given.password, given.problem) == ("http://lrs/x/", "k", "s", None)


def test_resolution_deployment_then_platform_then_builtin(db: SessionFactory) -> None:
    builtin = targets.Destination(targets.BUILTIN, "http://builtin/", "k", "s")
    with db() as session:
        platform = targets.set_target(session, issuer="iss", deployment_id=None, endpoint="http://p",
                                      username="u", password="p", sealer=SEALER)
        deployment = targets.set_target(session, issuer="iss", deployment_id="d1", endpoint="http://d",
                                        username="u", password="p", sealer=SEALER)
        resolve = targets.resolver(session, builtin, SEALER)
        assert resolve("iss", "d1").key == deployment.key and resolve("iss", "d1").endpoint == "http://d/"
        assert resolve("iss", "d2").key == platform.key
        assert resolve("other", "d1") == builtin
        targets.pause(session, targets.BUILTIN, "HTTP 401")
        assert targets.resolver(session, builtin, SEALER)("other", "d1").paused
        assert targets.remove_target(session, "iss", "d1")
        assert targets.resolver(session, builtin, SEALER)("iss", "d1").key == platform.key


def test_a_sealed_password_opens_only_with_its_key_and_for_its_row() -> None:
    sealed = SEALER.seal("hunter2-agency", "lrs-target|iss|")
    assert "hunter2" not in sealed and sealed.startswith("v1:")
    assert SEALER.open(sealed, "lrs-target|iss|") == "hunter2-agency"
    assert SEALER.seal("hunter2-agency", "lrs-target|iss|") != sealed  # a fresh nonce every time
    with pytest.raises(SealError):
        SEALER.open(sealed, "lrs-target|iss|d1")  # copied onto another target
    with pytest.raises(SealError):
        Sealer("another-secret-key").open(sealed, "lrs-target|iss|")
    with pytest.raises(SealError):
        SEALER.open(sealed[:-4] + "AAAA", "lrs-target|iss|")


def test_targets_store_passwords_sealed_and_report_one_they_cannot_open(db: SessionFactory) -> None:
    builtin = targets.Destination(targets.BUILTIN, "http://builtin/", "k", "s")
    with db() as session:
        target = targets.set_target(session, issuer="iss", deployment_id=None, endpoint="http://p",
                                    username="u", password="agency-pw", sealer=SEALER)
        assert target.password_sealed and "agency-pw" not in target.password
        opened = targets.resolver(session, builtin, SEALER)("iss", "")
        assert (opened.password, opened.problem) == ("agency-pw", None)
        rekeyed = targets.resolver(session, builtin, Sealer("rotated-secret-key"))("iss", "")
        assert rekeyed.password == "" and rekeyed.problem == targets.UNSEALABLE
        assert targets.by_key(session, target.key, builtin, Sealer("rotated-secret-key")) == rekeyed


def test_passwords_stored_before_sealing_are_used_then_sealed_on_request(db: SessionFactory) -> None:
    builtin = targets.Destination(targets.BUILTIN, "http://builtin/", "k", "s")
    with db() as session:
        session.add(targets.LrsTarget(issuer="old", deployment_id="", endpoint="http://o/", username="u",
                                      password="legacy-pw"))
        session.flush()
        assert targets.resolver(session, builtin, SEALER)("old", "").password == "legacy-pw"
        assert targets.seal_all(session, SEALER) == 1
        assert targets.seal_all(session, SEALER) == 0
        row = targets.find_target(session, "old", None)
        assert row is not None and row.password_sealed and "legacy-pw" not in row.password
        assert targets.resolver(session, builtin, SEALER)("old", "").password == "legacy-pw"
