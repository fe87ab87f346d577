"""Errors a user sees: each prints as ``Error: <path>: <what happened>`` and exits 1."""

from __future__ import annotations

import click


class VaultkitError(click.ClickException):
    """A domain error; click prints it without a traceback and exits 1."""

    def __init__(self, message: str, path: str | None = None):
        super().__init__(f"{path}: {message}" if path else message)


class NoteNotFound(VaultkitError):
    """A NOTE argument names no note in the vault."""


class AmbiguousNote(VaultkitError):
    """A NOTE argument names several notes and none is preferred."""
