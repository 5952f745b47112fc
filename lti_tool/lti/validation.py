"""Check an LTI 1.3 id_token: every rule of the 1EdTech Security Framework and LTI core §5."""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import Any, TypeGuard

from joserfc import jws
from joserfc.errors import JoseError
from joserfc.jwk import KeySet, RSAKey

from lti_tool.lti import claims as c
from lti_tool.lti import errors

# Return the platform's key set; True forces a refetch (after an unknown kid).
KeyLookup = Callable[[bool], KeySet]
# The user (sub), deployment, context and resource link ids "MUST NOT exceed 255 ASCII characters" (LTI 1.3 core).
MAX_ID_LENGTH = 255
# exp must be a date the tool can keep (the used nonce is kept an hour past it): before 9999-12-31.
_LAST_EXP = 253_402_300_799 - 3600


@dataclass(frozen=True)
class Expected:
    """What the login told us to expect of the token."""

    issuer: str
    client_id: str
    nonce: str
    deployment_ids: Collection[str]
    now: float
    leeway: int


def read_header(token: str) -> dict[str, Any]:
    """Return the protected header without verifying anything."""
    try:
        obj = jws.extract_compact(token.encode())
    except (JoseError, ValueError, UnicodeError) as exc:
        raise errors.TokenMalformed(str(exc)) from exc
    return dict(obj.protected)


def _find_key(kid: str, lookup: KeyLookup) -> RSAKey:
    for refresh in (False, True):
        for key in lookup(refresh):
            if key.kid == kid and isinstance(key, RSAKey):
                return key
    raise errors.KidUnknown(f"no key {kid!r} in the platform key set")


def verify_signature(token: str, lookup: KeyLookup) -> dict[str, Any]:
    """Verify the RS256 signature with the platform's key named by ``kid``; return the claims."""
    header = read_header(token)
    if header.get("alg") != c.ALGORITHM:
        raise errors.AlgorithmNotAllowed(f"alg is {header.get('alg')!r}")
    kid = header.get("kid")
    if not kid or not isinstance(kid, str):
        raise errors.KidMissing()
    key = _find_key(kid, lookup)
    try:
        obj = jws.deserialize_compact(token, key, algorithms=[c.ALGORITHM])
        payload = json.loads(obj.payload or b"")
    except (JoseError, ValueError) as exc:
        raise errors.SignatureInvalid(type(exc).__name__) from exc
    if not isinstance(payload, dict):
        raise errors.TokenMalformed("the payload is not a JSON object")
    return payload


def check_claims(token_claims: dict[str, Any], expected: Expected) -> None:
    """Check issuer, audience, azp, times, nonce, deployment, version and message claims."""
    _check_identity(token_claims, expected)
    _check_times(token_claims, expected)
    nonce = token_claims.get("nonce")
    if not nonce:
        raise errors.NonceMissing()
    if nonce != expected.nonce:
        raise errors.NonceMismatch()
    _check_lti(token_claims, expected)


def _check_identity(token_claims: dict[str, Any], expected: Expected) -> None:
    if token_claims.get("iss") != expected.issuer:
        raise errors.IssuerMismatch(f"iss is {token_claims.get('iss')!r}")
    aud = token_claims.get("aud")
    audiences = [aud] if isinstance(aud, str) else aud if isinstance(aud, list) else []
    if expected.client_id not in audiences:
        raise errors.AudienceMismatch(f"aud is {aud!r}")
    azp = token_claims.get("azp")
    # With several audiences the authorised party must be present and be us (OIDC core 3.1.3.7).
    if (len(audiences) > 1 and azp is None) or (azp is not None and azp != expected.client_id):
        raise errors.AzpMismatch(f"azp is {azp!r}")


def _check_times(token_claims: dict[str, Any], expected: Expected) -> None:
    exp, iat = token_claims.get("exp"), token_claims.get("iat")
    if not _is_number(exp) or not _is_number(iat):
        raise errors.ClaimMissing("exp and iat must be numbers")
    if exp >= _LAST_EXP:
        raise errors.ClaimInvalid(f"exp {exp!r} is not a date before the year 9999")
    if exp + expected.leeway < expected.now:
        raise errors.TokenExpired()
    if iat - expected.leeway > expected.now:
        raise errors.TokenFromFuture()


def _is_number(value: Any) -> TypeGuard[int | float]:
    # JSON numbers only: not true/false (bool is an int in Python), not NaN or Infinity (which Python's
    # JSON parser accepts, and which compare false with every time, so would never expire).
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    return not isinstance(value, float) or math.isfinite(value)


def _check_id(name: str, value: Any) -> None:
    if not value:
        raise errors.ClaimMissing(name)
    if not isinstance(value, str) or len(value) > MAX_ID_LENGTH:
        raise errors.ClaimInvalid(f"{name} must be a string of at most {MAX_ID_LENGTH} characters")


def _check_lti(token_claims: dict[str, Any], expected: Expected) -> None:
    version = token_claims.get(c.VERSION)
    if version != c.LTI_VERSION:
        raise errors.VersionInvalid(f"version is {version!r}")
    message_type = token_claims.get(c.MESSAGE_TYPE)
    if message_type is None:
        raise errors.ClaimMissing("message_type")
    if message_type not in c.SUPPORTED_MESSAGES:
        raise errors.MessageTypeInvalid(f"message_type is {message_type!r}")
    deployment_id = token_claims.get(c.DEPLOYMENT_ID)
    _check_id("deployment_id", deployment_id)
    if deployment_id not in expected.deployment_ids:
        raise errors.DeploymentUnknown(f"deployment {deployment_id!r}")
    roles = token_claims.get(c.ROLES)
    if not isinstance(roles, list):
        raise errors.ClaimMissing("roles")
    if not all(isinstance(role, str) for role in roles):
        raise errors.ClaimInvalid("roles must be a list of role URIs (strings)")
    _check_id("sub (the user)", token_claims.get("sub"))
    _check_message(message_type, token_claims)


def _check_message(message_type: str, token_claims: dict[str, Any]) -> None:
    if message_type == c.RESOURCE_LINK_REQUEST:
        link = token_claims.get(c.RESOURCE_LINK)
        _check_id("resource_link.id", link.get("id") if isinstance(link, dict) else None)
        _check_url(token_claims.get(c.TARGET_LINK_URI), "target_link_uri")
    else:
        settings = token_claims.get(c.DEEP_LINKING_SETTINGS)
        _check_url(settings.get("deep_link_return_url") if isinstance(settings, dict) else None,
                   "deep_linking_settings.deep_link_return_url")
    context = token_claims.get(c.CONTEXT)
    if context is not None and (not isinstance(context, dict) or not context.get("id")):
        raise errors.ClaimInvalid("context.id")
    if context is not None:
        _check_id("context.id", context["id"])


def _check_url(value: Any, name: str) -> None:
    if not value:
        raise errors.ClaimMissing(name)
    if not isinstance(value, str):
        raise errors.ClaimInvalid(f"{name} must be a URL (a string)")
