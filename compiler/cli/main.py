"""The command line: the only place that parses arguments, prints, and turns errors into exit codes."""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, NoReturn

from compiler.cli.compile import run_compile
from compiler.cli.locate import project_paths
from compiler.cli.optimize import add_optimize_verb, run_optimize
from compiler.cli.plan import CFG_HELP, OVERRIDES_HELP, print_config, run_plan
from compiler.cli.versions import VERSION_COMMANDS, add_version_verbs
from compiler.core.atomic import write_queued
from compiler.core.confine import shown_path
from compiler.core.errors import DscError, UsageError
from compiler.core.version import __version__
from compiler.spec.model import LOCAL_EMBEDDER, ROOT_KEYS
from compiler.spec.paths import path_overrides

if TYPE_CHECKING:
    pass


class _Parser(argparse.ArgumentParser):
    argv: Sequence[str] = ()  # the command line being parsed, to suggest a fix for an unknown --option

    def error(self, message: str) -> NoReturn:
        unknown = message.partition("unrecognized arguments: ")[2].split()
        flag = next((a for a in unknown if a.startswith("-") and a != "-"), None)
        if flag is not None:
            import difflib

            known = [o for o in self._option_string_actions if o.startswith("--")]
            where = self.prog
            for action in self._actions:  # the top parser reports unknown options of the verb's parser
                if isinstance(action, argparse._SubParsersAction):
                    verb = next((a for a in _Parser.argv if a in action.choices), None)
                    known += list(action.choices[verb]._option_string_actions) if verb else []
                    where = f"{self.prog} {verb}" if verb else where
            name = flag.split("=")[0]
            if not name.startswith("--"):  # `-o`: the long options of that letter, if there are a few
                longs = sorted({o for o in known if o.startswith(f"--{name[1:2]}")})
                close = longs if len(name) == 2 and 0 < len(longs) <= 3 else []
                tail = f"did you mean `{'` or `'.join(close)}`?" if close else f"see `{where} --help`"
                raise UsageError(f"`{flag}` is not an option of `{where}`; {tail}")
            close = difflib.get_close_matches(name, known, n=1, cutoff=0.75)
            if close:
                raise UsageError(f"`{flag}` is not an option of dsc; did you mean `{close[0]}`?")
            raise UsageError(f"`{flag}` is not an option of dsc; {_as_override(flag, _Parser.argv)}")
        choice = re.search(r"invalid choice: '([^']*)' \(choose from (.*)\)", message)
        if choice:
            import difflib

            options = re.findall(r"'([^']*)'", choice[2])
            close = difflib.get_close_matches(choice[1], options, n=1, cutoff=0.6)
            if not close and _SYNONYMS.get(choice[1]) in options:
                close = [_SYNONYMS[choice[1]]]
            if close:
                raise UsageError(f"{message}; did you mean `{close[0]}`?")
        raise UsageError(f"{message}; see `{self.prog} --help`")


# words users type for a choice that is spelt otherwise here (`dsc review accept`)
_SYNONYMS = {"accept": "approve", "ok": "approve", "deny": "reject", "decline": "reject", "versions": "show"}


def _as_override(flag: str, argv: Sequence[str]) -> str:
    """How to write an unknown `--key value` as the Hydra override it probably meant."""
    key, _, value = flag[2:].partition("=")
    if not value:
        following = list(argv)[list(argv).index(flag) + 1 :] if flag in argv else []
        value = following[0] if following and not following[0].startswith("-") else "<value>"
    key = key.replace("-", "_")
    head, dot, rest = key.partition(".")
    if head not in ROOT_KEYS:  # `--sizee 3`: the override of the closest setting
        import difflib

        head = next(iter(difflib.get_close_matches(head, ROOT_KEYS, n=1, cutoff=0.75)), head)
    return f"settings are Hydra overrides: write `{head}{dot}{rest}={value}` (see `dsc --help`)"


def _parse(parser: argparse.ArgumentParser, words: list[str]) -> argparse.Namespace:
    """Parse, letting Hydra overrides sit on both sides of an option (`dsc plan size=5 --json seed=3`):
    argparse hands a `nargs="*"` positional only the words before the first option."""
    args, extra = parser.parse_known_args(words)
    if extra and (any(e.startswith("-") for e in extra) or not hasattr(args, "overrides")):
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    if extra:
        args.overrides = [*args.overrides, *extra]
    return args


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="dsc",
        description="dsc compiles a declarative test space (conf/*.yaml) into a "
        "versioned LLM evaluation dataset under outputs/<dataset>/<version>/.",
    )
    parser.add_argument("--version", action="version", version=f"dsc {__version__}")
    verbs = parser.add_subparsers(dest="verb", metavar="VERB", parser_class=_Parser)
    compile_ = verbs.add_parser(
        "compile",
        help="plan, generate, dedupe, select and write a version",
        description="Compile the test space into a version. Recompiling an unchanged "
        "config makes no LM call and writes nothing.",
    )
    compile_.add_argument("overrides", nargs="*", help=OVERRIDES_HELP)
    compile_.add_argument("-m", "--multirun", action="store_true", help="Hydra multirun: one version per job")
    compile_.add_argument("-c", "--cfg", choices=["job"], help=CFG_HELP)
    plan = verbs.add_parser(
        "plan",
        help="show the plan: cells, strategy mix, LM calls (no LM is called)",
        description="Show the test space, its cells, the allocation per strategy and the "
        "number of LM calls. No LM is called.",
    )
    plan.add_argument("overrides", nargs="*", help=OVERRIDES_HELP)
    plan.add_argument("--json", action="store_true", help="print one JSON object instead of tables")
    plan.add_argument("-c", "--cfg", choices=["job"], help=CFG_HELP)
    show = verbs.add_parser(
        "show",
        help="summarise a version",
        description="Summarise a version: counts, strategy and source mix, drops, shortfall, usage.",
    )
    show.add_argument(
        "version",
        help="outputs/<dataset>/<version>, <dataset>/<version>, a version id, or a dataset (its newest version)",
    )
    show.add_argument("--json", action="store_true", help="print the manifest")
    init = verbs.add_parser(
        "init",
        help="make a folder a repository of test spaces",
        description="Write conf/config.yaml, conf/dataset/example.yaml and a .gitignore for .dsc/; dsc's "
        "built-in LM backends, catalogues and templates need no copy.",
    )
    init.add_argument("path", nargs="?", default=".", help="the repository folder (default: here)")
    add_version_verbs(verbs)
    add_optimize_verb(verbs)
    return parser


