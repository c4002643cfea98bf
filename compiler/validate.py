"""One validation pass: the composed config -> a Spec, or every problem at once with its key path."""

from __future__ import annotations

import difflib
import math
from collections.abc import Mapping
from typing import Any

from compiler.constraints import Compare, Constraint, ConstraintSyntaxError, map_compares, parse_constraint
from compiler.errors import ConfigError
from compiler.spec import (
    COLUMN_TYPES,
    LM_KINDS,
    NEGATIVE_CAPABLE,
    ROOT_KEYS,
    Budget,
    ChecksSpec,
    Column,
    Coverage,
    Dedupe,
    Dimension,
    LMSpec,
    Origins,
    Persona,
    Prompt,
    Shard,
    Spec,
    Strategy,
    Tactic,
    Value,
    Variable,
)


class _Problems:
    def __init__(self, origins: Origins) -> None:
        self.origins = origins
        self.lines: list[str] = []

    def add(self, path: str, message: str) -> None:
        self.lines.append(f"{self.origins.where(path)}: {path}: {message}")


def _as_mapping(problems: _Problems, path: str, raw: Any, what: str) -> Mapping[str, Any]:
    if isinstance(raw, Mapping):
        return raw
    problems.add(path, f"expected {what}, got {type(raw).__name__} {raw!r}")
    return {}


def _check_keys(problems: _Problems, path: str, raw: Mapping[str, Any], allowed: tuple[str, ...]) -> None:
    for key in raw:
        if key not in allowed:
            hint = _closest(str(key), allowed)
            fix = f"did you mean `{hint}`?" if hint else f"allowed keys: {', '.join(allowed)}"
            problems.add(f"{path}.{key}" if path else str(key), f"unknown key; {fix}")


def _closest(word: str, options: Any) -> str | None:
    matches = difflib.get_close_matches(word, [str(o) for o in options], n=1, cutoff=0.6)
    return matches[0] if matches else None


def _number(problems: _Problems, path: str, raw: Any, *, integer: bool = False, low: float | None = None,
            high: float | None = None, low_open: bool = False) -> Any:
    kind = "a whole number" if integer else "a number"
    if isinstance(raw, bool) or not isinstance(raw, int | float) or (integer and not isinstance(raw, int)):
        problems.add(path, f"must be {kind}, got {raw!r}")
        return None
    if isinstance(raw, float) and not math.isfinite(raw):
        problems.add(path, f"must be a finite number, got {raw!r}")
        return None
    if low is not None and (raw <= low if low_open else raw < low):
        problems.add(path, f"must be {'>' if low_open else '>='} {low:g}, got {raw!r}")
        return None
    if high is not None and raw > high:
        problems.add(path, f"must be <= {high:g}, got {raw!r}")
        return None
    return raw


def _text(problems: _Problems, path: str, raw: Any, *, required: bool = True) -> str:
    if raw is None and not required:
        return ""
    if not isinstance(raw, str) or (required and not raw.strip()):
        problems.add(path, f"must be a non-empty string, got {raw!r}")
        return ""
    return raw


def _parse_prompt(problems: _Problems, raw: Any) -> Prompt:
    data = _as_mapping(problems, "prompt", raw, "a mapping with `text` and `variables`")
    _check_keys(problems, "prompt", data, ("text", "variables"))
    text = _text(problems, "prompt.text", data.get("text"))
    variables: list[Variable] = []
    raw_vars = _as_mapping(problems, "prompt.variables", data.get("variables"), "a mapping of variable names")
    if not raw_vars and data:
        problems.add("prompt.variables", "declare at least one input variable of the prompt under test")
    for name, spec in raw_vars.items():
        path = f"prompt.variables.{name}"
        spec = {} if spec is None else _as_mapping(problems, path, spec, "a mapping")
        _check_keys(problems, path, spec, ("description", "required"))
        required = spec.get("required", True)
        if not isinstance(required, bool):
            problems.add(f"{path}.required", f"must be true or false, got {required!r}")
            required = True
        variables.append(Variable(str(name), _text(problems, f"{path}.description", spec.get("description")),
                                  required))
    return Prompt(text=text, variables=tuple(variables))


