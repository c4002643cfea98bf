"""Jinja rendering of strategy templates: sandboxed, strict about undefined variables."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import jinja2
import xxhash
from jinja2 import meta, nodes
from jinja2.sandbox import ImmutableSandboxedEnvironment

from compiler.core.cells import cell_label
from compiler.core.confine import shown_path
from compiler.core.errors import ConfigError, TemplateError
from compiler.core.fastjson import compact_json
from compiler.core.limits import lone_surrogate
from compiler.core.sandbox import one_line, reproducibility_hint, sandboxed_environment
from compiler.plan.cases import CaseSpec
from compiler.spec.model import Spec
from compiler.spec.project import BUILTIN

BUILTIN_TEMPLATES = BUILTIN / "templates"
CONTEXT_NAMES = frozenset({"dataset", "prompt", "case", "cell", "persona", "tactic", "columns", "examples"})


@dataclass(frozen=True)
class RenderedCase:
    case: CaseSpec
    instruction: str


def template_files(templates_dir: Path) -> dict[str, Path]:
    """Every template by file name: the project's templates/ over dsc's built-in ones."""
    files = {p.name: p for p in sorted(BUILTIN_TEMPLATES.glob("*.j2"))}
    files.update({p.name: p for p in sorted(templates_dir.glob("*.j2"))})
    return files


def template_environment(templates_dir: Path) -> ImmutableSandboxedEnvironment:
    """The sandboxed environment over the project's templates/ and the built-in ones, reused while the
    project's templates stay as they are: a template added, removed or edited in templates/ gets a fresh
    environment (Jinja's own reload check watches only the file it loaded, so a new override of a
    built-in template would go unseen by a process that compiles again, as a sweep does)."""
    try:
        listing = tuple(
            (p.name, p.stat().st_mtime_ns, p.stat().st_size) for p in sorted(templates_dir.glob("*.j2"))
        )
    except OSError:
        listing = None
    return _environment(templates_dir, listing)


@lru_cache(maxsize=8)
def _environment(
    templates_dir: Path, listing: tuple[tuple[str, int, int], ...] | None
) -> ImmutableSandboxedEnvironment:
    return sandboxed_environment(
        loader=jinja2.FileSystemLoader([str(templates_dir), str(BUILTIN_TEMPLATES)]),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=False,
        autoescape=False,
        # The listing above already gives an edited templates/ a fresh environment, so Jinja need not stat
        # every template a render extends or imports (7% of rendering 4,500 cases).
        auto_reload=False,
    )


def template_hashes(templates_dir: Path, names: Sequence[str]) -> dict[str, str]:
    """xxh3-64 of each template used (and the shared base), for the manifest."""
    paths = template_files(templates_dir)
    files = sorted({f"{n}.j2" for n in names} | {f for f in paths if f.startswith("_")})
    return {f: xxhash.xxh3_64_hexdigest(paths[f].read_bytes()) for f in files}


def _first_line_of(ast: nodes.Template, name: str) -> int:
    for node in ast.find_all(nodes.Name):
        if node.name == name:
            return node.lineno
    return 1


def read_template(path: Path) -> str:
    """A template's text; a file that is not UTF-8 is one TemplateError naming the first bad byte."""
    data = path.read_bytes()
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise TemplateError(
            f"{shown_path(path)}:{line}: is not UTF-8 text (byte 0x{data[exc.start]:02x} at offset {exc.start}); "
            "save the template as UTF-8"
        ) from None


