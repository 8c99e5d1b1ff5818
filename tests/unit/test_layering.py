"""Imports point one way: transforms/schemas never reach pipeline or loader; Beam and torch stay apart."""
import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "lmpairs"

FORBIDDEN = {
    "transforms": ("apache_beam", "torch", "pyarrow", "sentencepiece", "lmpairs.pipeline", "lmpairs.loader",
                   "lmpairs.schemas", "lmpairs.tokenizer"),
    "schemas": ("apache_beam", "torch", "lmpairs.pipeline", "lmpairs.loader", "lmpairs.transforms"),
    "pipeline": ("torch", "lmpairs.loader", "lmpairs.trainer", "lmpairs.inspection"),
    "loader": ("apache_beam", "lmpairs.pipeline"),
}


def imported_modules(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


@pytest.mark.parametrize("part", sorted(FORBIDDEN))
def test_part_does_not_import_what_it_must_not(part):
    files = sorted((PACKAGE / part).rglob("*.py"))
    assert files, f"lmpairs/{part} has no modules"
    bad = [(f.name, m) for f in files for m in imported_modules(f)
           if any(m == p or m.startswith(p + ".") for p in FORBIDDEN[part])]
    assert bad == []


def test_beam_is_only_in_pipeline_and_torch_only_in_loader_and_trainer():
    for path in PACKAGE.rglob("*.py"):
        part = path.relative_to(PACKAGE).parts[0]
        mods = imported_modules(path)
        if any(m == "apache_beam" or m.startswith("apache_beam.") for m in mods):
            assert part == "pipeline", path
        if any(m == "torch" or m.startswith("torch.") for m in mods):
            assert part in ("loader", "trainer"), path
