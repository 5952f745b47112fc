"""Where statements go: the built-in LRS by default, or an agency LRS set for a platform (issuer) or
for one of its deployments (a deployment's target beats its platform's). The destination is resolved
when a statement is sent, so setting a target redirects statements still queued.

Passwords are stored sealed (``xapi.sealing``: Basic auth needs them in clear, so they are encrypted,
not hashed); they are never logged and never shown back. Delivery state (backoff after failures, and
the built-in LRS's pause) lives in ``xapi_delivery_state``; an agency target carries its own pause flag.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from sqlalchemy import String, Text, UniqueConstraint, false, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from xapi.db import XapiBase, utcnow
from xapi.sealing import Sealer, SealError

BUILTIN = "builtin"


class LrsTarget(XapiBase):
    """An agency's LRS for one platform (``deployment_id`` empty) or one deployment."""

    __tablename__ = "xapi_lrs_target"
    __table_args__ = (UniqueConstraint("issuer", "deployment_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    issuer: Mapped[str] = mapped_column(String(255))
    # Empty for "every deployment of the platform": NULLs would not be unique.
    deployment_id: Mapped[str] = mapped_column(String(255), default="")
    endpoint: Mapped[str] = mapped_column(String(1000))
    username: Mapped[str] = mapped_column(String(255))
    # Sealed (see xapi.sealing) unless the row predates sealing: `upstander lrs-target seal` fixes those.
    password: Mapped[str] = mapped_column(String(1000))
    password_sealed: Mapped[bool] = mapped_column(default=False, server_default=false())
    paused: Mapped[bool] = mapped_column(default=False)
    paused_reason: Mapped[str | None] = mapped_column(Text, default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)

    @property
    def key(self) -> str:
        return f"target:{self.id}"

    @property
    def seal_context(self) -> str:
        # The row's identity, bound into the ciphertext: a sealed password moved to another row won't open.
        return f"lrs-target|{self.issuer}|{self.deployment_id}"

    def set_password(self, password: str, sealer: Sealer) -> None:
        self.password, self.password_sealed = sealer.seal(password, self.seal_context), True

    def open_password(self, sealer: Sealer) -> str:
        """The password in clear (raises SealError when it was sealed under another secret key)."""
        return sealer.open(self.password, self.seal_context) if self.password_sealed else self.password


class DeliveryState(XapiBase):
    """Per destination: consecutive failures and when to try again; the built-in LRS's pause."""

    __tablename__ = "xapi_delivery_state"

    destination: Mapped[str] = mapped_column(String(64), primary_key=True)
    failures: Mapped[int] = mapped_column(default=0)
    retry_at: Mapped[datetime | None] = mapped_column(default=None)
    last_error: Mapped[str | None] = mapped_column(Text, default=None)
    paused: Mapped[bool] = mapped_column(default=False)
    paused_reason: Mapped[str | None] = mapped_column(Text, default=None)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


@dataclass(frozen=True)
class Destination:
    """A resolved LRS endpoint with its credentials; ``problem`` says why it cannot be used yet."""

    key: str
    endpoint: str
    username: str
    password: str = ""
    paused: bool = False
    paused_reason: str | None = None
    problem: str | None = None

    @property
    def label(self) -> str:
        """For logs and messages: the key and the endpoint without any user:password@ in it."""
        parts = urlsplit(self.endpoint)
        host = parts.netloc.rpartition("@")[2]
        return f"{self.key} ({urlunsplit(parts._replace(netloc=host))})"


def mask(secret: str) -> str:
    """Show a credential as its first two characters and stars."""
    return f"{secret[:2]}***"


def builtin_destination(config: Mapping[str, Any], credentials: tuple[str, str] | None = None) -> Destination:
    """The default destination: the built-in LRS reached over HTTP.

    ``credentials`` are the worker's own LRS client (``xapi.lrs.auth.ensure_worker_client``);
    UPSTANDER_LRS_KEY / UPSTANDER_LRS_SECRET override them when the LRS runs with another key.
    """
    endpoint = str(config.get("LRS_ENDPOINT") or f"{str(config['PUBLIC_URL']).rstrip('/')}/xapi/")
    key, secret = credentials or ("", "")
    if config.get("LRS_KEY") and config.get("LRS_SECRET"):
        key, secret = str(config["LRS_KEY"]), str(config["LRS_SECRET"])
    problem = None if key and secret else "no credentials for the built-in LRS (UPSTANDER_LRS_KEY/SECRET)"
    return Destination(BUILTIN, endpoint, key, secret, problem=problem)


def _with_builtin_state(session: Session, builtin: Destination) -> Destination:
    row = session.get(DeliveryState, BUILTIN)
    if row is None or not row.paused:
        return builtin
    return Destination(builtin.key, builtin.endpoint, builtin.username, builtin.password,
                       paused=True, paused_reason=row.paused_reason, problem=builtin.problem)


UNSEALABLE = ("its stored password does not open with this installation's secret key (was "
              "UPSTANDER_SECRET_KEY changed?): set it again with `upstander lrs-target set`")


def _from_target(target: LrsTarget, sealer: Sealer) -> Destination:
    try:
        password, problem = target.open_password(sealer), None
    except SealError:
        password, problem = "", UNSEALABLE
    return Destination(target.key, target.endpoint, target.username, password,
                       paused=target.paused, paused_reason=target.paused_reason, problem=problem)


def resolver(session: Session, builtin: Destination, sealer: Sealer) -> Callable[[str, str], Destination]:
    """Return a lookup (issuer, deployment) -> destination over the targets as they are now."""
    targets = {(t.issuer, t.deployment_id): _from_target(t, sealer) for t in session.scalars(select(LrsTarget))}
    default = _with_builtin_state(session, builtin)

    def resolve(issuer: str, deployment_id: str) -> Destination:
        return targets.get((issuer, deployment_id)) or targets.get((issuer, "")) or default

    return resolve


def by_key(session: Session, key: str, builtin: Destination, sealer: Sealer) -> Destination | None:
    """Return the destination recorded under ``key`` (``builtin`` or ``target:N``), if it still exists."""
    if key == BUILTIN:
        return _with_builtin_state(session, builtin)
    target = by_key_target(session, key)
    return None if target is None else _from_target(target, sealer)


def all_targets(session: Session) -> list[LrsTarget]:
    return list(session.scalars(select(LrsTarget).order_by(LrsTarget.issuer, LrsTarget.deployment_id)))


def find_target(session: Session, issuer: str, deployment_id: str | None) -> LrsTarget | None:
    return session.scalar(select(LrsTarget).where(LrsTarget.issuer == issuer,
                                                  LrsTarget.deployment_id == (deployment_id or "")))


def set_target(session: Session, *, issuer: str, deployment_id: str | None, endpoint: str,
               username: str, password: str, sealer: Sealer) -> LrsTarget:
    """Add or replace a target; setting it again (new credentials) also lifts a pause."""
    target = find_target(session, issuer, deployment_id)
    if target is None:
        target = LrsTarget(issuer=issuer, deployment_id=deployment_id or "")
        session.add(target)
    target.endpoint = endpoint if endpoint.endswith("/") else endpoint + "/"
    target.username = username
    target.set_password(password, sealer)
    target.paused, target.paused_reason, target.updated_at = False, None, utcnow()
    session.flush()
    resume(session, target.key)
    return target


def seal_all(session: Session, sealer: Sealer) -> int:
    """Seal the passwords of targets stored before sealing existed; return how many."""
    rows = list(session.scalars(select(LrsTarget).where(LrsTarget.password_sealed.is_(False))))
    for target in rows:
        target.set_password(target.password, sealer)
    return len(rows)


def remove_target(session: Session, issuer: str, deployment_id: str | None) -> bool:
    target = find_target(session, issuer, deployment_id)
    if target is None:
        return False
    session.delete(target)
    return True


def _state(session: Session, key: str) -> DeliveryState:
    row = session.get(DeliveryState, key)
    if row is None:
        row = DeliveryState(destination=key, failures=0, paused=False)
        session.add(row)
    return row


def pause(session: Session, key: str, reason: str) -> None:
    """Stop sending to a destination until someone acts (new credentials, or ``outbox resume``)."""
    if key == BUILTIN:
        row = _state(session, key)
        row.paused, row.paused_reason, row.updated_at = True, reason, utcnow()
        return
    target = by_key_target(session, key)
    if target is not None:
        target.paused, target.paused_reason, target.updated_at = True, reason, utcnow()


def by_key_target(session: Session, key: str) -> LrsTarget | None:
    prefix, _, number = key.partition(":")
    return session.get(LrsTarget, int(number)) if prefix == "target" and number.isdigit() else None


def resume(session: Session, key: str) -> None:
    """Lift a pause and forget the backoff, so the destination is tried at once."""
    target = by_key_target(session, key)
    if target is not None:
        target.paused, target.paused_reason = False, None
    row = session.get(DeliveryState, key)
    if row is not None:
        row.paused, row.paused_reason, row.failures, row.retry_at = False, None, 0, None


def paused_keys(session: Session) -> list[str]:
    keys = [t.key for t in session.scalars(select(LrsTarget).where(LrsTarget.paused))]
    return keys + list(session.scalars(select(DeliveryState.destination).where(DeliveryState.paused)))


def waiting_until(session: Session, key: str) -> datetime | None:
    """When a destination that failed may be tried again (None: now)."""
    row = session.get(DeliveryState, key)
    return None if row is None else row.retry_at


def failed(session: Session, key: str, error: str, delay: Callable[[int], float]) -> datetime:
    """Count one more failure and set the next try after ``delay(failures)`` seconds; return it."""
    row = _state(session, key)
    row.failures = (row.failures or 0) + 1
    row.retry_at = utcnow() + timedelta(seconds=delay(row.failures))
    row.last_error, row.updated_at = error[:2000], utcnow()
    return row.retry_at


def succeeded(session: Session, key: str) -> None:
    row = session.get(DeliveryState, key)
    if row is not None and (row.failures or row.retry_at is not None):
        row.failures, row.retry_at, row.last_error, row.updated_at = 0, None, None, utcnow()
