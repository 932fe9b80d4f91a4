"""Errors raised by hdnnp. Every error about user input names where the problem is."""
from __future__ import annotations


class HDNNPError(Exception):
    """Base class of all hdnnp errors."""


class InputError(HDNNPError, ValueError):
    """Bad user input: a file, a structure or a configuration key.

    The message is prefixed with the location: ``file:line: message`` or
    ``file, structure 3: message`` or ``config key 'x.y': message``.
    """

    def __init__(self, message: str, *, file: str | None = None, line: int | None = None,
                 structure: int | None = None, key: str | None = None):
        self.file, self.line, self.structure, self.key = file, line, structure, key
        self.reason = message
        where = []
        if file is not None:
            where.append(str(file) + (f":{line}" if line is not None else ""))
        if structure is not None:
            where.append(f"structure {structure}")
        if key is not None:
            where.append(f"config key '{key}'")
        super().__init__((", ".join(where) + ": " if where else "") + message)


class UnsupportedFeatureError(HDNNPError, NotImplementedError):
    """A model or file uses a feature hdnnp does not implement (named in the message)."""
