"""dsc's version and the schema version of the files it writes."""

__version__ = "0.1.0"
SCHEMA_VERSION = 1
