"""``upstander lrs``: serve the built-in LRS alone and manage its clients.

Client secrets are hashed with the key :func:`lti_tool.lrs_mount.pepper` derives from the installation's secret
key, so the LRS mounted in the tool (``/xapi``) and ``upstander lrs serve`` accept the same credentials.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import click
from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from lti_tool import migrate
from lti_tool.db import sessionmaker_for
from lti_tool.lrs_mount import pepper
from lti_tool.server import Gunicorn
from xapi.lrs import auth


@contextmanager
def _transaction(app: Flask) -> Iterator[Session]:
    with sessionmaker_for(app).begin() as session:
        yield session


@click.group("lrs")
def lrs_group() -> None:
    """The built-in learning record store (xAPI 1.0.3 and 2.0.0)."""


@lrs_group.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8001, show_default=True, type=int)
@click.option("--workers", default=2, show_default=True, type=int)
@click.pass_obj
def lrs_serve(app: Flask, host: str, port: int, workers: int) -> None:
    """Migrate, then serve only the LRS (at /xapi) under gunicorn, on the tool's database."""
    from xapi.lrs.app import create_lrs_app

    migrate.upgrade(app.config["DATABASE_URL"])
    lrs_app = create_lrs_app(app.config["DATABASE_URL"], pepper(app), app.config["PUBLIC_URL"])
    click.echo(f"LRS at http://{host}:{port}/xapi/", err=True)
    Gunicorn(lrs_app, {"bind": f"{host}:{port}", "workers": workers, "worker_class": "gthread", "threads": 4,
                       "timeout": 60, "graceful_timeout": 10, "keepalive": 5, "accesslog": "-"}).run()


@lrs_group.group("clients")
def clients_group() -> None:
    """Applications allowed to use the LRS (HTTP Basic: key and secret)."""


@clients_group.command("add")
@click.argument("name")
@click.option("--scope", "scopes", multiple=True, type=click.Choice(auth.SCOPES),
              help="Repeat for several (default: all).")
@click.pass_obj
def clients_add(app: Flask, name: str, scopes: tuple[str, ...]) -> None:
    """Create a client and print its key and secret (the secret is shown only this once)."""
    with _transaction(app) as session:
        key, secret = auth.add_client(session, pepper(app), name, list(scopes) or ["all"])
    click.echo(f"key:    {key}\nsecret: {secret}")
    click.echo("Store the secret now: it is not kept and cannot be shown again.", err=True)


@clients_group.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_obj
def clients_list(app: Flask, as_json: bool) -> None:
    """List clients (never their secrets)."""
    with _transaction(app) as session:
        rows: list[dict[str, Any]] = [{"key": c.key, "name": c.name, "scopes": list(c.scopes), "disabled": c.disabled,
                 "created_at": c.created_at.isoformat()}
                for c in session.scalars(select(auth.LrsClient).order_by(auth.LrsClient.id))]
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    for row in rows:
        state = "  disabled" if row["disabled"] else ""
        click.echo(f"{row['key']}  {row['name']}  scopes={','.join(row['scopes'])}{state}")
    if not rows:
        click.echo("no clients")


@clients_group.command("remove")
@click.argument("key")
@click.pass_obj
def clients_remove(app: Flask, key: str) -> None:
    """Disable a client: its credentials stop working; statements it stored keep their authority."""
    with _transaction(app) as session:
        client = session.scalar(select(auth.LrsClient).where(auth.LrsClient.key == key))
        if client is None:
            raise click.ClickException(f"no client with key {key}")
        client.disabled = True
    click.echo(f"disabled {key}")
