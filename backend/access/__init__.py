"""Readable permissions: what the caller may do here, and why (drives the web UI; no guessing)."""
