"""The one error type that pages and the CLI catch: a one-line message for a person."""


class SAEInputError(ValueError):
    """Bad input from a person (a file, a table edit, a hyper-parameter).

    The message is a single line that names the problem and, where it helps, how to fix it.
    It never contains a server path.
    """

    def __init__(self, message: str):
        super().__init__(" ".join(str(message).split()))


class TableError(SAEInputError):
    """A table (CSV or edited DataFrame) that cannot be used."""


class ConfigError(SAEInputError):
    """A hyper-parameter outside what the engine accepts."""


class ModelFileError(SAEInputError):
    """A saved model (safetensors + JSON) that cannot be loaded."""
