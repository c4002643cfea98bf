"""One validation pass: the composed config -> a Spec, or every problem at once with its key path."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from compiler.core.errors import ConfigError
from compiler.core.limits import lone_surrogate
from compiler.spec.model import (
    COLUMN_TYPES,
    LOCAL_EMBEDDER,
    NEGATIVE_CAPABLE,
    ROOT_KEYS,
    Column,
    Origins,
    Persona,
    Prompt,
    Spec,
    Strategy,
    Tactic,
    Variable,
)
from compiler.spec.paths import paths_from
from compiler.spec.safety.paths import path_problems
from compiler.spec.validate.dedupe import parse_dedupe
from compiler.spec.validate.fields import (
    Problems,
    Range,
    check_keys,
    closest_name,
    parse_mapping,
    parse_number,
    parse_text,
)
from compiler.spec.validate.generator import parse_generator, parse_optimizer
from compiler.spec.validate.names import check_name
from compiler.spec.validate.prompt import check_prompt_text
from compiler.spec.validate.settings import (
    parse_budget,
    parse_catalogue,
    parse_checks,
    parse_coverage,
    parse_failure_rate,
    parse_lm,
    parse_shard,
)
from compiler.spec.validate.sources import Sources
from compiler.spec.validate.space import (
    broken_dimensions,
    check_satisfiable,
    parse_constraints,
    parse_dimensions,
    parse_weighted,
    yaml_non_names,
)


def _parse_prompt(problems: Problems, raw: Any) -> Prompt:
    if isinstance(raw, str):  # `prompt: "..."`: the text alone, one line rather than three
        problems.add(
            "prompt",
            "is a mapping: put the text under `prompt.text` and its variables under `prompt.variables`",
        )
        return Prompt(text="", variables=())
    data = parse_mapping(problems, "prompt", raw, "a mapping with `text` and `variables`")
    if raw is not None and not data:
        return Prompt(text="", variables=())
    check_keys(problems, "prompt", data, ("text", "variables"))
    text = parse_text(problems, "prompt.text", data.get("text"))
    variables: list[Variable] = []
    raw_vars = parse_mapping(
        problems, "prompt.variables", data.get("variables"), "a mapping of variable names"
    )
    if not raw_vars and data:
        problems.add("prompt.variables", "declare at least one input variable of the prompt under test")
    for name, spec in raw_vars.items():
        path = f"prompt.variables.{name}"
        spec = {} if spec is None else parse_mapping(problems, path, spec, "a mapping")
        check_keys(problems, path, spec, ("description", "required"))
        required = spec.get("required", True)
        if not isinstance(required, bool):
            problems.add(f"{path}.required", f"must be true or false, got {required!r}")
            required = True
        variables.append(
            Variable(
                str(name), parse_text(problems, f"{path}.description", spec.get("description")), required
            )
        )
    return Prompt(text=text, variables=tuple(variables))


# what other schemas call dsc's column types (JSON Schema, pydantic, pandas, SQL)
_TYPE_SYNONYMS = {
    "string": "text", "str": "text", "varchar": "text",
    "float": "number", "double": "number", "decimal": "number", "numeric": "number",
    "integer": "int", "array": "list", "boolean": "bool",
    "category": "enum", "categorical": "enum", "choice": "enum", "literal": "enum",
}  # fmt: skip


def _parse_columns(problems: Problems, raw: Any, variables: tuple[Variable, ...]) -> list[Column]:
    columns: list[Column] = []
    data = parse_mapping(problems, "columns", raw, "a mapping of evaluator column names")
    if not data and (raw is None or isinstance(raw, Mapping)):  # a list was already refused above
        problems.add("columns", "declare at least one evaluator column")
    taken = {v.name for v in variables}
    for name, spec in data.items():
        path = f"columns.{name}"
        if str(name) in taken:
            problems.add(path, "has the same name as a prompt variable; rename the column")
        spec = parse_mapping(problems, path, spec, "a mapping with `type`")
        check_keys(problems, path, spec, ("type", "description", "values"))
        kind = spec.get("type", "text")
        if kind not in COLUMN_TYPES:
            hint = _TYPE_SYNONYMS.get(str(kind).lower()) or closest_name(str(kind), COLUMN_TYPES)
            problems.add(
                f"{path}.type",
                f"unknown column type {kind!r}; use one of {', '.join(COLUMN_TYPES)}"
                + (f" (did you mean `{hint}`?)" if hint else ""),
            )
            continue
        values: tuple[str, ...] = ()
        if kind == "enum":
            raw_values = spec.get("values")
            if not isinstance(raw_values, list | tuple) or not raw_values:
                problems.add(f"{path}.values", "an enum column needs a non-empty list of values")
                continue
            unquoted = yaml_non_names(list(raw_values))
            if unquoted:
                problems.add(f"{path}.values", unquoted)
                continue
            values = tuple(str(v) for v in raw_values)
        elif "values" in spec:
            problems.add(f"{path}.values", "only enum columns take values; remove it or set type: enum")
        description = parse_text(problems, f"{path}.description", spec.get("description"), required=False)
        columns.append(Column(str(name), str(kind), description, values))
    return columns


def _parse_strategies(problems: Problems, raw: Any, templates: frozenset[str]) -> list[Strategy]:
    pairs = parse_weighted(problems, "strategies", raw)
    strategies: list[Strategy] = []
    for name, weight in pairs:
        if name not in templates:
            hint = closest_name(name, templates)
            problems.add(
                f"strategies.{name}",
                f"unknown strategy with no template; add templates/{name}.j2"
                + (
                    f" or did you mean `{hint}`?"
                    if hint
                    else f" or use one of: {', '.join(sorted(templates))}"
                ),
            )
            continue
        if weight > 0:
            strategies.append(Strategy(name, weight, negative=name in NEGATIVE_CAPABLE))
    return strategies


def _check_surrogates(problems: Problems, path: str, value: Any) -> None:
    """YAML's "\\ud83d" (half of a UTF-16 pair) is a string no file can hold: name each key holding one."""
    if isinstance(value, str):
        half = lone_surrogate(value)
        if half is not None:
            problems.add(
                path or "(config)",
                f"holds \\u{ord(half):04x}, half of a UTF-16 pair and no character; write the whole "
                "character (e.g. \\U0001F600 in double quotes, or the emoji itself) or remove it",
            )
    elif isinstance(value, Mapping):
        for key, item in value.items():
            _check_surrogates(problems, f"{path}.{key}" if path else str(key), item)
    elif isinstance(value, list | tuple):
        for i, item in enumerate(value):
            _check_surrogates(problems, f"{path}[{i}]", item)


