"""`make build-check`: the real `sam build` on a clean copy of the repository with a run's `out/` planted in it.

The SAM CLI does not read `.gitignore`: what a function's CodeUri and build put into `.aws-sam/build` is what
ships to Lambda. This copies the files git would commit (tracked, and new ones not ignored) to a temporary
folder, plants an `out/` with a fake CRM extract and call list as `dispatch run` leaves them, runs `sam build`
there, and walks every artifact: a function holds only `functions/` and `shared/`, the layer only `python/`,
nothing anywhere comes from `out/`, `tests/`, `docs/` or `.ci/`, and the sizes stay within the limits. It prints
each artifact's size and fails (exit 1) naming every file that does not belong.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
# The repository's folders that are not code (or not Lambda's): none may sit at the top of an artifact, nor at the
# top of the layer's python/ (where a dependency's own tests/ deeper down are the dependency's business).
FOREIGN = {"out", "tests", "docs", ".ci", ".git", ".venv", ".venv-sam", "build", "events", "infra", "layers"}
FUNCTION_TOPS = {"functions", "shared"}
LAYER_TOPS = {"python"}
MAX_TOTAL = 200 * 1024 * 1024
MAX_FUNCTION = 2 * 1024 * 1024
# What the planted out/ holds: personal data as `dispatch run` writes it, which must reach no artifact.
PLANTED = {
    "out/input/customers.csv": "customer_id,household_id,first_name,last_name,mobile\nC1,H1,Anna,Muster,0791234567\n",
    "out/call-lists/2026-01-05.csv": "\ufeffcall_date;customer_id;phone\n2026-01-05;C1;079 123 45 67\n",
    "out/households.jsonl": '{"household_id": "H1", "street": "Bahnhofstrasse"}\n',
}
MARKERS = ("Anna,Muster", "079 123 45 67", "Bahnhofstrasse")


@dataclass
class Artifact:
    name: str
    files: int = 0
    size: int = 0
    foreign: list[str] = field(default_factory=list)


def clean_copy(target: Path) -> int:
    """The files git would commit (tracked and new, not ignored), as they are in the working tree."""
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=REPO,
                            check=True, capture_output=True).stdout.decode().split("\0")
    copied = 0
    for name in filter(None, listed):
        source = REPO / name
        if source.is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)
            copied += 1
    for name, text in PLANTED.items():
        (target / name).parent.mkdir(parents=True, exist_ok=True)
        (target / name).write_text(text, encoding="utf-8")
    return copied


def sam_build(workdir: Path, sam_bin: Path) -> None:
    env = {**os.environ, "PATH": f"{sam_bin}{os.pathsep}{os.environ.get('PATH', '')}",
           "SAM_CLI_TELEMETRY": "0", "SAM_CLI_CONTAINER_CONNECTION_TIMEOUT": "1"}
    result = subprocess.run([str(sam_bin / "sam"), "build"], cwd=workdir, env=env, capture_output=True, text=True)
    if result.returncode != 0:
        sys.stderr.write(result.stdout[-4000:] + result.stderr[-4000:])
        raise SystemExit(f"sam build failed (exit {result.returncode}) in {workdir}")


def inspect(build: Path) -> list[Artifact]:
    artifacts = []
    for folder in sorted(p for p in build.iterdir() if p.is_dir()):
        artifact = Artifact(folder.name)
        allowed = LAYER_TOPS if folder.name.endswith("Layer") else FUNCTION_TOPS
        for path in sorted(p for p in folder.rglob("*") if p.is_file() or p.is_symlink()):
            relative = path.relative_to(folder)
            artifact.files += 1
            artifact.size += path.lstat().st_size
            parts = relative.parts
            nested_foreign = len(parts) > 2 and parts[1] in FOREIGN
            if parts[0] not in allowed or nested_foreign or path.is_symlink():
                artifact.foreign.append(str(relative))
            elif path.suffix in (".csv", ".jsonl", ".txt") and _holds_planted_data(path):
                artifact.foreign.append(f"{relative} (holds the planted out/ data)")
        artifacts.append(artifact)
    return artifacts


def _holds_planted_data(path: Path) -> bool:
    text = path.read_text(encoding="utf-8", errors="replace")
    return any(marker in text for marker in MARKERS)


def report(artifacts: list[Artifact], seconds: float) -> list[str]:
    """Print the sizes; the problems found, one line each."""
    problems = []
    total = sum(a.size for a in artifacts)
    print(f"{'artifact':<28}{'files':>7}{'size':>12}")
    for a in artifacts:
        print(f"{a.name:<28}{a.files:>7}{a.size / 1024 / 1024:>10.2f} MB")
        problems += [f"{a.name}: {f} does not belong in a Lambda artifact" for f in a.foreign]
        if not a.name.endswith("Layer") and a.size > MAX_FUNCTION:
            problems.append(f"{a.name}: {a.size / 1024 / 1024:.2f} MB of own code (at most 2 MB)")
    print(f"{'.aws-sam/build':<28}{sum(a.files for a in artifacts):>7}{total / 1024 / 1024:>10.2f} MB"
          f"   (sam build: {seconds:.0f} s)")
    if total > MAX_TOTAL:
        problems.append(f".aws-sam/build: {total / 1024 / 1024:.0f} MB (at most 200 MB)")
    if not any(a.name.endswith("Layer") for a in artifacts):
        problems.append(".aws-sam/build: no dependencies layer")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sam-bin", type=Path, default=REPO / ".venv-sam" / "bin",
                        help="folder of the SAM CLI (and of the python3.12 it builds the layer with)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary copy and print where it is")
    args = parser.parse_args(argv)
    workdir = Path(tempfile.mkdtemp(prefix="build-check-"))
    try:
        copied = clean_copy(workdir)
        print(f"build-check: {copied} files copied to {workdir}, out/ planted with a fake CRM extract and call list")
        started = time.monotonic()
        sam_build(workdir, args.sam_bin.resolve())
        problems = report(inspect(workdir / ".aws-sam" / "build"), time.monotonic() - started)
    finally:
        if args.keep:
            print(f"kept: {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    for problem in problems:
        print(f"build-check: {problem}", file=sys.stderr)
    print("build-check: " + ("FAILED" if problems else "every artifact holds only what it needs"))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
