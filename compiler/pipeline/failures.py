"""Failure is never success: a compile whose LM calls failed too often publishes nothing and exits 3."""

from __future__ import annotations

from collections import Counter

from compiler.core.errors import CallsFailed
from compiler.spec.model import Spec

# what a failure class most likely means, for the one line the user reads
CAUSES = {
    "5xx": "the endpoint answers 5xx (a server error)",
    "timeout": "the endpoint does not answer in time (lm.timeout)",
    "connection": "the endpoint cannot be reached (lm.api_base)",
    "malformed": "the endpoint's replies are not chat completions (an HTML page or an error body?)",
    "parse": "the model's answers do not follow the output format (a refusal or prose?)",
    "oversize": "the answers are larger than the journal keeps (lm.max_tokens)",
    "429": "the endpoint keeps rate limiting (lower lm.concurrency)",
}


def describe_failures(failures: Counter[str]) -> str:
    """`server 27, parse 2`, most frequent first."""
    return ", ".join(f"{kind} {n}" for kind, n in sorted(failures.items(), key=lambda kv: (-kv[1], kv[0])))


def require_answers(spec: Spec, failures: Counter[str], asked: int) -> None:
    """Raise CallsFailed when every case failed or more than `max_failure_rate` of them did."""
    failed = sum(failures.values())
    if not failed:
        return
    rate = failed / max(1, asked)
    if failed < asked and rate <= spec.max_failure_rate:
        return
    top = max(sorted(failures), key=lambda kind: failures[kind])
    cause = CAUSES.get(top.split(":")[0], f"calls fail with {top}")
    if top == "connection" and spec.lm.api_base:  # a base holding credentials is refused with the config
        cause = f"nothing answers at lm.api_base={spec.lm.api_base} (is the server running?)"
    how_many = f"all {asked}" if failed >= asked else f"{failed} of {asked} ({rate:.0%})"
    raise CallsFailed(
        f"{spec.name}: {how_many} LM calls failed ({describe_failures(failures)}): {cause}; nothing was "
        f"published. Every answer that parsed is kept in the journal: fix the cause and run the same command "
        f"to resume (only the failed calls are asked again)"
        + ("" if failed >= asked else f", or allow more with max_failure_rate={min(1.0, rate):.2f}")
    )
