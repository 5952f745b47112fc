"""The xAPI vocabulary Upstander uses: verb, activity-type and extension IRIs, and activity IRIs.

Verbs come from ADL's vocabulary and cmi5 where one exists. Our own concepts (activity types,
extensions, the acknowledgement verb) live in one fixed namespace, ``NS``, whatever the deployment;
activity IRIs (a module, a stage, a decision) are built from the deployment's public base URL,
because the activities are the content that deployment serves.
"""

from __future__ import annotations

import hashlib
from typing import Final
from urllib.parse import quote

NS: Final = "https://upstander.training/xapi"

PROFILE_ID: Final = f"{NS}/profile"
PROFILE_VERSION: Final = f"{NS}/profile/v1.0"

# Verbs: ADL vocabulary (http://adlnet.gov/expapi/verbs/...) and the ADL verbs cmi5 introduced.
LAUNCHED: Final = "http://adlnet.gov/expapi/verbs/launched"
INITIALIZED: Final = "http://adlnet.gov/expapi/verbs/initialized"
ANSWERED: Final = "http://adlnet.gov/expapi/verbs/answered"
SCORED: Final = "http://adlnet.gov/expapi/verbs/scored"
PROGRESSED: Final = "http://adlnet.gov/expapi/verbs/progressed"
COMPLETED: Final = "http://adlnet.gov/expapi/verbs/completed"
PASSED: Final = "http://adlnet.gov/expapi/verbs/passed"
FAILED: Final = "http://adlnet.gov/expapi/verbs/failed"
TERMINATED: Final = "http://adlnet.gov/expapi/verbs/terminated"
SUSPENDED: Final = "http://adlnet.gov/expapi/verbs/suspended"
RESUMED: Final = "http://adlnet.gov/expapi/verbs/resumed"
ABANDONED: Final = "https://w3id.org/xapi/adl/verbs/abandoned"
WAIVED: Final = "https://w3id.org/xapi/adl/verbs/waived"
# No established verb says "confirmed having read a policy": ours, in our namespace.
ACKNOWLEDGED: Final = f"{NS}/verbs/acknowledged"

VERB_DISPLAY: Final[dict[str, str]] = {
    LAUNCHED: "launched", INITIALIZED: "initialized", ANSWERED: "answered", SCORED: "scored",
    PROGRESSED: "progressed", COMPLETED: "completed", PASSED: "passed", FAILED: "failed",
    TERMINATED: "terminated", SUSPENDED: "suspended", RESUMED: "resumed", ABANDONED: "abandoned",
    WAIVED: "waived", ACKNOWLEDGED: "acknowledged",
}

# Closing verbs carry the session's (or attempt's) duration (cmi5 §9.5.2 and §9.3).
CLOSING_VERBS: Final = frozenset({COMPLETED, PASSED, FAILED, TERMINATED, ABANDONED, SUSPENDED})
SCORING_VERBS: Final = frozenset({PASSED, FAILED})

# Activity types.
CURRICULUM: Final = f"{NS}/activity-types/curriculum"
MODULE: Final = f"{NS}/activity-types/module"
STAGE: Final = f"{NS}/activity-types/stage"
SCENARIO: Final = f"{NS}/activity-types/scenario"
DECISION: Final = f"{NS}/activity-types/decision"
POLICY: Final = f"{NS}/activity-types/agency-policy"
COURSE: Final = "http://adlnet.gov/expapi/activities/course"
INTERACTION: Final = "http://adlnet.gov/expapi/activities/cmi.interaction"
PROFILE_TYPE: Final = "http://adlnet.gov/expapi/activities/profile"

# Extensions.
EXT_STAGE: Final = f"{NS}/extensions/intervention-stage"
EXT_TACTIC: Final = f"{NS}/extensions/tactic"
EXT_RANK: Final = f"{NS}/extensions/target-rank"
EXT_CONTENT_VERSION: Final = f"{NS}/extensions/content-version"
EXT_LTI_CONTEXT: Final = f"{NS}/extensions/lti-context-id"
EXT_LTI_DEPLOYMENT: Final = f"{NS}/extensions/lti-deployment-id"
EXT_POLICY_VERSION: Final = f"{NS}/extensions/policy-version"
EXT_ATTEMPT: Final = f"{NS}/extensions/attempt"
# The learner's e-mail, only when the agency identifies learners by name: an Agent may carry one
# identifier only (xAPI 1.0.3 §2.4.2.1), and the LMS account is the one we keep.
EXT_LEARNER_EMAIL: Final = f"{NS}/extensions/learner-email"
# For reporting from an LRS alone (the accreditation report): what a module teaches and credits (on the
# module's definition in its milestone statements), the course's requirements at the time, and the
# officer's agency id (only when the agency identifies learners by name, like the e-mail).
EXT_MODULE_OBJECTIVES: Final = f"{NS}/extensions/module-objectives"
EXT_MODULE_MINUTES: Final = f"{NS}/extensions/module-minutes"
EXT_REQUIREMENTS: Final = f"{NS}/extensions/course-requirements"
EXT_AGENCY_ID: Final = f"{NS}/extensions/agency-id"
EXT_SESSION: Final = "https://w3id.org/xapi/cmi5/context/extensions/sessionid"
EXT_PROGRESS: Final = "https://w3id.org/xapi/cmi5/result/extensions/progress"

TACTICS: Final = ("distract", "direct", "delegate")
RANKS: Final = ("peer", "superior")
STAGES: Final = (1, 2, 3, 4, 5)

PLATFORM: Final = "Upstander"


def _seg(value: str) -> str:
    return quote(value, safe="")


def curriculum_iri(base_url: str, curriculum_id: str) -> str:
    """Return the IRI of a curriculum served by the deployment at ``base_url``."""
    return f"{base_url.rstrip('/')}/activities/curriculum/{_seg(curriculum_id)}"


def module_iri(base_url: str, slug: str) -> str:
    """Return the IRI of a module."""
    return f"{base_url.rstrip('/')}/activities/module/{_seg(slug)}"


def stage_iri(base_url: str, slug: str, stage: int) -> str:
    """Return the IRI of one intervention stage as practised in a module."""
    return f"{module_iri(base_url, slug)}/stage/{stage}"


def scenario_iri(base_url: str, slug: str, scenario: str) -> str:
    """Return the IRI of a scenario of a module."""
    return f"{module_iri(base_url, slug)}/scenario/{_seg(scenario)}"


def decision_iri(base_url: str, slug: str, screen: str) -> str:
    """Return the IRI of a decision (a question screen) of a module."""
    return f"{module_iri(base_url, slug)}/decision/{_seg(screen)}"


def agency_key(issuer: str, deployment_id: str) -> str:
    """Return a short stable key for an agency (one deployment of one platform)."""
    return hashlib.sha256(f"{issuer}\n{deployment_id}".encode()).hexdigest()[:24]


def course_iri(base_url: str, issuer: str, deployment_id: str, context_id: str) -> str:
    """Return the IRI of an LMS course; LTI context ids are only unique within a deployment."""
    return f"{base_url.rstrip('/')}/activities/course/{agency_key(issuer, deployment_id)}/{_seg(context_id)}"


def policy_iri(base_url: str, issuer: str, deployment_id: str, version: int) -> str:
    """Return the IRI of one version of an agency's Duty to Intervene policy."""
    return f"{base_url.rstrip('/')}/activities/agency-policy/{agency_key(issuer, deployment_id)}/v{version}"
