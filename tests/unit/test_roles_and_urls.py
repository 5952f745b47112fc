"""Role mapping from LIS URIs, and which target links count as the tool's own."""

from __future__ import annotations

import pytest

from lti_tool.lti.roles import Role, role_for
from lti_tool.services.launches import _is_ours

LIS = "http://purl.imsglobal.org/vocab/lis/v2/"


@pytest.mark.parametrize(("roles", "expected"), [
    ([LIS + "membership#Learner"], Role.LEARNER),
    ([LIS + "membership#Instructor"], Role.COORDINATOR),
    (["Instructor"], Role.COORDINATOR),  # the short form LTI 1.3 still allows
    ([LIS + "membership#Administrator"], Role.COORDINATOR),
    ([LIS + "membership#ContentDeveloper"], Role.COORDINATOR),
    ([LIS + "membership/Instructor#TeachingAssistant"], Role.COORDINATOR),
    ([LIS + "membership/Learner#Learner"], Role.LEARNER),
    ([LIS + "institution/person#Administrator", LIS + "membership#Learner"], Role.ADMINISTRATOR),
    ([LIS + "system/person#Administrator"], Role.ADMINISTRATOR),
    ([LIS + "institution/person#Faculty"], Role.LEARNER),
    (["http://example.com/roles#Instructor"], Role.LEARNER),
    ([], Role.LEARNER),
])
def test_role_for(roles: list[str], expected: Role) -> None:
    assert role_for(roles) is expected


@pytest.mark.parametrize(("url", "ours"), [
    ("https://tool.example/lti/launch", True),
    ("https://tool.example", True),
    ("https://tool.example.evil.com/lti/launch", False),
    ("https://evil.example/?https://tool.example", False),
])
def test_target_link_must_be_the_tools(url: str, ours: bool) -> None:
    assert _is_ours(url, "https://tool.example") is ours
