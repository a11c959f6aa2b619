"""Errors meant for users: one line, no traceback. The CLI maps each class to an exit code."""


class ProplensError(Exception):
    """Base class: a problem the user can fix, described in one line."""

    exit_code = 1


class InputError(ProplensError):
    """An input document cannot be read (missing, binary, too large, wrong type, ...)."""

    exit_code = 2


class DataError(ProplensError):
    """A corpus or label file is malformed; the message names the file and line."""

    exit_code = 3


class ModelError(ProplensError):
    """A model directory is missing, incomplete, tampered with or not trusted."""

    exit_code = 4


class ValidationError(DataError):
    """New labels failed validation; nothing was written."""