def _parse_weighted(problems: _Problems, path: str, raw: Any) -> list[tuple[str, float]]:
    """`[a, b]` (equal weights) or `{a: 3, b: 1}` -> [(name, weight)]."""
    if isinstance(raw, list | tuple):
        pairs = [(item, 1.0) for item in raw]
    elif isinstance(raw, Mapping):
        pairs = list(raw.items())
    else:
        problems.add(path, f"expected a list of values or a mapping value: weight, got {raw!r}")
        return []
    result: list[tuple[str, float]] = []
    for name, weight in pairs:
        if not isinstance(name, str | int) or isinstance(name, bool) or str(name).strip() in ("", "~"):
            problems.add(path, f"value names must be non-empty strings, got {name!r}")
            continue
        w = _number(problems, f"{path}.{name}", weight, low=0)
        if w is not None:
            result.append((str(name), float(w)))
    if len({n for n, _ in result}) != len(result):
        problems.add(path, "lists a value twice; give each value once")
    if result and sum(w for _, w in result) <= 0:
        problems.add(path, "weights sum to 0; give one value a positive weight")
    return result


def _parse_dimensions(problems: _Problems, raw: Any) -> list[Dimension]:
    dims: list[Dimension] = []
    data = _as_mapping(problems, "dimensions", raw, "a mapping of dimension names")
    if not data:
        problems.add("dimensions", "declare at least one dimension with values")
    for name, spec in data.items():
        path = f"dimensions.{name}"
        description = ""
        if isinstance(spec, Mapping):
            _check_keys(problems, path, spec, ("description", "values"))
            description = _text(problems, f"{path}.description", spec.get("description"), required=False)
            if "values" not in spec:
                problems.add(f"{path}.values", "is missing; list the values of this dimension")
                continue
            values = _parse_weighted(problems, f"{path}.values", spec["values"])
            values_path = f"{path}.values"
        else:
            values = _parse_weighted(problems, path, spec)
            values_path = path
        if not values and spec is not None:
            if spec in ([], {}) or (isinstance(spec, Mapping) and spec.get("values") in ([], {}, None)):
                problems.add(values_path, "has no values; list at least one value")
            continue
        if spec is None:
            problems.add(path, "has no values; list at least one value")
            continue
        if all(n.startswith("~") for n, _ in values):
            problems.add(values_path, "has only negative (~) values; add at least one positive value")
        if all(w <= 0 for n, w in values if not n.startswith("~")):
            problems.add(values_path, "positive values all have weight 0; give one a positive weight")
        dims.append(Dimension(str(name), description, tuple(Value(n, w) for n, w in values)))
    return dims


def _resolve_value(dim: Dimension, written: str) -> str | None:
    """Accept `outside_policy` for `~outside_policy` in constraints and includes."""
    for value in dim.values:
        if written in (value.name, value.name.lstrip("~")):
            return value.name
    return None


def _parse_constraints(problems: _Problems, raw: Any, dims: list[Dimension]) -> list[Constraint]:
    if raw is None:
        return []
    if not isinstance(raw, list | tuple):
        problems.add("constraints", "expected a list of constraint strings")
        return []
    by_name = {d.name: d for d in dims}
    result: list[Constraint] = []
    for i, text in enumerate(raw):
        path = f"constraints[{i}]"
        if not isinstance(text, str):
            problems.add(path, f"must be a string like \"intent == 'refund' -> difficulty != 'easy'\", got {text!r}")
            continue
        try:
            constraint = parse_constraint(text)
        except ConstraintSyntaxError as exc:
            problems.add(path, f"does not parse ({exc}) in {text!r}; use ==, !=, in, and, or, not, ->")
            continue
        ok = True
        for compare in constraint.comparisons():
            dim = by_name.get(compare.dim)
            if dim is None:
                hint = _closest(compare.dim, by_name)
                problems.add(path, f"names unknown dimension `{compare.dim}`"
                             + (f"; did you mean `{hint}`?" if hint else f"; known: {', '.join(by_name)}"))
                ok = False
                continue
            for value in compare.values:
                if _resolve_value(dim, value) is None:
                    problems.add(path, f"dimension `{dim.name}` has no value `{value}`; its values are "
                                 + ", ".join(v.name for v in dim.values))
                    ok = False
        if ok:

            def resolve(compare: Compare) -> Compare:
                dim = by_name[compare.dim]
                names = frozenset(_resolve_value(dim, v) or v for v in compare.values)
                return Compare(compare.dim, names, compare.negated)

            result.append(Constraint(text, map_compares(constraint.root, resolve)))
    return result


