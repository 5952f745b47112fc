"""Service access tokens: the signed client assertion, caching until shortly before expiry, refresh on 401."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest
from joserfc import jwt
from joserfc.jwk import KeySet
from sqlalchemy import select
from sqlalchemy.orm import Session

from lti_tool.lti import claims as c
from lti_tool.lti import keys, service_token
from lti_tool.lti.service_token import ServiceError, TokenCache, access_token, authorized_request
from lti_tool.models import Platform

DB = Callable[[], AbstractContextManager[Session]]
TOKEN_URL = "https://lms.example.edu/token"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class TokenEndpoint:
    """A token endpoint that records each request and answers as told."""

    def __init__(self) -> None:
        self.forms: list[dict[str, str]] = []
        self.expires_in: Any = 3600
        self.answer: httpx.Response | None = None

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if str(request.url) != TOKEN_URL:
            return httpx.Response(404)
        self.forms.append({k: v[0] for k, v in parse_qs(request.content.decode()).items()})
        if self.answer is not None:
            return self.answer
        return httpx.Response(200, json={"access_token": f"t{len(self.forms)}", "token_type": "Bearer",
                                         "expires_in": self.expires_in})


@pytest.fixture
def endpoint() -> TokenEndpoint:
    return TokenEndpoint()


@pytest.fixture
def http(endpoint: TokenEndpoint) -> Iterator[httpx.Client]:
    with httpx.Client(transport=httpx.MockTransport(endpoint)) as client:
        yield client


@pytest.fixture
def session(db: DB) -> Iterator[Session]:
    with db() as opened:
        keys.ensure_keys(opened)
        opened.add(Platform(issuer="https://lms.example.edu", client_id="tool-1", auth_login_url="a",
                            token_url=TOKEN_URL, jwks_url="j"))
        opened.flush()
        yield opened


def platform(session: Session) -> Platform:
    return session.scalars(select(Platform)).one()


def test_the_assertion_is_signed_by_the_current_key(session: Session, http: httpx.Client,
                                                   endpoint: TokenEndpoint) -> None:
    assert access_token(session, http, platform(session), [c.SCOPE_SCORE], TokenCache()) == "t1"
    [form] = endpoint.forms
    assert form["grant_type"] == "client_credentials" and form["scope"] == c.SCOPE_SCORE
    assert form["client_assertion_type"] == "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
    token = jwt.decode(form["client_assertion"], KeySet.import_key_set(keys.jwks(session)), algorithms=["RS256"])
    assert token.header["kid"] == keys.signing_key(session).kid
    body = token.claims
    assert (body["iss"], body["sub"], body["aud"]) == ("tool-1", "tool-1", TOKEN_URL)
    assert body["exp"] - body["iat"] == service_token.ASSERTION_LIFETIME and body["jti"]


def test_a_token_is_reused_until_shortly_before_it_expires(session: Session, http: httpx.Client,
                                                          endpoint: TokenEndpoint) -> None:
    clock = Clock()
    cache = TokenCache(clock)
    get = lambda: access_token(session, http, platform(session), [c.SCOPE_SCORE], cache)  # noqa: E731
    assert [get(), get()] == ["t1", "t1"]
    clock.now += 3600 - service_token.EXPIRY_MARGIN - 1
    assert get() == "t1"
    clock.now += 1
    assert get() == "t2" and len(endpoint.forms) == 2 and cache.requests == 2


def test_a_short_lived_token_keeps_half_its_life(session: Session, http: httpx.Client,
                                                endpoint: TokenEndpoint) -> None:
    clock = Clock()
    cache = TokenCache(clock)
    endpoint.expires_in = 30
    access_token(session, http, platform(session), [c.SCOPE_SCORE], cache)
    clock.now += 14
    assert access_token(session, http, platform(session), [c.SCOPE_SCORE], cache) == "t1"
    clock.now += 1
    assert access_token(session, http, platform(session), [c.SCOPE_SCORE], cache) == "t2"


def test_scopes_and_keys_have_their_own_tokens(session: Session, http: httpx.Client,
                                               endpoint: TokenEndpoint) -> None:
    cache = TokenCache()
    p = platform(session)
    assert access_token(session, http, p, [c.SCOPE_SCORE, c.SCOPE_LINEITEM], cache) == "t1"
    assert access_token(session, http, p, [c.SCOPE_LINEITEM, c.SCOPE_SCORE], cache) == "t1"  # same set
    assert access_token(session, http, p, [c.SCOPE_NRPS], cache) == "t2"
    keys.rotate(session)  # a new signing key: tokens are not shared across keys
    assert access_token(session, http, p, [c.SCOPE_NRPS], cache) == "t3"


@pytest.mark.parametrize(("answer", "status", "retryable"), [
    (httpx.Response(400, json={"error": "invalid_client"}), 400, False),
    (httpx.Response(503, text="down"), 503, True),
    (httpx.Response(200, json={"token_type": "Bearer"}), 502, True),  # garbage: a bad gateway, retried
    (httpx.Response(200, text="not json"), 502, True),
])
def test_token_endpoint_failures_raise(session: Session, http: httpx.Client, endpoint: TokenEndpoint,
                                       answer: httpx.Response, status: int, retryable: bool) -> None:
    endpoint.answer = answer
    cache = TokenCache()
    with pytest.raises(ServiceError) as caught:
        access_token(session, http, platform(session), [c.SCOPE_SCORE], cache)
    assert (caught.value.status, caught.value.retryable) == (status, retryable)
    assert cache.requests == 0  # nothing cached


def test_a_401_gets_one_fresh_token(session: Session, endpoint: TokenEndpoint) -> None:
    seen: list[str] = []

    def service(request: httpx.Request) -> httpx.Response:
        if str(request.url) == TOKEN_URL:
            return endpoint(request)
        seen.append(request.headers["Authorization"])
        return httpx.Response(401 if len(seen) == 1 else 200, json={})

    with httpx.Client(transport=httpx.MockTransport(service)) as http:
        cache = TokenCache()
        response = authorized_request(session, http, platform(session), [c.SCOPE_SCORE], "POST",
                                      "https://lms.example.edu/x", cache=cache, json={})
    assert response.status_code == 200 and seen == ["Bearer t1", "Bearer t2"]


def test_a_second_401_is_raised(session: Session, endpoint: TokenEndpoint) -> None:
    def service(request: httpx.Request) -> httpx.Response:
        return endpoint(request) if str(request.url) == TOKEN_URL else httpx.Response(401, text="no")

    with httpx.Client(transport=httpx.MockTransport(service)) as http, pytest.raises(ServiceError) as caught:
        authorized_request(session, http, platform(session), [c.SCOPE_SCORE], "GET", "https://lms.example.edu/x",
                           cache=TokenCache())
    assert caught.value.status == 401 and not caught.value.retryable and len(endpoint.forms) == 2


def test_a_transport_failure_is_retryable(session: Session, endpoint: TokenEndpoint) -> None:
    def service(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    with httpx.Client(transport=httpx.MockTransport(service)) as http, pytest.raises(ServiceError) as caught:
        access_token(session, http, platform(session), [c.SCOPE_SCORE], TokenCache())
    assert caught.value.status is None and caught.value.retryable
