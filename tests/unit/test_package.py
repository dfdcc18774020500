"""What `sam build` packs per function (infra/package.py) and what `make build-check` refuses (infra/build_check.py).

The real `sam build` runs in `make build-check`; these tests hold the rules it relies on: each function's folder
follows from its logical id, its artifact holds every module its code can import and nothing but `functions/`
and `shared/`, and the check names a file that does not belong.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

from infra import build_check, package
from infra.template import functions, load_template

REPO = Path(__file__).resolve().parents[2]
SPECS = {spec.logical_id: spec for spec in functions(load_template())}


@pytest.mark.parametrize("logical_id", sorted(SPECS))
def test_the_folder_named_by_the_logical_id_holds_the_handler(logical_id: str) -> None:
    # Given a function of the template, when its folder is derived from its logical id
    folder = package.folder_of(logical_id)
    # Then its Handler is in that folder
    assert SPECS[logical_id].handler.startswith(f"functions.{folder}."), (logical_id, SPECS[logical_id].handler)


@pytest.mark.parametrize("logical_id", sorted(SPECS))
def test_every_function_built_with_the_makefile(logical_id: str) -> None:
    resource = load_template()["Resources"][logical_id]
    assert resource.get("Metadata", {}).get("BuildMethod") == "makefile", logical_id


def _imports(paths: list[Path]) -> set[str]:
    found = set()
    for path in paths:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                found |= {a.name for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                found.add(node.module)
    return found


@pytest.mark.parametrize("logical_id", sorted(SPECS))
def test_the_artifact_holds_every_project_module_its_code_imports(logical_id: str, tmp_path: Path) -> None:
    # When the function is packed
    written = package.package(logical_id, tmp_path)
    # Then it holds only functions/ and shared/, and every functions.* or shared.* module it imports is in it
    assert {p.relative_to(tmp_path).parts[0] for p in written} == {"functions", "shared"}
    for module in _imports([p for p in written if p.suffix == ".py"]):
        if module.split(".")[0] in ("functions", "shared"):
            path = tmp_path.joinpath(*module.split("."))
            assert path.with_suffix(".py").is_file() or (path / "__init__.py").is_file(), (logical_id, module)
    assert not [p for p in written if "__pycache__" in p.parts]


def test_a_handler_imports_from_its_artifact_alone(tmp_path: Path) -> None:
    # Given the responses function (it reaches into ingest, call_list_exporter, print_batcher) packed alone
    package.package("ResponsesFunction", tmp_path)
    probe = ("import sys, functions.responses.handler as h; "
             "mods = [m.__file__ for n, m in sys.modules.items() if n.split('.')[0] in ('functions', 'shared')]; "
             f"assert all(f.startswith({str(tmp_path)!r}) for f in mods), mods; print(len(mods))")
    # When its handler is imported there (the repository off the path)
    result = subprocess.run([sys.executable, "-c", probe], cwd=tmp_path, capture_output=True, text=True)
    # Then it imports, and every project module came from the artifact
    assert result.returncode == 0, result.stderr


def test_a_logical_id_that_is_not_a_function_is_refused() -> None:
    with pytest.raises(ValueError):
        package.folder_of("IngestQueue")


def _artifact(root: Path, name: str, files: dict[str, str]) -> None:
    for relative, text in files.items():
        (root / name / relative).parent.mkdir(parents=True, exist_ok=True)
        (root / name / relative).write_text(text, encoding="utf-8")


def test_build_check_names_every_file_that_does_not_belong(tmp_path: Path) -> None:
    # Given a build where a function carries a run's output, the tests and personal data, and the layer a docs/
    _artifact(tmp_path, "IngestFunction", {
        "functions/ingest/handler.py": "", "shared/aws.py": "",
        "out/input/customers.csv": "x", "tests/test_x.py": "",
        "shared/data/leak.csv": build_check.PLANTED["out/input/customers.csv"]})
    _artifact(tmp_path, "DependenciesLayer", {"python/pydantic/__init__.py": "", "python/docs/index.md": ""})
    # When the check inspects it
    artifacts = {a.name: a for a in build_check.inspect(tmp_path)}
    # Then each foreign file is named, the clean ones are not
    assert sorted(artifacts["IngestFunction"].foreign) == [
        "out/input/customers.csv", "shared/data/leak.csv (holds the planted out/ data)", "tests/test_x.py"]
    assert artifacts["DependenciesLayer"].foreign == ["python/docs/index.md"]
    assert build_check.report(list(artifacts.values()), 1.0)


def test_build_check_passes_a_clean_build(tmp_path: Path) -> None:
    _artifact(tmp_path, "IngestFunction", {"functions/ingest/handler.py": "", "shared/aws.py": ""})
    _artifact(tmp_path, "DependenciesLayer", {"python/pydantic/__init__.py": ""})
    assert build_check.report(build_check.inspect(tmp_path), 1.0) == []
