"""Inputs of the LTI endpoints and of manual registration."""

from __future__ import annotations

from typing import Any

from marshmallow import EXCLUDE, Schema, ValidationError, fields, validate

from lti_tool.lti import errors

_url = fields.Url(required=True, require_tld=False, schemes={"http", "https"})
_text = validate.Length(min=1, max=1024)


class LoginSchema(Schema):
    """Third-party initiated login parameters (LTI core §5.1.1)."""

    class Meta:
        unknown = EXCLUDE

    iss = fields.String(required=True, validate=_text)
    login_hint = fields.String(required=True, validate=_text)
    target_link_uri = fields.String(required=True, validate=_text)
    lti_message_hint = fields.String(load_default=None, validate=validate.Length(max=4096))
    client_id = fields.String(load_default=None, validate=validate.Length(max=255))
    lti_deployment_id = fields.String(load_default=None, validate=validate.Length(max=255))
    # LTI Platform Storage: the name of the platform's frame that keeps data (or "_parent").
    lti_storage_target = fields.String(load_default=None, validate=validate.Length(min=1, max=255))


class RegistrationStartSchema(Schema):
    """Dynamic Registration initiation parameters (LTI-DR §3.3)."""

    class Meta:
        unknown = EXCLUDE

    openid_configuration = fields.Url(required=True, require_tld=False, schemes={"http", "https"})
    registration_token = fields.String(load_default=None, validate=validate.Length(max=4096))


class PlatformSchema(Schema):
    """A manual registration, from the CLI."""

    issuer = fields.String(required=True, validate=_text)
    client_id = fields.String(required=True, validate=validate.Length(min=1, max=255))
    auth_login_url = _url
    token_url = _url
    jwks_url = _url
    deployment_ids = fields.List(fields.String(validate=validate.Length(min=1, max=255)), load_default=list)
    name = fields.String(load_default="", validate=validate.Length(max=255))


def load(schema: Schema, data: Any, error: type[errors.LtiError]) -> dict[str, Any]:
    """Load data with a schema, turning validation errors into the given LTI error."""
    try:
        result: dict[str, Any] = schema.load(data)
    except ValidationError as exc:
        fields_ = ", ".join(sorted(str(k) for k in exc.normalized_messages()))  # type: ignore[no-untyped-call]  # marshmallow leaves it unannotated
        raise error(f"invalid or missing: {fields_}") from exc
    return result
