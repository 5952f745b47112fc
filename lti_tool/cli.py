"""The ``upstander`` command: one command, one service call."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import click
from flask import Flask
from sqlalchemy.orm import Session

from lti_tool import create_app, migrate
from lti_tool.db import dispose_engine, sessionmaker_for
from lti_tool.lti import keys
from lti_tool.schemas.lti import PlatformSchema
from lti_tool.services import platforms


@contextmanager
def _transaction(app: Flask) -> Iterator[Session]:
    """Run one command's work in one transaction."""
    with sessionmaker_for(app).begin() as session:
        yield session


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.pass_context
def main(ctx: click.Context) -> None:
    """Upstander: peer bystander intervention training, an LTI 1.3 tool."""
    ctx.obj = create_app()


@main.group()
def db() -> None:
    """Manage the database schema."""


@db.command("upgrade")
@click.pass_obj
def db_upgrade(app: Flask) -> None:
    """Apply every migration and create the tool's first keys."""
    with migrate.exclusive(app.config["DATABASE_URL"]):
        migrate.upgrade(app.config["DATABASE_URL"])
        with _transaction(app) as session:
            keys.ensure_keys(session)
    click.echo("database is at the newest revision")


@db.command("check")
@click.pass_obj
def db_check(app: Flask) -> None:
    """Fail when the models and the migrations disagree."""
    migrate.check(app.config["DATABASE_URL"])
    click.echo("models and migrations agree")


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--workers", default=2, show_default=True, type=int)
@click.option("--threads", default=4, show_default=True, type=click.IntRange(2),
              help="Threads per worker (at least 2: the tool and the demo LMS call each other).")
@click.option("--timeout", default=60, show_default=True, type=int, help="Seconds before a stuck worker is replaced.")
@click.option("--graceful-timeout", default=10, show_default=True, type=int,
              help="Seconds a stopping worker gets to finish its requests.")
@click.option("--keepalive", default=5, show_default=True, type=int,
              help="Seconds an idle client connection stays open (behind a proxy: longer than its idle timeout).")
@click.pass_obj
def serve(app: Flask, /, host: str, port: int, workers: int, **tuning: int) -> None:
    """Migrate, then run the app under gunicorn."""
    from lti_tool.demo.registration import current_tool
    from lti_tool.server import run

    # Instances starting together take turns: the first migrates, the others find nothing to do.
    with migrate.exclusive(app.config["DATABASE_URL"]):
        migrate.upgrade(app.config["DATABASE_URL"])
        with _transaction(app) as session:
            keys.ensure_keys(session)
            register_demo = app.config["DEMO_LMS"] and current_tool(session) is None
    dispose_engine(app)
    run(app, host, port, workers, register_demo=register_demo, tuning=tuning)


@main.group("platforms")
def platforms_group() -> None:
    """Register LMS platforms by hand."""


@platforms_group.command("add")
@click.option("--issuer", required=True)
@click.option("--client-id", required=True)
@click.option("--auth-login-url", required=True, help="The platform's OIDC authorization endpoint.")
@click.option("--token-url", required=True)
@click.option("--jwks-url", required=True, help="The platform's public key set.")
@click.option("--deployment-id", "deployment_ids", multiple=True, help="Repeat for several.")
@click.option("--name", default="")
@click.pass_obj
def platforms_add(app: Flask, /, **options: object) -> None:
    """Add or update a registration."""
    from marshmallow import ValidationError

    try:
        data = PlatformSchema().load({**options, "deployment_ids": list(options["deployment_ids"])})  # type: ignore[call-overload]
    except ValidationError as exc:
        raise click.BadParameter(json.dumps(exc.normalized_messages())) from exc  # type: ignore[no-untyped-call]  # marshmallow leaves it unannotated
    with _transaction(app) as session:
        platform = platforms.register(session, platforms.PlatformInput(**data))
        click.echo(f"registered {platform.issuer} client {platform.client_id} "
                   f"with {len(platform.deployments)} deployment(s)")


