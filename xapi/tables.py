"""Import every module that defines tables on ``XapiBase``, so Alembic and tests see them all."""

# Each table module registers itself on XapiBase.metadata when imported; add new ones here.
import xapi.lrs.auth
import xapi.outbox  # noqa: F401
