"""Inputs of the compliance dashboard: the roster's query string and the coordinator's forms."""

from __future__ import annotations

from typing import Any

from marshmallow import EXCLUDE, Schema, fields, pre_load, validate

from lti_tool.services.compliance import ROSTERS, SORTS, STATUSES

PER_PAGE = (25, 50, 100, 200)


def _blank_to_none(data: dict[str, Any], names: tuple[str, ...]) -> dict[str, Any]:
    # An empty <select> or <input> means "not given", not an invalid value.
    return {k: (None if k in names and v in ("", None) else v) for k, v in data.items()}


class RosterQuerySchema(Schema):
    """The roster table's sort, filters, search and page (all optional, all in the query string)."""

    class Meta:
        unknown = EXCLUDE

    sort = fields.String(load_default="name", validate=validate.OneOf(SORTS))
    dir = fields.String(load_default="asc", validate=validate.OneOf(("asc", "desc")))
    status = fields.String(load_default=None, allow_none=True, validate=validate.OneOf(STATUSES))
    module = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=128))
    q = fields.String(load_default="", validate=validate.Length(max=100))
    roster = fields.String(load_default="all", validate=validate.OneOf(ROSTERS))
    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=100_000))
    per_page = fields.Integer(load_default=50, validate=validate.OneOf(PER_PAGE))

    @pre_load
    def _blanks(self, data: dict[str, Any], **_: object) -> dict[str, Any]:
        return _blank_to_none(dict(data), ("status", "module"))


class PageSchema(Schema):
    """A page number in the query string."""

    class Meta:
        unknown = EXCLUDE

    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=100_000))


class RequirementRowSchema(Schema):
    """One module's row of the requirements form (fields named ``<field>-<module slug>`` in the form)."""

    FIELDS = ("required", "due_date", "recert_months", "credit_minutes")

    required = fields.Boolean(load_default=False)
    due_date = fields.Date(load_default=None, allow_none=True)
    recert_months = fields.Integer(required=True, validate=validate.Range(min=0, max=120))
    credit_minutes = fields.Integer(load_default=None, allow_none=True, validate=validate.Range(min=0, max=1000))

    @pre_load
    def _blanks(self, data: dict[str, Any], **_: object) -> dict[str, Any]:
        return _blank_to_none(dict(data), ("due_date", "credit_minutes"))


class WaiverSchema(Schema):
    """A new waiver: which officer, which module, why."""

    class Meta:
        unknown = EXCLUDE

    officer = fields.Integer(required=True)
    module = fields.String(required=True, validate=validate.Length(min=1, max=128))
    reason = fields.String(required=True, validate=validate.Length(min=5, max=2000))


class RevokeSchema(Schema):
    """Why a waiver is revoked."""

    class Meta:
        unknown = EXCLUDE

    reason = fields.String(required=True, validate=validate.Length(min=5, max=2000))
