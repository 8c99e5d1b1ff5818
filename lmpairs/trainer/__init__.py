"""The reference trainer: tiny ``torch.nn`` models fed by ``PairStream``, with exact loss normalization and resume."""
from lmpairs.trainer.checkpoint import CheckpointError
from lmpairs.trainer.config import TrainConfig
from lmpairs.trainer.models import MODELS, ModelConfig, build_model
from lmpairs.trainer.step import StepLoss, accumulate_gradients
from lmpairs.trainer.train import TrainResult, Trainer, train

__all__ = ["MODELS", "CheckpointError", "ModelConfig", "StepLoss", "TrainConfig", "TrainResult", "Trainer",
           "accumulate_gradients", "build_model", "train"]