def _parse_columns(problems: _Problems, raw: Any, variables: tuple[Variable, ...]) -> list[Column]:
    columns: list[Column] = []
    data = _as_mapping(problems, "columns", raw, "a mapping of evaluator column names")
    if not data:
        problems.add("columns", "declare at least one evaluator column")
    taken = {v.name for v in variables}
    for name, spec in data.items():
        path = f"columns.{name}"
        if str(name) in taken:
            problems.add(path, "has the same name as a prompt variable; rename the column")
        spec = _as_mapping(problems, path, spec, "a mapping with `type`")
        _check_keys(problems, path, spec, ("type", "description", "values"))
        kind = spec.get("type", "text")
        if kind not in COLUMN_TYPES:
            hint = _closest(str(kind), COLUMN_TYPES)
            problems.add(f"{path}.type", f"unknown column type {kind!r}; use one of {', '.join(COLUMN_TYPES)}"
                         + (f" (did you mean `{hint}`?)" if hint else ""))
            continue
        values: tuple[str, ...] = ()
        if kind == "enum":
            raw_values = spec.get("values")
            if not isinstance(raw_values, list | tuple) or not raw_values:
                problems.add(f"{path}.values", "an enum column needs a non-empty list of values")
                continue
            values = tuple(str(v) for v in raw_values)
        elif "values" in spec:
            problems.add(f"{path}.values", "only enum columns take values; remove it or set type: enum")
        description = _text(problems, f"{path}.description", spec.get("description"), required=False)
        columns.append(Column(str(name), str(kind), description, values))
    return columns


def _parse_strategies(problems: _Problems, raw: Any, templates: frozenset[str]) -> list[Strategy]:
    pairs = _parse_weighted(problems, "strategies", raw)
    strategies: list[Strategy] = []
    for name, weight in pairs:
        if name not in templates:
            hint = _closest(name, templates)
            problems.add(f"strategies.{name}", f"unknown strategy with no template; add templates/{name}.j2"
                         + (f" or did you mean `{hint}`?" if hint else ""))
            continue
        if weight > 0:
            strategies.append(Strategy(name, weight, negative=name in NEGATIVE_CAPABLE))
    return strategies


