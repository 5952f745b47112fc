"""Build statements with fresh identifiers, so tests never see each other's data."""

from __future__ import annotations

import uuid
from typing import Any

VOIDED = "http://adlnet.gov/expapi/verbs/voided"


def new_id() -> str:
    return str(uuid.uuid4())


def statement(**overrides: Any) -> dict[str, Any]:
    """A valid 1.0.3 statement about a fresh learner and a fresh activity."""
    tag = uuid.uuid4().hex[:12]
    st: dict[str, Any] = {
        "id": new_id(),
        "actor": {"objectType": "Agent", "name": "Learner", "mbox": f"mailto:learner-{tag}@example.org"},
        "verb": {"id": f"http://example.org/verbs/{tag}", "display": {"en-US": "did"}},
        "object": {"objectType": "Activity", "id": f"http://example.org/activities/{tag}",
                   "definition": {"name": {"en-US": "An activity"}}},
    }
    st.update(overrides)
    return st


def voiding(target_id: str, actor: dict[str, Any] | None = None) -> dict[str, Any]:
    return statement(verb={"id": VOIDED, "display": {"en-US": "voided"}},
                     object={"objectType": "StatementRef", "id": target_id},
                     **({"actor": actor} if actor else {}))
