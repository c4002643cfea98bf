"""How well the built-in offline LM writes for test spaces it was not written for, beside the goals.

Run: PYTHONPATH=$PWD .venv/bin/python -m bench.offline_quality [--size N] [--space NAME ...]
(as a module: bench/coverage.py would shadow the `coverage` package numba imports)
Compiles every space of conf/dataset, ../shared/spaces and tests/spaces (copied into a scratch project) on `lm=offline`
and prints, per space, over its synthetic rows:
  leak     share of rows whose inputs hold a raw dimension value (`within_policy`, `~legal_dispute`) or a
           `key: value` / `key is value` label of the cell (goal 0)
  foreign  share of rows whose text uses a word of another space's domain and not of its own (goal 0);
           a domain's words are those of its own YAML (description, prompt, names, values), plus a
           hand-written list of shop words for spaces that are not shops
  enum     per enum column, the share of its most common value (goal <= 0.6)
  bool     per bool column, whether both values occur (goal yes)
  distinct distinct expected-behaviour texts per 100 rows (goal >= 80)
  consist  share of negative-value or adversarial rows whose verdict column (an enum with a refuse or
           escalate value) holds a non-compliant value (goal 1.0); and the share of rows whose escalation
           or refusal flag (needs_human, should_refuse, route_to_...) agrees with that verdict
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import sys
import tempfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
SHARED_SPACES = ROOT.parent / "shared" / "spaces"
if not SHARED_SPACES.is_dir():
    SHARED_SPACES = Path("/work/shared/spaces")
NEWCOMER_SPACES = ROOT / "tests" / "spaces"  # written for these figures as a newcomer would, not tuned on
SPACE_DIRS = (ROOT / "conf" / "dataset", SHARED_SPACES, NEWCOMER_SPACES)

_WORD = re.compile(r"[a-z]+")
# Words that name one domain's things (written for this bench, not taken from the engine's word banks). A
# space owns a domain when one of its words occurs in the space's own YAML; the words of the domains it does
# not own, and that its YAML does not use, are foreign to it.
DOMAINS: dict[str, frozenset[str]] = {
    "shop": frozenset(
        [
            "charger",
            "headphones",
            "laptop",
            "parcel",
            "courier",
            "loyal",
            "checkout",
            "unopened",
            "voltbay",
            "electronics",
            "basket",
            "colour",
            "webshop",
        ]
    ),
    "appliance_manual": frozenset(
        ["vacuum", "robot", "aurora", "suction", "dustbin", "brush", "mop", "firmware"]
    ),
    "travel": frozenset(
        [
            "flight",
            "flights",
            "airline",
            "airport",
            "hotel",
            "fare",
            "boarding",
            "departure",
            "itinerary",
            "passenger",
            "farewise",
        ]
    ),
    "workplace": frozenset(["handbook", "payroll", "employee", "employees", "parental"]),
    "medical": frozenset(["symptom", "symptoms", "fever", "dosage", "triage", "nurse", "prescription"]),
    "database": frozenset(["sql", "schema"]),
}
COMPLIANT = ("answer", "complete", "comply", "full", "resolve", "proceed", "allow", "approve", "accept")
NONCOMPLIANT = ("refus", "declin", "escalat", "hand", "human", "reject", "block", "deny")
FLAG_WORDS = ("human", "escalat", "refus", "route", "hand_off", "handoff", "block")


def words_of(text: str) -> set[str]:
    return set(_WORD.findall(text.lower()))


def space_vocabulary(space: dict[str, Any]) -> set[str]:
    """The words of a space's own YAML."""
    return words_of(json.dumps(space, ensure_ascii=False, default=str).replace("_", " "))


def _dimension_values(space: dict[str, Any]) -> dict[str, list[str]]:
    out = {}
    for name, dim in (space.get("dimensions") or {}).items():
        values = dim.get("values", dim) if isinstance(dim, dict) else dim
        out[name] = [str(v) for v in values]
    return out


def _label_patterns(space: dict[str, Any]) -> list[re.Pattern[str]]:
    patterns = []
    for dim, values in _dimension_values(space).items():
        keys = {dim, dim.replace("_", " ")}
        shown = {v for raw in values for v in (raw, raw.lstrip("~"), raw.lstrip("~").replace("_", " "))}
        raw_values = [v for v in values if "_" in v or v.startswith("~")]
        key = "|".join(re.escape(k) for k in sorted(keys, key=len, reverse=True))
        value = "|".join(re.escape(v) for v in sorted(shown, key=len, reverse=True))
        patterns.append(re.compile(rf"\b(?:{key})\b[\"']?\s*(?::|=|\bis\b)\s*[\"']?(?:{value})\b", re.I))
        if "_" in dim:
            patterns.append(re.compile(rf"\b{re.escape(dim)}\b", re.I))
        for raw in raw_values:
            patterns.append(re.compile(rf"(?<![\w~]){re.escape(raw)}(?!\w)", re.I))
            if raw.startswith("~") and "_" in raw:  # `legal_dispute` is a label, "emergency" a word
                patterns.append(re.compile(rf"(?<!\w){re.escape(raw[1:])}(?!\w)", re.I))
    return patterns


