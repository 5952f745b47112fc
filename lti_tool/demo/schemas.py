"""Marshmallow schemas for what tools send the demo platform: registration metadata, line items, scores."""

from __future__ import annotations

from typing import Any

from marshmallow import EXCLUDE, INCLUDE, Schema, ValidationError, fields, pre_load, validate, validates_schema

from lti_tool.lti import claims as c

ACTIVITY_PROGRESS = ("Initialized", "Started", "InProgress", "Submitted", "Completed")
GRADING_PROGRESS = ("FullyGraded", "Pending", "PendingManual", "Failed", "NotReady")


def _url(**kwargs: Any) -> fields.URL:
    # Local tools run on http://localhost or an IP address, which has no top-level domain.
    return fields.URL(require_tld=False, schemes={"http", "https"}, **kwargs)


def _includes(*required: str) -> validate.Validator:
    def check(values: list[str]) -> None:
        missing = [v for v in required if v not in values]
        if missing:
            raise ValidationError(f"must include {', '.join(missing)}")

    return check  # type: ignore[return-value]  # marshmallow accepts any callable as a validator


def _contains_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_contains_nul(k) or _contains_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_contains_nul(v) for v in value)
    return False


class NoNulSchema(Schema):
    """Refuse U+0000 anywhere in the input: PostgreSQL stores it neither in text nor in JSONB."""

    @pre_load
    def _no_nul(self, data: Any, **kwargs: Any) -> Any:
        if _contains_nul(data):
            raise ValidationError("must not contain the character U+0000", "body")
        return data


class MessageSchema(Schema):
    class Meta:
        unknown = INCLUDE

    type = fields.String(required=True, validate=validate.OneOf(c.SUPPORTED_MESSAGES))
    target_link_uri = _url()


class ToolConfigurationSchema(Schema):
    """The ``lti-tool-configuration`` claim (LTI Dynamic Registration §3.2)."""

    class Meta:
        unknown = INCLUDE

    domain = fields.String(required=True, validate=validate.Length(min=1))
    target_link_uri = _url(required=True)
    messages = fields.List(fields.Nested(MessageSchema), required=True)
    custom_parameters = fields.Dict(keys=fields.String(), values=fields.String())
    claims = fields.List(fields.String())


class RegistrationSchema(NoNulSchema):
    """OpenID Connect client metadata with the LTI extensions (LTI Dynamic Registration §3.1)."""

    class Meta:
        unknown = INCLUDE

    application_type = fields.String(required=True, validate=validate.Equal("web"))
    grant_types = fields.List(
        fields.String(), required=True, validate=_includes("client_credentials", "implicit")
    )
    response_types = fields.List(fields.String(), required=True, validate=_includes("id_token"))
    redirect_uris = fields.List(_url(), required=True, validate=validate.Length(min=1))
    initiate_login_uri = _url(required=True)
    jwks_uri = _url(required=True)
    token_endpoint_auth_method = fields.String(required=True, validate=validate.Equal("private_key_jwt"))
    scope = fields.String(load_default="")
    client_name = fields.String()
    tool_configuration = fields.Nested(ToolConfigurationSchema, required=True, data_key=c.TOOL_CONFIGURATION)


class LineItemSchema(NoNulSchema):
    """An AGS line item as a tool creates it (AGS 2.0 §3.2)."""

    class Meta:
        unknown = EXCLUDE

    scoreMaximum = fields.Float(required=True, validate=validate.Range(min=0, min_inclusive=False))
    label = fields.String(required=True, validate=validate.Length(min=1, max=255))
    resourceId = fields.String(load_default="", validate=validate.Length(max=255))
    tag = fields.String(load_default="", validate=validate.Length(max=255))
    resourceLinkId = fields.String(load_default=None)


class ScoreSchema(NoNulSchema):
    """An AGS score publication (AGS 2.0 §3.4)."""

    class Meta:
        unknown = EXCLUDE

    userId = fields.String(required=True, validate=validate.Length(min=1, max=64))
    scoreGiven = fields.Float(load_default=None, validate=validate.Range(min=0))
    scoreMaximum = fields.Float(load_default=None, validate=validate.Range(min=0, min_inclusive=False))
    activityProgress = fields.String(required=True, validate=validate.OneOf(ACTIVITY_PROGRESS))
    gradingProgress = fields.String(required=True, validate=validate.OneOf(GRADING_PROGRESS))
    timestamp = fields.AwareDateTime(required=True, format="iso")
    comment = fields.String(load_default="")

    @validates_schema
    def _maximum_with_score(self, data: dict[str, Any], **kwargs: Any) -> None:
        # AGS: scoreMaximum "MUST be present if scoreGiven is present".
        if data.get("scoreGiven") is not None and data.get("scoreMaximum") is None:
            raise ValidationError("required when scoreGiven is present", "scoreMaximum")


class ContentItemSchema(Schema):
    """An ``ltiResourceLink`` content item in a deep linking response (Deep Linking 2.0 §3.4.1)."""

    class Meta:
        unknown = EXCLUDE

    type = fields.String(required=True)
    title = fields.String(load_default="Untitled activity", validate=validate.Length(max=255))
    url = _url(load_default=None)
    custom = fields.Dict(keys=fields.String(), values=fields.String(), load_default=dict)
    lineItem = fields.Nested(LineItemSchema(exclude=("resourceLinkId",)), load_default=None)


def first_error(err: ValidationError) -> tuple[str, str]:
    """Return the dotted field name and message of the first problem marshmallow found."""
    path: list[str] = []
    messages: Any = err.messages
    while isinstance(messages, dict) and messages:
        key, messages = next(iter(messages.items()))
        path.append(str(key))
    while isinstance(messages, list) and messages:
        messages = messages[0]
    return ".".join(path) or "body", str(messages)
