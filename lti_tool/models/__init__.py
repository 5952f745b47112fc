"""Typed SQLAlchemy models, one module per aggregate; importing this registers them all."""

from lti_tool.models.compliance import AuditEvent, ModuleRequirement, RosterSync, Waiver
from lti_tool.models.demo import DemoAccessToken, DemoKey, DemoLineItem, DemoLink, DemoScore, DemoTool
from lti_tool.models.gradebook import ScoreOutbox
from lti_tool.models.launch import (
    Launch,
    LoginState,
    LtiContext,
    LtiUser,
    Membership,
    ResourceLink,
    ToolSession,
    UsedNonce,
)
from lti_tool.models.platform import Deployment, Platform, ToolKey
from lti_tool.models.player import (
    AgencyPolicy,
    Attempt,
    DecisionRecord,
    ModuleRegistration,
    PolicyAcknowledgement,
    StageResult,
)
from lti_tool.models.statement_state import StatementState

__all__ = [
    "AgencyPolicy",
    "Attempt",
    "AuditEvent",
    "DecisionRecord",
    "DemoAccessToken",
    "DemoKey",
    "DemoLineItem",
    "DemoLink",
    "DemoScore",
    "DemoTool",
    "Deployment",
    "Launch",
    "LoginState",
    "LtiContext",
    "LtiUser",
    "Membership",
    "ModuleRegistration",
    "ModuleRequirement",
    "Platform",
    "PolicyAcknowledgement",
    "ResourceLink",
    "RosterSync",
    "ScoreOutbox",
    "StageResult",
    "StatementState",
    "ToolKey",
    "ToolSession",
    "UsedNonce",
    "Waiver",
]

# Registers the flush hook that keeps each registration's progress summary in step with its attempts.
import lti_tool.models.progress  # noqa: F401
