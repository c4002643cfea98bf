"""A shard run: generate this shard's slice of the plan into the shared journal, publish nothing."""

from __future__ import annotations

from collections.abc import Sequence

from compiler.generate.calls import generate_cases
from compiler.generate.templates import RenderedCase
from compiler.pipeline.context import CompileContext


def generate_shard(ctx: CompileContext, rendered: Sequence[RenderedCase]) -> int:
    """Answers this shard's cases (case index mod count); returns how many cases it had."""
    shard = ctx.spec.shard
    mine = [item for item in rendered if item.case.index % shard.count == shard.index]
    ctx.journal.flush()
    ctx.progress.expect(len(mine))
    generate_cases(ctx.spec, ctx.lm, mine, on_done=ctx.progress.advance)
    return len(mine)
