"""Errors a user should read as one clear sentence (the CLI prints them, no traceback)."""


class PulseError(Exception):
    """A failure with a message meant for the person at the terminal."""

    exit_code = 2


class WarehouseError(PulseError):
    """The warehouse cannot be reached, opened or written."""


class WarehouseLockedError(WarehouseError):
    """The embedded warehouse folder is held by another process."""


class InputError(PulseError):
    """An input folder or file cannot be used."""
