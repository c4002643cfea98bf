"""The run settings of a dataset config: coverage, lm, personas/tactics, budget, checks, shard."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from compiler.spec.model import (
    LM_KINDS,
    MAX_FAILURE_RATE,
    Budget,
    ChecksSpec,
    Coverage,
    Dimension,
    LMSpec,
    Shard,
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


def parse_coverage(
    problems: Problems, raw: Any, dims: list[Dimension], broken: frozenset[str] = frozenset()
) -> Coverage:
    """`coverage:` as a strength or {strength, groups, include}; `broken` dimensions failed on their own line."""
    if raw is None:  # unwritten: pairwise, or all of them when a space has a single dimension
        raw = min(2, len(dims)) if dims else 2
    if not isinstance(raw, Mapping):
        raw = {"strength": raw}
    check_keys(problems, "coverage", raw, ("strength", "groups", "include"))
    strength = parse_number(
        problems, "coverage.strength", raw.get("strength", 2), integer=True, within=Range(low=1, high=4)
    )
    by_name = {d.name: d for d in dims}
    if strength is not None and dims and strength > len(dims) + len(broken):
        problems.add(
            "coverage.strength",
            f"is {strength} but there {'is' if len(dims) == 1 else 'are'} only {len(dims)} "
            f"dimension{'' if len(dims) == 1 else 's'}; "
            + ("use coverage: 1" if len(dims) == 1 else f"use a strength between 1 and {len(dims)}"),
        )
        strength = None
    groups: list[tuple[tuple[str, ...], int]] = []
    for i, group in enumerate(raw.get("groups") or ()):
        path = f"coverage.groups[{i}]"
        group = parse_mapping(problems, path, group, "a mapping with `dims` and `strength`")
        check_keys(problems, path, group, ("dims", "strength"))
        names = group.get("dims") or []
        unknown = [n for n in names if n not in by_name]
        if any(n in broken for n in unknown):
            continue
        if unknown or not names:
            problems.add(
                f"{path}.dims",
                f"names unknown dimension(s) {', '.join(map(str, unknown)) or '(none)'}; "
                f"known: {', '.join(by_name)}",
            )
            continue
        g_strength = parse_number(
            problems, f"{path}.strength", group.get("strength"), integer=True, within=Range(low=1, high=4)
        )
        if g_strength is not None and g_strength > len(names):
            problems.add(f"{path}.strength", f"is {g_strength} but the group has {len(names)} dimensions")
            continue
        if g_strength is not None:
            if g_strength >= 2:
                negative_dims = [n for n in names if any(v.negative for v in by_name[n].values)]
                if len(negative_dims) == len(names):
                    problems.add(
                        f"{path}.dims",
                        "every dimension of the group has negative values and a row "
                        "holds at most one; add a dimension without negative values or lower the strength",
                    )
                    continue
            groups.append((tuple(names), g_strength))
    include: list[tuple[tuple[str, str], ...]] = []
    for i, row in enumerate(raw.get("include") or ()):
        path = f"coverage.include[{i}]"
        row = parse_mapping(problems, path, row, "a mapping dimension: value")
        resolved: list[tuple[str, str]] = []
        for dim_name, value in row.items():
            dim = by_name.get(str(dim_name))
            if dim is None and str(dim_name) in broken:
                continue
            if dim is None:
                problems.add(f"{path}.{dim_name}", f"unknown dimension; known: {', '.join(by_name)}")
                continue
            name = resolve_value_name(dim, str(value))
            if name is None:
                problems.add(
                    f"{path}.{dim_name}",
                    f"unknown value {value!r}; values: " + ", ".join(v.name for v in dim.values),
                )
                continue
            resolved.append((dim.name, name))
        if sum(1 for d, v in resolved if v.startswith("~")) > 1:
            problems.add(path, "holds two negative values; a case carries at most one")
        include.append(tuple(resolved))
    return Coverage(strength or 1, tuple(groups), tuple(include))


def parse_lm(problems: Problems, raw: Any) -> LMSpec:
    data = parse_mapping(problems, "lm", raw, "a mapping (pick one with lm=offline|openai|...)")
    allowed = (
        "kind",
        "model",
        "api_base",
        "api_key_env",
        "temperature",
        "max_tokens",
        "timeout",
        "concurrency",
        "max_retries",
        "price",
    )
    check_keys(problems, "lm", data, allowed)
    kind = data.get("kind", "offline")
    if kind not in LM_KINDS:
        problems.add("lm.kind", f"unknown LM kind {kind!r}; use one of {', '.join(LM_KINDS)}")
        kind = "offline"
    if "api_key" in data:
        problems.add(
            "lm.api_key", "keys never go in YAML; set api_key_env to the name of an environment variable"
        )
    price = parse_mapping(problems, "lm.price", data.get("price") or {}, "a mapping with input and output")
    check_keys(problems, "lm.price", price, ("input", "output"))
    kwargs: dict[str, Any] = {"kind": kind, "model": parse_text(problems, "lm.model", data.get("model"))}
    for key in ("api_base", "api_key_env"):
        if data.get(key) is not None:
            kwargs[key] = parse_text(problems, f"lm.{key}", data.get(key))
    if kwargs["model"] == "???":
        example = "gemini/gemini-2.5-flash" if kind == "dspy" else "my-model"
        problems.add("lm.model", f"is not set; give it on the command line, e.g. lm.model={example}")
    elif kind == "dspy" and kwargs["model"] and "/" not in kwargs["model"].strip("/"):
        problems.add(
            "lm.model",
            f"{kwargs['model']!r} names no provider; give provider/model as dspy.LM takes it, "
            "e.g. openai/gpt-4o-mini or gemini/gemini-2.5-flash",
        )
    if kwargs.get("api_base") == "???":
        problems.add(
            "lm.api_base", "is not set; give the server's URL, e.g. lm.api_base=http://127.0.0.1:8000/v1"
        )
    elif kwargs.get("api_base"):
        from urllib.parse import urlsplit

        parts = urlsplit(kwargs["api_base"])
        if parts.scheme not in ("http", "https") or not parts.netloc:
            problems.add("lm.api_base", "must be an http(s) URL such as http://127.0.0.1:8000/v1")
        elif parts.username or parts.password or parts.query:
            problems.add(
                "lm.api_base",
                "holds credentials or a query string, which would reach the manifest; "
                "put the key in an environment variable named by lm.api_key_env",
            )
    for key, integer, low in (
        ("temperature", False, 0),
        ("max_tokens", True, 1),
        ("timeout", False, 0),
        ("concurrency", True, 1),
        ("max_retries", True, 0),
    ):
        if data.get(key) is not None:
            value = parse_number(
                problems,
                f"lm.{key}",
                data[key],
                integer=integer,
                within=Range(low=low, low_open=key == "timeout"),
            )
            if value is not None:
                kwargs[key] = value
    for key in ("input", "output"):
        if price.get(key) is not None:
            value = parse_number(problems, f"lm.price.{key}", price[key], within=Range(low=0))
            if value is not None:
                kwargs[f"price_{key}"] = float(value)
    return LMSpec(**kwargs)


def parse_catalogue(problems: Problems, path: str, raw: Any, fields: tuple[str, ...]) -> list[dict[str, str]]:
    data = parse_mapping(problems, path, raw if raw is not None else {}, "a mapping of ids")
    entries: list[dict[str, str]] = []
    for entry_id, spec in data.items():
        where = f"{path}.{entry_id}"
        spec = parse_mapping(problems, where, spec, "a mapping")
        check_keys(problems, where, spec, fields)
        typos = {closest_name(str(k), fields) for k in spec if k not in fields}
        missing = [k for k in fields if spec.get(k) is None and k not in typos]
        if missing:
            problems.add(
                where,
                f"has no {', '.join(missing)}; every entry of {path} sets {', '.join(fields)} "
                f"(see dsc's built-in conf/{path}/default.yaml)",
            )
        entry = {"id": str(entry_id)}
        for key in fields:
            entry[key] = (
                parse_text(problems, f"{where}.{key}", spec.get(key)) if spec.get(key) is not None else ""
            )
        entries.append(entry)
    return entries


def parse_budget(problems: Problems, raw: Any) -> Budget:
    """`budget`: optional caps on LM calls and dollars."""
    budget_raw = parse_mapping(problems, "budget", raw or {}, "a mapping")
    check_keys(problems, "budget", budget_raw, ("max_calls", "max_usd"))
    max_calls = budget_raw.get("max_calls")
    max_usd = budget_raw.get("max_usd")
    if max_calls is not None:
        max_calls = parse_number(problems, "budget.max_calls", max_calls, integer=True, within=Range(low=0))
    if max_usd is not None:
        max_usd = parse_number(problems, "budget.max_usd", max_usd, within=Range(low=0))
    return Budget(max_calls, None if max_usd is None else float(max_usd))


def parse_failure_rate(problems: Problems, raw: Any) -> float:
    """`max_failure_rate`: the share of failed LM calls above which a compile publishes nothing (exit 3)."""
    if raw is None:
        return MAX_FAILURE_RATE
    rate = parse_number(problems, "max_failure_rate", raw, within=Range(low=0, high=1))
    return MAX_FAILURE_RATE if rate is None else float(rate)


def parse_checks(problems: Problems, raw: Any) -> ChecksSpec:
    """`checks`: the bounds every generated input must meet."""
    checks_raw = parse_mapping(problems, "checks", raw or {}, "a mapping")
    check_keys(
        problems,
        "checks",
        checks_raw,
        ("min_input_chars", "max_input_chars", "plausibility", "min_plausibility"),
    )
    values: dict[str, Any] = {
        k: v
        for k in ("min_input_chars", "max_input_chars")
        if k in checks_raw
        and (v := parse_number(problems, f"checks.{k}", checks_raw[k], integer=True, within=Range(low=0)))
        is not None
    }
    if "plausibility" in checks_raw:
        if isinstance(checks_raw["plausibility"], bool):
            values["plausibility"] = checks_raw["plausibility"]
        else:
            problems.add("checks.plausibility", f"must be true or false, got {checks_raw['plausibility']!r}")
    if "min_plausibility" in checks_raw:
        low = parse_number(
            problems, "checks.min_plausibility", checks_raw["min_plausibility"], within=Range(low=0, high=1)
        )
        if low is not None:
            values["min_plausibility"] = float(low)
    return ChecksSpec(**values)


def parse_shard(problems: Problems, raw: Any) -> Shard:
    """`shard`: which part of the plan this run generates."""
    shard_raw = parse_mapping(problems, "shard", raw or {}, "a mapping with index and count")
    check_keys(problems, "shard", shard_raw, ("index", "count"))
    shard_count = parse_number(
        problems, "shard.count", shard_raw.get("count", 1), integer=True, within=Range(low=1)
    )
    shard_index = parse_number(
        problems, "shard.index", shard_raw.get("index", 0), integer=True, within=Range(low=0)
    )
    if shard_count is not None and shard_index is not None and shard_index >= shard_count:
        problems.add(
            "shard.index",
            f"is {shard_index} but must be in [0, {shard_count}); shards are numbered 0 to shard.count - 1",
        )
    return Shard(shard_index or 0, shard_count or 1)
