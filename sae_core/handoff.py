"""Scale out with SAELens: the playground's training settings as a SAELens run on a real language model.

    handoff(config, "gpt2", "blocks.8.hook_resid_pre", 768, 100_000_000, "DIR", d_sae=3072)
      -> DIR/saelens_config.json   {"sae_class": "TopKTrainingSAEConfig", "sae": {...}, "runner": {...},
                                    "playground": {...}}
         DIR/train_with_saelens.py  builds LanguageModelSAERunnerConfig from the JSON and trains
                                    (LanguageModelSAETrainingRunner(cfg).run()); --dry-run only prints it

Each architecture declares its SAELens training config class (``saelens_training_class``) and
its own fields of that config on SAELens' scale (``saelens_training_cfg(config, d_in)``, the
conversion formulas, in its own file). SAELens' losses sum over dimensions where ours take means,
so the coefficients are converted so that SAELens' loss is exactly d_in x ours (same optimum;
tests/test_handoff.py builds SAELens' training SAE with our weights and checks it). This module
adds what every architecture shares and the run itself (model, hook, dataset, tokens, batch,
learning rate), and writes the files; nothing here imports sae_lens or downloads anything.
"""

from __future__ import annotations

import io
import json
import zipfile
from dataclasses import dataclass, replace
from pathlib import Path

from .architectures import get_architecture
from .errors import ConfigError, SAEInputError
from .options import Option
from .training import INIT_DECODER_NORM, LR, SEED, TrainConfig

CONFIG_FILE = "saelens_config.json"
SCRIPT_FILE = "train_with_saelens.py"
ZIP_FOLDER = "saelens_handoff"  # the page's zip unpacks to this folder
SAELENS_VERSION = "6.54.12"  # the release the JSON's field names were read from (and the tests run)


@dataclass(frozen=True)
class LanguageModel:
    """A common case: a TransformerLens model name, a hook in it, and that hook's width."""

    name: str
    label: str
    hook: str
    d_in: int


COMMON_MODELS = {m.name: m for m in (
    LanguageModel("gpt2", "GPT-2 small", "blocks.8.hook_resid_pre", 768),
    LanguageModel("pythia-70m-deduped", "Pythia-70M (deduped)", "blocks.3.hook_resid_post", 512),
)}
DEFAULT_MODEL = "gpt2"
# A public text dataset SAELens tokenises on the fly for any model (the Pile, without the copyrighted
# parts); only written into the JSON, never downloaded here.
DATASET_PATH = "monology/pile-uncopyrighted"
CONTEXT_SIZE = 128  # tokens per prompt (SAELens' default)
TRAINING_TOKENS = 100_000_000  # about 24,000 steps of 4,096 tokens: a first run (README, "Scale out")
BATCH_SIZE_TOKENS = 4_096  # SAELens' default, and ours (limits.DEFAULT_BATCH_SIZE)
DEFAULT_EXPANSION = 4  # features per dimension: the Real model page's 1,536 features on MiniLM's 384 dims
LR_WARM_UP_FRACTION = 0.01  # a short linear warm-up at scale (the playground has none)
OUTPUT_PATH = "saelens_sae"  # where SAELens saves the trained SAE (relative to where the script runs)

# The run's own settings, declared like the training ones (the CLI's flags come from these).
MODEL = Option("model", str, DEFAULT_MODEL, "Model", "A TransformerLens model name.", noun="model name")
HOOK = Option("hook", str, "", "Hook", "A TransformerLens hook name: where the SAE reads the activations.",
              noun="hook name")
D_IN = Option("d_in", int, 768, "d_in", "The width of the activations at the hook.", low=1, high=65_536,
              noun="d_in")
D_SAE = Option("d_sae", int, DEFAULT_EXPANSION * 768, "d_sae", "The SAE's number of features.", low=1,
               high=1_048_576, noun="d_sae")
TRAINING_TOKENS_OPTION = Option("training_tokens", int, TRAINING_TOKENS, "Training tokens",
                                "How many tokens of activations SAELens trains on.", low=1, high=10 ** 13,
                                noun="training tokens")
BATCH_SIZE_TOKENS_OPTION = Option("batch_size_tokens", int, BATCH_SIZE_TOKENS, "Batch size (tokens)",
                                  "Tokens per Adam step.", low=1, high=1_048_576, noun="batch size in tokens")
CONTEXT_SIZE_OPTION = Option("context_size", int, CONTEXT_SIZE, "Context size", "Tokens per prompt.",
                             low=1, high=131_072, noun="context size")
DATASET = Option("dataset", str, DATASET_PATH, "Dataset", "A Hugging Face text dataset (tokenised on the fly).",
                 noun="dataset path")


def model_defaults(model_name: str) -> LanguageModel | None:
    """The common case ``model_name`` names, or None."""
    return COMMON_MODELS.get(model_name)


