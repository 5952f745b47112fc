"""Placeholder until the resource lands."""

from __future__ import annotations

from flask import Blueprint


def register(bp: Blueprint) -> None:
    """Add this resource's routes."""
