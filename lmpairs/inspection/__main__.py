"""``python -m lmpairs.inspection OUT`` runs ``lmpairs inspect`` (same arguments)."""
import sys

from lmpairs.inspection.cli import main

sys.exit(main())