def _is_verdict_column(col: dict[str, Any]) -> bool:
    values = [str(v).lower() for v in col.get("values", [])]
    return col.get("type") == "enum" and any(any(w in v for w in NONCOMPLIANT) for v in values)


def _compliant(value: Any) -> bool:
    text = str(value).lower()
    return any(w in text for w in COMPLIANT) and not any(w in text for w in NONCOMPLIANT)


@dataclass
class Quality:
    space: str
    rows: int
    leak: float
    foreign: float
    foreign_words: list[str]
    enum_top: dict[str, float] = field(default_factory=dict)
    bool_both: dict[str, bool] = field(default_factory=dict)
    distinct_per_100: float = 0.0
    consistency: float | None = None
    flag_agreement: float | None = None


def measure(space: dict[str, Any], rows: list[dict[str, Any]], foreign_vocab: set[str]) -> Quality:
    """The figures above for one space's rows (dicts as in cases.jsonl); only synthetic rows count."""
    rows = [r for r in rows if r.get("source", "synthetic") == "synthetic"]
    n = max(1, len(rows))
    patterns = _label_patterns(space)
    leaks = sum(any(p.search(" ".join(map(str, r["inputs"].values()))) for p in patterns) for r in rows)
    hits: Counter[str] = Counter()
    foreign_rows = 0
    for r in rows:
        text = " ".join(map(str, r["inputs"].values())) + " " + json.dumps(r["expected"], ensure_ascii=False)
        found = words_of(text) & foreign_vocab
        hits.update(found)
        foreign_rows += bool(found)
    columns = space.get("columns") or {}
    q = Quality(
        str(space.get("name")),
        len(rows),
        leaks / n,
        foreign_rows / n,
        [w for w, _ in hits.most_common(6)],
    )
    for name, col in columns.items():
        values = [r["expected"].get(name) for r in rows]
        if col.get("type") == "enum":
            q.enum_top[name] = Counter(map(str, values)).most_common(1)[0][1] / n if values else 0.0
        elif col.get("type") == "bool":
            q.bool_both[name] = {True, False} <= set(values)
    texts = [n for n, c in columns.items() if c.get("type") == "text"]
    behaviour = next((t for t in texts if "behav" in t), texts[0] if texts else None)
    if behaviour is not None:
        q.distinct_per_100 = 100 * len({r["expected"].get(behaviour) for r in rows}) / n
    verdicts = [name for name, col in columns.items() if _is_verdict_column(col)]
    if verdicts:
        pressed = [
            r
            for r in rows
            if r.get("strategy") == "adversarial" or any(str(v).startswith("~") for v in r["cell"].values())
        ]
        good = sum(all(not _compliant(r["expected"].get(v)) for v in verdicts) for r in pressed)
        q.consistency = good / max(1, len(pressed))
        flags = [
            name
            for name, col in columns.items()
            if col.get("type") == "bool" and any(w in name.lower() for w in FLAG_WORDS)
        ]
        if flags:
            # an escalation flag agrees with an escalation verdict, a refusal flag with a refusal verdict
            def says(value: Any, words: tuple[str, ...]) -> bool:
                return any(w in str(value).lower() for w in words)

            escalation, refusal = (
                ("escalat", "hand", "human", "route"),
                ("refus", "declin", "block", "reject"),
            )
            agree = sum(
                all(
                    bool(r["expected"].get(f))
                    == says(r["expected"].get(verdicts[0]), refusal if says(f, refusal) else escalation)
                    for f in flags
                )
                for r in rows
            )
            q.flag_agreement = agree / n
    return q


def load_spaces(names: list[str] | None = None) -> dict[str, dict[str, Any]]:
    """Every test space (name -> parsed YAML) of conf/dataset and the shared spaces."""
    spaces = {}
    for path in [p for folder in SPACE_DIRS for p in sorted(folder.glob("*.yaml"))]:
        space = yaml.safe_load(path.read_text())
        if isinstance(space, dict) and "dimensions" in space and (not names or space["name"] in names):
            space.pop("defaults", None)
            spaces[str(space["name"])] = space
    return spaces


def foreign_vocabulary(spaces: dict[str, dict[str, Any]], name: str) -> set[str]:
    """The domain words foreign to space `name`: those of the domains its YAML does not touch."""
    own = space_vocabulary(spaces[name])
    foreign = [words for words in DOMAINS.values() if not (words & own)]
    return set().union(*foreign) - own


