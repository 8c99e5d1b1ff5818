"""``python -m lmpairs COMMAND ...`` runs the ``lmpairs`` command (e.g. ``python -m lmpairs demo``)."""
import sys

from lmpairs.cli import main

sys.exit(main())
