"""The project's error types: a user mistake is one of these, a bug is anything else."""


class DscError(Exception):
    """A user mistake: the CLI prints the message on one line and exits 2."""

    exit_code = 2


class ConfigError(DscError):
    """The composed configuration or the YAML behind it is wrong."""


class TemplateError(DscError):
    """A Jinja template does not parse or uses a variable that does not exist."""


class SourceError(DscError):
    """An input file (traces, curated rows, a file to dedupe) cannot be used."""


class StoreError(DscError):
    """A version on disk is missing, unknown or tampered with."""


class UsageError(DscError):
    """A command-line argument is wrong."""


class LMError(DscError):
    """An LM backend is misconfigured or refused to work (missing key, budget reached)."""


class CallsFailed(DscError):
    """Too many LM calls failed for the rows to be trusted: nothing is published, the CLI exits 3."""

    exit_code = 3


def clip(text: str, limit: int) -> str:
    """`text` on one line, cut to about `limit` characters at a word boundary with an ellipsis (a provider's
    error can run to paragraphs; half a word or an unclosed backtick reads as a bug)."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    head = text[: max(1, limit - 2)]  # room for the " …"
    cut = head.rsplit(" ", 1)[0] if " " in head else head
    return cut.rstrip(" ,;:.`'\"(") + " …"
