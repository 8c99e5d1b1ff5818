"""Human views of a build: manifest summaries and decoded examples (pyarrow + SentencePiece only).

``inspect_build(path, InspectOptions(...))`` returns the text ``lmpairs inspect`` prints;
``add_inspect_arguments``/``run_inspect`` are the CLI hooks.
"""
from lmpairs.inspection.cli import add_inspect_arguments, run_inspect
from lmpairs.inspection.report import InspectError, InspectOptions, inspect_build, objective_dirs

__all__ = ["InspectError", "InspectOptions", "add_inspect_arguments", "inspect_build", "objective_dirs",
           "run_inspect"]
