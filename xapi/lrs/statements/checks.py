"""Checks of xAPI's value types (IRIs, UUIDs, language tags, timestamps, durations, mailto IRIs...).

Each raises :class:`LrsError` 400 naming the JSON path and the rule; the structural checks of a
statement are in :mod:`xapi.lrs.statements.validate`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any, NoReturn

from xapi.lrs.http import LrsError

UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
# RFC 3987 absolute IRI: a scheme (letter, then letters, digits, + - .), a colon, no spaces.
IRI = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*:[^\s<>\"{}|\\^`]+$")
MAILTO = re.compile(r"^mailto:[^@\s]+@[^@\s]+$")
SHA1 = re.compile(r"^[0-9a-fA-F]{40}$")
SHA2 = re.compile(r"^[0-9a-fA-F]{56}$|^[0-9a-fA-F]{64}$|^[0-9a-fA-F]{96}$|^[0-9a-fA-F]{128}$")
# RFC 5646 language tag (BCP 47), without the grandfathered irregular tags.
_ALNUM = "[A-Za-z0-9]"
LANGUAGE_TAG = re.compile(
    r"^(?:(?:[A-Za-z]{2,3}(?:-[A-Za-z]{3}){0,3}|[A-Za-z]{4,8})"  # language (+ extlang)
    r"(?:-[A-Za-z]{4})?"  # script
    r"(?:-(?:[A-Za-z]{2}|[0-9]{3}))?"  # region
    rf"(?:-(?:{_ALNUM}{{5,8}}|[0-9]{_ALNUM}{{3}}))*"  # variants
    rf"(?:-[0-9A-WY-Za-wy-z](?:-{_ALNUM}{{2,8}})+)*"  # extensions
    rf"(?:-[xX](?:-{_ALNUM}{{1,8}})+)?"  # private use
    rf"|[xX](?:-{_ALNUM}{{1,8}})+"
    r"|[iI]-[A-Za-z]+)$"
)
# ISO 8601 date-time, extended format, seconds and a zone required by xAPI's Timestamp rules.
TIMESTAMP = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(\.\d+)?([Zz]|[+-]\d{2}:?\d{2}|[+-]\d{2})?$"
)
# ISO 8601 duration: weeks stand alone (PnW); otherwise years to seconds, a T before any time part.
DURATION = re.compile(
    r"^P(?:\d+(?:\.\d+)?W|(?!$)(\d+(?:\.\d+)?Y)?(\d+(?:\.\d+)?M)?(\d+(?:\.\d+)?D)?"
    r"(T(?=\d)(\d+(?:\.\d+)?H)?(\d+(?:\.\d+)?M)?(\d+(?:\.\d+)?S)?)?)$"
)


def fail(path: str, rule: str, message: str | None = None) -> NoReturn:
    raise LrsError(400, message or f"{path}: {rule}", path=path, rule=rule)


def is_iri(value: Any) -> bool:
    return isinstance(value, str) and IRI.match(value) is not None


def is_uuid(value: Any) -> bool:
    return isinstance(value, str) and UUID.match(value) is not None


def string(value: Any, path: str) -> str:
    if not isinstance(value, str):
        fail(path, "must be a string")
    return value


def iri(value: Any, path: str) -> str:
    if not is_iri(value):
        fail(path, "must be an absolute IRI (RFC 3987)")
    return str(value)


def uuid(value: Any, path: str) -> str:
    if not is_uuid(value):
        fail(path, "must be a UUID (8-4-4-4-12 hexadecimal digits)")
    return str(value)


def boolean(value: Any, path: str) -> bool:
    if not isinstance(value, bool):
        fail(path, "must be true or false")
    return value


def number(value: Any, path: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        fail(path, "must be a number")
    return float(value)


def obj(value: Any, path: str, allowed: Iterable[str], required: Iterable[str] = ()) -> dict[str, Any]:
    """Check that ``value`` is an object with only ``allowed`` keys, all ``required`` ones, and no nulls."""
    if not isinstance(value, dict):
        fail(path, "must be a JSON object")
    allowed_set = set(allowed)
    for key, item in value.items():
        if key not in allowed_set:
            fail(f"{path}.{key}", "is not a property allowed here")
        if item is None:
            fail(f"{path}.{key}", "must not be null")
    for key in required:
        if key not in value:
            fail(f"{path}.{key}", "is required")
    return value


def array(value: Any, path: str, allow_empty: bool = True) -> list[Any]:
    if not isinstance(value, list):
        fail(path, "must be an array")
    if not allow_empty and not value:
        fail(path, "must not be empty")
    return value


def language_tag(value: Any, path: str) -> str:
    if not isinstance(value, str) or LANGUAGE_TAG.match(value) is None:
        fail(path, "must be an RFC 5646 (BCP 47) language tag")
    return value


def language_map(value: Any, path: str) -> dict[str, str]:
    if not isinstance(value, dict):
        fail(path, "must be a language map (an object of language tag to string)")
    for tag, text in value.items():
        language_tag(tag, f"{path}.{tag}")
        if not isinstance(text, str):
            fail(f"{path}.{tag}", "must be a string")
    return value


def extensions(value: Any, path: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        fail(path, "must be an object of IRI to any JSON value")
    for key in value:
        if not is_iri(key):
            fail(f"{path}.{key}", "extension keys must be IRIs")
    return value


def mbox(value: Any, path: str) -> str:
    if not isinstance(value, str) or MAILTO.match(value) is None:
        fail(path, "mbox must be a mailto IRI (mailto:name@host)")
    return value


def timestamp(value: Any, path: str, version: str) -> datetime:
    """Parse an xAPI Timestamp; 2.0 follows RFC 3339 (no -00:00 zone)."""
    match = TIMESTAMP.match(value) if isinstance(value, str) else None
    if match is None:
        fail(path, "must be an ISO 8601 / RFC 3339 timestamp with a time zone")
    zone = match.group(8)
    if zone in ("-00:00", "-0000", "-00") or (version == "2.0.0" and zone is None):
        fail(path, "must be a timestamp with a time zone other than -00:00 (RFC 3339)")
    try:
        return parse_timestamp(value)
    except ValueError:
        fail(path, "is not a valid date and time")


def parse_timestamp(value: str) -> datetime:
    """Parse a timestamp that matched :data:`TIMESTAMP` (no zone means UTC)."""
    match = TIMESTAMP.match(value)
    if match is None:
        raise ValueError(value)
    year, month, day, hour, minute, second, fraction, zone = match.groups()
    micro = int(((fraction or ".0")[1:] + "000000")[:6])
    parsed = datetime(int(year), int(month), int(day), int(hour), int(minute), int(second), micro, tzinfo=UTC)
    if zone and zone not in ("Z", "z"):
        sign = -1 if zone[0] == "-" else 1
        digits = zone[1:].replace(":", "")
        offset = int(digits[:2]) * 60 + int(digits[2:4] or 0)
        parsed = parsed.replace(tzinfo=UTC) - sign * _minutes(offset)
    return parsed


def _minutes(count: int) -> Any:
    from datetime import timedelta

    return timedelta(minutes=count)


def format_timestamp(value: datetime) -> str:
    """UTC, millisecond precision, ``Z``: how this LRS writes ``stored`` and normalised timestamps."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


def duration(value: Any, path: str) -> str:
    if not isinstance(value, str) or DURATION.match(value) is None:
        fail(path, "must be an ISO 8601 duration (for example PT1H30M5.25S)")
    return value
