"""lmpairs: Beam jobs that materialize CLM/MLM/T5/BART training pairs, and a loader that streams them.

- :func:`lmpairs.build` runs the build job (``lmpairs build``) from Python; Beam loads when it starts.
- :mod:`lmpairs.loader` streams the shards to PyTorch (``PairStream``, ``PairMixture``, the losses).
- :mod:`lmpairs.integrations` plugs them into Hugging Face's ``Trainer`` and Lightning.
- :mod:`lmpairs.config` holds the frozen configs both sides share.
"""
from lmpairs.api import build
from lmpairs.version import __version__

__all__ = ["__version__", "build"]
