"""The prompt under test is Jinja: it must parse, and use only the variables it declares."""

from __future__ import annotations

import jinja2
from jinja2 import meta

from compiler.core.sandbox import reproducibility_hint, sandboxed_environment
from compiler.spec.model import Prompt
from compiler.spec.validate.fields import Problems


def check_prompt_text(problems: Problems, prompt: Prompt) -> None:
    """One problem naming the dataset file and `prompt.text` if the text does not parse or uses an undeclared name."""
    if not prompt.text:
        return
    env = sandboxed_environment(undefined=jinja2.StrictUndefined)
    try:
        ast = env.parse(prompt.text)
    except jinja2.TemplateSyntaxError as exc:
        problems.add(
            "prompt.text",
            f"line {exc.lineno} does not parse as Jinja ({exc.message}); fix the {{{{ ... }}}} there",
        )
        return
    loads = (jinja2.nodes.Include, jinja2.nodes.Import, jinja2.nodes.FromImport, jinja2.nodes.Extends)
    node = next(ast.find_all(loads), None)
    if node is not None:
        problems.add(
            "prompt.text",
            f"line {node.lineno} includes, imports or extends another template; the prompt under test is "
            "one text with no loader, so write that text inline",
        )
        return
    declared = {v.name for v in prompt.variables}
    try:
        unknown = sorted(
            meta.find_undeclared_variables(ast) - declared
        )  # compiles: unknown filters fail here
    except jinja2.TemplateError as exc:
        line = getattr(exc, "lineno", None)
        where = f"line {line} " if line else ""
        message = getattr(exc, "message", None) or str(exc).splitlines()[0]
        problems.add(
            "prompt.text",
            f"{where}does not compile as Jinja ({message}){reproducibility_hint(message)}; "
            "fix the filter or test name there",
        )
        return
    if unknown:
        problems.add(
            "prompt.text",
            f"uses `{unknown[0]}`, which prompt.variables does not declare; add it under prompt.variables "
            f"or fix the name (declared: {', '.join(sorted(declared)) or 'none'})"
            f"{reproducibility_hint(f'`{unknown[0]}`')}",
        )