def check_templates(spec: Spec, templates_dir: Path) -> None:
    """Parse every template in use; unknown variables are errors naming template, line and variable."""
    env = template_environment(templates_dir)
    paths = template_files(templates_dir)
    files = [f"{s.name}.j2" for s in spec.strategies] + sorted(f for f in paths if f.startswith("_"))
    for file in files:
        path = paths[file]
        source = read_template(path)
        try:
            ast = env.parse(source, name=file, filename=str(path))
            env.compile(source, name=file, filename=str(path))  # unknown filters and tests fail here
        except jinja2.TemplateSyntaxError as exc:
            raise TemplateError(
                f"{shown_path(path)}:{exc.lineno}: syntax error: {exc.message}{reproducibility_hint(exc.message or '')}; "
                "fix the template"
            ) from exc
        # macros declare their own arguments; names set inside the template are not context names
        unknown = sorted(meta.find_undeclared_variables(ast) - CONTEXT_NAMES)
        if unknown:
            name = unknown[0]
            raise TemplateError(
                f"{shown_path(path)}:{_first_line_of(ast, name)}: unknown variable `{name}`; "
                f"templates may use {', '.join(sorted(CONTEXT_NAMES))}{reproducibility_hint(f'`{name}`')}"
            )
    _check_prompt_renders(spec)


def _check_prompt_renders(spec: Spec) -> None:
    """Exports render the prompt with each row's inputs: a prompt that cannot render fails here, not there
    (its syntax and names are checked with the spec, in spec/validate/prompt.py)."""
    env = sandboxed_environment(undefined=jinja2.StrictUndefined)
    declared = {v.name for v in spec.prompt.variables}
    try:
        env.from_string(spec.prompt.text).render({name: f"<{name}>" for name in declared})
    except Exception as exc:  # a template runs user expressions: any error is the template's
        line = _template_line(exc, "<template>")
        raise ConfigError(
            f"prompt.text:{line}: the prompt under test fails when rendered "
            f"({one_line(exc)}); fix the expression"
        ) from exc


def case_context(spec: Spec, case: CaseSpec, examples: Sequence[str] = ()) -> dict[str, Any]:
    """Everything a template may use for one case."""
    return _Contexts(spec).context(case, examples)


class _Contexts:
    """The parts of every case's context that depend only on the spec, built once per render batch."""

    def __init__(self, spec: Spec) -> None:
        self.dims = {d.name: d.description for d in spec.dimensions}
        # the first of an id wins, as the catalogue reads
        self.personas: dict[str | None, dict[str, Any]] = {p.id: vars(p) for p in reversed(spec.personas)}
        self.tactics: dict[str | None, dict[str, Any]] = {t.id: vars(t) for t in reversed(spec.tactics)}
        self.dataset = {"name": spec.name, "description": spec.description}
        self.prompt = {
            "text": spec.prompt.text,
            "variables": [
                {"name": v.name, "description": v.description, "required": v.required}
                for v in spec.prompt.variables
            ],
        }
        self.columns = spec.columns

    def context(self, case: CaseSpec, examples: Sequence[str]) -> dict[str, Any]:
        persona = self.personas.get(case.variant) if case.strategy == "persona" else None
        tactic = self.tactics.get(case.variant) if case.strategy == "adversarial" else None
        return {
            "dataset": self.dataset,
            "prompt": self.prompt,
            "case": {"strategy": case.strategy, "variant": case.variant, "slot": case.slot},
            "cell": CellItems(
                {"dimension": d, "value": v, "negative": v.startswith("~"), "description": self.dims[d]}
                for d, v in case.cell
            ),
            "persona": persona,
            "tactic": tactic,
            "columns": list(self.columns),  # objects, not dicts: `column.values` must not be dict.values
            "examples": list(examples),
        }


class CellItems(list[dict[str, Any]]):
    """A case's cell in a template: a list of {dimension, value, negative, description} to loop over, where
    `cell.<dimension>` (or `cell['<dimension>']`) is also that dimension's value, as a newcomer writes it."""

    def __getattr__(self, name: str) -> Any:
        for item in self:
            if item["dimension"] == name:
                return item["value"]
        raise AttributeError(name)  # Jinja's undefined: the template error names it

    def __getitem__(self, key: Any) -> Any:
        if not isinstance(key, str):
            return super().__getitem__(key)
        try:
            return self.__getattr__(key)
        except AttributeError:
            raise KeyError(key) from None


