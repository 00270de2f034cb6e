"""The exceptions fno raises; the extension module raises them by name."""


class FnoError(Exception):
    """Base class of every error fno reports (a malformed file, a diverged
    run, a full disk, ...). The message is the one the ``fno`` CLI prints."""


class FnoFileNotFoundError(FnoError, FileNotFoundError):
    """A file or run directory that does not exist."""


class FnoValueError(FnoError, ValueError):
    """A setting or argument outside its meaning; the message names it
    (``invalid setting `train.lr`: ...``, ``input: ...``)."""
