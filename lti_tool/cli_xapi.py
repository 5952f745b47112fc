"""The ``worker``, ``lrs-target`` and ``outbox`` commands: xAPI delivery from the command line."""

from __future__ import annotations

import json
import logging
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import click
import httpx
from flask import Flask
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from lti_tool import http, lrs_mount
from lti_tool.db import sessionmaker_for, utcnow
from lti_tool.services import gradebook_delivery, statements
from xapi import outbox, targets
from xapi.client import ClientPool, LrsClient
from xapi.delivery import Settings, reconcile
from xapi.lrs.auth import ensure_worker_client
from xapi.sealing import Sealer
from xapi.targets import Destination
from xapi.worker import Hook, Worker

log = logging.getLogger(__name__)


@contextmanager
def _transaction(app: Flask) -> Iterator[Session]:
    with sessionmaker_for(app).begin() as session:
        yield session


def builtin(app: Flask) -> Destination:
    """The default destination: the built-in LRS, with the worker's own client (created if missing)."""
    try:
        with _transaction(app) as session:
            credentials = ensure_worker_client(session, lrs_mount.pepper(app))
    except IntegrityError:
        # Another worker or instance, starting at the same moment, created it first: it is there now.
        with _transaction(app) as session:
            credentials = ensure_worker_client(session, lrs_mount.pepper(app))
    return targets.builtin_destination(app.config, credentials)


def sealer(app: Flask) -> Sealer:
    """Seals agency LRS passwords with a key derived from the installation's secret key."""
    return Sealer(str(app.config["SECRET_KEY"]))


def sweep_hook(app: Flask) -> Hook:
    """Before each delivery cycle, queue ``abandoned`` for sessions that timed out."""

    def sweep(session: Session, now: datetime) -> None:
        with app.app_context():
            statements.sweep_abandoned(session, now)

    return sweep


def gradebook_hook(app: Flask) -> Hook:
    """Before each delivery cycle, post the due gradebook scores (AGS) in their own short transactions."""
    sender = gradebook_delivery.Sender(sessionmaker_for(app), http.client(app))

    def post_scores(session: Session, now: datetime) -> None:
        try:
            sender.deliver_due(now)
        except Exception:  # an LMS or database hiccup must not hold up statement delivery
            log.exception("gradebook delivery failed")

    return post_scores


def both(*hooks: Hook) -> Hook:
    """Run several hooks in turn on the cycle's session."""

    def run(session: Session, now: datetime) -> None:
        for hook in hooks:
            hook(session, now)

    return run


def make_worker(app: Flask, hook: Hook | None = None) -> Worker:
    """A delivery worker on the app's database and settings; by default it also sweeps abandoned sessions
    and posts gradebook scores."""
    # Scores first: they commit in their own transactions before the sweep writes in the cycle's
    # session (on SQLite that session's pending write would otherwise hold the lock they need).
    default = both(gradebook_hook(app), sweep_hook(app))
    return Worker(sessionmaker_for(app), Settings.from_config(app.config), builtin(app), sealer=sealer(app),
                  hook=default if hook is None else hook)


def register(main: click.Group) -> None:
    """Add the delivery commands to the ``upstander`` group."""
    main.add_command(worker)
    main.add_command(lrs_target)
    main.add_command(outbox_group)


@click.command()
@click.option("--once", is_flag=True, help="Deliver everything that can go now, then exit.")
# Operations (lti_tool.ops): the worker's own Prometheus metrics, and logs in UPSTANDER_LOG_FORMAT.
@click.option("--metrics-port", type=int, default=None, help="Serve Prometheus metrics on this port.")
@click.option("--metrics-host", default="127.0.0.1", show_default=True, help="Address for --metrics-port.")
@click.pass_obj
def worker(app: Flask, once: bool, metrics_port: int | None, metrics_host: str) -> None:
    """Deliver queued xAPI statements to their LRS (until SIGTERM/SIGINT)."""
    from lti_tool.ops import logs, metrics

    logs.configure(app.config, default_format="text")
    if metrics_port is not None:
        metrics.serve_standalone(sessionmaker_for(app), metrics_host, metrics_port)
    delivery = make_worker(app)
    try:
        if once:
            delivery.drain()
        else:
            stop = threading.Event()
            for signum in (signal.SIGTERM, signal.SIGINT):
                signal.signal(signum, lambda *_: stop.set())
            click.echo(f"delivering (batch {delivery.settings.batch_size}); stop with Ctrl-C", err=True)
            delivery.run(stop)
    finally:
        delivery.close()
    click.echo(f"sent {delivery.sent}, dead-lettered {delivery.dead}")


