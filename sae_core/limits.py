"""Every cap the engine enforces, in one place (documented in README, "Limits and robustness").

The caps keep one visitor of a shared app from exhausting the server; each error that
cites a cap says how to stay under it.
"""

MAX_UPLOAD_BYTES = 5 * 1024 * 1024  # a CSV or model file larger than this is refused
# A file inside a model zip or folder (cfg.json, sae_weights.safetensors) may unpack to at most
# this: the largest model the limits allow (4,096 x 1,024 float32, encoder + decoder) fits.
MAX_UNPACKED_BYTES = 40 * 1024 * 1024
MAX_ROWS = 20_000  # tokens in a table
MAX_DIMS = 1_024  # activation dimensions in a table
MAX_HIDDEN = 4_096  # SAE features
MAX_EPOCHS = 100_000  # passes over the table
DEFAULT_BATCH_SIZE = 4_096  # tokens per Adam step; larger tables train in mini-batches
MAX_SEEDS = 64  # seeds trained at once by the stability view
MAX_SWEEP_SEEDS = 10  # seeds per grid point on the Sweep page
MAX_GRID = 256  # models in one sweep
MAX_MODELS_PER_RUN = MAX_SEEDS * 16  # members of one batched training run
MAX_TRAINING_WORK = 2_000_000_000  # rows x hidden x epochs x seeds in one run
# Memory, not work (each float32 cell is 4 bytes): what one run may hold at once. Activations:
# tokens x models x max(features, dims) (48 MB per tensor at the cap); weights: models x features
# x dims (the largest single model, 4,096 x 1,024; 8 such tensors with gradients and Adam moments).
MAX_ACTIVATION_CELLS = 12_000_000
MAX_WEIGHT_CELLS = MAX_HIDDEN * MAX_DIMS
MAX_TOKEN_CHARS = 200  # characters in a token name
MIN_LR = 1e-6
MAX_LR = 10.0
MAX_SEED = 2**31 - 1  # what a browser number box holds exactly
MAX_INIT_DECODER_NORM = 100.0
MAX_SPARSITY_WEIGHT = 100.0
MIN_JUMPRELU_VALUE = 1e-4  # JumpReLU starting threshold and bandwidth
MAX_JUMPRELU_VALUE = 100.0
# The CLI's --json prints tokens x features activations (and, for encode, reconstructions) only up
# to this many activation cells; above it per-feature summaries (--full streams every number).
MAX_JSON_MATRIX_CELLS = 1_000_000
# The ground-truth lab (synthetic data, the Superposition page, `python -m sae_core synth`)
MAX_SYNTH_FEATURES = 4_096  # true features of a synthetic generator
MAX_SYNTH_ACTIVE = 64  # mean active true features per sample
MAX_SYNTH_BATCH = 8_192  # samples per streamed batch
MAX_SYNTH_SECONDS = 120.0  # training time per architecture in one lab run
MAX_TOY_FEATURES = 64  # features of the Toy-Models-of-Superposition generator
MAX_TOY_DIMS = 16  # its hidden dimensions
MAX_TOY_STEPS = 20_000  # Adam steps that train its toy model
MAX_HIERARCHY_PARENTS = 512  # parent features of the hierarchical generator
MAX_HIERARCHY_CHILDREN = 16  # children per parent
MAX_TEXT_CHARS = 2_000_000  # characters of text given to the real model at once
# Rows kept from a real model (word pieces or words; also loaded tables): the real-table default of
# 1,536 features fits MAX_ACTIVATION_CELLS (7,500 x 1,536 = 11.5 M).
MAX_EXTRACTED_TOKENS = 7_500
# Dictionary sizes trained on one table (sae_core/splitting.py, `split`); their weights together stay
# within MAX_WEIGHT_CELLS (sum of sizes x dims), so what a run keeps is one largest model's worth.
MAX_SPLIT_SIZES = 6
MAX_EXTRACTION_BYTES = 32 * 1024 * 1024  # an uploaded extracted table (zip of safetensors + JSON)
MAX_LINK_DATA_CHARS = 2_000  # an edited table + named concepts, compressed, travel in a link up to this
FEATURES_PER_PAGE = 12  # feature cards (and small-multiple panels) drawn at once on the Features page
HEATMAP_MAX_FEATURES = 64  # the heatmap shows every feature up to this many, else the page of cards; the geometry
# and building-block views are drawn for models with at most this many live features
