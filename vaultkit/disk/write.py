"""The only module that writes to the vault.

Every write is atomic (a temporary file in the same folder, then a rename), happens only
when the bytes change, and stays inside the vault: a path that leaves it, or a symbolic
link that points out of it, is refused.
"""

from __future__ import annotations

import functools
import itertools
import os
from pathlib import Path

from vaultkit.errors import VaultkitError


class UnsafePath(VaultkitError):
    """A write that would land outside the vault."""


class NoteExists(VaultkitError):
    """A new note would overwrite one that is already there."""


def safe_target(root: Path, relative: str, folders: dict | None = None) -> Path:
    """The real file behind ``relative``, refused unless it is inside ``root`` once every
    symbolic link is followed. Writing there (not over the link) keeps a person's
    symbolic links as they are. ``folders`` keeps resolved folders for one batch of
    writes (resolving a path costs a system call per part)."""
    folders = {} if folders is None else folders
    if Path(relative).is_absolute() or ".." in Path(relative).parts:
        raise UnsafePath("leaves the vault; give a path inside it", relative)
    if root not in folders:
        folders[root] = root.resolve()
    real_root = folders[root]
    folder, _, name = relative.rpartition("/")
    if folder not in folders:
        folders[folder] = (real_root / folder).resolve()
    resolved = folders[folder] / name
    if resolved.is_symlink():
        resolved = resolved.resolve()
    if not resolved.is_relative_to(real_root):
        raise UnsafePath(
            f"resolves to {resolved}, outside the vault; vaultkit will not write "
            "through a link that leaves the vault",
            relative,
        )
    return resolved


@functools.cache
def _new_file_mode() -> int:
    """The permissions any other new file gets. Reading the umask means setting it for a
    moment, so it is read once per process."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


_temp_names = itertools.count()


def _write_temp(folder: Path, name: str, data: bytes, mode: int | None, durable: bool) -> Path:
    """A temporary file beside the target holding ``data``; ``durable``: on disk (fsync)
    before anyone renames it over the target. (os.open: tempfile's random names and
    file objects cost more than the write itself.)"""
    while True:
        temp = folder / f".{name}.{os.getpid()}-{next(_temp_names)}.vaultkit-tmp"
        try:
            descriptor = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            break
        except FileExistsError:
            continue
    try:
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(descriptor, view) :]
            os.fchmod(descriptor, _new_file_mode() if mode is None else mode)
            if durable:
                os.fsync(descriptor)
        finally:
            os.close(descriptor)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    return temp


def _prepare(
    root: Path, relative: str, data: bytes, durable: bool, folders: dict | None = None
) -> tuple[Path, Path] | None:
    """(temporary file, target) for a write that changes bytes; None when the file
    already holds ``data``."""
    target = safe_target(root, relative, folders)
    try:
        current = target.read_bytes()
    except FileNotFoundError:
        current = None
    if current == data:
        return None
    target.parent.mkdir(parents=True, exist_ok=True)
    mode = target.stat().st_mode & 0o7777 if current is not None else None
    return _write_temp(target.parent, target.name, data, mode, durable), target


def _replace(temp: Path, target: Path) -> None:
    try:
        os.replace(temp, target)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise


def write_if_changed(
    root: Path, relative: str, data: bytes, durable: bool = True, folders: dict | None = None
) -> bool:
    """Atomically replace ``relative`` with ``data`` unless it already holds exactly that.
    Returns True when the file was written. (``folders``: see ``safe_target``.)"""
    prepared = _prepare(root, relative, data, durable, folders)
    if prepared is not None:
        _replace(*prepared)
    return prepared is not None


SYNC_EACH_UP_TO = 16  # files; a sync of the whole system is for bigger batches


def write_many(root: Path, files: dict[str, bytes]) -> list[str]:
    """``write_if_changed`` for many files -> the paths written. Every temporary file is
    written first, then all reach the disk, then each is renamed over its target. A big
    batch reaches the disk with one sync (an fsync per file costs ~0.3 ms: 0.2 s for a
    build of 700 files); a few files are synced one by one, so that a small build never
    waits for other programs' unwritten data."""
    sync_once = hasattr(os, "sync") and len(files) > SYNC_EACH_UP_TO
    prepared: dict[str, tuple[Path, Path]] = {}
    folders: dict = {}
    try:
        for path, data in files.items():
            found = _prepare(root, path, data, not sync_once, folders)
            if found is not None:
                prepared[path] = found
        if prepared and sync_once:
            os.sync()
    except BaseException:
        for temp, _ in prepared.values():
            temp.unlink(missing_ok=True)
        raise
    pending = list(prepared.values())
    for index, (temp, target) in enumerate(pending):
        try:
            _replace(temp, target)
        except BaseException:
            for later, _ in pending[index + 1 :]:
                later.unlink(missing_ok=True)
            raise
    return list(prepared)


def create_new(root: Path, relative: str, data: bytes) -> None:
    """Create ``relative`` atomically; never overwrite an existing file, even in a race."""
    target = safe_target(root, relative)
    if target.exists():
        raise NoteExists("already exists; vaultkit never overwrites a note", relative)
    target.parent.mkdir(parents=True, exist_ok=True)
    temp = _write_temp(target.parent, target.name, data, None, durable=True)
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


def save_cache(root: Path, files: dict[str, bytes]) -> None:
    """Write cache files, in folders that ignore themselves in git; a vault that cannot
    take one (read only, a folder linked elsewhere) simply goes without. Atomic but not
    synced: a cache lost in a crash is rebuilt."""
    folders: dict = {}
    ignores = {
        f"{relative.rsplit('/', 1)[0]}/.gitignore": b"# vaultkit's cache\n*\n" for relative in files
    }
    for relative, data in {**ignores, **files}.items():
        try:
            write_if_changed(root, relative, data, durable=False, folders=folders)
        except (OSError, UnsafePath):
            pass
