"""Saving and loading trained SAEs: a zip of ``model.safetensors`` + ``config.json``
(the playground's first format; the app and the CLI now save SAELens folders, see
saelens_format.py), and feature activations as CSV.

Never pickle: safetensors holds only tensors, the JSON only plain values, and loading
checks every name, shape and size before building a model.
"""

from __future__ import annotations

import io
import json
import zipfile

import torch
from safetensors.torch import load as load_safetensors
from safetensors.torch import save as save_safetensors

from . import limits
from .architectures import get_architecture
from .errors import ModelFileError, SAEInputError
from .training import TrainConfig, TrainResult

FORMAT = "sae-playground/1"


def model_to_zip(result: TrainResult, dims: list[str], tokens: list[str] | None = None) -> bytes:
    """A trained model as zip bytes: weights (safetensors) + config and dimension names (JSON)."""
    model = result.model
    tensors = {name: tensor[0].contiguous() for name, tensor in model.saved_tensors().items()}
    meta = {
        "format": FORMAT,
        "config": result.config.to_dict(),
        "dims": list(dims),
        "tokens": list(tokens or []),
        "metrics": result.metrics.to_dict(),
        "epochs_done": result.epochs_done,
    }
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("model.safetensors", save_safetensors(tensors))
        archive.writestr("config.json", json.dumps(meta, indent=2))
    return buffer.getvalue()


def model_from_zip(data: bytes, name: str = "model.zip"):
    """Load (model, meta) from :func:`model_to_zip` bytes; ModelFileError on anything odd."""
    if len(data) > limits.MAX_UPLOAD_BYTES:
        raise ModelFileError(f"{name}: larger than the limit of {limits.MAX_UPLOAD_BYTES / 1e6:.0f} MB")
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            infos = {i.filename: i for i in archive.infolist()}
            for needed in ("model.safetensors", "config.json"):
                if needed not in infos:
                    raise ModelFileError(f"{name}: not an SAE Playground model (no {needed} inside)")
                if infos[needed].file_size > limits.MAX_UNPACKED_BYTES:
                    raise ModelFileError(f"{name}: {needed} unpacks to more than the size limit")
            meta = json.loads(archive.read("config.json").decode("utf-8"))
            tensors = load_safetensors(archive.read("model.safetensors"))
    except ModelFileError:
        raise
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, OSError, ValueError, RuntimeError,
            UnicodeDecodeError, NotImplementedError) as error:
        raise ModelFileError(f"{name}: not a readable model file ({type(error).__name__})") from None
    except Exception as error:  # safetensors raises its own SafetensorError
        raise ModelFileError(f"{name}: not a readable model file ({type(error).__name__})") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise ModelFileError(f"{name}: config.json is not an SAE Playground model config")
    try:
        config = TrainConfig.from_dict(meta.get("config", {}))
        dims = [str(d) for d in meta["dims"]]
        config.validate()
    except (SAEInputError, KeyError, TypeError) as error:
        raise ModelFileError(f"{name}: bad config ({error})") from None
    arch = get_architecture(config.architecture)
    model = arch(len(dims), [config.hidden_dim], [config.seed], [config.sparsity_weight],
                 **{option: getattr(config, option) for option in arch.options})
    expected = {key: tuple(tensor.shape[1:]) for key, tensor in model.saved_tensors().items()}
    if set(tensors) != set(expected):
        raise ModelFileError(f"{name}: expected tensors {', '.join(expected)}")
    for key, shape in expected.items():
        tensor = tensors[key]
        if tuple(tensor.shape) != shape or tensor.dtype != torch.float32:
            raise ModelFileError(f"{name}: tensor {key} has shape {tuple(tensor.shape)}, expected {shape} float32")
        if not torch.isfinite(tensor).all():
            raise ModelFileError(f"{name}: tensor {key} contains NaN or infinite values")
    model.load_tensors({key: tensor[None] for key, tensor in tensors.items()})
    meta["dims"] = dims
    return model, meta


def activations_csv(feature_activations_NH, tokens: list[str]) -> bytes:
    """Feature activations as CSV: token, F0, F1, ... (safe to open in a spreadsheet)."""
    import pandas as pd
    from .table import table_to_csv
    frame = pd.DataFrame(feature_activations_NH, columns=[f"F{j}" for j in range(feature_activations_NH.shape[1])])
    frame.insert(0, "token", list(tokens))
    return table_to_csv(frame)
