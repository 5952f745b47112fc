"""One blueprint per surface (URL prefix)."""
