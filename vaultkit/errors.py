"""The errors vaultkit raises. Each one is a sentence that names the file or setting and
says what to do; the command line prints it as ``Error: <path>: <message>`` and exits 1.

    VaultkitError
    ├── VaultNotFound        the folder is missing or is not a vault
    ├── ConfigError          .vaultkit/config.toml cannot be used
    ├── NoteNotFound         a note name matches no note
    ├── AmbiguousNote        a note name matches several notes
    ├── NotAnExperiment      the note is not an experiment where one is needed
    ├── RefusedEdit          an edit that would lose information or break a rule
    ├── InvalidTitle         a new note's title no file name or link can hold
    ├── NoteExists           a new note (or vault) would overwrite what is there
    ├── UnsafePath           a path that leaves the vault
    ├── ManagedBlockError    vaultkit's markers in a note cannot be trusted
    ├── WriteConflict        a file kept changing while vaultkit tried to update it
    ├── NotARegularFile      a FIFO, socket or device where a file was expected
    ├── DiskError            the file system refused a read or a write
    ├── VaultTooLarge        a walk of the vault found more files than any vault holds
    ├── WatchError           the system cannot watch the vault
    ├── MissingExtra         an optional dependency is not installed
    ├── TrackerError         the MLflow tracking store cannot be used, or lacks a run
    └── ServiceError         no service manager here, or it refused

The base class itself is never raised: catch it to catch them all.
"""

from __future__ import annotations

import errno


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
    into a generated note, an unknown status, a file that is read-only or not UTF-8,
    syncing runs into a note that names none."""


class InvalidTitle(VaultkitError):
    """A new note's title that a file name or an Obsidian link cannot hold (a line
    break, a character links cannot carry, a device name, too long)."""


class NoteExists(VaultkitError):
    """A new note would overwrite one that is already there (or a new vault a folder
    that is not empty)."""


class UnsafePath(VaultkitError):
    """A path that leaves the vault, or a link that points out of it."""


class ManagedBlockError(VaultkitError):
    """Markers that cannot be trusted (an end without a begin, a block twice)."""


class WriteConflict(VaultkitError):
    """The file changed every time vaultkit was about to replace it."""


class NotARegularFile(VaultkitError):
    """A FIFO, socket or device where vaultkit expected a file: it never reads or
    replaces one (reading a FIFO would wait forever)."""


class DiskError(VaultkitError):
    """The file system refused to read or write a file (permissions, a full disk, an
    input/output error); the message says which and what to do."""


class VaultTooLarge(VaultkitError):
    """A walk of the vault found more files than any vault holds: a linked folder leads
    somewhere it should not."""


class WatchError(VaultkitError):
    """The system cannot watch the vault (its limit on watched folders), or the vault
    folder went away for good while watched."""


class TrackerError(VaultkitError):
    """The MLflow tracking store is not named, cannot be reached or read (another
    schema, no server), or has no such run (or only in its trash)."""


class MissingExtra(VaultkitError):
    """An optional dependency (pandas, MLflow) is not installed; the message says how."""


class ServiceError(VaultkitError):
    """The system has no service manager vaultkit knows (systemd, launchd), or the
    manager refused; the message says what to run instead."""


def describe_os_error(exc: OSError) -> str:
    """An OSError as a sentence with what to do, without Python's names or numbers."""
    hints = {
        errno.ENOSPC: "the disk is full; free some space and run again",
        errno.EDQUOT: "the disk quota is used up; free some space and run again",
        errno.EACCES: "permission denied; check the permissions of the file and its folder",
        errno.EPERM: "the operation is not permitted; check the file's permissions and flags",
        errno.EROFS: "the file system is read-only; make it writable or use a copy of the vault",
        errno.ENAMETOOLONG: "the file name is too long for this file system; use a shorter name",
        errno.EISDIR: "a folder has that name; rename the folder or choose another name",
        errno.ENOTDIR: "a part of the path is a file, not a folder",
        errno.EIO: "the disk reported an input/output error; check the disk",
        errno.ELOOP: "the path holds a loop of symbolic links; fix or remove the link",
    }
    return hints.get(exc.errno or 0, (exc.strerror or str(exc)).rstrip(".").lower())
