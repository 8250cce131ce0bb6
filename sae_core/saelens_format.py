"""Models in SAELens' own format: a folder that ``sae_lens.SAE.load_from_disk`` opens.

    cfg.json                 {"architecture", "d_in", "d_sae", "dtype", "apply_b_dec_to_input",
                              "normalize_activations", "metadata": {...}, ...architecture fields}
    sae_weights.safetensors  W_enc [d_in, d_sae], b_enc [d_sae], W_dec [d_sae, d_in], b_dec [d_in]
                             (+ the architecture's extras, e.g. threshold [d_sae] for jumprelu)

The playground encodes ``ReLU(x W_enc + b_enc)``; sae-lens subtracts ``b_dec`` from x first
when ``apply_b_dec_to_input`` is true (its default). We write false, so both give the same
numbers; folders written by sae-lens with true are folded on loading:
``(x - b_dec) W_enc + b_enc = x W_enc + (b_enc - b_dec W_enc)``.

Each architecture class supplies the SAELens side itself (see sae_core/architectures/base.py):
``saelens_architecture`` (the name in cfg.json), ``saelens_tensors()``, ``saelens_cfg()``
(extra cfg fields, e.g. ``{"k": 16}``), ``options_from_saelens(cfg)`` and
``from_saelens(cfg, tensors)``; tensors beyond the four (e.g. jumprelu's ``threshold``) are
the extra names in its ``HIDDEN_AXIS``, each [d_sae].
This module only checks and moves bytes; it never unpickles (safetensors + JSON only).
"""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from safetensors.torch import load as load_safetensors
from safetensors.torch import save as save_safetensors

from . import limits
from .architectures import ARCHITECTURES
from .errors import ModelFileError, SAEInputError
from .metrics import evaluate, feature_density
from .training import TrainConfig, TrainResult, as_matrix, check_memory

CFG_FILE = "cfg.json"
WEIGHTS_FILE = "sae_weights.safetensors"
# The sae-lens release whose SAE.load_from_disk the tests open our folders with.
SAELENS_VERSION = "6.54.12"
PLAYGROUND_FORMAT = "sae-playground/2"
BASE_TENSORS = ("W_enc", "b_enc", "W_dec", "b_dec")
DTYPES = {"float32": torch.float32, "float64": torch.float64, "float16": torch.float16,
          "bfloat16": torch.bfloat16}


# ---- writing ---------------------------------------------------------------------------------


def saelens_files(model, metadata: dict) -> dict[str, bytes]:
    """The two files of a one-member model's SAELens folder, as bytes by file name."""
    tensors = {name: t.detach().to(torch.float32).contiguous() for name, t in model.saelens_tensors().items()}
    d_in, d_sae = tensors["W_enc"].shape
    cfg = {
        "architecture": model.saelens_architecture,
        "d_in": int(d_in),
        "d_sae": int(d_sae),
        "dtype": "float32",
        "device": "cpu",
        "apply_b_dec_to_input": False,  # the playground's encoder: ReLU(x W_enc + b_enc)
        "normalize_activations": "none",
        "reshape_activations": "none",
        **model.saelens_cfg(),
        "metadata": {"sae_lens_version": SAELENS_VERSION, "sae_lens_training_version": None,
                     "playground_format": PLAYGROUND_FORMAT, **metadata},
    }
    return {CFG_FILE: json.dumps(cfg, indent=1).encode("utf-8"), WEIGHTS_FILE: save_safetensors(tensors)}


def save_saelens(model, folder, metadata: dict) -> Path:
    """Write ``model`` (one member) as a SAELens folder; returns the folder."""
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        for name, content in saelens_files(model, metadata).items():
            (folder / name).write_bytes(content)
    except OSError as error:
        raise SAEInputError(f"cannot write the model folder {folder.name}: {error.strerror}") from None
    return folder


def saelens_zip(model, metadata: dict, folder_name: str = "sae_playground_model") -> bytes:
    """The SAELens folder as zip bytes (``unzip`` gives ``folder_name/``, ready for load_from_disk)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in saelens_files(model, metadata).items():
            archive.writestr(f"{folder_name}/{name}", content)
    return buffer.getvalue()


def result_metadata(result: TrainResult, dims: list[str], tokens: list[str] | None = None) -> dict:
    """What the playground keeps in cfg.json's metadata: its settings and the table it saw."""
    return {
        "playground_config": result.config.to_dict(),
        "dimension_names": list(dims),
        "tokens": list(tokens or []),
        "metrics": result.metrics.to_dict(),
        "epochs_done": result.epochs_done,
    }


