"""Alembic migrations; ``upstander db upgrade`` runs them."""
