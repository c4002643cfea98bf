"""Plan properties: deterministic per seed, exact strategy counts, constraints and negatives respected."""

from __future__ import annotations

import copy
import json
import math
import subprocess
import sys
from collections import Counter
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from compiler.plan.cases import plan_cases, split_by_weight
from compiler.spec.compose import Project, compose_config
from compiler.spec.model import Spec
from compiler.spec.validate.dataset import validate_config

PROJECT = Project.locate()
BASE, ORIGINS = compose_config(["dataset=support_bot"], PROJECT)
TEMPLATES = PROJECT.template_names()


@st.composite
def specs(draw: st.DrawFn) -> Spec:
    raw: dict[str, Any] = copy.deepcopy(BASE)
    raw.pop("sources", None)
    n_dims = draw(st.integers(2, 5))
    dims: dict[str, Any] = {}
    for d in range(n_dims):
        n_values = draw(st.integers(1, 4))
        values = {f"v{d}{i}": draw(st.integers(1, 5)) for i in range(n_values)}
        if draw(st.booleans()):
            values[f"~n{d}"] = draw(st.integers(1, 3))
        dims[f"d{d}"] = {"description": f"dimension {d}", "values": values}
    raw["dimensions"] = dims
    positive_d1 = [v for v in dims["d1"]["values"] if not v.startswith("~")]
    raw["constraints"] = ["d0 == v00 -> d1 != v10"] if len(positive_d1) > 1 else []
    raw["strategies"] = {
        name: draw(st.integers(0, 6)) for name in ("direct", "persona", "adversarial", "evaluator_aligned")
    }
    if not any(raw["strategies"].values()):
        raw["strategies"]["direct"] = 1
    raw["size"] = draw(st.integers(1, 150))
    raw["overgenerate"] = draw(st.sampled_from([1.0, 1.25, 1.5, 2.0]))
    raw["seed"] = draw(st.integers(0, 10_000))
    raw["coverage"] = 1
    return validate_config(raw, ORIGINS, TEMPLATES)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(specs())
def test_same_seed_gives_the_same_plan(spec: Spec) -> None:
    assert plan_cases(spec).cases == plan_cases(spec).cases


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(specs())
def test_strategy_counts_follow_the_weights_exactly(spec: Spec) -> None:
    plan = plan_cases(spec)
    targets = dict(plan.targets)
    assert sum(targets.values()) == spec.size
    total_weight = sum(s.weight for s in spec.strategies)
    for strategy in spec.strategies:
        exact = spec.size * strategy.weight / total_weight
        assert math.floor(exact) <= targets[strategy.name] <= math.ceil(exact)
    primary = Counter(c.strategy for c in plan.cases if c.primary)
    planned = Counter(c.strategy for c in plan.cases)
    for name, target in targets.items():
        assert primary[name] == target
        assert planned[name] == math.ceil(target * spec.overgenerate)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(specs())
def test_cells_respect_constraints_and_negatives(spec: Spec) -> None:
    for case in plan_cases(spec).cases:
        cell = dict(case.cell)
        assert spec.allows(cell) is True
        negatives = sum(1 for v in cell.values() if v.startswith("~"))
        assert negatives <= 1
        if negatives:
            assert case.strategy == "adversarial"


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(specs())
def test_slots_make_every_case_distinct(spec: Spec) -> None:
    cases = plan_cases(spec).cases
    keys = [(c.strategy, c.variant, c.cell, c.slot) for c in cases]
    assert len(set(keys)) == len(keys)


def test_personas_and_tactics_are_balanced() -> None:
    raw = copy.deepcopy(BASE)
    raw["size"] = 240
    spec = validate_config(raw, ORIGINS, TEMPLATES)
    plan = plan_cases(spec)
    for strategy in ("persona", "adversarial"):
        counts = Counter(c.variant for c in plan.cases if c.primary and c.strategy == strategy)
        assert max(counts.values()) - min(counts.values()) <= 1


def test_split_by_weight_is_largest_remainder() -> None:
    assert split_by_weight(10, [4, 2, 3, 1]) == [4, 2, 3, 1]
    assert split_by_weight(7, [1, 1, 1]) == [3, 2, 2]
    assert sum(split_by_weight(120, [4, 2, 3, 1])) == 120


def test_plan_is_identical_in_another_process() -> None:
    args = [sys.executable, "-m", "compiler.cli", "plan", "--json", "dataset=agent_tools", "size=40"]
    first = subprocess.run(args, capture_output=True, text=True, check=True).stdout
    second = subprocess.run(
        args, capture_output=True, text=True, check=True, env={"PYTHONHASHSEED": "123", "PATH": ""}
    ).stdout
    assert first == second
    plan = json.loads(first)
    assert {"dataset", "size", "lm_calls", "strategies", "coverage", "cases"} <= plan.keys()
    assert {"strength", "required_tuples", "covered_tuples", "rows", "array"} <= plan["coverage"].keys()
    assert set(plan["cases"][0]) >= {"strategy", "variant", "cell", "slot"}


