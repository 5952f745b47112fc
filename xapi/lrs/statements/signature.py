"""Signed statements (xAPI 1.0.3 Data 2.6, 2.0 §4.2.2.6): the JWS in the signature attachment must be a compact
RS256/384/512 JWS whose payload is the statement as it was before the signature was attached. When the JWS header
carries an X.509 chain (``x5c``) the signature is verified with the first certificate's key."""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from joserfc.jws import JWSRegistry

from xapi.lrs.http import LrsError
from xapi.lrs.statements.attachments import SIGNATURE, Part
from xapi.lrs.statements.shape import comparable

ALGORITHMS = ("RS256", "RS384", "RS512")


class _Registry(JWSRegistry):
    """joserfc's limits fit small tokens; an x5c chain alone is kilobytes, and the payload is a whole statement."""

    max_header_length = 64_000
    max_payload_length = 4_000_000
    max_signature_length = 2048


def _b64(segment: str) -> bytes:
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


def check_signatures(statements: list[dict[str, Any]], parts: dict[str, Part]) -> None:
    for index, st in enumerate(statements):
        for position, attachment in enumerate(st.get("attachments", [])):
            if attachment["usageType"] != SIGNATURE:
                continue
            path = f"$[{index}].attachments[{position}]"
            if attachment["contentType"].split(";")[0].strip().lower() != "application/octet-stream":
                raise LrsError(400, "a signature attachment must have contentType application/octet-stream",
                               path=f"{path}.contentType", rule="signature contentType")
            part = parts.get(attachment["sha2"].lower())
            if part is None:
                raise LrsError(400, "a signature attachment must be sent as a part", path=path,
                               rule="the JWS must be attached")
            _check_jws(st, part.content, path)


def _check_jws(st: dict[str, Any], jws: bytes, path: str) -> None:
    try:
        header_b64, payload_b64, signature_b64 = jws.decode("ascii").strip().split(".")
        header = json.loads(_b64(header_b64))
        payload = json.loads(_b64(payload_b64))
        signature = _b64(signature_b64)
    except (ValueError, UnicodeDecodeError, binascii.Error) as exc:
        raise LrsError(400, "the signature is not a compact JWS with a JSON payload", path=path,
                       rule="JWS compact serialization (RFC 7515)") from exc
    if not isinstance(header, dict) or header.get("alg") not in ALGORITHMS:
        raise LrsError(400, "the JWS must use RS256, RS384 or RS512", path=path, rule="JWS alg RS256|RS384|RS512")
    if not isinstance(payload, dict) or not signature:
        raise LrsError(400, "the JWS payload must be the statement", path=path, rule="JWS payload is the statement")
    if "x5c" in header:
        _verify(jws.decode("ascii").strip(), header, path)
    if _unsigned(payload) != _unsigned(st):
        raise LrsError(400, "the JWS payload differs from the statement", path=path,
                       rule="the signed payload must match the statement")


def _unsigned(st: dict[str, Any]) -> Any:
    """The statement as signed: without its signature attachment (and the properties the LRS sets)."""
    data = {key: value for key, value in st.items() if key != "attachments"}
    kept = [a for a in st.get("attachments", []) if a.get("usageType") != SIGNATURE]
    if kept:
        data["attachments"] = kept
    return comparable(data)


def _verify(token: str, header: dict[str, Any], path: str) -> None:
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization
    from joserfc import jws
    from joserfc.errors import JoseError
    from joserfc.jwk import RSAKey

    try:
        cert = x509.load_der_x509_certificate(base64.b64decode(header["x5c"][0]))
        pem = cert.public_key().public_bytes(serialization.Encoding.PEM,
                                             serialization.PublicFormat.SubjectPublicKeyInfo)
        registry = _Registry(algorithms=[header["alg"]], strict_check_header=False)
        jws.deserialize_compact(token, RSAKey.import_key(pem), algorithms=[header["alg"]], registry=registry)
    except (JoseError, ValueError, TypeError, KeyError, IndexError) as exc:
        raise LrsError(400, "the JWS signature does not verify with its x5c certificate", path=path,
                       rule="JWS signature must verify") from exc
