"""Exceptions: the library's status codes as Python exceptions.

Every class derives from MDNMFError and from the built-in exception a Python
user would expect (bad data is a ValueError, a missing file an OSError), so
`except ValueError` works as usual.
"""

import ctypes

from . import _native


class MDNMFError(Exception):
    """A failure reported by libmdnmf; `status` is its mdnmf_status code."""

    def __init__(self, message, status=None):
        super().__init__(message)
        self.status = status


class InvalidArgumentError(MDNMFError, ValueError):
    """A parameter or argument is out of range (MDNMF_ERR_ARGUMENT)."""


class InvalidDataError(MDNMFError, ValueError):
    """Data is negative, NaN or infinite (MDNMF_ERR_DATA)."""


class ShapeError(MDNMFError, ValueError):
    """Dimensions do not fit together, or are empty (MDNMF_ERR_SHAPE)."""


class FileFormatError(MDNMFError, ValueError):
    """A file is truncated, corrupt or of a foreign kind (MDNMF_ERR_FORMAT)."""


class FileAccessError(MDNMFError, OSError):
    """A file could not be opened, read or written (MDNMF_ERR_IO)."""


class OutOfMemoryError(MDNMFError, MemoryError):
    """An allocation failed (MDNMF_ERR_MEMORY)."""


class DivergenceError(MDNMFError, RuntimeError):
    """The fit diverged; try a smaller tau_A (MDNMF_ERR_DIVERGED)."""


class CancelledError(MDNMFError, RuntimeError):
    """The fit was stopped by its callback (MDNMF_ERR_CANCELLED)."""


class NotFittedError(MDNMFError, ValueError, AttributeError):
    """The model has no basis yet: fit or load one first (MDNMF_ERR_STATE).
    Like scikit-learn's NotFittedError, both a ValueError and an AttributeError."""


_BY_STATUS = {
    _native.ERR_ARGUMENT: InvalidArgumentError,
    _native.ERR_DATA: InvalidDataError,
    _native.ERR_SHAPE: ShapeError,
    _native.ERR_MEMORY: OutOfMemoryError,
    _native.ERR_IO: FileAccessError,
    _native.ERR_FORMAT: FileFormatError,
    _native.ERR_DIVERGED: DivergenceError,
    _native.ERR_CANCELLED: CancelledError,
    _native.ERR_STATE: NotFittedError,
}


def error_for(status, message):
    """The exception for a library status, with the library's message (or the
    status's generic description when there is none)."""
    text = message or _native.strerror(status)
    return _BY_STATUS.get(status, MDNMFError)(text, status)


def call(function, *arguments):
    """Call a library function whose last argument is an mdnmf_error; on a
    failing status raise its exception with the library's message."""
    error = _native.Error()
    status = function(*arguments, ctypes.byref(error))
    if status != _native.OK:
        raise error_for(status, error.text())
    return status
