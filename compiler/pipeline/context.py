"""What every stage of one compile shares: the spec, the project paths, the journal and the LM handle."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from compiler.generate.backends import LMHandle, open_lm
from compiler.generate.journal import Journal, answer_cap
from compiler.generate.program import Generator, build_generator
from compiler.spec.compose import Project
from compiler.spec.model import Spec

ProgressCallback = Callable[[int, int, Any], None]


@dataclass
class Progress:
    """Cases answered out of cases asked for, reported to the CLI's progress bar."""

    callback: ProgressCallback | None
    stats: Any
    done: int = 0
    total: int = 0

    def expect(self, more: int) -> None:
        self.total += more

    def advance(self, _: Any = None) -> None:
        self.done += 1
        if self.callback is not None:
            self.callback(self.done, self.total, self.stats)


@dataclass(frozen=True)
class CompileContext:
    project: Project
    spec: Spec
    journal: Journal
    lm: LMHandle
    progress: Progress = field(compare=False)
    generator: Generator = field(compare=False)


@contextmanager
def open_context(
    project: Project, spec: Spec, on_progress: ProgressCallback | None
) -> Iterator[CompileContext]:
    """The journal and the LM for one compile; the journal is flushed and closed however the compile ends."""
    generator = build_generator(spec, project.root)  # a user's program fails here, before any LM call
    # small flush groups: a kill -9 loses at most a quarter of a concurrency's worth of answers
    journal = Journal(
        Path(spec.journal_dir) / "journal" / spec.name,
        flush_every=max(1, min(16, spec.lm.concurrency // 4)),
        max_chars=answer_cap(spec.lm.max_tokens),
    )
    try:
        handle = open_lm(spec.lm, journal, spec.budget)
        yield CompileContext(project, spec, journal, handle, Progress(on_progress, handle.stats), generator)
    finally:
        journal.close()
