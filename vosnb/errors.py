"""Errors that are the user's to fix. Each message names the file or parameter and says what to do."""


class VosnbError(Exception):
    """Base class: caught by the command line, printed without a traceback (exit status 2)."""


class DataError(VosnbError, ValueError):
    """Malformed or missing data on disk (names the offending file)."""


class ChecksumError(VosnbError):
    """A download whose sha256 does not match the manifest."""


class UnsafeArchiveError(VosnbError):
    """An archive member would land outside the extraction root."""


class CheckpointError(VosnbError):
    """A checkpoint file that cannot be loaded into the requested model."""


class ClaimError(VosnbError, KeyError):
    """A claim ID not in the catalogue, or a malformed ledger record."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""