def validate_config(
    raw: Mapping[str, Any], origins: Origins, templates: frozenset[str], base_dir: Any = None
) -> Spec:
    """Turn a composed config into a Spec, or raise ConfigError listing every problem."""
    problems = Problems(origins)
    _check_surrogates(problems, "", raw)
    if problems.lines:  # before anything hashes or writes these texts (it would crash): say where they are
        raise ConfigError("\n".join(problems.lines))
    picks = _misspelt_groups(raw)
    for key, group in picks.items():
        value = raw[key]
        pick = f"{'+' if group == 'experiment' else ''}{group}={value}" if isinstance(value, str) else group
        problems.add(key, f"unknown key; did you mean `{pick}` (the config group {group}/)?")
    check_keys(problems, "", {k: v for k, v in raw.items() if k not in picks}, ROOT_KEYS)
    misspelt = [line for line in problems.lines if _misspells_required(line, raw)]
    if misspelt:  # a misspelt top-level key: say that alone, not the cascade of what is then missing
        raise ConfigError("\n".join(misspelt))
    missing = [key for key in REQUIRED_KEYS if raw.get(key) is None]
    if len(missing) > 1:  # an empty or barely begun file: one line, not one per key it lacks
        raise ConfigError(
            f"{origins.where(missing[0])}: the test space sets none of {', '.join(missing)}; every test space "
            f"declares {', '.join(REQUIRED_KEYS)} (start from the conf/dataset/example.yaml `dsc init` "
            "writes, or the README's test space)"
        )
    name = parse_text(problems, "name", raw.get("name"))
    check_name(problems, name, origins, Path(base_dir) if base_dir is not None else None)
    description = parse_text(problems, "description", raw.get("description"))
    prompt = _parse_prompt(problems, raw.get("prompt"))
    check_prompt_text(problems, prompt)
    dims = parse_dimensions(problems, raw.get("dimensions"))
    broken = broken_dimensions(raw.get("dimensions"), dims)
    constraints = parse_constraints(problems, raw.get("constraints"), dims, broken)
    columns = _parse_columns(problems, raw.get("columns"), prompt.variables)
    strategies = _parse_strategies(problems, raw.get("strategies"), templates)
    if not strategies and raw.get("strategies") is not None and not problems.lines:
        problems.add("strategies", "no strategy has a positive weight; give one a weight above 0")
    size = parse_number(problems, "size", raw.get("size"), integer=True, within=Range(low=1))
    coverage = parse_coverage(problems, raw.get("coverage"), dims, broken)
    for i, row in enumerate(coverage.include):
        for constraint in constraints:
            if constraint.evaluate(dict(row)) is False:
                problems.add(
                    f"coverage.include[{i}]",
                    f"violates the constraint {constraint.text!r}; change the row or the constraint",
                )
    overgenerate = parse_number(
        problems, "overgenerate", raw.get("overgenerate", 1.5), within=Range(low=1, high=20)
    )
    seed = parse_number(problems, "seed", raw.get("seed", 0), integer=True, within=Range(low=0))
    max_rounds = parse_number(
        problems, "max_rounds", raw.get("max_rounds", 3), integer=True, within=Range(low=0, high=50)
    )
    dedupe = parse_dedupe(problems, raw.get("dedupe"), prompt.variables)
    lm = parse_lm(problems, raw.get("lm"))
    personas = parse_catalogue(
        problems, "personas", raw.get("personas"), ("expertise", "style", "goal", "locale", "description")
    )
    tactics = parse_catalogue(problems, "tactics", raw.get("tactics"), ("description",))
    catalogue_ok = {k: isinstance(raw.get(k), Mapping | None) for k in ("personas", "tactics")}
    if any(s.name == "persona" for s in strategies) and not personas and catalogue_ok["personas"]:
        problems.add("personas", "the persona strategy needs at least one persona; pick personas=default")
    if any(s.name == "adversarial" for s in strategies) and not tactics and catalogue_ok["tactics"]:
        problems.add("tactics", "the adversarial strategy needs at least one tactic; pick tactics=default")
    budget = parse_budget(problems, raw.get("budget"))
    if budget.max_usd is not None and lm.kind != "offline" and lm.price_input == lm.price_output == 0:
        problems.add(
            "budget.max_usd",
            f"cannot be kept: lm.price is 0/0 for {lm.model or lm.kind}, so every call counts as $0; set "
            "lm.price.input and lm.price.output (USD per million tokens, from the provider's price list) "
            "or cap the calls with budget.max_calls",
        )
    semantic = dedupe.semantic
    if (
        budget.max_usd is not None
        and semantic is not None
        and semantic.embedder != LOCAL_EMBEDDER
        and semantic.price == 0
    ):
        problems.add(
            "budget.max_usd",
            f"cannot be kept: dedupe.semantic.price is 0 for {semantic.embedder}, so every embedding counts as "
            "$0; set dedupe.semantic.price (USD per million tokens, from the provider's price list) or cap "
            "the calls with budget.max_calls",
        )
    for key, message in path_problems(raw, origins.overrides, Path(base_dir or ".")):
        if key == "name" and any(": name:" in line for line in problems.lines):
            continue  # an unusable name is already one line; its escape says nothing more
        problems.add(key, message)
    sources = None
    if raw.get("sources") and dims and not problems.lines:
        try:
            sources = Sources.from_config(raw.get("sources"), dims, Path(base_dir or "."), prompt.variables)
        except ConfigError as exc:
            for line in str(exc).splitlines():
                key, _, message = line.partition(": ")
                problems.add(key, message)
    if constraints and dims and not problems.lines:
        check_satisfiable(problems, dims, constraints)
    checks = parse_checks(problems, raw.get("checks"))
    shard = parse_shard(problems, raw.get("shard"))
    max_failure_rate = parse_failure_rate(problems, raw.get("max_failure_rate"))
    generator = parse_generator(problems, raw.get("generator"))
    optimizer = parse_optimizer(problems, raw.get("optimizer"))
    if problems.lines:
        raise ConfigError("\n".join(problems.lines))
    paths = paths_from(raw)
    return Spec(
        name=name,
        description=description,
        prompt=prompt,
        dimensions=tuple(dims),
        constraints=tuple(constraints),
        columns=tuple(columns),
        strategies=tuple(strategies),
        size=int(size),
        coverage=coverage,
        overgenerate=float(overgenerate),
        dedupe=dedupe,
        seed=int(seed),
        max_rounds=int(max_rounds),
        lm=lm,
        personas=tuple(Persona(**p) for p in personas),
        tactics=tuple(Tactic(**t) for t in tactics),
        budget=budget,
        out_dir=_from_root(base_dir, paths.out_dir),
        journal_dir=_from_root(base_dir, paths.journal_dir),
        reviews_dir=_from_root(base_dir, paths.reviews_dir),
        datasets_dir=_from_root(base_dir, paths.datasets_dir),
        sources=sources,
        checks=checks,
        shard=shard,
        max_failure_rate=max_failure_rate,
        generator=generator,
        optimizer=optimizer,
        resolved=raw,
        root=str(base_dir) if base_dir is not None else ".",
    )


_PICKED_GROUPS = ("dataset", "experiment")  # config groups a command line picks an option of, not keys


def _misspelt_groups(raw: Mapping[str, Any]) -> dict[str, str]:
    """Unknown top-level keys nearer to a config group's name than to any key (`datset=x`: `dataset=x`)."""
    found: dict[str, str] = {}
    for key in raw:
        if key in ROOT_KEYS:
            continue
        near = closest_name(str(key), (*ROOT_KEYS, *_PICKED_GROUPS))
        if near in _PICKED_GROUPS and near != key:
            found[str(key)] = near
    return found


REQUIRED_KEYS = ("name", "description", "prompt", "dimensions", "columns", "strategies", "size")


def _misspells_required(line: str, raw: Mapping[str, Any]) -> bool:
    """An unknown top-level key whose did-you-mean is a required key that is missing."""
    return any(
        f"did you mean `{key}`?" in line and raw.get(key) is None and ": unknown key;" in line
        for key in REQUIRED_KEYS
    )


def _from_root(base_dir: Any, value: Any) -> str:
    """A configured folder, resolved from the project root (not the working directory)."""
    return str(Path(base_dir) / str(value)) if base_dir is not None else str(value)