def result_zip(result: TrainResult, dims: list[str], tokens: list[str] | None = None) -> bytes:
    """A trained model as the app's and the CLI's download: the SAELens folder in a zip."""
    return saelens_zip(result.model, result_metadata(result, dims, tokens))


# ---- reading ---------------------------------------------------------------------------------


def load_saelens(path) -> tuple[torch.nn.Module, dict]:
    """(one-member model, cfg dict) from a SAELens folder or a .zip of one; ModelFileError otherwise."""
    path = Path(path)
    if path.is_dir():
        cfg_bytes, weight_bytes = _read_folder(path)
        return model_from_saelens_bytes(cfg_bytes, weight_bytes, path.name)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise ModelFileError(f"{path.name}: no such file or folder") from None
    except OSError as error:
        raise ModelFileError(f"{path.name}: cannot be read ({error.strerror})") from None
    return load_saelens_zip(data, path.name)


def _read_folder(folder: Path) -> tuple[bytes, bytes]:
    contents = []
    for name in (CFG_FILE, WEIGHTS_FILE):
        file = folder / name
        if not file.is_file():
            raise ModelFileError(f"{folder.name}: not a SAELens model folder (no {name} inside)")
        if file.stat().st_size > limits.MAX_UNPACKED_BYTES:
            raise ModelFileError(f"{folder.name}: {name} is larger than the limit of "
                                 f"{limits.MAX_UNPACKED_BYTES / 1e6:.0f} MB")
        contents.append(file.read_bytes())
    return contents[0], contents[1]


def load_saelens_zip(data: bytes, name: str = "model.zip") -> tuple[torch.nn.Module, dict]:
    """A zip of a SAELens folder (the files at its root or in one folder inside); never extracted to disk."""
    if len(data) > limits.MAX_UPLOAD_BYTES:
        raise ModelFileError(f"{name}: larger than the limit of {limits.MAX_UPLOAD_BYTES / 1e6:.0f} MB")
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            members = {}
            for needed in (CFG_FILE, WEIGHTS_FILE):
                found = [i for i in archive.infolist() if i.filename.split("/")[-1] == needed
                         and i.filename.count("/") <= 1]
                if not found:
                    raise ModelFileError(f"{name}: not a SAELens model (no {needed} inside)")
                if len(found) > 1:
                    raise ModelFileError(f"{name}: holds more than one {needed}; zip one model folder")
                if found[0].file_size > limits.MAX_UNPACKED_BYTES:
                    raise ModelFileError(f"{name}: {needed} unpacks to more than the limit of "
                                         f"{limits.MAX_UNPACKED_BYTES / 1e6:.0f} MB")
                members[needed] = archive.read(found[0])
    except ModelFileError:
        raise
    except Exception as error:  # zipfile, zlib and OSError variants: all mean an unreadable file
        raise ModelFileError(f"{name}: not a readable zip file ({type(error).__name__})") from None
    return model_from_saelens_bytes(members[CFG_FILE], members[WEIGHTS_FILE], name)


