"""Map LIS role URIs (LTI 1.3 core, Appendix A) to what Upstander lets a person do."""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum

LIS = "http://purl.imsglobal.org/vocab/lis/v2/"
COORDINATOR_CONTEXT_ROLES = frozenset({"Instructor", "Administrator", "ContentDeveloper"})
ADMIN_ROLES = frozenset({
    LIS + "institution/person#Administrator",
    LIS + "system/person#Administrator",
    LIS + "system/person#SysAdmin",
})


class Role(StrEnum):
    LEARNER = "learner"
    COORDINATOR = "coordinator"
    # A platform administrator: a coordinator for every course of their deployment.
    ADMINISTRATOR = "administrator"


def _context_role(uri: str) -> str | None:
    """Return the context role named by a membership URI (or by a bare short name), else None."""
    if uri.startswith(LIS + "membership/"):
        # Sub-roles such as membership/Instructor#TeachingAssistant
        return "TeachingAssistant" if uri.endswith("#TeachingAssistant") else None
    if uri.startswith(LIS + "membership#"):
        return uri.split("#", 1)[1]
    # LTI 1.3 still allows the short context role names without a namespace.
    return uri if "/" not in uri and ":" not in uri else None


def role_for(lis_roles: Iterable[str]) -> Role:
    """Return the role for a launch; roles Upstander does not know make a learner."""
    roles = list(lis_roles)
    if any(uri in ADMIN_ROLES for uri in roles):
        return Role.ADMINISTRATOR
    context_roles = {_context_role(uri) for uri in roles}
    if context_roles & (COORDINATOR_CONTEXT_ROLES | {"TeachingAssistant"}):
        return Role.COORDINATOR
    return Role.LEARNER
