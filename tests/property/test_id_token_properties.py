"""Bad input, generated: id_tokens whose claims are mutated from a valid launch.

Validation either accepts a claim set (and then it really satisfies the rules, checked here by an
independent oracle) or refuses it with one of the LTI error classes; through the launch endpoint a
refused launch answers 4xx and stores nothing, and nothing ever answers 500.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from joserfc.jwk import KeySet
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from lti_tool.lti import claims as c
from lti_tool.lti.errors import LtiError
from lti_tool.lti.validation import Expected, check_claims, verify_signature
from lti_tool.models import Launch, LtiContext, LtiUser, Membership, ResourceLink, ToolSession, UsedNonce
from lti_tool.ratelimit import EXTENSION
from tests.conftest import TOOL_URL, Router
from tests.platform import FakePlatform, login

DB = Callable[[], AbstractContextManager[Session]]
NONCE = "nonce-under-test"
NOW = 1_750_000_000.0
LEEWAY = 60
PLATFORM = FakePlatform()
EXPECTED = Expected(issuer=PLATFORM.issuer, client_id=PLATFORM.client_id, nonce=NONCE,
                    deployment_ids={"dep-1"}, now=NOW, leeway=LEEWAY)
DROP = object()  # a mutation that removes the claim

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=6,
)
long_text = st.text(alphabet="abc", min_size=250, max_size=300)
times = (st.integers(min_value=-(2**40), max_value=2**62) | st.floats() | st.booleans()
         | st.sampled_from([NOW, NOW - 61, NOW + 61, 1e300, -1e300]))
# Plausible wrong values per claim, beside arbitrary JSON (st.floats() includes nan and ±inf).
SPECIAL: dict[str, st.SearchStrategy[Any]] = {
    "iss": st.sampled_from(["https://lms.example.edu/", "https://other.example", ""]),
    "aud": st.sampled_from([["client-1"], ["client-1", "other"], ["other"], [], "other", ["client-1", 7]]),
    "azp": st.sampled_from(["client-1", "other", ""]),
    "exp": times,
    "iat": times,
    "nonce": st.sampled_from([NONCE, NONCE + "x", ""]),
    c.DEPLOYMENT_ID: st.sampled_from(["dep-1", "dep-2", "", ["dep-1"], {"id": "dep-1"}]),
    c.MESSAGE_TYPE: st.sampled_from([c.RESOURCE_LINK_REQUEST, c.DEEP_LINKING_REQUEST, "LtiBogus", ""]),
    c.VERSION: st.sampled_from(["1.3.0", "1.3", "1.1.0", 1.3]),
    c.ROLES: st.lists(st.text(max_size=10) | st.integers() | st.none() | st.just([]) | st.just({}), max_size=3),
    "sub": st.text(max_size=10) | long_text | st.integers(),
    c.TARGET_LINK_URI: st.sampled_from([TOOL_URL + "/lti/launch", "", "https://elsewhere.example"]),
    c.RESOURCE_LINK: st.fixed_dictionaries({}, optional={"id": st.text(max_size=5) | long_text | st.integers()
                                                         | json_values, "title": json_values}),
    c.CONTEXT: st.fixed_dictionaries({}, optional={"id": st.text(max_size=5) | long_text | st.integers()
                                                   | json_values, "title": json_values, "label": json_values}),
    c.CUSTOM: st.dictionaries(st.sampled_from(["module", "x"]), json_values, max_size=2),
    c.DEEP_LINKING_SETTINGS: st.fixed_dictionaries({}, optional={"deep_link_return_url": json_values}),
    "name": json_values,
    "email": json_values,
}
@st.composite
def claim_sets(draw: st.DrawFn) -> dict[str, Any]:
    """Return a valid resource-link claim set with a few claims dropped, retyped or altered."""
    body = PLATFORM.claims(NONCE)
    body.update(exp=NOW + 300, iat=NOW)
    for name in draw(st.lists(st.sampled_from(sorted(SPECIAL)), max_size=4, unique=True)):
        value = draw(st.just(DROP) | SPECIAL[name] | json_values)
        if value is DROP:
            body.pop(name, None)
        else:
            body[name] = value
    body.update(draw(st.dictionaries(st.text(max_size=8), json_values, max_size=2)))  # unknown claims
    return body


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _id(value: Any) -> bool:
    """An LTI/OIDC identifier: a non-empty string of at most 255 characters."""
    return isinstance(value, str) and 0 < len(value) <= 255


def _identity_ok(b: dict[str, Any]) -> bool:
    aud = b.get("aud")
    audiences = [aud] if isinstance(aud, str) else aud if isinstance(aud, list) else []
    azp = b.get("azp", DROP)
    azp_ok = azp == "client-1" if (azp is not DROP or len(audiences) > 1) else True
    return b.get("iss") == PLATFORM.issuer and "client-1" in audiences and azp_ok and b.get("nonce") == NONCE


def _times_ok(b: dict[str, Any]) -> bool:
    exp, iat = b.get("exp"), b.get("iat")
    return (_number(exp) and _number(iat) and exp + LEEWAY >= NOW and iat - LEEWAY <= NOW
            and exp < 253_402_300_799 - 3600)  # a date (before 9999-12-31): the nonce is kept until exp + 1 h


def _message_ok(b: dict[str, Any]) -> bool:
    kind = b.get(c.MESSAGE_TYPE)
    if kind == c.RESOURCE_LINK_REQUEST:
        link = b.get(c.RESOURCE_LINK)
        message = isinstance(link, dict) and _id(link.get("id")) and isinstance(b.get(c.TARGET_LINK_URI), str) \
            and bool(b.get(c.TARGET_LINK_URI))
    elif kind == c.DEEP_LINKING_REQUEST:
        dl = b.get(c.DEEP_LINKING_SETTINGS)
        message = isinstance(dl, dict) and isinstance(dl.get("deep_link_return_url"), str) \
            and bool(dl["deep_link_return_url"])
    else:
        return False
    context = b.get(c.CONTEXT)
    return message and (context is None or (isinstance(context, dict) and _id(context.get("id"))))


def satisfies_the_rules(b: dict[str, Any]) -> bool:
    """The launch rules, stated independently of lti_tool.lti.validation."""
    roles = b.get(c.ROLES)
    return (_identity_ok(b) and _times_ok(b) and b.get(c.VERSION) == "1.3.0"
            and b.get(c.DEPLOYMENT_ID) == "dep-1" and _id(b.get("sub"))
            and isinstance(roles, list) and all(isinstance(r, str) for r in roles) and _message_ok(b))


@given(claim_sets())
@settings(max_examples=400)
def test_validation_accepts_only_valid_claims_and_refuses_with_an_lti_error(body: dict[str, Any]) -> None:
    try:
        check_claims(body, EXPECTED)
    except LtiError:
        return
    assert satisfies_the_rules(body), f"accepted: {_changes(body)}"


def _changes(body: dict[str, Any]) -> dict[str, Any]:
    """Name what a mutation changed (the body itself is too long for a readable failure)."""
    base = PLATFORM.claims(NONCE)
    base.update(exp=NOW + 300, iat=NOW)
    changed = {k: v for k, v in body.items() if k not in base or base[k] != v}
    return {**changed, **{k: "<dropped>" for k in base if k not in body}}


def test_the_unmutated_claims_are_valid() -> None:
    body = PLATFORM.claims(NONCE)
    body.update(exp=NOW + 300, iat=NOW)
    check_claims(body, EXPECTED)
    assert satisfies_the_rules(body)


def _lookup(refresh: bool) -> KeySet:
    return KeySet([PLATFORM.key])


@given(st.text(max_size=200) | st.lists(st.text(alphabet="abcdefABC012-_=+/", max_size=40), min_size=1,
                                        max_size=5).map(".".join))
@settings(max_examples=200)
def test_any_token_string_is_either_verified_or_refused_with_an_lti_error(token: str) -> None:
    try:
        verify_signature(token, _lookup)
    except LtiError:
        return
    pytest.fail(f"an unsigned string was accepted: {token!r}")


# --- Through the launch endpoint -----------------------------------------------------------------------

TABLES = (Launch, LtiUser, LtiContext, ResourceLink, Membership, ToolSession, UsedNonce)


@pytest.fixture
def installed(app: Flask, db: DB, router: Router) -> FakePlatform:
    # Every example logs in and launches from one address: keep the rate limits out of the way.
    app.extensions[EXTENSION].rates.clear()
    with db() as session:
        return PLATFORM.install(session, router)


def _counts(db: DB) -> tuple[int, ...]:
    with db() as session:
        return tuple(session.scalar(select(func.count()).select_from(t)) or 0 for t in TABLES)


@given(body=claim_sets())
@settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_the_launch_endpoint_never_fails_and_a_refused_launch_stores_nothing(
        client: FlaskClient, installed: FakePlatform, db: DB, body: dict[str, Any]) -> None:
    state, nonce = login(client, installed)
    now = time.time()
    sent = _to_real_clock(body, now, nonce)
    before = _counts(db)
    response = client.post("/lti/launch", data={"state": state, "id_token": installed.sign(sent)},
                           base_url=TOOL_URL)
    event(f"status {response.status_code}")
    assert response.status_code < 500, response.text
    if response.status_code == 303:
        assert satisfies_the_rules(body), f"accepted: {_changes(body)}"
    else:
        assert 400 <= response.status_code < 500
        assert _counts(db) == before


def _to_real_clock(body: dict[str, Any], now: float, nonce: str) -> dict[str, Any]:
    """Move the times drawn around NOW to the real clock and put in this login's nonce."""
    sent = dict(body)
    for name in ("exp", "iat"):
        if _number(sent.get(name)) and abs(sent[name] - NOW) < 10**6:
            sent[name] = sent[name] - NOW + now
    if sent.get("nonce") == NONCE:
        sent["nonce"] = nonce
    return sent