def model_from_saelens_bytes(cfg_bytes: bytes, weight_bytes: bytes, name: str) -> tuple[torch.nn.Module, dict]:
    """Check cfg.json and the weights, fold ``b_dec`` into ``b_enc`` if needed, build the model."""
    cfg = _parse_cfg(cfg_bytes, name)
    stored = cfg["metadata"].get("playground_config")
    arch = architecture_for(cfg["architecture"], name,
                            preferred=stored.get("architecture") if isinstance(stored, dict) else None)
    d_in, d_sae = cfg["d_in"], cfg["d_sae"]
    try:
        tensors = load_safetensors(weight_bytes)
    except Exception as error:  # safetensors raises its own SafetensorError, or ValueError
        raise ModelFileError(f"{name}: {WEIGHTS_FILE} is not a readable safetensors file "
                             f"({type(error).__name__})") from None
    extras = tuple(n for n in getattr(arch, "HIDDEN_AXIS", {}) if n not in BASE_TENSORS)
    expected = {"W_enc": (d_in, d_sae), "b_enc": (d_sae,), "W_dec": (d_sae, d_in), "b_dec": (d_in,),
                **{extra: (d_sae,) for extra in extras}}
    if set(tensors) != set(expected):
        missing, unknown = sorted(set(expected) - set(tensors)), sorted(set(tensors) - set(expected))
        what = f"missing {', '.join(missing)}" if missing else f"unknown {', '.join(unknown)}"
        raise ModelFileError(f"{name}: {WEIGHTS_FILE} must hold exactly {', '.join(expected)} ({what})")
    dtype = DTYPES[cfg["dtype"]]
    for key, shape in expected.items():
        tensor = tensors[key]
        if tuple(tensor.shape) != shape:
            raise ModelFileError(f"{name}: tensor {key} has shape {list(tensor.shape)}, expected {list(shape)}")
        if tensor.dtype != dtype:
            raise ModelFileError(f"{name}: tensor {key} is {str(tensor.dtype).removeprefix('torch.')}, "
                                 f"but cfg.json says dtype {cfg['dtype']}")
        if not torch.isfinite(tensor).all():
            raise ModelFileError(f"{name}: tensor {key} contains NaN or infinite values")
    tensors = {key: t.to(torch.float64) for key, t in tensors.items()}
    if cfg["apply_b_dec_to_input"]:  # sae-lens' default: encode (x - b_dec); fold it into b_enc
        tensors["b_enc"] = tensors["b_enc"] - tensors["b_dec"] @ tensors["W_enc"]
        if not torch.isfinite(tensors["b_enc"].to(torch.float32)).all():
            raise ModelFileError(f"{name}: folding b_dec into b_enc overflows float32")
        cfg = {**cfg, "apply_b_dec_to_input": False}
    tensors = {key: t.to(torch.float32) for key, t in tensors.items()}
    cfg["playground_config"] = _playground_config(cfg, arch, name)
    try:
        model = arch.from_saelens(cfg, tensors, cfg["playground_config"].option_values())
    except (SAEInputError, KeyError, TypeError, ValueError) as error:
        raise ModelFileError(f"{name}: {CFG_FILE} does not describe a {arch.key} model ({error})") from None
    return model, cfg


def architecture_for(saelens_name: str, name: str = "model", preferred=None) -> type:
    """The registered class for a cfg.json architecture: the playground's own choice when it saves
    under that name (BatchTopK saves as jumprelu), else the class with that key, else any that saves so."""
    if isinstance(preferred, str) and preferred in ARCHITECTURES \
            and ARCHITECTURES[preferred].saelens_architecture == saelens_name:
        return ARCHITECTURES[preferred]
    if saelens_name in ARCHITECTURES and ARCHITECTURES[saelens_name].saelens_architecture == saelens_name:
        return ARCHITECTURES[saelens_name]
    for cls in ARCHITECTURES.values():
        if getattr(cls, "saelens_architecture", None) == saelens_name:
            return cls
    known = sorted({getattr(c, "saelens_architecture", k) for k, c in ARCHITECTURES.items()})
    raise ModelFileError(f"{name}: architecture '{saelens_name}' is not supported (supported: {', '.join(known)})")