def width_for(hidden_dim: int, table_dims: int, d_in: int) -> int:
    """d_sae keeping a table's features-per-dimension ratio on a model of width ``d_in`` (8 on 4 dims -> 2 x d_in)."""
    return max(1, round(hidden_dim * d_in / max(1, table_dims)))


def _text(option: Option, value) -> str:
    option.check(value)
    if not value.strip() or any(c.isspace() for c in value):
        raise ConfigError(f"{option.what} must be one word without spaces (got {value!r})")
    return value


def _notes(config: TrainConfig) -> list[str]:
    """What SAELens 6 does differently from these settings (the JSON keeps them for a person to read)."""
    notes = ["epochs: replaced by training_tokens (SAELens streams activations; no passes over a table)",
             "SAELens clips the gradient norm at 1 before each Adam step; the playground does not clip"]
    if config.unit_norm_decoder:
        notes.append("unit_norm_decoder: SAELens 6 keeps no unit-norm decoder (its standard L1 is weighted "
                     "by each decoder row's length instead)")
    if not config.tied_init:
        notes.append("tied_init off: SAELens always starts the encoder as the decoder's transpose")
    if config.init_decoder_bias_to_mean:
        notes.append("init_decoder_bias_to_mean: SAELens 6 starts the decoder bias at zero")
    if config.resample_dead_every:
        notes.append("resample_dead_every: SAELens 6 does not resample dead features (TopK's AuxK revives them)")
    if config.architecture == "standard" and not config.decoder_norm_penalty:
        notes.append("decoder_norm_penalty off: SAELens always weights the L1 by each decoder row's length "
                     "(the same loss only while rows have length 1)")
    return notes


def saelens_spec(config: TrainConfig, model_name: str, hook_name: str, d_in: int, training_tokens: int,
                 d_sae: int | None = None, batch_size_tokens: int = BATCH_SIZE_TOKENS,
                 dataset_path: str = DATASET_PATH, context_size: int = CONTEXT_SIZE) -> dict:
    """The JSON: ``config``'s architecture and settings as SAELens' training config for a run on
    ``model_name`` at ``hook_name`` (width ``d_in``), with ``d_sae`` features (default: the config's hidden
    size). ConfigError (one line) for a value SAELens could not use."""
    arch = get_architecture(config.architecture)
    sae_class = getattr(arch, "saelens_training_class", "")
    if not sae_class or not hasattr(arch, "saelens_training_cfg"):
        raise ConfigError(f"architecture '{arch.key}' declares no SAELens training config")
    _text(MODEL, model_name)
    _text(HOOK, hook_name)
    _text(DATASET, dataset_path)
    d_sae = config.hidden_dim if d_sae is None else d_sae
    for option, value in ((D_IN, d_in), (D_SAE, d_sae), (TRAINING_TOKENS_OPTION, training_tokens),
                          (BATCH_SIZE_TOKENS_OPTION, batch_size_tokens), (CONTEXT_SIZE_OPTION, context_size),
                          (LR, config.lr), (SEED, config.seed), (INIT_DECODER_NORM, config.init_decoder_norm)):
        option.check(value)
    for option in arch.options:
        option.check(getattr(config, option.name))
    if training_tokens < batch_size_tokens:
        raise ConfigError(f"training tokens ({training_tokens:,}) must be at least one batch "
                          f"({batch_size_tokens:,} tokens)")
    settings = config.to_dict()
    config = replace(config, hidden_dim=d_sae)  # the conversions read d_sae as the config's hidden size
    arch.validate_settings(config)  # e.g. k at most d_sae
    steps = training_tokens // batch_size_tokens
    sae = {
        "d_in": d_in,
        "d_sae": d_sae,
        "dtype": "float32",
        "apply_b_dec_to_input": False,  # the playground encodes x, not x - b_dec
        # Trains on activations scaled to a mean norm of sqrt(d_in), so each dimension is of order 1 like a
        # table here whatever the model's scale; SAELens folds the scale into the saved weights.
        "normalize_activations": "expected_average_only_in",
        "decoder_init_norm": config.init_decoder_norm or None,  # None: SAELens' own (Kaiming-uniform) start
        **arch.saelens_training_cfg(config, d_in),
    }
    runner = {
        "model_name": model_name,
        "hook_name": hook_name,
        "dataset_path": dataset_path,
        "is_dataset_tokenized": False,
        "streaming": True,
        "context_size": context_size,
        "training_tokens": training_tokens,
        "train_batch_size_tokens": batch_size_tokens,
        "lr": config.lr,
        "lr_warm_up_steps": int(steps * LR_WARM_UP_FRACTION),
        "adam_beta1": 0.9,  # ours (sae_core/optim.py)
        "adam_beta2": 0.999,
        "seed": config.seed,
        "dtype": "float32",
        "output_path": OUTPUT_PATH,
        "n_checkpoints": 0,
        "logger": {"log_to_wandb": False},
    }
    return {"sae_class": sae_class, "sae": sae, "runner": runner, "playground": {
        "architecture": arch.key, "settings": settings, "written_for_sae_lens": SAELENS_VERSION,
        "notes": _notes(config)}}