def _parse_coverage(problems: _Problems, raw: Any, dims: list[Dimension]) -> Coverage:
    if raw is None:
        raw = 2
    if not isinstance(raw, Mapping):
        raw = {"strength": raw}
    _check_keys(problems, "coverage", raw, ("strength", "groups", "include"))
    strength = _number(problems, "coverage.strength", raw.get("strength", 2), integer=True, low=1, high=4)
    by_name = {d.name: d for d in dims}
    if strength is not None and dims and strength > len(dims):
        problems.add("coverage.strength", f"is {strength} but there are only {len(dims)} dimensions; "
                     f"use a strength between 1 and {len(dims)}")
        strength = None
    groups: list[tuple[tuple[str, ...], int]] = []
    for i, group in enumerate(raw.get("groups") or ()):
        path = f"coverage.groups[{i}]"
        group = _as_mapping(problems, path, group, "a mapping with `dims` and `strength`")
        _check_keys(problems, path, group, ("dims", "strength"))
        names = group.get("dims") or []
        unknown = [n for n in names if n not in by_name]
        if unknown or not names:
            problems.add(f"{path}.dims", f"names unknown dimension(s) {', '.join(map(str, unknown)) or '(none)'}; "
                         f"known: {', '.join(by_name)}")
            continue
        g_strength = _number(problems, f"{path}.strength", group.get("strength"), integer=True, low=1, high=4)
        if g_strength is not None and g_strength > len(names):
            problems.add(f"{path}.strength", f"is {g_strength} but the group has {len(names)} dimensions")
            continue
        if g_strength is not None:
            if g_strength >= 2:
                negative_dims = [n for n in names if any(v.negative for v in by_name[n].values)]
                if len(negative_dims) == len(names):
                    problems.add(f"{path}.dims", "every dimension of the group has negative values and a row "
                                 "holds at most one; add a dimension without negative values or lower the strength")
                    continue
            groups.append((tuple(names), g_strength))
    include: list[tuple[tuple[str, str], ...]] = []
    for i, row in enumerate(raw.get("include") or ()):
        path = f"coverage.include[{i}]"
        row = _as_mapping(problems, path, row, "a mapping dimension: value")
        resolved: list[tuple[str, str]] = []
        for dim_name, value in row.items():
            dim = by_name.get(str(dim_name))
            if dim is None:
                problems.add(f"{path}.{dim_name}", f"unknown dimension; known: {', '.join(by_name)}")
                continue
            name = _resolve_value(dim, str(value))
            if name is None:
                problems.add(f"{path}.{dim_name}", f"unknown value {value!r}; values: "
                             + ", ".join(v.name for v in dim.values))
                continue
            resolved.append((dim.name, name))
        if sum(1 for d, v in resolved if v.startswith("~")) > 1:
            problems.add(path, "holds two negative values; a case carries at most one")
        include.append(tuple(resolved))
    return Coverage(strength or 1, tuple(groups), tuple(include))


def _parse_lm(problems: _Problems, raw: Any) -> LMSpec:
    data = _as_mapping(problems, "lm", raw, "a mapping (pick one with lm=offline|openai|...)")
    allowed = ("kind", "model", "api_base", "api_key_env", "temperature", "max_tokens", "timeout",
               "concurrency", "max_retries", "price")
    _check_keys(problems, "lm", data, allowed)
    kind = data.get("kind", "offline")
    if kind not in LM_KINDS:
        problems.add("lm.kind", f"unknown LM kind {kind!r}; use one of {', '.join(LM_KINDS)}")
        kind = "offline"
    if "api_key" in data:
        problems.add("lm.api_key", "keys never go in YAML; set api_key_env to the name of an environment variable")
    price = _as_mapping(problems, "lm.price", data.get("price") or {}, "a mapping with input and output")
    _check_keys(problems, "lm.price", price, ("input", "output"))
    kwargs: dict[str, Any] = {"kind": kind, "model": _text(problems, "lm.model", data.get("model"))}
    for key in ("api_base", "api_key_env"):
        if data.get(key) is not None:
            kwargs[key] = _text(problems, f"lm.{key}", data.get(key))
    if kwargs["model"] == "???":
        problems.add("lm.model", "is not set; give it on the command line, e.g. lm.model=my-model")
    if kwargs.get("api_base") == "???":
        problems.add("lm.api_base", "is not set; give the server's URL, e.g. lm.api_base=http://127.0.0.1:8000/v1")
    elif kwargs.get("api_base"):
        from urllib.parse import urlsplit

        parts = urlsplit(kwargs["api_base"])
        if parts.scheme not in ("http", "https") or not parts.netloc:
            problems.add("lm.api_base", "must be an http(s) URL such as http://127.0.0.1:8000/v1")
        elif parts.username or parts.password or parts.query:
            problems.add("lm.api_base", "holds credentials or a query string, which would reach the manifest; "
                         "put the key in an environment variable named by lm.api_key_env")
    for key, integer, low in (("temperature", False, 0), ("max_tokens", True, 1), ("timeout", False, 0),
                              ("concurrency", True, 1), ("max_retries", True, 0)):
        if data.get(key) is not None:
            value = _number(problems, f"lm.{key}", data[key], integer=integer, low=low,
                            low_open=key == "timeout")
            if value is not None:
                kwargs[key] = value
    for key in ("input", "output"):
        if price.get(key) is not None:
            value = _number(problems, f"lm.price.{key}", price[key], low=0)
            if value is not None:
                kwargs[f"price_{key}"] = float(value)
    return LMSpec(**kwargs)