def _parse_cfg(cfg_bytes: bytes, name: str) -> dict:
    try:
        cfg = json.loads(cfg_bytes.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise ModelFileError(f"{name}: {CFG_FILE} is not valid JSON") from None
    if not isinstance(cfg, dict):
        raise ModelFileError(f"{name}: {CFG_FILE} must hold a JSON object")
    if not isinstance(cfg.get("architecture", "standard"), str):
        raise ModelFileError(f"{name}: {CFG_FILE} field 'architecture' must be a string")
    cfg.setdefault("architecture", "standard")
    for key, limit in (("d_in", limits.MAX_DIMS), ("d_sae", limits.MAX_HIDDEN)):
        value = cfg.get(key)
        if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= limit:
            raise ModelFileError(f"{name}: {CFG_FILE} field '{key}' must be a whole number from 1 to {limit:,} "
                                 f"(got {_short(value)})")
    dtype = cfg.get("dtype", "float32")
    dtype = dtype.removeprefix("torch.") if isinstance(dtype, str) else dtype
    if not isinstance(dtype, str) or dtype not in DTYPES:
        raise ModelFileError(f"{name}: {CFG_FILE} field 'dtype' must be one of {', '.join(DTYPES)} (got {_short(dtype)})")
    cfg["dtype"] = dtype
    if not isinstance(cfg.get("apply_b_dec_to_input", True), bool):
        raise ModelFileError(f"{name}: {CFG_FILE} field 'apply_b_dec_to_input' must be true or false")
    cfg.setdefault("apply_b_dec_to_input", True)  # sae-lens' default
    for key in ("normalize_activations", "reshape_activations"):
        if cfg.get(key, "none") != "none":
            raise ModelFileError(f"{name}: {CFG_FILE} field '{key}' is {_short(cfg.get(key))}; only 'none' "
                                 "is supported (the playground feeds the table's values as they are)")
    metadata = cfg.setdefault("metadata", {})
    if not isinstance(metadata, dict):
        raise ModelFileError(f"{name}: {CFG_FILE} field 'metadata' must be a JSON object")
    version = metadata.get("sae_lens_version", cfg.get("sae_lens_version"))
    if version is not None and _major(version) < 6:
        raise ModelFileError(f"{name}: written by sae-lens {_short(version)}; re-save it with sae-lens 6 or later")
    dims = metadata.get("dimension_names")
    if dims is not None and (not isinstance(dims, list) or len(dims) != cfg["d_in"]
                             or not all(isinstance(d, str) and d for d in dims)):
        raise ModelFileError(f"{name}: metadata 'dimension_names' must be {cfg['d_in']} names (d_in)")
    tokens = metadata.get("tokens", [])
    if not isinstance(tokens, list) or not all(isinstance(t, str) for t in tokens) or len(tokens) > limits.MAX_ROWS:
        raise ModelFileError(f"{name}: metadata 'tokens' must be a list of at most {limits.MAX_ROWS:,} strings")
    return cfg


def _playground_config(cfg: dict, arch: type, name: str) -> TrainConfig:
    """The playground's settings from the metadata, or the plain defaults for a foreign SAE."""
    stored = cfg["metadata"].get("playground_config")
    try:
        if stored is None:
            return TrainConfig(hidden_dim=cfg["d_sae"], architecture=arch.key, **arch.options_from_saelens(cfg)).validate()
        if not isinstance(stored, dict):
            raise ModelFileError(f"{name}: metadata 'playground_config' must be a JSON object")
        config = TrainConfig.from_dict(stored).validate()
    except ModelFileError:
        raise  # already names the file
    except SAEInputError as error:
        raise ModelFileError(f"{name}: bad playground_config in metadata ({error})") from None
    except (KeyError, TypeError, ValueError) as error:
        raise ModelFileError(f"{name}: {CFG_FILE} lacks a valid {arch.key} setting ({error})") from None
    if config.hidden_dim != cfg["d_sae"] or config.architecture != arch.key:
        raise ModelFileError(f"{name}: metadata 'playground_config' ({config.architecture}, hidden "
                             f"{config.hidden_dim}) does not match the model ({arch.key}, d_sae {cfg['d_sae']})")
    return config


def _major(version) -> int:
    try:
        return int(str(version).split(".")[0])
    except ValueError:
        return 0


def _short(value) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def dimension_names(cfg: dict) -> list[str]:
    """The table's dimension names stored with the model, else d0, d1, ..."""
    return cfg["metadata"].get("dimension_names") or [f"d{i}" for i in range(cfg["d_in"])]


# ---- a loaded model on a table ---------------------------------------------------------------


def _table_for(cfg: dict, x) -> torch.Tensor:
    x_ND = as_matrix(x)
    if x_ND.shape[1] != cfg["d_in"]:
        raise SAEInputError(f"the model reads {cfg['d_in']} dimensions (d_in) but the table has "
                            f"{x_ND.shape[1]}; use a table with {cfg['d_in']} dimensions")
    check_memory(x_ND.shape[0], x_ND.shape[1], [cfg["d_sae"]])
    return x_ND


@torch.no_grad()
def result_on_table(model, cfg: dict, x) -> TrainResult:
    """What a loaded model does on a table: the same result the Features page shows after training."""
    x_ND = _table_for(cfg, x)
    f_NH = model.encode(x_ND)[0]
    metrics = evaluate(model, x_ND)[0]
    epochs_done = cfg["metadata"].get("epochs_done")
    config: TrainConfig = cfg["playground_config"]
    return TrainResult(
        config=config, model=model,
        history=pd.DataFrame(columns=model.history_columns()),
        metrics=metrics,
        feature_activations=f_NH.numpy().copy(),
        decoder_directions=model.decoder_directions(0).numpy().copy(),
        feature_density=feature_density(f_NH[None])[0].numpy().copy(),
        epochs_done=epochs_done if isinstance(epochs_done, int) and epochs_done >= 0 else config.epochs,
        stopped_early=False, train_seconds=0.0,
    )


@torch.no_grad()
def encode_table(model, cfg: dict, x) -> tuple[np.ndarray, np.ndarray]:
    """(feature activations [tokens, d_sae], reconstructions [tokens, d_in]) of a table."""
    x_ND = _table_for(cfg, x)
    f_SNH = model.encode(x_ND)
    return f_SNH[0].numpy(), model.decode(f_SNH)[0].numpy()