def handoff_files(spec: dict) -> dict[str, bytes]:
    """The two files, as bytes by name: the JSON and the (same for every run) script."""
    return {CONFIG_FILE: (json.dumps(spec, indent=2) + "\n").encode(), SCRIPT_FILE: SCRIPT.encode()}


def handoff(config: TrainConfig, model_name: str, hook_name: str, d_in: int, training_tokens: int, out_dir,
            **options) -> dict:
    """Write ``out_dir``/saelens_config.json and ``out_dir``/train_with_saelens.py; return the JSON's dict.
    ``options``: those of :func:`saelens_spec` (d_sae, batch_size_tokens, dataset_path, context_size)."""
    spec = saelens_spec(config, model_name, hook_name, d_in, training_tokens, **options)
    out = Path(out_dir)
    try:
        out.mkdir(parents=True, exist_ok=True)
        for name, content in handoff_files(spec).items():
            (out / name).write_bytes(content)
    except OSError as error:
        raise SAEInputError(f"cannot write the SAELens files: {error.strerror or error}") from None
    return spec


def handoff_zip(spec: dict, folder_name: str = ZIP_FOLDER) -> bytes:
    """The two files in a zip (``unzip`` gives ``folder_name/``)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in handoff_files(spec).items():
            archive.writestr(f"{folder_name}/{name}", content)
    return buffer.getvalue()


def scale_up_spec(config: TrainConfig, table_dims: int, model_name: str = DEFAULT_MODEL) -> dict:
    """The Train page's recipe: ``config`` on a common model, its features-per-dimension ratio kept."""
    model = COMMON_MODELS[model_name]
    return saelens_spec(config, model.name, model.hook, model.d_in, TRAINING_TOKENS,
                        d_sae=width_for(config.hidden_dim, table_dims, model.d_in))


SCRIPT = '''\
"""Train a sparse autoencoder with SAELens, as described by saelens_config.json (written by SAE Playground).

    pip install sae-lens                          # written for sae-lens 6.54.12
    python train_with_saelens.py --dry-run        # build the config and print it; downloads nothing
    python train_with_saelens.py                  # load the model and the dataset, train, save the SAE

saelens_config.json holds everything: "sae_class" (SAELens' training config class), "sae" (its fields)
and "runner" (LanguageModelSAERunnerConfig's fields); edit them there. "playground" only records the
settings it came from and what SAELens does differently. The trained SAE is saved, ready for
sae_lens.SAE.load_from_disk, in runner.output_path.
"""

import argparse
import json
from pathlib import Path

import sae_lens


def build_config(spec, device, training_tokens=None, wandb=False):
    """LanguageModelSAERunnerConfig(sae=<sae_class>(**spec["sae"]), **spec["runner"])."""
    sae = getattr(sae_lens, spec["sae_class"])(**spec["sae"])
    runner = dict(spec["runner"])
    logger = sae_lens.LoggingConfig(**runner.pop("logger", {}))
    logger.log_to_wandb = logger.log_to_wandb or wandb
    if training_tokens:
        runner["training_tokens"] = training_tokens
    return sae_lens.LanguageModelSAERunnerConfig(sae=sae, logger=logger, device=device, **runner)


def main():
    parser = argparse.ArgumentParser(description="Train an SAE with SAELens from saelens_config.json.")
    parser.add_argument("--config", default=str(Path(__file__).with_name("saelens_config.json")),
                        help="the JSON (default: saelens_config.json beside this script)")
    parser.add_argument("--dry-run", action="store_true", help="build the config, print it and stop")
    parser.add_argument("--device", help="cuda, cuda:1, mps or cpu (default: cuda when there is one)")
    parser.add_argument("--training-tokens", type=int, help="override the JSON's training tokens")
    parser.add_argument("--wandb", action="store_true", help="log to Weights & Biases (off in the JSON)")
    args = parser.parse_args()
    spec = json.loads(Path(args.config).read_text(encoding="utf-8"))
    device = args.device
    if device is None:
        import torch  # installed with sae_lens
        device = "cuda" if torch.cuda.is_available() else "cpu"
    cfg = build_config(spec, device, args.training_tokens, args.wandb)
    if args.dry_run:
        print(json.dumps(cfg.to_dict(), indent=2, default=str))
        return
    sae_lens.LanguageModelSAETrainingRunner(cfg).run()
    print(f"trained; the SAE is in {cfg.output_path} (sae_lens.SAE.load_from_disk)")


if __name__ == "__main__":
    main()
'''
