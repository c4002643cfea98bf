"""The validated spec: Hydra's composed config turned into typed, frozen objects in one pass.

Every problem is collected and reported together; each names the file (or command-line override)
and the dotted key, and says how to fix it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from compiler.spec.constraints import Constraint

COLUMN_TYPES = ("text", "list", "enum", "bool", "int", "number")
LM_KINDS = ("offline", "openai", "anthropic", "ollama", "openai_compatible", "dspy")
GENERATOR_MODULES = ("predict", "chain_of_thought")
ADAPTERS = ("chat", "json")
NEGATIVE_CAPABLE = frozenset({"adversarial"})
# Default n-gram size per shingle kind for near-duplicate dedupe, chosen by bench/shingling.py: on short
# requests with planted word edits, typos, reorders and hard negatives, word unigrams gave the best
# recall at equal precision, then character 3-grams.
ShingleKind = Literal["word", "char"]
SHINGLE_NGRAM: dict[str, int] = {"word": 1, "char": 3}
MAX_NGRAM = 16
LOCAL_EMBEDDER = "local/hashing"  # the embedder `dedupe.semantic: true` uses: no network, no model
CURATED_NAMES = ("regression", "golden")  # curated sources: rows that join a dataset as they are
DATASET_KEYS = (
    "name",
    "description",
    "prompt",
    "dimensions",
    "constraints",
    "columns",
    "strategies",
    "size",
    "coverage",
    "overgenerate",
    "dedupe",
    "seed",
    "sources",
    "max_rounds",
    "checks",
)
ROOT_KEYS = DATASET_KEYS + (
    "lm",
    "personas",
    "tactics",
    "out_dir",
    "journal_dir",
    "reviews_dir",
    "datasets_dir",
    "budget",
    "shard",
    "max_failure_rate",
    "generator",
    "optimizer",
)
MAX_FAILURE_RATE = 0.05  # the default: more failed LM calls than this share and nothing is published


@dataclass(frozen=True)
class Variable:
    name: str
    description: str
    required: bool


@dataclass(frozen=True)
class Prompt:
    text: str
    variables: tuple[Variable, ...]


def input_variable(variables: Sequence[Variable]) -> str | None:
    """The variable a production trace's `fields.input` fills: the first required one, else the first."""
    return next((v.name for v in variables if v.required), variables[0].name if variables else None)


@dataclass(frozen=True)
class Value:
    name: str  # as written, including a leading "~" for negative values
    weight: float

    @property
    def negative(self) -> bool:
        return self.name.startswith("~")


@dataclass(frozen=True)
class Dimension:
    name: str
    description: str
    values: tuple[Value, ...]

    def value(self, name: str) -> Value | None:
        return next((v for v in self.values if v.name == name), None)


@dataclass(frozen=True)
class Column:
    name: str
    type: str
    description: str
    values: tuple[str, ...] = ()


@dataclass(frozen=True)
class Strategy:
    name: str
    weight: float
    negative: bool  # may use negative dimension values


@dataclass(frozen=True)
class Persona:
    id: str
    expertise: str
    style: str
    goal: str
    locale: str
    description: str


@dataclass(frozen=True)
class Tactic:
    id: str
    description: str


@dataclass(frozen=True)
class Coverage:
    strength: int
    groups: tuple[tuple[tuple[str, ...], int], ...] = ()
    include: tuple[tuple[tuple[str, str], ...], ...] = ()


@dataclass(frozen=True)
class SemanticDedupe:
    """Paraphrase dedupe: rows whose embeddings' cosine similarity reaches `threshold` collapse."""

    embedder: str = LOCAL_EMBEDDER  # or a dspy.Embedder model string, e.g. openai/text-embedding-3-small
    threshold: float = 0.9
    batch_size: int = 64  # texts per embedding request
    api_base: str | None = None
    api_key_env: str | None = None  # the *name* of the variable holding the key, never the key
    price: float = 0.0  # USD per million tokens embedded (4 characters a token), for budget.max_usd


@dataclass(frozen=True)
class Dedupe:
    near: float | None
    on: tuple[str, ...]
    existing: tuple[str, ...] = ("curated", "versions")  # existing coverage new rows must not duplicate
    shingle: ShingleKind = "word"  # word | char: what `near` measures the Jaccard similarity of
    ngram: int = SHINGLE_NGRAM["word"]
    semantic: SemanticDedupe | None = None


