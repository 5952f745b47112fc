"""Inputs of the tool's own forms."""

from __future__ import annotations

from marshmallow import Schema, ValidationError, fields, validate, validates

from lti_tool.catalogue import by_slug


class DeepLinkChoiceSchema(Schema):
    """The modules an instructor picked to add to their course."""

    modules = fields.List(fields.String(), required=True, validate=validate.Length(min=1, max=20))
    csrf_token = fields.String(required=True)

    @validates("modules")
    def _known(self, value: list[str], **_: object) -> None:
        unknown = [slug for slug in value if by_slug(slug) is None]
        if unknown:
            raise ValidationError(f"unknown module(s): {', '.join(unknown)}")


class PolicySchema(Schema):
    """A new version of the agency's Duty to Intervene policy."""

    title = fields.String(required=True, validate=validate.Length(min=1, max=255))
    text = fields.String(required=True, validate=validate.Length(min=20, max=50_000))
    csrf_token = fields.String(required=True)
