"""Marshmallow schemas for curriculum and module files: types, required fields, ranges."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from marshmallow import RAISE, Schema, ValidationError, fields, post_load, validate

from lti_tool.content.model import (
    Choice,
    Curriculum,
    DecisionScreen,
    EndScreen,
    Image,
    Module,
    Screen,
    TeachScreen,
)

IDENTIFIER = validate.Regexp(
    r"^[a-z0-9]+(?:-[a-z0-9]+)*$", error="Must be lowercase letters, digits and single hyphens."
)
# A bare file name: images live in the content folder's images/, never elsewhere.
FILE_NAME = validate.Regexp(r"^[A-Za-z0-9_-][A-Za-z0-9._-]*$", error="Must be a file name in images/.")


class StrictFloat(fields.Float):
    """A number written as a number: YAML strings such as "0.8" are refused."""

    def _deserialize(self, value: Any, attr: str | None, data: Mapping[str, Any] | None, **kwargs: Any) -> float:
        if not isinstance(value, int | float):
            raise self.make_error("invalid", input=value)
        return super()._deserialize(value, attr, data, **kwargs)


class Flag(fields.Boolean):
    """A YAML true or false; marshmallow would also take "yes", 1 and the like."""

    def _deserialize(self, value: Any, attr: str | None, data: Mapping[str, Any] | None, **kwargs: Any) -> bool:
        if value is not True and value is not False:
            raise self.make_error("invalid", input=value)
        return value


def _text(*, required: bool = True) -> fields.String:
    """Return a field for non-empty text."""
    return fields.String(required=required, validate=validate.Length(min=1, error="Must not be empty."))


def _identifier() -> fields.String:
    """Return a field for a required id or slug."""
    return fields.String(required=True, validate=IDENTIFIER)


def _integer(low: int, high: int | None = None, error: str | None = None) -> fields.Integer:
    """Return a field for a required whole number in a range."""
    return fields.Integer(strict=True, required=True, validate=validate.Range(min=low, max=high, error=error))


def _forbidden(message: str) -> fields.Raw:
    """Return a field that exists only to explain why it does not belong here."""

    def refuse(_: object) -> None:
        raise ValidationError(message)

    return fields.Raw(allow_none=True, validate=refuse)


def _frozen(data: dict[str, Any]) -> dict[str, Any]:
    """Return the data with lists turned into tuples, as the frozen dataclasses hold them."""
    return {key: tuple(value) if isinstance(value, list) else value for key, value in data.items()}


class _Strict(Schema):
    class Meta:
        unknown = RAISE


class ImageSchema(_Strict):
    """An image: a file in images/ and its text alternative."""

    src = fields.String(required=True, validate=FILE_NAME)
    alt = _text()

    @post_load
    def _make(self, data: dict[str, Any], **_: Any) -> Image:
        return Image(**data)


class ChoiceSchema(_Strict):
    """One answer to a decision."""

    id = _identifier()
    text = _text()
    feedback = _text()
    points = _integer(0)
    best = Flag(load_default=False)
    next = _identifier()

    @post_load
    def _make(self, data: dict[str, Any], **_: Any) -> Choice:
        return Choice(**data)


class _ScreenSchema(_Strict):
    id = _identifier()
    type = fields.String(required=True)
    title = _text()
    image = fields.Nested(ImageSchema)
    scenario = fields.String(validate=IDENTIFIER)


class TeachScreenSchema(_ScreenSchema):
    """A screen that explains something."""

    body = _text()
    next = _identifier()
    choices = _forbidden("A teach screen has no choices; make it a decision screen.")

    @post_load
    def _make(self, data: dict[str, Any], **_: Any) -> TeachScreen:
        return TeachScreen(**data)


class DecisionScreenSchema(_ScreenSchema):
    """A scored decision."""

    situation = _text()
    prompt = _text()
    stage = _integer(1, 5)
    tactic = fields.String(validate=validate.OneOf(["distract", "direct", "delegate"]))
    rank = fields.String(validate=validate.OneOf(["peer", "superior"]))
    back = Flag(load_default=False)
    choices = fields.List(
        fields.Nested(ChoiceSchema), required=True, validate=validate.Length(2, 4, error="Give 2 to 4 choices.")
    )
    next = _forbidden("A decision screen moves on through its choices' next, not its own.")

    @post_load
    def _make(self, data: dict[str, Any], **_: Any) -> DecisionScreen:
        return DecisionScreen(**_frozen(data))


class EndScreenSchema(_ScreenSchema):
    """An ending."""

    body = _text()
    next = _forbidden("An end screen has no next screen.")
    choices = _forbidden("An end screen has no choices.")

    @post_load
    def _make(self, data: dict[str, Any], **_: Any) -> EndScreen:
        return EndScreen(**data)


SCREEN_SCHEMAS: dict[str, Callable[[], Schema]] = {
    "teach": TeachScreenSchema,
    "decision": DecisionScreenSchema,
    "end": EndScreenSchema,
}


class ScreenField(fields.Field[Screen]):
    """A screen, checked by the schema its ``type`` names."""

    def _deserialize(self, value: Any, attr: str | None, data: Mapping[str, Any] | None, **kwargs: Any) -> Screen:
        if not isinstance(value, dict):
            raise ValidationError("Must be a mapping of a screen's fields.")
        if "type" not in value:
            raise ValidationError({"type": ["Missing data for required field."]})
        make_schema = SCREEN_SCHEMAS.get(value["type"]) if isinstance(value["type"], str) else None
        if make_schema is None:
            raise ValidationError({"type": [f"Must be one of: {', '.join(SCREEN_SCHEMAS)}."]})
        screen: Screen = make_schema().load(value)
        return screen


class ModuleSchema(_Strict):
    """A module file."""

    slug = _identifier()
    version = _integer(1)
    title = _text()
    summary = _text()
    minutes = _integer(1, 20, "Must be between 1 and 20 minutes; split a longer module.")
    mastery = StrictFloat(load_default=0.8, validate=validate.Range(0, 1))
    objectives = fields.List(_text(), required=True, validate=validate.Length(2, 5, error="Give 2 to 5 objectives."))
    stages = fields.List(_integer(1, 5), required=True, validate=validate.Length(min=1))
    sources = fields.List(_text(), required=True, validate=validate.Length(min=1))
    legal_notice = Flag(load_default=False)
    review_date = fields.Date()
    policy_acknowledgement = Flag(load_default=False)
    start = _identifier()
    screens = fields.List(ScreenField(), required=True, validate=validate.Length(min=1))

    @post_load
    def _make(self, data: dict[str, Any], **_: Any) -> Module:
        return Module(**_frozen(data))


class CurriculumSchema(_Strict):
    """The curriculum file."""

    id = _identifier()
    title = _text()
    modules = fields.List(fields.String(validate=IDENTIFIER), required=True, validate=validate.Length(min=1))

    @post_load
    def _make(self, data: dict[str, Any], **_: Any) -> Curriculum:
        return Curriculum(**_frozen(data))
