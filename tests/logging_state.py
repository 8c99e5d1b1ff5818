"""Saving and restoring the logging state that ``lmpairs.cli.main`` changes (shared by conftest and fixtures)."""
from __future__ import annotations

import contextlib
import logging


@contextlib.contextmanager
def restored_logging():
    """The root and ``lmpairs`` loggers as found: ``lmpairs.cli.main`` calls ``logging.basicConfig``
    (as a CLI should) and raises the ``lmpairs`` logger to INFO; left behind, either leaks INFO lines
    into later tests' captured output. Module-scoped fixtures that call ``main`` use it too (they
    run outside any one test's :func:`isolated_logging`)."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    named = {name: (lg.level, lg.handlers[:]) for name, lg in logging.Logger.manager.loggerDict.items()
             if isinstance(lg, logging.Logger) and name.split(".")[0] in ("lmpairs", "apache_beam")}
    try:
        yield
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)
        for name, lg in logging.Logger.manager.loggerDict.items():
            if isinstance(lg, logging.Logger) and name.split(".")[0] in ("lmpairs", "apache_beam"):
                lg_level, lg_handlers = named.get(name, (logging.NOTSET, []))
                lg.setLevel(lg_level)
                lg.handlers[:] = lg_handlers
