"""``lmpairs.loader.losses``: DESIGN's loss names, ``clm_loss``, ``mlm_loss``, ``seq2seq_loss``,
``num_targets`` and ``loss_for(objective)``.

The cross-entropy itself lives in :mod:`lmpairs.loader.cross_entropy` (how a trainer normalizes by
the global number of target tokens is told there), the objective -> loss table in
:mod:`lmpairs.loader.formats`; this module only names them, so formats never imports it back.
"""
from __future__ import annotations

from lmpairs.loader.cross_entropy import clm_loss, mlm_loss, num_targets, seq2seq_loss, token_cross_entropy
from lmpairs.loader.formats import loss_for

__all__ = ["clm_loss", "loss_for", "mlm_loss", "num_targets", "seq2seq_loss", "token_cross_entropy"]
