"""``upstander roster``: sync course rosters from the LMS (NRPS) outside any launch, e.g. from cron."""

from __future__ import annotations

import click
from flask import Flask
from sqlalchemy import select

from lti_tool import http
from lti_tool.db import sessionmaker_for, utcnow
from lti_tool.models import Deployment, LtiContext, Platform
from lti_tool.services import roster


@click.group("roster")
def roster_group() -> None:
    """Keep course rosters in step with the LMS."""


def _contexts(app: Flask, issuer: str | None, deployment_id: str | None, context_id: str | None) -> list[int]:
    query = (select(LtiContext.id).join(Deployment, Deployment.id == LtiContext.deployment_pk)
             .join(Platform, Platform.id == Deployment.platform_id).order_by(LtiContext.id))
    if issuer:
        query = query.where(Platform.issuer == issuer)
    if deployment_id:
        query = query.where(Deployment.deployment_id == deployment_id)
    if context_id:
        query = query.where(LtiContext.context_id == context_id)
    with sessionmaker_for(app).begin() as session:
        return list(session.scalars(query))


@roster_group.command("sync")
@click.option("--issuer", help="Only courses of this platform (its issuer URL).")
@click.option("--deployment", "deployment_id", help="Only courses of this deployment id.")
@click.option("--context", "context_id", help="Only the course with this LMS context id.")
@click.pass_obj
def roster_sync(app: Flask, issuer: str | None, deployment_id: str | None, context_id: str | None) -> None:
    """Sync every matching course's roster from the LMS; exit 1 if any sync failed."""
    found = _contexts(app, issuer, deployment_id, context_id)
    if not found:
        raise click.ClickException("no course matches")
    failed = 0
    for context_pk in found:
        # One transaction per course: a failure in one keeps the others' results.
        with app.app_context(), sessionmaker_for(app).begin() as session:
            context = session.get(LtiContext, context_pk)
            assert context is not None  # noqa: S101  (listed just above)
            result = roster.sync(session, http.client(app), context, now=utcnow())
            label = f"{context.context_id} ({context.title or 'untitled'})"
        if result.ok:
            click.echo(f"{label}: {result.members} members, {result.joined} joined, {result.left} left")
        else:
            failed += 1
            click.echo(f"{label}: FAILED: {result.error}", err=True)
    if failed:
        raise click.exceptions.Exit(1)
