"""The test space's dimensions and constraints: weighted values, constraint syntax, satisfiability."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from typing import Any

from compiler.spec.constraints import (
    Compare,
    Constraint,
    ConstraintSyntaxError,
    has_satisfying_cell,
    map_compares,
    parse_constraint,
)
from compiler.spec.model import (
    Dimension,
    Value,
)
from compiler.spec.validate.fields import (
    Problems,
    Range,
    check_keys,
    closest_name,
    parse_mapping,
    parse_number,
    parse_text,
    resolve_value_name,
)


def yaml_non_names(names: list[Any]) -> str:
    """Why names YAML read as booleans or null are refused (true/yes/on unquoted), or "" when none are."""
    unquoted = [n for n in names if isinstance(n, bool) or n is None]
    if not unquoted:
        return ""
    what = "null" if None in unquoted else "boolean" if len(unquoted) == 1 else "booleans"
    return (
        f"YAML reads unquoted true/false/yes/no/on/off as booleans and null as nothing ({len(unquoted)} "
        f"{what} here), not value names; quote them, e.g. ['yes', 'no']"
    )


def parse_weighted(problems: Problems, path: str, raw: Any) -> list[tuple[str, float]]:
    """`[a, b]` (equal weights) or `{a: 3, b: 1}` -> [(name, weight)]."""
    if isinstance(raw, list | tuple):
        pairs = [(item, 1.0) for item in raw]
    elif isinstance(raw, Mapping):
        pairs = list(raw.items())
    else:
        problems.add(path, f"expected a list of values or a mapping value: weight, got {raw!r}")
        return []
    result: list[tuple[str, float]] = []
    unquoted = yaml_non_names([name for name, _ in pairs])
    if unquoted:
        problems.add(path, unquoted)
    numbers = [name for name, _ in pairs if isinstance(name, float)]
    if numbers:  # `1.10` is the number 1.1 to YAML: the name as written is gone
        shown = ", ".join(repr(n) for n in numbers)
        problems.add(
            path,
            f"YAML reads unquoted {shown} as {'a number' if len(numbers) == 1 else 'numbers'} (1.10 becomes 1.1), "
            f"not value names; quote them, e.g. ['{numbers[0]!r}']",
        )
    for name, weight in pairs:
        if isinstance(name, bool) or name is None:
            continue
        if isinstance(name, float):  # said once below for all of them
            continue
        if not isinstance(name, str | int) or str(name).strip() in ("", "~"):
            problems.add(path, f"value names must be non-empty strings, got {name!r}")
            continue
        w = parse_number(problems, f"{path}.{name}", weight, within=Range(low=0))
        if w is not None:
            result.append((str(name), float(w)))
    counts = Counter(n for n, _ in result)
    twice = [n for n, count in counts.items() if count > 1]
    if twice:
        problems.add(path, f"lists the value `{twice[0]}` twice; give each value once")
    if result and sum(w for _, w in result) <= 0:
        problems.add(path, "weights sum to 0; give one value a positive weight")
    return result


def parse_dimensions(problems: Problems, raw: Any) -> list[Dimension]:
    dims: list[Dimension] = []
    data = parse_mapping(problems, "dimensions", raw, "a mapping of dimension names")
    if not data:
        problems.add("dimensions", "declare at least one dimension with values")
    for name, spec in data.items():
        path = f"dimensions.{name}"
        description = ""
        # `topic: {leave: 3, payroll: 1}` (values and their weights) reads as the short form's list does
        if isinstance(spec, Mapping) and not _weights_only(spec):
            check_keys(problems, path, spec, ("description", "values"))
            description = parse_text(problems, f"{path}.description", spec.get("description"), required=False)
            if "values" not in spec:
                problems.add(f"{path}.values", "is missing; list the values of this dimension")
                continue
            values = parse_weighted(problems, f"{path}.values", spec["values"])
            values_path = f"{path}.values"
        else:
            values = parse_weighted(problems, path, spec)
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
        if sum(w for _, w in values) > 0 and all(w <= 0 for n, w in values if not n.startswith("~")):
            # (all weights 0 was said once already, by parse_weighted)
            problems.add(values_path, "positive values all have weight 0; give one a positive weight")
        dims.append(Dimension(str(name), description, tuple(Value(n, w) for n, w in values)))
    return dims


def _weights_only(spec: Mapping[Any, Any]) -> bool:
    """A dimension written as value: weight pairs, with neither of the long form's keys."""
    return (
        bool(spec)
        and not {"description", "values"} & set(spec)
        and all(isinstance(w, int | float) and not isinstance(w, bool) for w in spec.values())
    )


def broken_dimensions(raw: Any, dims: list[Dimension]) -> frozenset[str]:
    """Dimensions the file declares that did not validate: their own line says why, so a constraint or a
    coverage row naming one says nothing more (it is not an unknown dimension)."""
    if not isinstance(raw, Mapping):
        return frozenset()
    return frozenset(str(name) for name in raw) - {d.name for d in dims}


def parse_constraints(
    problems: Problems, raw: Any, dims: list[Dimension], broken: frozenset[str] = frozenset()
) -> list[Constraint]:
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
            problems.add(
                path, f"must be a string like \"intent == 'refund' -> difficulty != 'easy'\", got {text!r}"
            )
            continue
        try:
            constraint = parse_constraint(text)
        except ConstraintSyntaxError as exc:
            problems.add(path, f"does not parse ({exc}) in {text!r}; use ==, !=, in, and, or, not, ->")
            continue
        ok = True
        for compare in constraint.comparisons():
            dim = by_name.get(compare.dim)
            if dim is None and compare.dim in broken:
                ok = False
                continue
            if dim is None:
                hint = closest_name(compare.dim, by_name)
                problems.add(
                    path,
                    f"names unknown dimension `{compare.dim}`"
                    + (
                        f"; did you mean `{hint}`?"
                        if hint
                        else f"; known: {', '.join(by_name)}"
                        if by_name
                        else "; no dimension is declared"
                    ),
                )
                ok = False
                continue
            for value in compare.values:
                if resolve_value_name(dim, value) is None:
                    names = [v.name for v in dim.values]
                    close = closest_name(value, names)
                    problems.add(
                        path,
                        f"dimension `{dim.name}` has no value `{value}`; "
                        + (f"did you mean `{close}`? " if close else "")
                        + f"its values are {', '.join(names)}",
                    )
                    ok = False
        if ok:

            def resolve(compare: Compare) -> Compare:
                dim = by_name[compare.dim]
                names = frozenset(resolve_value_name(dim, v) or v for v in compare.values)
                return Compare(compare.dim, names, compare.negated)

            result.append(Constraint(text, map_compares(constraint.root, resolve)))
    return result


def check_satisfiable(problems: Problems, dims: list[Dimension], constraints: list[Constraint]) -> None:
    """At least one positive cell must satisfy every constraint."""
    positive = [(d.name, [v.name for v in d.values if not v.negative and v.weight > 0]) for d in dims]
    if not has_satisfying_cell(positive, constraints):
        problems.add("constraints", "exclude every cell of the test space; relax or remove a constraint")
