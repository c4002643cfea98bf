"""near."""
