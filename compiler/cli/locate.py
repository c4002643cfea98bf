"""Where a verb finds the project's files: the folders of conf/ (plus `out_dir=...` words) and versions."""

from __future__ import annotations

import argparse
from typing import Any

from compiler.spec.paths import Paths, read_paths


def project_paths(args: argparse.Namespace, dataset: str | None = None) -> Paths:
    """The folders of this project (conf/ and `out_dir=...` words on the command line), for one dataset."""
    from compiler.spec.compose import Project

    return read_paths(Project.locate().conf_dir, getattr(args, "path_overrides", ()), dataset)


def open_version(ref: str, args: argparse.Namespace) -> Any:
    from compiler.versions.store import resolve_version
    from compiler.versions.verify import require_intact

    return require_intact(resolve_version(ref, project_paths(args).out_dir))
