"""The session-state keys that are not settings, named once.

Settings (the training settings, each page's choices, the Superposition lab's ``lab_*`` and the
Real model page's ``real_*``) live in the app-owned dict under ``SETTINGS``, by the names
``sae_core.state.AppState.to_settings`` gives them, and their widgets use those names as keys.
Everything else the app keeps in ``st.session_state`` (results, runs in flight, notices,
caches, widgets that are not settings) is named here, so app code never spells a key twice.
"""

SETTINGS = "settings"  # the app's own dict of everything the user chose (app_ui.session)

# ---- the table and its named concepts -------------------------------------------------------
TABLE = "table"  # the last valid table
TABLE_SOURCE = "table_source"  # where it came from, in words
TABLE_VERSION = "table_version"  # bumped when the table is replaced: the data editor restarts
EDITOR_BASE = "editor_base"  # what the data editor starts from
EXAMPLE_TABLE = "example_table"  # the example as loaded (None: a table of one's own)
REFERENCES = "references"  # the named concepts (ReferenceFeature list)
REFERENCES_EXAMPLE = "references_example"  # the example the concepts came from
OPENED_LINK = "opened_link"  # the visitor opened a shared link and has not trained it yet
LINK_TRAINED = "link_trained"  # the notice after training a link's settings
UPLOAD_SEEN = "upload_seen"  # the CSV upload already read (its file id)
UPLOAD_ERROR = "upload_error"
CONCEPTS_VERSION = "concepts_version"  # bumped when the concept editor must redraw from the concepts
CONCEPTS_DRAWN = "concepts_drawn"  # the concepts the editor last drew
CONCEPTS_UPLOAD_SEEN = "concepts_upload_seen"

# ---- the model and the runs ------------------------------------------------------------------
RESULT = "result"  # the visitor's model (TrainResult)
RESULT_TOKENS = "result_tokens"  # the table it saw
RESULT_DIMS = "result_dims"
RESULT_REFERENCES = "result_references"
TRAIN_NOTICE = "train_notice"  # "Stopped at epoch ..." on the Train page
LOADED_MODEL_NAME = "loaded_model_name"  # a model loaded from a file, not trained here
MODEL_UPLOAD_SEEN = "model_upload_seen"
MODEL_UPLOAD_ERROR = "model_upload_error"
TRAINER = "trainer"  # the run in flight (a Trainer or a GroundTruthLab: sae_core.stoppable)
TRAINER_EVENTS = "trainer_events"  # its (stop, done) events
TRAINER_KEEP = "trainer_keep"  # the page's keep function: what a stopped or finished run leaves
TRAINER_TICKET = "trainer_ticket"  # its place in the server's line of runs (sae_core.run_queue), if it queued
LEFT_LINE = "left_line"  # the notice after a Stop that left the line before the run began
LESSON_NOTICE = "lesson_notice"
LESSON_OVER_TRAINING = "lesson_over_training"  # step 7's run: (your epochs, OverTraining)
STABILITY = "stability"  # the Stability page's comparison of seeds
SIDE_BY_SIDE = "stability_side_by_side"  # the Stability page's architectures side by side (SideBySide)
SIDE_BY_SIDE_NOTICE = "stability_side_by_side_notice"
STABILITY_NOTICE = "stability_notice"
SWEEP = "sweep"  # the Sweep page's grid of models
SWEEP_TOKENS = "sweep_tokens"
SWEEP_NOTICE = "sweep_notice"
LAB_RESULT = "lab_result"  # the Superposition page's LabResult
LAB_NOTICE = "lab_notice"

# ---- the Real model page (its settings are real_* in SETTINGS) -------------------------------
REAL_EXTRACTION = "real_extraction"  # the extracted activations
REAL_CONCEPTS = "real_concepts"  # the bundled corpus's named concepts
REAL_RESULT = "real_result"
REAL_NOTICE = "real_notice"
REAL_DASH = "real_dash"  # (result, its features table): computed once per model
REAL_SELECTED = "real_selected"  # the row last clicked in the features table
REAL_OPENED_FOR = "real_opened_for"  # the search whose best feature was opened
REAL_LOADED_NAME = "real_loaded_name"  # the extracted table already loaded (name, size)
REAL_CONCEPT_TABLE = "real_concept_table"  # the concept matches, computed once per model
REAL_CONCEPT_KEY = "real_concept_key"
REAL_SPLIT = "real_split"  # the dictionary-sizes section's SplitResult
REAL_SPLIT_NOTICE = "real_split_notice"

# ---- widgets that are not settings (a prefix is followed by "_" and what makes the key unique) --
TRAIN_LINK = "train_link"  # "Train these settings" in the banner of a shared link
CSV_UPLOAD = "upload"  # the Data page's CSV upload
PASTED = "pasted"  # the Data page's CSV text
EDITOR = "editor"  # prefix: the data editor, per table version
NEW_DIM = "new_dim"
REMOVE_DIM = "remove_dim"
RENAME_FROM = "rename_from"
RENAME_TO = "rename_to"
CONCEPT_TOKENS = "concept_tokens"  # prefix
CONCEPT_REMOVE = "concept_remove"  # prefix
NEW_CONCEPT_NAME = "new_concept_name"
NEW_CONCEPT_TOKENS = "new_concept_tokens"
CONCEPTS_UPLOAD = "concepts_upload"
MODEL_UPLOAD = "model_upload"
HIDE_DEAD = "hide_dead"
SHOW_COPIES = "show_copies"
LESSON_COPIES = "lesson_copies"
BLOCKS_TOKEN = "blocks_token"
BLOCKS_ON = "blocks_on"  # prefix
BLOCKS_SCALE = "blocks_scale"  # prefix
SIDE_BY_SIDE_TRAIN = "stability_side_by_side_train"
SIDE_BY_SIDE_STOP = "stability_side_by_side_stop"
SWEEP_CHART = "sweep_chart"  # the trade-off chart (its selection picks sweep_point)
LAB_TRAIN = "lab_train"
LAB_STOP = "lab_stop"
LAB_MATRIX_MODEL = "lab_matrix_model"  # whose cosine matrix is shown
REAL_TRAIN = "real_train"
REAL_STOP = "real_stop"
REAL_SPLIT_TRAIN = "real_split_train"
REAL_SPLIT_STOP = "real_split_stop"
REAL_TEXT_UPLOAD = "real_text_upload"
REAL_TABLE_UPLOAD = "real_table_upload"
REAL_FEATURES_TABLE = "real_features_table"  # prefix, then the model and the search
