"""Build the API reference from lmpairs' docstrings with pdoc, failing on what would mislead a reader.

``python docs/build_api.py OUTDIR`` (``make docs``) writes HTML under OUTDIR and exits 1 when pdoc
warns (a module that does not import, an annotation it cannot parse) or when a docstring's Sphinx
role (``:func:`…```, ``:class:`…```, ``:mod:`…```, ``:meth:`…```, ``:attr:`…```, ``:data:`…```)
names nothing: pdoc renders an unresolved reference as plain code without a word, so this script
resolves each one itself (a dotted ``lmpairs.…`` path, or a name in the docstring's module or one
of its classes).
"""
from __future__ import annotations

import importlib
import inspect
import pkgutil
import re
import sys
import warnings
from pathlib import Path

ROLE = re.compile(r":(?:func|class|mod|meth|attr|data|exc|obj):`~?([^`<>]+?)(?:\(\))?`")
EXTERNAL = ("torch", "numpy", "pyarrow", "apache_beam", "transformers", "lightning", "datasets", "tokenizers",
            "sentencepiece", "typing", "collections", "dataclasses", "argparse", "logging", "pathlib")


def modules(package: str = "lmpairs") -> list[str]:
    root = importlib.import_module(package)
    names = [package]
    for info in pkgutil.walk_packages(root.__path__, package + "."):
        if not info.name.split(".")[-1].startswith("_") and info.name != "lmpairs.__main__":
            names.append(info.name)
    return names


def _has(obj, name: str):
    """``getattr`` that also sees dataclass fields and annotated attributes without a class default."""
    if hasattr(obj, name):
        return getattr(obj, name)
    if name in getattr(obj, "__dataclass_fields__", {}) or name in getattr(obj, "__annotations__", {}):
        return object()
    raise AttributeError(name)


def _walk(obj, parts: list[str]) -> bool:
    try:
        for name in parts:
            obj = _has(obj, name)
    except AttributeError:
        return False
    return True


def resolves(target: str, module, everywhere: dict[str, list]) -> bool:
    """Whether ``target`` names something: a dotted path from a top-level package, a name (or
    ``Class.attr``) in ``module`` or one of its classes, or, as Sphinx's short references are
    written, a name defined in exactly some lmpairs module (``everywhere``)."""
    parts = target.split(".")
    if parts[0] in EXTERNAL:
        return True
    if parts[0] == "lmpairs":
        for cut in range(len(parts), 0, -1):
            try:
                obj = importlib.import_module(".".join(parts[:cut]))
            except ImportError:
                continue
            return _walk(obj, parts[cut:])
        return False
    scopes = [module, *(c for _, c in inspect.getmembers(module, inspect.isclass))]
    return any(_walk(scope, parts) for scope in scopes) or any(_walk(obj, parts[1:])
                                                               for obj in everywhere.get(parts[0], []))


def index(names: list[str]) -> dict[str, list]:
    """Every name defined in some lmpairs module (its functions, classes, constants) and its classes' members."""
    found: dict[str, list] = {}
    for name in names:
        module = importlib.import_module(name)
        found.setdefault(name.rpartition(".")[2], []).append(module)
        for attr, obj in vars(module).items():
            found.setdefault(attr, []).append(obj)
            if inspect.isclass(obj) and obj.__module__ == name:
                try:  # attributes set on instances: ``self.position = …``
                    assigned = set(re.findall(r"self\.(\w+)\b", inspect.getsource(obj)))
                except (OSError, TypeError):
                    assigned = set()
                for member in {*vars(obj), *getattr(obj, "__dataclass_fields__", {}), *assigned}:
                    found.setdefault(member, []).append(object())
    return found


def broken_references(names: list[str]) -> list[str]:
    broken, everywhere = [], index(names)
    for name in names:
        module = importlib.import_module(name)
        texts = [module.__doc__ or ""]
        for _, obj in inspect.getmembers(module):
            if getattr(obj, "__module__", None) == name and (inspect.isclass(obj) or inspect.isfunction(obj)):
                texts.append(obj.__doc__ or "")
                if inspect.isclass(obj):
                    texts += [m.__doc__ or "" for m in vars(obj).values() if inspect.isfunction(m)]
        for text in texts:
            broken += [f"{name}: {m.group(0)}" for m in ROLE.finditer(text)
                       if not resolves(m.group(1), module, everywhere)]
    return sorted(set(broken))


def materialize_lazy_names(names: list[str]) -> None:
    """Packages that load their ``__all__`` names on first use (``__getattr__``) get them now, so
    pdoc documents them instead of reporting them unresolved."""
    for name in names:
        module = importlib.import_module(name)
        if "__getattr__" in vars(module):
            for attr in getattr(module, "__all__", ()):
                setattr(module, attr, getattr(module, attr))


def known_pdoc_noise(message: str) -> bool:
    """pdoc evaluates a NamedTuple's generated ``__init__`` annotations outside the class's module, so
    its postponed annotations never resolve there; the fields themselves are documented correctly."""
    found = re.search(r"Error parsing type annotation .* for ([\w.]+)\.__init__\.", message)
    if not found:
        return False
    module, _, cls = found.group(1).rpartition(".")
    obj = getattr(importlib.import_module(module), cls, None)
    return inspect.isclass(obj) and issubclass(obj, tuple) and hasattr(obj, "_fields")


def page_specs(names: list[str]) -> list[str]:
    """The modules to hand pdoc: those it would not reach by itself. pdoc documents every submodule of a
    package without ``__all__`` and only the listed ones of a package with it (so ``lmpairs`` alone
    would give one page), and it warns about a module given twice."""
    specs = []
    for name in names:
        parent, _, leaf = name.rpartition(".")
        exported = getattr(importlib.import_module(parent), "__all__", None) if parent else ()
        if exported is not None and leaf not in exported:  # pdoc walks a package without __all__ itself
            specs.append(name)
    return specs


def main(argv: list[str]) -> int:
    import pdoc

    out = Path(argv[0] if argv else "docs/api")
    names = modules()
    materialize_lazy_names(names)
    pdoc.render.configure(docformat="restructuredtext", footer_text="lmpairs API reference")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        pdoc.pdoc(*page_specs(names), output_directory=out)
    problems = [f"pdoc: {str(w.message).splitlines()[0]}" for w in caught
                if "pdoc" in (w.filename or "") and not known_pdoc_noise(str(w.message))]
    problems += [f"broken reference: {b}" for b in broken_references(names)]
    for line in problems:
        print(line, file=sys.stderr)
    print(f"{'FAILED' if problems else 'wrote'} {out}/index.html ({len(names)} modules, {len(problems)} problems)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
