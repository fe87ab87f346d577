"""The only module that writes to the vault.

Every write is atomic (a temporary file in the same folder, then a rename), happens only
when the bytes change, and stays inside the vault: a path that leaves it, or a symbolic
link that points out of it, is refused.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from .errors import VaultkitError


class UnsafePath(VaultkitError):
    """A write that would land outside the vault."""


class NoteExists(VaultkitError):
    """A new note would overwrite one that is already there."""


def safe_target(root: Path, relative: str) -> Path:
    """The real file behind ``relative``, refused unless it is inside ``root`` once every
    symbolic link is followed. Writing there (not over the link) keeps a person's
    symbolic links as they are."""
    root = root.resolve()
    target = root / relative
    if Path(relative).is_absolute() or ".." in Path(relative).parts:
        raise UnsafePath("leaves the vault; give a path inside it", relative)
    resolved = target.resolve()
    if not resolved.is_relative_to(root):
        raise UnsafePath(
            f"resolves to {resolved}, outside the vault; vaultkit will not write "
            "through a link that leaves the vault",
            relative,
        )
    return resolved


def _write_temp(folder: Path, name: str, data: bytes, mode: int | None) -> Path:
    handle = tempfile.NamedTemporaryFile(
        dir=folder, prefix=f".{name}.", suffix=".vaultkit-tmp", delete=False
    )
    temp = Path(handle.name)
    try:
        with handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        if mode is None:  # a new file gets the permissions any other new file would
            umask = os.umask(0)
            os.umask(umask)
            mode = 0o666 & ~umask
        os.chmod(temp, mode)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    return temp


def write_if_changed(root: Path, relative: str, data: bytes) -> bool:
    """Atomically replace ``relative`` with ``data`` unless it already holds exactly that.
    Returns True when the file was written."""
    target = safe_target(root, relative)
    try:
        current = target.read_bytes()
    except FileNotFoundError:
        current = None
    if current == data:
        return False
    target.parent.mkdir(parents=True, exist_ok=True)
    mode = target.stat().st_mode & 0o7777 if current is not None else None
    temp = _write_temp(target.parent, target.name, data, mode)
    try:
        os.replace(temp, target)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    return True


def create_new(root: Path, relative: str, data: bytes) -> None:
    """Create ``relative`` atomically; never overwrite an existing file, even in a race."""
    target = safe_target(root, relative)
    if target.exists():
        raise NoteExists("already exists; vaultkit never overwrites a note", relative)
    target.parent.mkdir(parents=True, exist_ok=True)
    temp = _write_temp(target.parent, target.name, data, None)
    try:
        os.link(temp, target)  # fails if the name appeared meanwhile
    except FileExistsError:
        raise NoteExists("already exists; vaultkit never overwrites a note", relative) from None
    finally:
        temp.unlink(missing_ok=True)


def delete(root: Path, relative: str) -> bool:
    """Remove a generated file; True when something was removed. A symbolic link is
    removed itself: the file it points to is a person's."""
    safe_target(root, relative)
    try:
        (root / relative).unlink()
    except FileNotFoundError:
        return False
    return True


def save_cache(root: Path, relative: str, data: bytes) -> None:
    """Write a cache file that ignores itself in git; a vault that cannot take it (read
    only, a folder linked elsewhere) simply goes without."""
    folder = relative.rsplit("/", 1)[0]
    try:
        write_if_changed(root, f"{folder}/.gitignore", b"# vaultkit's cache\n*\n")
        write_if_changed(root, relative, data)
    except (OSError, UnsafePath):
        pass
