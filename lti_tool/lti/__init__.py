"""LTI 1.3 protocol code, independent of Flask requests."""
