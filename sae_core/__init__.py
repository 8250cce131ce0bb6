"""SAE Playground's engine: tables, sparse autoencoders, training, metrics, charts, export.

No Streamlit here: pages, the CLI and benchmarks all call into this package.
"""

from .errors import ConfigError, ModelFileError, SAEInputError, TableError
from .training import StepLog, TrainConfig, Trainer, TrainResult, train, train_seeds

__all__ = [
    "ConfigError", "ModelFileError", "SAEInputError", "StepLog", "TableError", "TrainConfig",
    "TrainResult", "Trainer", "train", "train_seeds",
]