@dataclass(frozen=True)
class LMSpec:
    kind: str
    model: str
    api_base: str | None = None
    api_key_env: str | None = None
    temperature: float = 0.7
    max_tokens: int = 1024
    timeout: float = 60.0
    concurrency: int = 32
    max_retries: int = 4
    price_input: float = 0.0  # USD per million input tokens
    price_output: float = 0.0  # USD per million output tokens


@dataclass(frozen=True)
class GeneratorSpec:
    """`generator`: which dspy.Module writes the cases, with which saved state and adapter."""

    module: str = "predict"  # a built-in program: predict | chain_of_thought
    program: str | None = None  # module:Class of the user's own dspy.Module, imported from the project
    state: str | None = None  # saved state (program.save(path)), relative to the project root
    adapter: str = "chat"  # chat | json
    where: str = "conf/config.yaml"  # the file (or override) the group came from, for error messages


@dataclass(frozen=True)
class OptimizerSpec:
    """`optimizer`: how `dsc optimize` improves the generator program."""

    kind: str = "bootstrap"  # bootstrap | mipro | gepa
    trainset: int = 24  # planned cases to train on
    valset: int = 24  # held-out planned cases the score is reported on
    max_demos: int = 4  # few-shot demos per predictor (bootstrap, mipro)
    rounds: int = 1
    near_threshold: float = 0.6  # similarity to another output above which a case scores as a near-duplicate
    out: str | None = None  # where the program is saved; default programs/<dataset>.json
    sizes_set_in: str = ""  # where the user set trainset or valset ("" = dsc's built-in optimizer file)


@dataclass(frozen=True)
class ChecksSpec:
    min_input_chars: int = 1
    max_input_chars: int = 8000
    plausibility: bool = False  # ask an LM judge to score every case against the test space description
    min_plausibility: float = 0.3  # cases the judge scores below this are not selected


@dataclass(frozen=True)
class Shard:
    index: int = 0
    count: int = 1


@dataclass(frozen=True)
class Budget:
    max_calls: int | None = None
    max_usd: float | None = None


@dataclass(frozen=True)
class Spec:
    name: str
    description: str
    prompt: Prompt
    dimensions: tuple[Dimension, ...]
    constraints: tuple[Constraint, ...]
    columns: tuple[Column, ...]
    strategies: tuple[Strategy, ...]
    size: int
    coverage: Coverage
    overgenerate: float
    dedupe: Dedupe
    seed: int
    max_rounds: int
    lm: LMSpec
    personas: tuple[Persona, ...]
    tactics: tuple[Tactic, ...]
    budget: Budget
    out_dir: str
    journal_dir: str
    reviews_dir: str
    datasets_dir: str
    sources: Any  # compiler.spec.validate.sources.Sources, or None without a `sources` block
    checks: ChecksSpec = field(default_factory=ChecksSpec)
    shard: Shard = field(default_factory=Shard)
    max_failure_rate: float = MAX_FAILURE_RATE
    generator: GeneratorSpec = field(default_factory=GeneratorSpec)
    optimizer: OptimizerSpec = field(default_factory=OptimizerSpec)
    resolved: Mapping[str, Any] = field(repr=False, compare=False, default_factory=dict)
    root: str = "."  # the project folder; the *_dir fields above are already resolved from it

    def dimension(self, name: str) -> Dimension:
        return next(d for d in self.dimensions if d.name == name)

    def allows(self, cell: Mapping[str, str]) -> bool | None:
        """Whether a (possibly partial) cell satisfies every constraint; None if undecided."""
        undecided = False
        for constraint in self.constraints:
            result = constraint.evaluate(cell)
            if result is False:
                return False
            undecided |= result is None
        return None if undecided else True


@dataclass(frozen=True)
class Origins:
    """Which file (or command-line override) each part of the config came from, for error messages."""

    files: Mapping[str, str]  # top-level key -> file, e.g. {"lm": "conf/lm/offline.yaml"}
    default_file: str = "conf/config.yaml"
    overrides: Mapping[str, str] = field(default_factory=dict)  # dotted key -> "key=value" as typed
    dataset: str | None = None  # the option picked in the dataset group (its file's name)

    def where(self, path: str) -> str:
        for key, text in self.overrides.items():
            if path == key or path.startswith(key + ".") or key.startswith(path + "."):
                return f"command-line override `{text}`"
        top = path.split(".", 1)[0]
        return self.files.get(top, self.default_file)