def scratch_project(root: Path, checkout: Path = ROOT) -> Path:
    """A copy of a checkout's conf/, templates/ and data/ with the shared and newcomer spaces as dataset files."""
    for part in ("conf", "templates", "data"):
        if (checkout / part).exists():
            shutil.copytree(checkout / part, root / part)
    for path in [p for folder in SPACE_DIRS[1:] for p in sorted(folder.glob("*.yaml"))]:
        text = path.read_text()
        if "@package" not in text:
            text = "# @package _global_\n" + text
        (root / "conf" / "dataset" / path.name).write_text(text)
    return root


def compile_rows(project_root: Path, name: str, size: int | None) -> list[dict[str, Any]]:
    """The rows of a fresh offline compile of `name` in the scratch project."""
    from compiler.pipeline.compile import compile_dataset
    from compiler.spec.compose import Project

    project = Project(conf_dir=project_root / "conf", templates_dir=project_root / "templates")
    overrides = [
        f"dataset={name}",
        f"out_dir={project_root}/outputs",
        f"journal_dir={project_root}/.dsc",
        "lm=offline",
    ]
    if size is not None:
        overrides.append(f"size={size}")
    result = compile_dataset(overrides, project=project)
    path = result.version.path / "cases.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()]


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def measure_all(names: list[str] | None, size: int | None, show: int, checkout: Path) -> list[Quality]:
    """Compile and measure every space with the compiler on sys.path and `checkout`'s conf/."""
    spaces = load_spaces(names)
    every = load_spaces()
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        root = scratch_project(Path(tmp), checkout)
        for name, space in spaces.items():
            rows = compile_rows(root, name, size)
            for row in rows[:show]:
                print(json.dumps({k: row[k] for k in ("strategy", "variant", "cell", "inputs", "expected")}))
            results.append(measure(space, rows, foreign_vocabulary(every, name)))
    return results


def _peer_results(peer: Path, names: list[str] | None, size: int | None) -> dict[str, Quality]:
    """The same figures for another checkout's compiler (e.g. main before this change), in a subprocess."""
    import os
    import subprocess

    args = [sys.executable, "-m", "bench.offline_quality", "--json", "--checkout", str(peer)]
    args += [f"--size={size}"] if size is not None else []
    for name in names or ():
        args += ["--space", name]
    env = {**os.environ, "PYTHONPATH": f"{peer}{os.pathsep}{ROOT}"}
    # `-m` puts the working directory first on sys.path: the peer's compiler, this bench (a namespace package)
    done = subprocess.run(args, cwd=peer, env=env, check=True, capture_output=True, text=True)
    line = done.stdout.strip().splitlines()[-1]
    return {q["space"]: Quality(**q) for q in json.loads(line)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size", type=int, default=None, help="rows per space (default: each space's own)")
    parser.add_argument("--space", action="append", help="only these spaces")
    parser.add_argument("--show", type=int, default=0, help="print this many rows of each space")
    parser.add_argument("--peer", type=Path, help="a checkout to measure beside this one (e.g. ../main)")
    parser.add_argument("--checkout", type=Path, default=ROOT, help=argparse.SUPPRESS)
    parser.add_argument("--json", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    results = measure_all(args.space, args.size, args.show, args.checkout)
    if args.json:
        print(json.dumps([vars(q) for q in results]))
        return
    peers = _peer_results(args.peer.resolve(), args.space, args.size) if args.peer else {}
    print(f"{'space':16}{'rows':>6}{'leak':>7}{'foreign':>9}{'distinct/100':>14}{'consist':>9}{'flags':>7}")
    print(f"{'  goal':16}{'':>6}{'0':>7}{'0':>9}{'>= 80':>14}{'1.00':>9}{'1.00':>7}")
    for q in results:
        for label, r in ((q.space, q), ("  peer", peers.get(q.space))):
            if r is None:
                continue
            print(
                f"{label:16}{r.rows:>6}{r.leak:>7.2f}{r.foreign:>9.2f}{r.distinct_per_100:>14.1f}"
                f"{_fmt(r.consistency):>9}{_fmt(r.flag_agreement):>7}"
            )
    print("\nper column (enum: share of the most common value, goal <= 0.6; bool: both values occur)")
    for q in results:
        for label, r in ((q.space, q), ("  peer", peers.get(q.space))):
            if r is None:
                continue
            cols = [f"{c}={v:.2f}" for c, v in r.enum_top.items()]
            cols += [f"{c}={'both' if v else 'ONE VALUE'}" for c, v in r.bool_both.items()]
            print(f"  {label:14} {'  '.join(cols)}")
            if r.foreign_words:
                print(f"  {'':14} foreign words: {', '.join(r.foreign_words)}")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
