"""The errors vaultkit raises. Each one is a sentence that names the file or setting and
says what to do; the command line prints it as ``Error: <path>: <message>`` and exits 1.

    VaultkitError
    ├── VaultNotFound        the folder is missing or is not a vault
    ├── ConfigError          .vaultkit/config.toml cannot be used
    ├── NoteNotFound         a note name matches no note
    ├── AmbiguousNote        a note name matches several notes
    ├── NotAnExperiment      the note is not an experiment where one is needed
    ├── RefusedEdit          an edit that would lose information or break a rule
    ├── NoteExists           a new note would overwrite one
    ├── UnsafePath           a path that leaves the vault
    ├── ManagedBlockError    vaultkit's markers in a note cannot be trusted
    ├── WriteConflict        a file kept changing while vaultkit tried to update it
    ├── NotARegularFile      a FIFO, socket or device where a file was expected
    ├── MissingExtra         an optional dependency is not installed
    └── ServiceError         no service manager here, or it refused
"""

from __future__ import annotations


class VaultkitError(Exception):
    """Something the person can fix; ``message`` says what, ``path`` where (or None)."""

    def __init__(self, message: str, path: str | None = None):
        self.message = message
        self.path = path
        super().__init__(f"{path}: {message}" if path else message)


class VaultNotFound(VaultkitError):
    """The vault folder is missing, or a writing command was pointed at a plain folder."""


class ConfigError(VaultkitError):
    """The config file cannot be used; the message names the key and why."""


class NoteNotFound(VaultkitError):
    """A note name matches no note in the vault."""


class AmbiguousNote(VaultkitError):
    """A note name matches several notes and none is preferred."""


class NotAnExperiment(VaultkitError):
    """A note that is not an experiment where an experiment is needed."""


class RefusedEdit(VaultkitError):
    """An edit vaultkit refuses: marking an unfinished experiment done, writing a status
    into a generated note, an unknown status."""


class NoteExists(VaultkitError):
    """A new note would overwrite one that is already there."""


class UnsafePath(VaultkitError):
    """A path that leaves the vault, or a link that points out of it."""


class ManagedBlockError(VaultkitError):
    """Markers that cannot be trusted (an end without a begin, a block twice)."""


class WriteConflict(VaultkitError):
    """The file changed every time vaultkit was about to replace it."""


class NotARegularFile(VaultkitError):
    """A FIFO, socket or device where vaultkit expected a file: it never reads or
    replaces one (reading a FIFO would wait forever)."""


class MissingExtra(VaultkitError):
    """An optional dependency (pandas, MLflow) is not installed; the message says how."""


class ServiceError(VaultkitError):
    """The system has no service manager vaultkit knows (systemd, launchd), or the
    manager refused; the message says what to run instead."""
