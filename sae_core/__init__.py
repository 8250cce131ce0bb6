"""SAE Playground's engine: tables, sparse autoencoders, training, metrics, charts, export.

No Streamlit here: pages, the CLI and benchmarks all call into this package.
"""

from .allocator import RETURNS_FREED_MEMORY  # first: freed tensors go back to the OS
from .errors import ConfigError, ModelFileError, SAEInputError, TableError
from .training import StepLog, TrainConfig, Trainer, TrainResult, train, train_seeds

__all__ = [
    "RETURNS_FREED_MEMORY", "ConfigError", "ModelFileError", "SAEInputError", "StepLog", "TableError", "TrainConfig",
    "TrainResult", "Trainer", "train", "train_seeds",
]