def _parse_catalogue(problems: _Problems, path: str, raw: Any, fields: tuple[str, ...]) -> list[dict[str, str]]:
    data = _as_mapping(problems, path, raw if raw is not None else {}, "a mapping of ids")
    entries: list[dict[str, str]] = []
    for entry_id, spec in data.items():
        spec = _as_mapping(problems, f"{path}.{entry_id}", spec, "a mapping")
        _check_keys(problems, f"{path}.{entry_id}", spec, fields)
        entry = {"id": str(entry_id)}
        for key in fields:
            entry[key] = _text(problems, f"{path}.{entry_id}.{key}", spec.get(key))
        entries.append(entry)
    return entries


def _parse_dedupe(problems: _Problems, raw: Any, variables: tuple[Variable, ...]) -> Dedupe:
    data = _as_mapping(problems, "dedupe", raw if raw is not None else {}, "a mapping with `near` and `on`")
    _check_keys(problems, "dedupe", data, ("near", "on", "existing"))
    existing = data.get("existing", ["curated", "versions"])
    if isinstance(existing, str):
        existing = [existing]
    for kind in existing or []:
        if kind not in ("curated", "versions"):
            problems.add("dedupe.existing", f"unknown kind {kind!r}; use a list of curated, versions (or [])")
    near = data.get("near", 0.85)
    if near is not None:
        near = _number(problems, "dedupe.near", near, low=0, high=1, low_open=True)
    names = [v.name for v in variables]
    on = data.get("on") or names
    if isinstance(on, str):
        on = [on]
    for name in on:
        if name not in names:
            problems.add("dedupe.on", f"`{name}` is not a prompt variable; use some of {', '.join(names)}")
    return Dedupe(near=None if near is None else float(near), on=tuple(str(n) for n in on),
                  existing=tuple(str(k) for k in existing or ()))


