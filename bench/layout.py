"""Layout figures for a tree of compiler/: modules per folder, longest functions, function-local imports.

Usage: python bench/layout.py [ROOT]   (ROOT defaults to this checkout; point it at an old clone to compare)
"""

from __future__ import annotations

import ast
import sys
from collections import Counter
from pathlib import Path


def measure(root: Path) -> dict[str, object]:
    package = root / "compiler"
    per_folder: Counter[str] = Counter()
    functions: list[tuple[int, str, int]] = []
    local_imports = local_own = 0
    big_files = []
    for path in sorted(package.rglob("*.py")):
        rel = path.relative_to(root)
        per_folder[str(rel.parent)] += 1
        text = path.read_text(encoding="utf-8")
        lines = text.count("\n")
        if lines > 300:
            big_files.append((lines, str(rel)))
        tree = ast.parse(text)
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                length = (node.end_lineno or node.lineno) - node.lineno + 1
                params = len(node.args.args) + len(node.args.kwonlyargs) + len(node.args.posonlyargs)
                functions.append((length, f"{rel}:{node.name}", params))
                for inner in ast.walk(node):
                    if isinstance(inner, ast.Import | ast.ImportFrom):
                        local_imports += 1
                        module = inner.module if isinstance(inner, ast.ImportFrom) else inner.names[0].name
                        if (module or "").startswith("compiler"):
                            local_own += 1
    functions.sort(reverse=True)
    return {
        "modules": sum(per_folder.values()),
        "per_folder": dict(sorted(per_folder.items())),
        "longest": functions[:3],
        "most_params": sorted(functions, key=lambda f: -f[2])[:3],
        "local_imports": local_imports,
        "local_imports_of_dsc": local_own,
        "files_over_300": sorted(big_files, reverse=True),
    }


def main() -> None:
    roots = [Path(a) for a in sys.argv[1:]] or [Path(__file__).resolve().parents[1]]
    for root in roots:
        figures = measure(root)
        print(f"== {root}")
        for key, value in figures.items():
            print(f"{key}: {value}")


if __name__ == "__main__":
    main()
