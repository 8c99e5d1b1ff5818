"""lmpairs streams in the trainers people use, with exact resume through each trainer's own checkpoints.

- :mod:`lmpairs.integrations.hf`: :class:`~lmpairs.integrations.hf.PairTrainer`, a Hugging Face
  ``transformers.Trainer`` that takes a ``PairStream``/``PairMixture`` as ``train_dataset``
  (``pip install -e '.[hf]'``).
- :mod:`lmpairs.integrations.lightning`: :class:`~lmpairs.integrations.lightning.PairDataModule`,
  a Lightning ``LightningDataModule`` (``pip install -e '.[lightning]'``).
- A plain PyTorch loop with ``torch.distributed`` needs no adapter: ``examples/train_plain.py``.

Each module imports its framework at the top; this package imports neither, so a missing extra
only matters to the module that needs it. Both use the loader's public surface only
(``make_loader``, ``state_dict``/``load_state_dict``, ``set_epoch``, ``loss_for``).
"""