def render_case(
    spec: Spec,
    templates_dir: Path,
    case: CaseSpec,
    examples: Mapping[tuple[tuple[str, str], ...], Sequence[str]] | None = None,
) -> RenderedCase:
    return render_cases(spec, templates_dir, [case], examples)[0]


def render_cases(
    spec: Spec,
    templates_dir: Path,
    cases: Sequence[CaseSpec],
    examples: Mapping[tuple[tuple[str, str], ...], Sequence[str]] | None = None,
) -> list[RenderedCase]:
    """Every case's instruction, in order: each strategy's template is loaded once, then rendered per case."""
    env = template_environment(templates_dir)
    contexts = _Contexts(spec)
    templates: dict[str, jinja2.Template] = {}
    examples = examples or {}
    out = []
    for case in cases:
        file = f"{case.strategy}.j2"
        try:
            template = templates.get(file)
            if template is None:
                template = templates[file] = env.get_template(file)
            text = template.render(contexts.context(case, examples.get(case.cell, ())))
        except Exception as exc:
            raise _render_error(exc, templates_dir, case, file) from exc
        half = lone_surrogate(text)
        if half is not None:  # a string literal's "\ud83d": no request, journal or file can hold it
            folder = _template_folder(templates_dir, file)
            raise TemplateError(
                f"{folder}/{file}: renders \\u{ord(half):04x} for strategy {case.strategy}, half of a UTF-16 "
                "pair and no character; write the whole character (e.g. \\U0001F600) or remove the escape"
            )
        if not text.strip():  # the LM would get no instruction at all: never what a template means to say
            folder = _template_folder(templates_dir, file)
            raise TemplateError(
                f"{folder}/{file}: renders an empty instruction for strategy {case.strategy} (cell "
                f"{cell_label(case.cell)}); write the instruction the LM is given, or guard the empty branch"
            )
        out.append(RenderedCase(case, text.strip() + "\n"))
    return out


def _template_folder(templates_dir: Path, file: str) -> Path:
    """The folder a template error names: the project's templates/ or dsc's built-in one."""
    return Path(shown_path(template_files(templates_dir).get(file, templates_dir / file))).parent


def _render_error(exc: Exception, templates_dir: Path, case: CaseSpec, file: str) -> TemplateError:
    """The one-line TemplateError for a template that failed to load or render."""
    folder = _template_folder(templates_dir, file)
    if isinstance(exc, jinja2.UndefinedError):
        dimension = re.search(rf"{CellItems.__name__} object' has no attribute '([^']*)'", exc.message or "")
        if dimension is not None:
            return TemplateError(
                f"{folder}/{_template_where(exc, file)}: `cell.{dimension[1]}`: the test space has no dimension "
                f"{dimension[1]!r}; its dimensions are {', '.join(d for d, _ in case.cell)}"
            )
        return TemplateError(
            f"{folder}/{_template_where(exc, file)}: {exc.message}; use a variable the context provides "
            f"({', '.join(sorted(CONTEXT_NAMES))}) or guard it with `is defined`"
        )
    if isinstance(exc, jinja2.TemplateSyntaxError):
        return TemplateError(f"{folder}/{exc.name or file}:{exc.lineno}: {exc.message}; fix the template")
    # a template runs user expressions: 1/0, a bad filter argument, the sandbox
    return TemplateError(
        f"{folder}/{_template_where(exc, file)}: fails when rendered for strategy "
        f"{case.strategy} ({one_line(exc)}); fix the expression"
    )


def _template_line(exc: BaseException, suffix: str) -> int | str:
    """The line of the innermost template frame (Jinja compiles templates to code named after the file)."""
    tb = exc.__traceback__
    line: int | str = "?"
    while tb is not None:
        if tb.tb_frame.f_code.co_filename.endswith(suffix):
            line = tb.tb_lineno
        tb = tb.tb_next
    return line