# --- lrs-target -------------------------------------------------------------------------------------


@click.group("lrs-target")
def lrs_target() -> None:
    """Send a platform's (or a deployment's) statements to an agency LRS instead of the built-in one."""


@lrs_target.command("set")
@click.option("--issuer", required=True, help="The platform's issuer.")
@click.option("--deployment", default=None, help="Only this deployment (default: every deployment).")
@click.option("--endpoint", required=True, help="The LRS's xAPI endpoint, e.g. https://lrs.example/xapi/")
@click.option("--username", required=True)
@click.option("--password", default=None, help="Visible to other users of this machine; prefer --password-stdin.")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@click.pass_obj
def target_set(app: Flask, issuer: str, deployment: str | None, endpoint: str, username: str,
               password: str | None, password_stdin: bool) -> None:
    """Add or replace a target (this also lifts a pause)."""
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    if not password:
        raise click.UsageError("give --password or --password-stdin")
    if not endpoint.startswith(("http://", "https://")):
        raise click.BadParameter("must be an http(s) URL", param_hint="--endpoint")
    with _transaction(app) as session:
        target = targets.set_target(session, issuer=issuer, deployment_id=deployment, endpoint=endpoint,
                                    username=username, password=password, sealer=sealer(app))
        click.echo(f"{target.key}: {_scope(target)} -> {target.endpoint} as {targets.mask(username)}")


def _scope(target: targets.LrsTarget) -> str:
    return f"{target.issuer} deployment {target.deployment_id}" if target.deployment_id else \
        f"{target.issuer} (every deployment)"


@lrs_target.command("list")
@click.pass_obj
def target_list(app: Flask) -> None:
    """List targets, credentials masked."""
    with _transaction(app) as session:
        rows = targets.all_targets(session)
        for t in rows:
            state = f"PAUSED: {t.paused_reason}" if t.paused else "active"
            stored = "sealed" if t.password_sealed else "IN CLEAR (run `upstander lrs-target seal`)"
            click.echo(f"{t.key}  {_scope(t)}  {t.endpoint}  user={targets.mask(t.username)} "
                       f"password={stored}  {state}")
        if not rows:
            click.echo(f"no targets; every statement goes to the built-in LRS at {builtin(app).endpoint}")


@lrs_target.command("seal")
@click.pass_obj
def target_seal(app: Flask) -> None:
    """Encrypt the passwords of targets set before passwords were sealed."""
    with _transaction(app) as session:
        count = targets.seal_all(session, sealer(app))
    click.echo(f"sealed {count} password{'s' if count != 1 else ''}")


@lrs_target.command("remove")
@click.option("--issuer", required=True)
@click.option("--deployment", default=None)
@click.pass_obj
def target_remove(app: Flask, issuer: str, deployment: str | None) -> None:
    """Remove a target; its queued statements go to the next match (platform, then built-in LRS)."""
    with _transaction(app) as session:
        if not targets.remove_target(session, issuer, deployment):
            raise click.ClickException("no such target")
    click.echo("removed")


@lrs_target.command("test")
@click.option("--issuer", default=None, help="Test this platform's destination (default: the built-in LRS).")
@click.option("--deployment", default="")
@click.pass_obj
def target_test(app: Flask, issuer: str | None, deployment: str) -> None:
    """Call the destination's /about and print the xAPI versions it supports."""
    with _transaction(app) as session:
        default = builtin(app)
        destination = targets.resolver(session, default, sealer(app))(issuer, deployment) if issuer else default
    settings = Settings.from_config(app.config)
    client = LrsClient(destination, connect_timeout=settings.connect_timeout, read_timeout=settings.read_timeout)
    try:
        about = client.about()
    except (httpx.HTTPError, ValueError) as exc:
        raise click.ClickException(f"{destination.label}: {type(exc).__name__}: {exc}") from exc
    finally:
        client.close()
    click.echo(f"{destination.label}: xAPI {', '.join(map(str, about.get('version', []))) or '(none listed)'}")


