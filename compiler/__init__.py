"""dsc: a declarative compiler for LLM evaluation datasets."""

__version__ = "0.1.0"
SCHEMA_VERSION = 1
