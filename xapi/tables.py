"""Import every module that defines tables on ``XapiBase``, so Alembic and tests see them all."""

# Each table module registers itself on XapiBase.metadata when imported; add new ones here.
import xapi.lrs.auth
import xapi.lrs.document_models
import xapi.lrs.statements.models
import xapi.outbox
import xapi.targets  # noqa: F401