# --- outbox -----------------------------------------------------------------------------------------


@click.group("outbox")
def outbox_group() -> None:
    """Inspect and repair the statement outbox."""


def _status(app: Flask) -> list[dict[str, Any]]:
    now = utcnow()
    with _transaction(app) as session:
        resolve = targets.resolver(session, builtin(app), sealer(app))
        rows: dict[str, dict[str, Any]] = {}

        def row(key: str, destination: Destination | None) -> dict[str, Any]:
            return rows.setdefault(key, {
                "destination": key, "endpoint": destination.endpoint if destination else "(removed)",
                "queued": 0, "oldest_seconds": None, "sent": 0, "dead": 0,
                "paused": bool(destination and destination.paused),
                "paused_reason": destination.paused_reason if destination else None,
                "problem": destination.problem if destination else None, "retry_at": None})

        default = resolve("", "")
        row(default.key, default)
        for issuer, deployment, count, oldest in outbox.queued_by_source(session):
            destination = resolve(issuer, deployment)
            entry = row(destination.key, destination)
            entry["queued"] += count
            entry["oldest_seconds"] = max(int((now - oldest).total_seconds()), entry["oldest_seconds"] or 0)
        for key, counts in outbox.done_by_destination(session).items():
            row(key, targets.by_key(session, key, builtin(app), sealer(app))).update(counts)
        for key, entry in rows.items():
            retry_at = targets.waiting_until(session, key)
            entry["retry_at"] = retry_at.isoformat() if retry_at and retry_at > now else None
    return list(rows.values())


@outbox_group.command("status")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_obj
def outbox_status(app: Flask, as_json: bool) -> None:
    """Queued, oldest queued, sent and dead letters per destination; paused destinations."""
    rows = _status(app)
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    click.echo(f"{'destination':<14} {'queued':>7} {'oldest':>8} {'sent':>8} {'dead':>6}  state")
    for r in rows:
        oldest = "-" if r["oldest_seconds"] is None else f"{r['oldest_seconds']}s"
        state = (f"PAUSED: {r['paused_reason']}" if r["paused"] else r["problem"]
                 or (f"backing off until {r['retry_at']}" if r["retry_at"] else "ok"))
        click.echo(f"{r['destination']:<14} {r['queued']:>7} {oldest:>8} {r['sent']:>8} {r['dead']:>6}  "
                   f"{state}  {r['endpoint']}")


@outbox_group.command("retry-dead")
@click.pass_obj
def outbox_retry_dead(app: Flask) -> None:
    """Queue every dead letter again (after fixing the statement or the LRS)."""
    with _transaction(app) as session:
        count = outbox.retry_dead(session, utcnow())
    click.echo(f"queued {count} dead letter(s) again")


@outbox_group.command("resume")
@click.argument("destination", required=False)
@click.pass_obj
def outbox_resume(app: Flask, destination: str | None) -> None:
    """Lift the pause on DESTINATION (``builtin`` or ``target:N``; default: every paused one)."""
    with _transaction(app) as session:
        keys = [destination] if destination else targets.paused_keys(session)
        for key in keys:
            targets.resume(session, key)
    click.echo(f"resumed {', '.join(keys) or 'nothing (none paused)'}")


@outbox_group.command("reconcile")
@click.option("--since", required=True, type=click.DateTime(), help="UTC date or time, e.g. 2026-11-30.")
@click.pass_obj
def outbox_reconcile(app: Flask, since: datetime) -> None:
    """Report statements the outbox marks sent since DATE that their LRS does not have."""
    settings = Settings.from_config(app.config)
    pool = ClientPool(connect_timeout=settings.connect_timeout, read_timeout=settings.read_timeout)
    try:
        with _transaction(app) as session:
            checked, missing = reconcile(session, pool, builtin(app), sealer(app), since.replace(tzinfo=UTC))
    except httpx.HTTPError as exc:
        raise click.ClickException(f"querying the LRS failed: {type(exc).__name__}: {exc}") from exc
    finally:
        pool.close()
    for item in missing:
        click.echo(f"missing {item.statement_id}  {item.destination}  registration={item.registration}  {item.why}")
    click.echo(f"checked {checked} statement(s) sent since {since:%Y-%m-%d %H:%M}; {len(missing)} missing")
    if missing:
        raise click.exceptions.Exit(1)