def validate_config(raw: Mapping[str, Any], origins: Origins, templates: frozenset[str],
                    base_dir: Any = None) -> Spec:
    """Turn a composed config into a Spec, or raise ConfigError listing every problem."""
    problems = _Problems(origins)
    _check_keys(problems, "", raw, ROOT_KEYS)
    name = _text(problems, "name", raw.get("name"))
    description = _text(problems, "description", raw.get("description"))
    prompt = _parse_prompt(problems, raw.get("prompt"))
    dims = _parse_dimensions(problems, raw.get("dimensions"))
    constraints = _parse_constraints(problems, raw.get("constraints"), dims)
    columns = _parse_columns(problems, raw.get("columns"), prompt.variables)
    strategies = _parse_strategies(problems, raw.get("strategies"), templates)
    if not strategies and raw.get("strategies") is not None and not problems.lines:
        problems.add("strategies", "no strategy has a positive weight; give one a weight above 0")
    size = _number(problems, "size", raw.get("size"), integer=True, low=1)
    coverage = _parse_coverage(problems, raw.get("coverage"), dims)
    for i, row in enumerate(coverage.include):
        for constraint in constraints:
            if constraint.evaluate(dict(row)) is False:
                problems.add(f"coverage.include[{i}]", f"violates the constraint {constraint.text!r}; "
                             "change the row or the constraint")
    overgenerate = _number(problems, "overgenerate", raw.get("overgenerate", 1.5), low=1, high=20)
    seed = _number(problems, "seed", raw.get("seed", 0), integer=True, low=0)
    max_rounds = _number(problems, "max_rounds", raw.get("max_rounds", 3), integer=True, low=0, high=50)
    dedupe = _parse_dedupe(problems, raw.get("dedupe"), prompt.variables)
    lm = _parse_lm(problems, raw.get("lm"))
    personas = _parse_catalogue(problems, "personas", raw.get("personas"),
                                ("expertise", "style", "goal", "locale", "description"))
    tactics = _parse_catalogue(problems, "tactics", raw.get("tactics"), ("description",))
    if any(s.name == "persona" for s in strategies) and not personas:
        problems.add("personas", "the persona strategy needs at least one persona; pick personas=default")
    if any(s.name == "adversarial" for s in strategies) and not tactics:
        problems.add("tactics", "the adversarial strategy needs at least one tactic; pick tactics=default")
    budget_raw = _as_mapping(problems, "budget", raw.get("budget") or {}, "a mapping")
    _check_keys(problems, "budget", budget_raw, ("max_calls", "max_usd"))
    max_calls = budget_raw.get("max_calls")
    max_usd = budget_raw.get("max_usd")
    if max_calls is not None:
        max_calls = _number(problems, "budget.max_calls", max_calls, integer=True, low=0)
    if max_usd is not None:
        max_usd = _number(problems, "budget.max_usd", max_usd, low=0)
    sources = None
    if raw.get("sources") and dims and not problems.lines:
        from pathlib import Path

        from compiler.curated import Sources

        try:
            sources = Sources.from_config(raw.get("sources"), dims, Path(base_dir or "."))
        except ConfigError as exc:
            for line in str(exc).splitlines():
                key, _, message = line.partition(": ")
                problems.add(key, message)
    if constraints and dims and not problems.lines:
        _check_satisfiable(problems, dims, constraints)
    checks_raw = _as_mapping(problems, "checks", raw.get("checks") or {}, "a mapping")
    _check_keys(problems, "checks", checks_raw, ("min_input_chars", "max_input_chars"))
    checks = ChecksSpec(**{k: v for k in ("min_input_chars", "max_input_chars") if k in checks_raw
                           and (v := _number(problems, f"checks.{k}", checks_raw[k], integer=True, low=0)) is not None})
    shard_raw = _as_mapping(problems, "shard", raw.get("shard") or {}, "a mapping with index and count")
    _check_keys(problems, "shard", shard_raw, ("index", "count"))
    shard_count = _number(problems, "shard.count", shard_raw.get("count", 1), integer=True, low=1)
    shard_index = _number(problems, "shard.index", shard_raw.get("index", 0), integer=True, low=0)
    if shard_count is not None and shard_index is not None and shard_index >= shard_count:
        problems.add("shard.index", f"is {shard_index} but must be in [0, {shard_count}); "
                     f"shards are numbered 0 to shard.count - 1")
    if problems.lines:
        raise ConfigError("\n".join(problems.lines))
    return Spec(
        name=name, description=description, prompt=prompt, dimensions=tuple(dims),
        constraints=tuple(constraints), columns=tuple(columns), strategies=tuple(strategies),
        size=int(size), coverage=coverage, overgenerate=float(overgenerate), dedupe=dedupe,
        seed=int(seed), max_rounds=int(max_rounds), lm=lm,
        personas=tuple(Persona(**p) for p in personas), tactics=tuple(Tactic(**t) for t in tactics),
        budget=Budget(max_calls, None if max_usd is None else float(max_usd)),
        out_dir=str(raw.get("out_dir", "outputs")), journal_dir=str(raw.get("journal_dir", ".dsc")),
        reviews_dir=str(raw.get("reviews_dir", "reviews")), datasets_dir=str(raw.get("datasets_dir", "datasets")),
        sources=sources, checks=checks, shard=Shard(shard_index or 0, shard_count or 1), resolved=raw,
    )


def _check_satisfiable(problems: _Problems, dims: list[Dimension], constraints: list[Constraint]) -> None:
    """At least one positive cell must satisfy every constraint (depth-first with pruning)."""
    positive = [[v.name for v in d.values if not v.negative and v.weight > 0] for d in dims]

    def extend(index: int, cell: dict[str, str]) -> bool:
        for constraint in constraints:
            if constraint.evaluate(cell) is False:
                return False
        if index == len(dims):
            return True
        for value in positive[index]:
            cell[dims[index].name] = value
            if extend(index + 1, cell):
                return True
            del cell[dims[index].name]
        return False

    if not extend(0, {}):
        problems.add("constraints", "exclude every cell of the test space; relax or remove a constraint")
