"""What one function's artifact holds: its own package, the function packages it imports, and `shared/`.

`sam build` runs this for every function (template.yaml: `Metadata: BuildMethod: makefile`; the Makefile's
`build-%Function` target): `python3 infra/package.py IngestFunction "$ARTIFACTS_DIR"`. The SAM CLI does not read
`.gitignore`, so the artifact is made of named files only, never of a copied directory: a run's `out/`, the
tests, the docs and CI never reach Lambda. The dependencies ship once, as the stack's layer (layers/dependencies).

A function's folder is its logical id in snake case without `Function` (PrintBatcherFunction ->
functions/print_batcher); tests/unit/test_package.py checks that against every Handler of the template. Some
functions reach into another function's package (responses -> ingest, erasure -> print_batcher): those are
found by reading the imports (also the lazy ones inside functions), so the artifact holds every module its
code can import. Standard library only: SAM runs this with whatever `python3` is on the path.
"""

from __future__ import annotations

import ast
import re
import shutil
import sys
from collections.abc import Iterable
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
LIBRARY = "shared"
FUNCTIONS = "functions"
# What a source folder may hold besides code: templates and data of `shared/` (package data).
SKIPPED = re.compile(r"(__pycache__|\.pyc$|\.pyo$|^\.|~$)")


def folder_of(logical_id: str) -> str:
    """IngestFunction -> ingest, PrintBatcherFunction -> print_batcher, VendorApiFunction -> vendor_api."""
    if not logical_id.endswith("Function") or logical_id == "Function":
        raise ValueError(f"{logical_id}: not a function's logical id (…Function)")
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", logical_id[: -len("Function")]).lower()


def _sources(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*")
                  if p.is_file() and not any(SKIPPED.search(part) for part in p.relative_to(folder).parts))


def _imported_function_packages(paths: Iterable[Path]) -> set[str]:
    """`functions.X` packages named by any import in these files, at module level or inside a function."""
    found: set[str] = set()
    for path in paths:
        if path.suffix != ".py":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) and node.level == 0 else [])
            found |= {n.split(".")[1] for n in names if n.startswith(FUNCTIONS + ".") and n.count(".") >= 1}
    return found


def function_packages(folder: str, repo: Path = REPO) -> list[str]:
    """The function's own package and every function package its code or `shared/` imports, transitively."""
    wanted, todo = {folder}, [folder]
    library = _sources(repo / LIBRARY)
    todo += sorted(_imported_function_packages(library) - wanted)
    wanted |= set(todo)
    while todo:
        package = repo / FUNCTIONS / todo.pop()
        if not package.is_dir():
            raise FileNotFoundError(f"{package}: no such function package")
        new = _imported_function_packages(_sources(package)) - wanted
        wanted |= new
        todo += sorted(new)
    return sorted(wanted)


def files(logical_id: str, repo: Path = REPO) -> list[Path]:
    """Every file of the function's artifact, relative to the repository."""
    chosen = [Path(FUNCTIONS) / "__init__.py"]
    for package in function_packages(folder_of(logical_id), repo):
        chosen += [p.relative_to(repo) for p in _sources(repo / FUNCTIONS / package)]
    chosen += [p.relative_to(repo) for p in _sources(repo / LIBRARY)]
    return chosen


def package(logical_id: str, artifacts_dir: Path, repo: Path = REPO) -> list[Path]:
    """Copy the function's files into `artifacts_dir` (what SAM zips as the function's code)."""
    written = []
    for relative in files(logical_id, repo):
        target = artifacts_dir / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(repo / relative, target)
        written.append(target)
    return written


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: python3 infra/package.py LOGICAL_ID ARTIFACTS_DIR", file=sys.stderr)
        return 2
    logical_id, artifacts_dir = argv
    written = package(logical_id, Path(artifacts_dir))
    size = sum(p.stat().st_size for p in written)
    print(f"{logical_id}: {len(written)} files, {size / 1024:.0f} KiB -> {artifacts_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