@platforms_group.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_obj
def platforms_list(app: Flask, as_json: bool) -> None:
    """List registrations and their deployments."""
    with _transaction(app) as session:
        rows = [{
            "issuer": p.issuer, "client_id": p.client_id, "name": p.name, "via": p.registered_via,
            "auth_login_url": p.auth_login_url, "token_url": p.token_url, "jwks_url": p.jwks_url,
            "deployment_ids": [d.deployment_id for d in p.deployments],
        } for p in platforms.all_platforms(session)]
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    for row in rows:
        click.echo(f"{row['issuer']}  client={row['client_id']}  via={row['via']}  "
                   f"deployments={','.join(row['deployment_ids']) or '-'}")
    if not rows:
        click.echo("no platforms registered")


@platforms_group.command("remove")
@click.option("--issuer", required=True)
@click.option("--client-id", required=True)
@click.confirmation_option(prompt="This deletes every record of that platform. Continue?")
@click.pass_obj
def platforms_remove(app: Flask, issuer: str, client_id: str) -> None:
    """Remove a registration and everything recorded under it."""
    with _transaction(app) as session:
        removed = platforms.remove(session, issuer, client_id)
    if not removed:
        raise click.ClickException(f"no registration for {issuer} client {client_id}")
    click.echo("removed")


@main.group("keys")
def keys_group() -> None:
    """Manage the tool's signing keys."""


@keys_group.command("rotate")
@click.pass_obj
def keys_rotate(app: Flask) -> None:
    """Publish a new next key; the previous next key starts signing."""
    with _transaction(app) as session:
        keys.ensure_keys(session)
        new = keys.rotate(session)
        current = keys.signing_key(session)
        click.echo(f"published new key {new.kid}; now signing with {current.kid}")


@keys_group.command("list")
@click.pass_obj
def keys_list(app: Flask) -> None:
    """List the published keys, newest first, and which one signs."""
    with _transaction(app) as session:
        signing = keys.signing_key(session).kid
        for row in keys.published(session):
            mark = "signing" if row.kid == signing else "published"
            click.echo(f"{row.kid}  {row.created_at:%Y-%m-%d %H:%M}  {mark}")


@main.group("content")
def content_group() -> None:
    """Check the training content."""


@content_group.command("check")
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@click.pass_obj
def content_check(app: Flask, paths: tuple[Path, ...]) -> None:
    """Check content folders (default: built-in content plus UPSTANDER_CONTENT_PATH folders)."""
    from lti_tool.content import configured_paths, read_content

    if not paths:
        with app.app_context():
            paths = configured_paths()
    content, problems = read_content(list(paths))
    for problem in problems:
        click.echo(str(problem), err=True)
    screens = sum(len(module.screens) for module in content.modules.values())
    outcome = _count(len(problems), "problem") if problems else "no problems"
    click.echo(f"{_count(len(content.modules), 'module')}, {_count(screens, 'screen')}, {outcome}")
    if problems:
        raise click.exceptions.Exit(1)


def _count(number: int, noun: str) -> str:
    """Return "1 noun" or "N nouns"."""
    return f"{number} {noun}{'' if number == 1 else 's'}"


# xAPI delivery: worker, lrs-target and outbox commands.
from lti_tool import cli_xapi  # noqa: E402  (added after main exists)

cli_xapi.register(main)

# The built-in LRS: lrs serve and lrs clients.
from lti_tool.cli_lrs import lrs_group  # noqa: E402  (added after main exists)

main.add_command(lrs_group)

# Course rosters from the LMS (NRPS): roster sync.
from lti_tool.cli_roster import roster_group  # noqa: E402  (added after main exists)

main.add_command(roster_group)

# Accreditation report from an LRS alone.
from lti_tool.cli_report import report as report_command  # noqa: E402  (added after main exists)

main.add_command(report_command)
