"""The manifest of a version as a typed value: what `manifest.json` holds, read back without digging in dicts.

A manifest on disk may come from an older dsc, a merge or a hand edit: `Manifest.from_json` reads what it
can, fills what an older schema lacks with empty values, and turns a wrong type into one StoreError line.
`to_json` gives the exact dict that is written (key order included), so reruns stay byte-identical.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from typing import Any

from compiler.core.errors import StoreError

FIX = "recompile the version or restore manifest.json from git"


@dataclass(frozen=True)
class LMRecord:
    """Which LM wrote the rows, without its key or any other secret."""

    identity: str = ""
    kind: str = ""
    model: str = ""
    api_base: str | None = None
    temperature: float | None = None
    max_tokens: int | None = None


@dataclass(frozen=True)
class StrategyCount:
    target: int = 0
    selected: int = 0


@dataclass(frozen=True)
class Coverage:
    """How much of the space's t-tuples the plan covers."""

    strength: int = 0
    required_tuples: int = 0
    planned_covered_tuples: int = 0


@dataclass(frozen=True)
class Usage:
    requests: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0


@dataclass(frozen=True)
class ShortCell:
    """A (strategy, cell) pair that got fewer rows than planned."""

    strategy: str = ""
    cell: str = ""
    wanted: int = 0
    got: int = 0


@dataclass(frozen=True)
class Shortfall:
    missing_rows: int = 0
    cells: tuple[ShortCell, ...] = ()


Counts = Mapping[str, int]


@dataclass(frozen=True)
class Manifest:
    """Everything needed to reproduce and audit a version; no secrets, no timestamps."""

    dataset: str
    version: str
    parent: str | None = None
    dsc_version: str = ""
    schema_version: int = 0
    rows: int = 0
    seed: int = 0
    lm: LMRecord = LMRecord()
    config_hash: str = ""
    program_hash: str = ""
    templates: Mapping[str, str] = field(default_factory=dict)
    counts: Counts = field(default_factory=dict)
    top_up_rounds: int = 0
    failures: Counts = field(default_factory=dict)
    strategies: Mapping[str, StrategyCount] = field(default_factory=dict)
    sources: Counts = field(default_factory=dict)
    cells: Counts = field(default_factory=dict)
    coverage: Coverage = Coverage()
    drops: Counts = field(default_factory=dict)
    review: Counts = field(default_factory=dict)
    check_failures: Counts = field(default_factory=dict)
    usage: Usage = Usage()
    shortfall: Shortfall = Shortfall()
    # the resolved config without machine-local keys: free-form by nature (it is the user's test space)
    config: Mapping[str, Any] = field(default_factory=dict)
    # what the source stage records (curated, evidence, weights, source_quotas), in its own shapes
    sourcing: Mapping[str, Any] = field(default_factory=dict)
    generator: Mapping[str, Any] = field(default_factory=dict)
    privacy: Mapping[str, Any] = field(default_factory=dict)
    files: Mapping[str, str] = field(default_factory=dict)  # file name -> xxh3 of its bytes

    def with_files(self, hashes: Mapping[str, str]) -> Manifest:
        return replace(self, files=dict(sorted(hashes.items())))

    def section(self, name: str) -> Mapping[str, Any]:
        """One of the source stage's sections (`curated`, `evidence`, ...), or an empty mapping."""
        value = self.sourcing.get(name)
        return value if isinstance(value, Mapping) else {}

    def to_json(self) -> dict[str, Any]:
        """The dict `manifest.json` holds, in its key order."""
        data: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name == "sourcing":
                data.update(value)
            elif f.name == "privacy" and not value:
                continue  # only versions whose generated rows held redacted private data carry it
            elif f.name == "files" and not value:
                continue  # the store adds it when it hashes the finished files
            else:
                data[f.name] = plain(value)
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any], where: str = "manifest.json") -> Manifest:
        """The typed manifest of a parsed `manifest.json`; a field of the wrong type is one StoreError."""
        read = Reader(data, where)
        known = {f.name for f in fields(cls)}
        return cls(
            dataset=read.text("dataset", "?"),
            version=read.text("version", "?"),
            parent=read.optional_text("parent"),
            dsc_version=read.text("dsc_version"),
            schema_version=read.integer("schema_version"),
            rows=read.integer("rows"),
            seed=read.integer("seed"),
            lm=LMRecord(**read.record("lm", LMRecord)),
            config_hash=read.text("config_hash"),
            program_hash=read.text("program_hash"),
            templates={k: str(v) for k, v in read.mapping("templates").items()},
            counts=read.counts("counts"),
            top_up_rounds=read.integer("top_up_rounds"),
            failures=read.counts("failures"),
            strategies={
                str(name): StrategyCount(
                    **Reader(value, f"{where}: strategies.{name}").record("", StrategyCount)
                )
                for name, value in read.mapping("strategies").items()
            },
            sources=read.counts("sources"),
            cells=read.counts("cells"),
            coverage=Coverage(**read.record("coverage", Coverage)),
            drops=read.counts("drops"),
            review=read.counts("review"),
            check_failures=read.counts("check_failures"),
            usage=Usage(**read.record("usage", Usage)),
            shortfall=read.shortfall(),
            config=read.mapping("config"),
            sourcing={k: v for k, v in data.items() if k not in known},
            generator=read.mapping("generator"),
            privacy=read.mapping("privacy"),
            files={k: str(v) for k, v in read.mapping("files").items()},
        )


