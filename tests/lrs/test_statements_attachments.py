"""Attachments (multipart/mixed) and signed statements against a real server."""

from __future__ import annotations

import base64
import hashlib
import json
from datetime import UTC, datetime, timedelta
from email.parser import BytesParser
from email.policy import HTTP
from typing import Any

import httpx
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from joserfc import jws
from joserfc.jwk import RSAKey

from tests.lrs.statement_factory import statement

SIGNATURE = "http://adlnet.gov/expapi/attachments/signature"
BOUNDARY = "xapi-test-boundary"


def attachment_object(content: bytes, usage: str = "http://example.org/usage/file",
                      content_type: str = "text/plain") -> dict[str, Any]:
    return {"usageType": usage, "display": {"en-US": "A file"}, "contentType": content_type,
            "length": len(content), "sha2": hashlib.sha256(content).hexdigest()}


def multipart(body: Any, parts: list[tuple[bytes, str]], hashes_override: str | None = None) -> bytes:
    out = [f"--{BOUNDARY}\r\nContent-Type: application/json\r\n\r\n".encode(), json.dumps(body).encode(), b"\r\n"]
    for content, ctype in parts:
        digest = hashes_override or hashlib.sha256(content).hexdigest()
        out += [f"--{BOUNDARY}\r\nContent-Type: {ctype}\r\nContent-Transfer-Encoding: binary\r\n"
                f"X-Experience-API-Hash: {digest}\r\n\r\n".encode(), content, b"\r\n"]
    out.append(f"--{BOUNDARY}--\r\n".encode())
    return b"".join(out)


def post_multipart(lrs: httpx.Client, body: bytes) -> httpx.Response:
    return lrs.post("/statements", content=body,
                    headers={"Content-Type": f"multipart/mixed; boundary={BOUNDARY}"})


def test_attachment_round_trip(lrs: httpx.Client) -> None:
    content = b"hello \x00\xff attachment"
    st = statement(attachments=[attachment_object(content)])
    assert post_multipart(lrs, multipart(st, [(content, "text/plain")])).status_code == 200
    resp = lrs.get("/statements", params={"statementId": st["id"], "attachments": "true"})
    assert resp.headers["Content-Type"].startswith("multipart/mixed")
    raw = b"Content-Type: " + resp.headers["Content-Type"].encode() + b"\r\n\r\n" + resp.content
    parts = list(BytesParser(policy=HTTP).parsebytes(raw).iter_parts())
    assert json.loads(parts[0].get_payload(decode=True))["id"] == st["id"]
    assert parts[1]["X-Experience-API-Hash"] == hashlib.sha256(content).hexdigest()
    assert parts[1].get_payload(decode=True) == content


def test_attachment_rules(lrs: httpx.Client) -> None:
    content = b"some bytes"
    st = statement(attachments=[attachment_object(content)])
    missing = lrs.post("/statements", json=st)  # no part and no fileUrl
    assert missing.status_code == 400
    wrong_hash = post_multipart(lrs, multipart(st, [(content, "text/plain")], hashes_override="0" * 64))
    assert wrong_hash.status_code == 400
    extra = post_multipart(lrs, multipart(statement(), [(content, "text/plain")]))
    assert extra.status_code == 400
    with_url = statement(attachments=[{**attachment_object(content), "fileUrl": "http://example.org/f.txt"}])
    assert lrs.post("/statements", json=with_url).status_code == 200


def _key_and_cert() -> tuple[rsa.RSAPrivateKey, str]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "signer")])
    now = datetime.now(UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(1).not_valid_before(now).not_valid_after(now + timedelta(days=1))
            .sign(key, hashes.SHA256()))
    return key, base64.b64encode(cert.public_bytes(serialization.Encoding.DER)).decode()


def _signed(st: dict[str, Any], key: rsa.RSAPrivateKey, header: dict[str, Any],
            payload: dict[str, Any] | None = None) -> bytes:
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    token = jws.serialize_compact(header, json.dumps(payload or st).encode(), RSAKey.import_key(pem),
                                  algorithms=[header["alg"]])
    sig = token.encode()
    st["attachments"] = [attachment_object(sig, SIGNATURE, "application/octet-stream")]
    return multipart(st, [(sig, "application/octet-stream")])


def test_signed_statements(lrs: httpx.Client) -> None:
    key, cert = _key_and_cert()
    good = statement()
    assert post_multipart(lrs, _signed(good, key, {"alg": "RS384", "x5c": [cert]})).status_code == 200
    other_key, _ = _key_and_cert()
    forged = statement()
    assert post_multipart(lrs, _signed(forged, other_key, {"alg": "RS256", "x5c": [cert]})).status_code == 400
    tampered = statement()
    body = _signed(tampered, key, {"alg": "RS256"}, payload={**tampered, "verb": {"id": "http://example.org/x"}})
    resp = post_multipart(lrs, body)
    assert resp.status_code == 400
    assert resp.json()["error"]["rule"] == "the signed payload must match the statement"
