"""The torch side of lmpairs: stream shards as collated batches to DDP trainers, and the matching losses."""
from lmpairs.loader import losses
from lmpairs.loader.dataset import PairStream
from lmpairs.loader.formats import FORMATS, BatchFormat, format_for, loss_for
from lmpairs.loader.losses import clm_loss, mlm_loss, num_targets, seq2seq_loss
from lmpairs.loader.mixture import MixtureError, PairMixture
from lmpairs.loader.pair_loader import PairLoader
from lmpairs.loader.resume import StateError
from lmpairs.loader.shard_reader import ShardError

__all__ = ["FORMATS", "BatchFormat", "MixtureError", "PairLoader", "PairMixture", "PairStream",
           "ShardError", "StateError", "clm_loss", "format_for", "loss_for", "losses", "mlm_loss",
           "num_targets", "seq2seq_loss"]
