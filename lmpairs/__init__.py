"""lmpairs: Beam jobs that materialize CLM/MLM/T5/BART training pairs, and a loader that streams them."""
from lmpairs.version import __version__

__all__ = ["__version__"]
