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
    "report": ("apache_beam", "torch", "lmpairs.pipeline", "lmpairs.trainer"),
    # the trainer adapters use the loader's public surface only (lmpairs.loader), never its modules
    "integrations": ("apache_beam", "lmpairs.pipeline", "lmpairs.trainer"),
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


def test_integrations_use_only_the_loaders_public_names():
    inner = [(f.name, m) for f in sorted((PACKAGE / "integrations").rglob("*.py")) for m in imported_modules(f)
             if m.startswith("lmpairs.loader.")]
    assert inner == []


def test_beam_is_only_in_pipeline_and_torch_only_in_loader_and_trainer():
    for path in PACKAGE.rglob("*.py"):
        part = path.relative_to(PACKAGE).parts[0]
        mods = imported_modules(path)
        if any(m == "apache_beam" or m.startswith("apache_beam.") for m in mods):
            assert part == "pipeline", path
        if any(m == "torch" or m.startswith("torch.") for m in mods):
            assert part in ("loader", "trainer", "integrations"), path



def module_name(path: Path, package: Path) -> str:
    parts = path.relative_to(package.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def runtime_imports(path: Path, package: Path, modules: set[str]) -> set[str]:
    """The package's modules that ``path`` imports when it runs: function-level imports included,
    ``if TYPE_CHECKING:`` blocks not; ``from pkg import name`` is ``pkg.name`` when that is a module;
    a module named by a string passed to a call (``importlib.import_module``, ``cli.delegated``) too."""
    name = module_name(path, package)
    here = name if path.name == "__init__.py" else name.rpartition(".")[0]
    tree = ast.parse(path.read_text())
    skipped = {id(n) for node in ast.walk(tree)
               if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)
               for stmt in node.body for n in ast.walk(stmt)}
    found = set()
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = here.split(".")[: len(here.split(".")) - (node.level - 1)]
                base = ".".join(anchor + ([base] if base else []))
            found.update(f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base for a in node.names)
        elif isinstance(node, ast.Call):
            found.update(a.value for a in node.args if isinstance(a, ast.Constant) and a.value in modules)
    return (found & modules) - {name}


def import_cycles(package: Path) -> list[list[str]]:
    """The strongly connected parts (two or more modules) of the package's import graph, sorted."""
    paths = {module_name(p, package): p for p in package.rglob("*.py")}
    graph = {name: runtime_imports(path, package, set(paths)) for name, path in paths.items()}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    cycles = []

    def connect(node: str) -> None:  # Tarjan's algorithm
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in graph[node]:
            if nxt not in index:
                connect(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            part = []
            while not part or part[-1] != node:
                part.append(stack.pop())
            if len(part) > 1:
                cycles.append(sorted(part))

    for node in sorted(graph):
        if node not in index:
            connect(node)
    return sorted(cycles)


def test_lmpairs_has_no_import_cycle():
    assert import_cycles(PACKAGE) == []


def test_import_cycles_are_found_through_lazy_imports_but_not_type_checking_blocks(tmp_path):
    package = tmp_path / "pkg"
    (package / "sub").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "sub" / "__init__.py").write_text("from .c import g\n")
    (package / "a.py").write_text("def f():\n    from pkg import b\n")
    (package / "b.py").write_text("from pkg.a import f\n")
    (package / "sub" / "c.py").write_text("from typing import TYPE_CHECKING\nfrom .. import a\n"
                                         "if TYPE_CHECKING:\n    from pkg.sub import g\n")
    assert import_cycles(package) == [["pkg.a", "pkg.b"]]
    (package / "sub" / "c.py").write_text("from pkg.sub import d\n")
    (package / "sub" / "d.py").write_text("import pkg.sub\n")
    assert import_cycles(package) == [["pkg.a", "pkg.b"], ["pkg.sub", "pkg.sub.c", "pkg.sub.d"]]


def test_modules_named_by_string_count_as_imports():
    """``lmpairs.cli`` loads its delegated subcommands by module name; those edges stay in the graph."""
    modules = {module_name(p, PACKAGE) for p in PACKAGE.rglob("*.py")}
    edges = runtime_imports(PACKAGE / "cli.py", PACKAGE, modules)
    assert {"lmpairs.inspection.cli", "lmpairs.report.cli", "lmpairs.trainer.cli", "lmpairs.demo"} <= edges