def run_show(args: argparse.Namespace) -> int:
    from compiler.versions.store import read_manifest, resolve_version
    from compiler.versions.verify import require_intact

    version = require_intact(resolve_version(args.version, project_paths(args).out_dir))
    manifest = read_manifest(version)
    if args.json:
        print(json.dumps(manifest.to_json(), indent=2, ensure_ascii=False))
        return 0
    print(f"{manifest.dataset} {manifest.version}  ({shown_path(version.path)})")
    print(f"  parent: {manifest.parent or '-'}   lm: {manifest.lm.identity}   seed: {manifest.seed}")
    print(f"  rows: {manifest.rows}   sources: " + ", ".join(f"{k} {v}" for k, v in manifest.sources.items()))
    print(
        "  strategies: " + ", ".join(f"{k} {v.selected}/{v.target}" for k, v in manifest.strategies.items())
    )
    print("  stages: " + ", ".join(f"{k} {v}" for k, v in manifest.counts.items()))
    print("  drops: " + (", ".join(f"{k} {v}" for k, v in manifest.drops.items()) or "none"))
    print("  failures: " + (", ".join(f"{k} {v}" for k, v in manifest.failures.items()) or "none"))
    short = manifest.shortfall
    if short.missing_rows or short.cells:
        print(f"  shortfall: {short.missing_rows} rows missing, {len(short.cells)} short cells")
    usage = manifest.usage
    print(
        f"  usage: {usage.requests} requests, {usage.input_tokens} input + "
        f"{usage.output_tokens} output tokens, ${usage.cost_usd:.4f}"
    )
    return 0


def run_init(args: argparse.Namespace) -> int:
    from pathlib import Path

    from compiler.spec.project import find_root, init_project

    root = Path(args.path)
    enclosing = find_root(root.resolve().parent)
    for path in init_project(root):
        print(f"wrote {path}")
    if enclosing is not None:
        print(
            f"note: {root.resolve()} sits inside the dsc project {enclosing}; inside it, dsc now uses this one"
        )
    print("next: dsc plan dataset=example, then dsc compile dataset=example")
    return 0


COMMANDS = {
    "compile": run_compile,
    "plan": run_plan,
    "show": run_show,
    "init": run_init,
    "optimize": run_optimize,
    **VERSION_COMMANDS,
}


# Verbs whose process may end without the interpreter's teardown of every module and object, once its
# output is written and renamed into place: that teardown (numba's, polars' and DSPy's modules and threads)
# cost ~0.4 s of a 1M-row `dsc dedupe` (~10% of it), 0.12-0.16 s of a `dsc plan` of support_bot (~15%; its
# caches are written before) and ~0.35 s of a 40-row `dsc compile` (~20%; its journal is closed before).
# Not `dedupe` with a provider's --embedder: its client may still have work queued at exit.
_LEAVE_AT_ONCE = frozenset({"dedupe", "plan", "compile"})


def _leaves_at_once(args: argparse.Namespace) -> bool:
    """Whether the finished verb may end the process without interpreter teardown."""
    if args.verb not in _LEAVE_AT_ONCE:
        return False
    return not getattr(args, "semantic", False) or getattr(args, "embedder", None) in (None, LOCAL_EMBEDDER)


def _leave(code: int) -> NoReturn:
    """End the process as a normal exit does, less the teardown: non-daemon threads are joined and atexit
    handlers run (a DSPy callback such as MLflow's flushes there, logging closes its files), stdio is flushed,
    and no module or object is torn down."""
    import atexit
    import threading

    getattr(threading, "_shutdown", lambda: None)()  # the interpreter's own first step at exit
    atexit._run_exitfuncs()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    _Parser.argv = list(sys.argv[1:] if argv is None else argv)
    try:
        words = list(sys.argv[1:] if argv is None else argv)
        # verbs without Hydra overrides still take the path keys (out_dir=..., reviews_dir=..., dataset=...)
        ours, words = (
            path_overrides(words) if words[:1] not in (["compile"], ["plan"], ["optimize"]) else ([], words)
        )
        args = _parse(parser, words)
        args.path_overrides = ours
        if args.verb is None:
            parser.print_help()
            return 2
        code = print_config(args) if getattr(args, "cfg", None) else COMMANDS[args.verb](args)
        if code == 0:
            write_queued()  # compositions and covering arrays this command worked out
        if argv is None and _leaves_at_once(args):
            _leave(code)
        return code
    except DscError as exc:
        for line in str(exc).splitlines() or [type(exc).__name__]:
            print(f"dsc: error: {line}", file=sys.stderr)
        return exc.exit_code
    except BrokenPipeError:  # `dsc plan | head`: the reader left, which is not an error
        sys.stderr.close()
        return 0
    except KeyboardInterrupt:
        print(
            "dsc: interrupted; answers received so far are kept, run the same command again to resume",
            file=sys.stderr,
        )
        return 130


if __name__ == "__main__":
    sys.exit(main())
