"""Renderers of the accreditation report: CSV (streamed), HTML (a template) and PDF."""
