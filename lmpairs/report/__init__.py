"""``lmpairs report``: one self-contained HTML page of a build's figures, plots and coloured examples.

``build_figures`` (also behind ``lmpairs inspect --json``) gathers the numbers; ``render_page``
draws them; ``add_report_arguments``/``run_report`` are the CLI hooks.
"""
from lmpairs.report.cli import add_report_arguments, run_report
from lmpairs.report.figures import FigureOptions, build_figures
from lmpairs.report.html import render_page

__all__ = ["FigureOptions", "add_report_arguments", "build_figures", "render_page", "run_report"]
