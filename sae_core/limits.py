"""Every cap the engine enforces, in one place (documented in README, "Limits and robustness").

The caps keep one visitor of a shared app from exhausting the server; each error that
cites a cap says how to stay under it.
"""

MAX_UPLOAD_BYTES = 5 * 1024 * 1024  # a CSV or model file larger than this is refused
MAX_ROWS = 20_000  # tokens in a table
MAX_DIMS = 1_024  # activation dimensions in a table
MAX_HIDDEN = 4_096  # SAE features
MAX_EPOCHS = 100_000  # full-batch steps
MAX_SEEDS = 64  # seeds trained at once by the stability view
MAX_TRAINING_WORK = 2_000_000_000  # rows x hidden x epochs x seeds in one run
MAX_TOKEN_CHARS = 200  # characters in a token name
MIN_LR = 1e-6
MAX_LR = 10.0
MAX_SEED = 2**31 - 1  # what a browser number box holds exactly
MAX_INIT_DECODER_NORM = 100.0
MAX_SPARSITY_WEIGHT = 100.0
MAX_LINK_DATA_CHARS = 2_000  # an edited table + named concepts, compressed, travel in a link up to this
FEATURES_PER_PAGE = 12  # feature cards (and small-multiple panels) drawn at once on the Features page
HEATMAP_MAX_FEATURES = 64  # the heatmap shows every feature up to this many, else the page of cards; the geometry
# and building-block views are drawn for models with at most this many live features