def _template_where(exc: BaseException, file: str) -> str:
    """`file:line` of the innermost .j2 frame (an included _base.j2 names itself)."""
    tb = exc.__traceback__
    where = f"{file}:?"
    while tb is not None:
        name = tb.tb_frame.f_code.co_filename
        if name.endswith(".j2"):
            where = f"{Path(name).name}:{tb.tb_lineno}"
        tb = tb.tb_next
    return where


def case_payload(spec: Spec, case: CaseSpec, sample: int) -> str:
    """The `case` input: everything about the case a writer needs, as canonical JSON (sorted keys).

    The text is `json.dumps(payload, sort_keys=True, ensure_ascii=False)` of the whole payload, assembled
    from the spec's parts encoded once: it is in every prompt, so it is part of every journal key."""
    base = _payload_base(spec)
    persona = base.personas.get(case.variant, "null") if case.strategy == "persona" else "null"
    tactic = base.tactics.get(case.variant, "null") if case.strategy == "adversarial" else "null"
    parts = {
        **base.fixed,
        "strategy": _encode_scalar(case.strategy),
        "variant": _encode_scalar(case.variant),
        "persona": persona,
        "tactic": tactic,
        "cell": _encode_cell(case.cell),
        "slot": _encode_scalar(case.slot),
        "sample": _encode_scalar(sample),
    }
    return "{" + ", ".join([prefix + parts[key] for key, prefix in base.order]) + "}"


_CASE_KEYS = ("strategy", "variant", "persona", "tactic", "cell", "slot", "sample")


def _encode(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False)


def _encode_scalar(value: Any) -> str:
    """`_encode` of a str, number, bool or None (no separators in it, so compact JSON is the same text)."""
    try:
        return compact_json(value).decode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate, which json writes as an escape and UTF-8 cannot hold
        return _encode(value)


def _encode_cell(cell: Any) -> str:
    """`_encode(dict(cell))`: pairs of scalars written one by one, anything nested by json itself."""
    pairs = sorted(dict(cell).items())
    if all(type(key) is str and not isinstance(value, (dict, list, tuple)) for key, value in pairs):
        return "{" + ", ".join([f"{_encode_scalar(k)}: {_encode_scalar(v)}" for k, v in pairs]) + "}"
    return _encode(dict(cell))


@dataclass(frozen=True)
class _PayloadBase:
    spec: Spec
    fixed: dict[str, str]  # the payload's keys that depend only on the spec, each value as JSON
    personas: dict[str | None, str]  # as JSON
    tactics: dict[str | None, str]
    order: tuple[tuple[str, str], ...]  # every payload key in sorted order, with its `"key": ` prefix


# one entry, matched by identity: a spec is frozen, and hashing it is not cheap
_LAST_BASE: list[_PayloadBase] = []


def payload_fields(spec: Spec) -> dict[str, Any]:
    """The keys of the `case` payload that depend only on the spec (the rest are the case's own)."""
    return {
        "dataset": spec.name,
        "description": spec.description,
        "prompt": spec.prompt.text,
        "variables": {
            v.name: {"description": v.description, "required": v.required} for v in spec.prompt.variables
        },
        "dimensions": {d.name: {"description": d.description} for d in spec.dimensions},
        "columns": {
            c.name: {
                "type": c.type,
                "description": c.description,
                **({"values": list(c.values)} if c.values else {}),
            }
            for c in spec.columns
        },
    }


def _payload_base(spec: Spec) -> _PayloadBase:
    if _LAST_BASE and _LAST_BASE[0].spec is spec:
        return _LAST_BASE[0]
    fixed = {key: _encode(value) for key, value in payload_fields(spec).items()}
    base = _PayloadBase(
        spec,
        fixed,
        {p.id: _encode(vars(p)) for p in reversed(spec.personas)},
        {t.id: _encode(vars(t)) for t in reversed(spec.tactics)},
        tuple((key, f"{_encode(key)}: ") for key in sorted({*fixed, *_CASE_KEYS})),
    )
    _LAST_BASE[:] = [base]
    return base