def test_plan_does_not_import_dspy() -> None:
    code = (
        "import sys; from compiler.cli.main import main; main(['plan', '--json']); "
        "assert 'dspy' not in sys.modules and 'litellm' not in sys.modules, 'heavy import'"
    )
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(specs(), st.integers(1, 3))
def test_a_size_at_least_the_array_covers_every_required_tuple(spec: Spec, strength: int) -> None:
    from dataclasses import replace

    from hypothesis import assume

    from compiler.spec.model import Coverage

    assume(strength <= len(spec.dimensions))
    spec = replace(spec, coverage=Coverage(strength))
    plan = plan_cases(spec)
    negative_quota = sum(t for name, t in plan.targets if name == "adversarial")
    assume(spec.size >= plan.cells.array_rows and negative_quota >= len(plan.cells.negative))
    assert plan.covered_tuples() == plan.cells.required_tuples
    assert plan.coverage_warning() is None


def test_a_small_size_warns_with_the_size_that_covers() -> None:
    raw = copy.deepcopy(BASE)
    raw["size"] = 6
    plan = plan_cases(validate_config(raw, ORIGINS, TEMPLATES))
    warning = plan.coverage_warning()
    assert warning is not None and "uncovered" in warning
    wanted = int(warning.split("size=")[1].split()[0])
    raw["size"] = wanted
    assert plan_cases(validate_config(raw, ORIGINS, TEMPLATES)).coverage_warning() is None


def test_a_size_above_the_array_is_explained_by_the_negative_rows_share() -> None:
    raw = copy.deepcopy(BASE)
    raw["size"], raw["strategies"] = 6, {"direct": 9, "adversarial": 1}
    plan = plan_cases(validate_config(raw, ORIGINS, TEMPLATES))
    warning = plan.coverage_warning()
    assert warning is not None and int(warning.split("size=")[1].split()[0]) > plan.cells.array_rows
    assert (
        f"its {len(plan.cells.negative)} rows with a negative value go only to adversarial, 10% of size"
        in warning
    )


def test_values_the_constraints_rule_out_are_named() -> None:
    # two constraints that contradict each other left refund out of every case, and nothing said so
    raw = copy.deepcopy(BASE)
    raw["constraints"] = [
        "intent == 'refund' -> difficulty == 'easy'",
        "intent == 'refund' -> difficulty == 'hard'",
        "channel == 'email' -> policy_boundary == 'within_policy'",
    ]
    plan = plan_cases(validate_config(raw, ORIGINS, TEMPLATES))
    assert all(dict(c.cell)["intent"] != "refund" for c in plan.cases)
    assert plan.ruled_out_warning() == (
        "the constraints leave no cell for intent=refund: no case will carry it; check constraints[0], "
        "constraints[1], or drop the value"
    )
    assert plan_cases(validate_config(copy.deepcopy(BASE), ORIGINS, TEMPLATES)).ruled_out_warning() is None


def _weighted_space(size: int) -> Spec:
    raw: dict[str, Any] = copy.deepcopy(BASE)
    raw.pop("sources", None)
    raw["dimensions"] = {
        "request": {
            "description": "What the user wants.",
            "values": {"book": 4, "move": 2, "cancel": 1, "ask": 1, "other": 1},
        },
        "urgency": ["routine", "soon", "~emergency"],
        "language": ["en", "de", "fr", "es"],
        "party": ["one", "two", "three"],
    }
    raw["constraints"] = []
    raw["strategies"] = {"direct": 3, "persona": 1, "adversarial": 2, "evaluator_aligned": 1}
    raw.update(size=size, coverage=2, overgenerate=1.0, seed=11)
    return validate_config(raw, ORIGINS, TEMPLATES)


@pytest.mark.parametrize(("size", "low"), [(80, 0.32), (400, 0.40)])
def test_rows_beyond_the_covering_array_follow_the_weights(size: int, low: float) -> None:
    # each array row is planned once: strategies after the first used to take the array again, so a space of
    # 80 rows with a 20-row array gave `book: 4` of 9 weights ~22% of the rows instead of ~40%
    plan = plan_cases(_weighted_space(size))
    primary = [c for c in plan.cases if c.primary]
    share = Counter(dict(c.cell)["request"] for c in primary)["book"] / len(primary)
    assert low <= share <= 0.52, share
    assert plan.covered_tuples() == plan.cells.required_tuples


def test_a_small_plan_draws_few_copies_of_one_cell() -> None:
    primary = [c for c in plan_cases(_weighted_space(80)).cases if c.primary]
    copies = Counter((c.strategy, c.cell) for c in primary)
    assert max(copies.values()) <= 3 and len(copies) >= 0.8 * len(primary)
