"""Marshmallow schemas, one module per surface."""
