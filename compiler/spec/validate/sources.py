"""The validated `sources` block: production traces and curated files (`regression`, `golden`), with quotas."""

from __future__ import annotations

import difflib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from compiler.core.errors import ConfigError
from compiler.spec.model import CURATED_NAMES, Dimension, Variable
from compiler.spec.validate.production import ProductionSource, parse_production, resolve_files

SOURCE_NAMES = ("production", *CURATED_NAMES)
CURATED_KEYS = ("path", "quota", "pii")
CURATED_MODES = ("redact", "reject", "keep")


@dataclass(frozen=True)
class CuratedSource:
    name: str  # regression | golden
    path: str
    files: tuple[Path, ...]
    quota: float  # share of the dataset these rows may fill
    pii: str  # redact | reject | keep
    dimensions: tuple[tuple[str, tuple[str, ...]], ...]  # for checking a row's `cell`
    patterns: tuple[tuple[str, str], ...] = ()  # the user's detectors (from sources.production.patterns)

    @staticmethod
    def from_config(
        raw: Any, dims: Sequence[Dimension], base_dir: Path, *, name: str = "regression"
    ) -> CuratedSource:
        """Validate `sources.<name>`; raise ConfigError with one line per problem."""
        problems: list[str] = []
        source = _parse_curated(problems, name, raw, dims, base_dir)
        if problems:
            raise ConfigError("\n".join(problems))
        return source


def _parse_curated(
    problems: list[str], name: str, raw: Any, dims: Sequence[Dimension], base_dir: Path
) -> CuratedSource:
    key = f"sources.{name}"
    if isinstance(raw, str):
        raw = {"path": raw}
    if not isinstance(raw, Mapping):
        problems.append(f"{key}: expected a file path or a mapping with path and quota, got {raw!r}")
        raw = {}
    for extra in raw:
        if extra not in CURATED_KEYS:
            match = difflib.get_close_matches(str(extra), CURATED_KEYS, n=1)
            problems.append(
                f"{key}.{extra}: unknown key; "
                + (f"did you mean `{match[0]}`?" if match else f"allowed: {', '.join(CURATED_KEYS)}")
            )
    files = resolve_files(problems, f"{key}.path", raw.get("path"), base_dir)
    quota = raw.get("quota", 0.1)
    if isinstance(quota, bool) or not isinstance(quota, int | float) or not 0 <= quota <= 1:
        problems.append(f"{key}.quota: must be a number from 0 to 1 (a share of the dataset), got {quota!r}")
        quota = 0.0
    pii = raw.get("pii", "redact")
    if pii not in CURATED_MODES:
        problems.append(f"{key}.pii: must be one of {', '.join(CURATED_MODES)}, got {pii!r}")
    return CuratedSource(
        name,
        str(raw.get("path")),
        files,
        float(quota),
        pii if pii in CURATED_MODES else "redact",
        tuple((d.name, tuple(v.name for v in d.values)) for d in dims),
    )


@dataclass(frozen=True)
class Sources:
    """The validated `sources` block: production traces and curated files, with their quotas."""

    production: ProductionSource | None
    curated: tuple[CuratedSource, ...]

    @property
    def quotas(self) -> dict[str, float]:
        shares = {c.name: c.quota for c in self.curated}
        return {"production": self.production.quota, **shares} if self.production else shares

    @staticmethod
    def from_config(
        raw: Any, dims: Sequence[Dimension], base_dir: Path, variables: Sequence[Variable] = ()
    ) -> Sources:
        """Validate the whole `sources` block, reporting every problem at once."""
        problems: list[str] = []
        raw = raw or {}
        if not isinstance(raw, Mapping):
            raise ConfigError("sources: expected a mapping of production, regression and golden")
        for name in raw:
            if name not in SOURCE_NAMES:
                match = difflib.get_close_matches(str(name), SOURCE_NAMES, n=1)
                problems.append(
                    f"sources.{name}: unknown source; "
                    + (f"did you mean `{match[0]}`?" if match else f"use {', '.join(SOURCE_NAMES)}")
                )
        production = (
            parse_production(raw["production"], dims, base_dir, problems, variables)
            if raw.get("production")
            else None
        )
        patterns = production.patterns if production else ()
        curated = tuple(
            _parse_curated(problems, n, raw[n], dims, base_dir) for n in CURATED_NAMES if raw.get(n)
        )
        curated = tuple(
            CuratedSource(c.name, c.path, c.files, c.quota, c.pii, c.dimensions, patterns) for c in curated
        )
        sources = Sources(production, curated)
        total = sum(sources.quotas.values())
        if total > 1 + 1e-9:
            parts = ", ".join(f"{n} {q:g}" for n, q in sources.quotas.items())
            problems.append(
                f"sources: the quotas add up to {total:g} ({parts}) but they are shares of one dataset; "
                "lower them to sum to at most 1"
            )
        if problems:
            raise ConfigError("\n".join(problems))
        return sources
