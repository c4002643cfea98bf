"""covering."""
