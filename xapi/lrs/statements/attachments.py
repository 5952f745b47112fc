"""Attachments: multipart/mixed requests and responses (xAPI 1.0.3 Data 2.4.11, Communication 1.5.2; 2.0 §4.2.2.6),
the SHA-2 checks, and storage of attachment bytes once per hash."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import Table, select
from sqlalchemy.orm import Session
from werkzeug.datastructures import Headers

from xapi.lrs.http import LrsError
from xapi.lrs.statements.activities import upsert
from xapi.lrs.statements.models import AttachmentContent

SIGNATURE = "http://adlnet.gov/expapi/attachments/signature"
HASHES = {56: hashlib.sha224, 64: hashlib.sha256, 96: hashlib.sha384, 128: hashlib.sha512}
A = cast(Table, AttachmentContent.__table__)


@dataclass
class Part:
    headers: Headers
    content: bytes

    @property
    def content_type(self) -> str:
        return (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()


def boundary_of(content_type_header: str) -> str:
    for param in content_type_header.split(";")[1:]:
        name, _, value = param.strip().partition("=")
        if name.strip().lower() == "boundary":
            return value.strip().strip('"')
    raise LrsError(400, "multipart/mixed needs a boundary parameter", path="Content-Type", rule="boundary required")


def parse_multipart(body: bytes, content_type_header: str) -> list[Part]:
    """Split a multipart/mixed body into parts (binary-safe)."""
    delimiter = b"--" + boundary_of(content_type_header).encode("latin-1")
    chunks = body.split(delimiter)
    if len(chunks) < 3:
        raise LrsError(400, "the multipart body has no parts", path="body", rule="multipart/mixed")
    parts = []
    for chunk in chunks[1:]:
        if chunk.startswith(b"--"):
            break
        chunk = chunk[2:] if chunk.startswith(b"\r\n") else chunk.lstrip(b"\n")
        head, sep, content = chunk.partition(b"\r\n\r\n")
        if not sep:
            raise LrsError(400, "a multipart part has no header/body separator", path="body", rule="multipart/mixed")
        headers = Headers()
        for line in head.decode("latin-1").split("\r\n"):
            if ":" in line:
                name, _, value = line.partition(":")
                headers.add(name.strip(), value.strip())
        parts.append(Part(headers, content[:-2] if content.endswith(b"\r\n") else content))
    return parts


def check_parts(statements: list[dict[str, Any]], parts: list[Part]) -> dict[str, Part]:
    """Match attachment parts to the statements' attachment objects by hash; return parts by sha2."""
    by_hash: dict[str, Part] = {}
    for index, part in enumerate(parts):
        if part.headers.get("Content-Transfer-Encoding", "binary").strip().lower() != "binary":
            raise LrsError(400, "attachment parts must use Content-Transfer-Encoding: binary",
                           path=f"part[{index + 1}]", rule="Content-Transfer-Encoding binary")
        declared = (part.headers.get("X-Experience-API-Hash") or "").strip().lower()
        if not declared:
            raise LrsError(400, "every attachment part needs an X-Experience-API-Hash header",
                           path=f"part[{index + 1}]", rule="X-Experience-API-Hash required")
        digest = HASHES.get(len(declared))
        if digest is None or digest(part.content).hexdigest() != declared:
            raise LrsError(400, "an attachment part's content does not match its X-Experience-API-Hash",
                           path=f"part[{index + 1}]", rule="the SHA-2 of the content must match")
        by_hash[declared] = part
    wanted = {a["sha2"].lower() for st in statements for a in _attachments(st) if "fileUrl" not in a}
    needed_with_url = {a["sha2"].lower() for st in statements for a in _attachments(st) if "fileUrl" in a}
    missing = wanted - set(by_hash)
    if missing:
        raise LrsError(400, "an attachment without fileUrl has no part with its sha2", path="$.attachments",
                       rule="each attachment needs a fileUrl or a multipart part with its content")
    extra = set(by_hash) - wanted - needed_with_url
    if extra:
        raise LrsError(400, "a multipart part matches no attachment of the statements", path="$.attachments",
                       rule="every part must be an attachment of a statement")
    return by_hash


def _attachments(st: dict[str, Any]) -> list[dict[str, Any]]:
    found = list(st.get("attachments", []))
    obj = st.get("object", {})
    if obj.get("objectType") == "SubStatement":
        found += obj.get("attachments", [])
    return found


def save(session: Session, parts: dict[str, Part]) -> None:
    if not parts:
        return
    known = set(session.scalars(select(A.c.sha2).where(A.c.sha2.in_(list(parts)))))
    rows = [{"sha2": sha2, "content_type": part.content_type or "application/octet-stream", "content": part.content}
            for sha2, part in parts.items() if sha2 not in known]
    if rows:
        session.execute(upsert(session, A).on_conflict_do_nothing(index_elements=[A.c.sha2]), rows)


def load(session: Session, statements: list[dict[str, Any]]) -> list[tuple[str, str, bytes]]:
    """(sha2, content type, bytes) of every stored attachment the statements carry, once per hash."""
    hashes = {a["sha2"].lower() for st in statements for a in _attachments(st)}
    if not hashes:
        return []
    rows = session.execute(select(A.c.sha2, A.c.content_type, A.c.content).where(A.c.sha2.in_(list(hashes))))
    return [(sha2, ctype, bytes(content)) for sha2, ctype, content in rows]


def multipart_response(json_body: bytes, attachments: list[tuple[str, str, bytes]]) -> tuple[bytes, str]:
    """Build a multipart/mixed body: the JSON first, then each attachment; return (body, content type)."""
    boundary = secrets.token_hex(16)
    out = [f"--{boundary}\r\nContent-Type: application/json\r\n\r\n".encode(), json_body, b"\r\n"]
    for sha2, ctype, content in attachments:
        out += [f"--{boundary}\r\nContent-Type: {ctype}\r\nContent-Transfer-Encoding: binary\r\n"
                f"X-Experience-API-Hash: {sha2}\r\n\r\n".encode(), content, b"\r\n"]
    out.append(f"--{boundary}--\r\n".encode())
    return b"".join(out), f"multipart/mixed; boundary={boundary}"