def plain(value: Any) -> Any:
    """JSON-ready data of a manifest field: records become dicts in field order, tuples become lists."""
    if hasattr(value, "__dataclass_fields__"):
        return {f.name: plain(getattr(value, f.name)) for f in fields(value)}
    if isinstance(value, Mapping):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, tuple | list):
        return [plain(v) for v in value]
    return value


READ_AS = {"str": "text", "int": "integer", "float": "number"}  # a record field's type -> its read


class Reader:
    """Typed reads of one JSON object of a manifest, naming the key when a value has the wrong type."""

    def __init__(self, data: Any, where: str) -> None:
        if not isinstance(data, Mapping):
            raise StoreError(f"{where}: not a JSON object; {FIX}")
        self.data, self.where = data, where

    def fail(self, key: str, expected: str) -> StoreError:
        shown = f"{self.where}: {key}" if key else self.where
        return StoreError(f"{shown}: expected {expected}, found {type(self.data.get(key)).__name__}; {FIX}")

    def text(self, key: str, default: str = "") -> str:
        value = self.data.get(key, default)
        if value is None:
            return default
        if not isinstance(value, str | int | float):
            raise self.fail(key, "a string")
        return str(value)

    def optional_text(self, key: str) -> str | None:
        return self.text(key) if self.data.get(key) is not None else None

    def integer(self, key: str) -> int:
        value = self.data.get(key, 0)
        if value is None:
            return 0
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.fail(key, "a number")
        return int(value)

    def number(self, key: str) -> float:
        value = self.data.get(key, 0.0)
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.fail(key, "a number")
        return float(value)

    def mapping(self, key: str) -> dict[str, Any]:
        value = self.data.get(key)
        if value is None:
            return {}
        if not isinstance(value, Mapping):
            raise self.fail(key, "an object")
        return {str(k): v for k, v in value.items()}

    def counts(self, key: str) -> dict[str, int]:
        return {
            name: Reader(self.mapping(key), f"{self.where}: {key}").integer(name)
            for name in self.mapping(key)
        }

    def record(self, key: str, kind: type) -> dict[str, Any]:
        """The known fields of a nested record (its own object when key is empty), typed as the record is."""
        inner = Reader(self.mapping(key), f"{self.where}: {key}") if key else self
        values: dict[str, Any] = {}
        for f in fields(kind):
            if f.name not in inner.data:
                continue
            declared = str(f.type)
            if declared.endswith("| None") and inner.data[f.name] is None:
                values[f.name] = None
            else:
                values[f.name] = getattr(inner, READ_AS[declared.removesuffix(" | None")])(f.name)
        return values

    def shortfall(self) -> Shortfall:
        short = Reader(self.mapping("shortfall"), f"{self.where}: shortfall")
        cells = short.data.get("cells") or []
        if not isinstance(cells, list):
            raise short.fail("cells", "a list")
        return Shortfall(
            missing_rows=short.integer("missing_rows"),
            cells=tuple(
                ShortCell(**Reader(c, f"{short.where}.cells[{i}]").record("", ShortCell))
                for i, c in enumerate(cells)
            ),
        )
