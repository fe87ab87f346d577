"""The only module that writes to the vault.

A file is changed through an *update*: a pure function from its current bytes to what
it should hold. The writer reads the file, asks the update, writes the result to a
temporary file beside it and syncs that to disk; then, immediately before renaming it
over the file, it checks that the file is still the one it read. If a person saved the
file in between, the update runs again on their new text (their edit is kept), a few
times at most. So a write is atomic, happens only when the bytes change, never undoes an
edit made meanwhile, and stays inside the vault: a path that leaves it, or a symbolic
link that points out of it, is refused. Only regular files are read or replaced, and a
read-only file is left as it is.
"""

from __future__ import annotations

import contextlib
import errno
import functools
import itertools
import os
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from vaultkit.disk import cache
from vaultkit.disk.read import TEMPORARY_SUFFIX, cache_folder, files_in, read_file
from vaultkit.errors import (
    DiskError,
    NoteExists,
    RefusedEdit,
    UnsafePath,
    VaultkitError,
    WriteConflict,
    describe_os_error,
)
from vaultkit.records import StatKey, within_bytes


@dataclass(frozen=True)
class Delete:
    """What an update returns to remove the file."""


@dataclass(frozen=True)
class LeaveAlone:
    """What an update returns to leave the file as it is, and why (shown to the person)."""

    why: str


DELETE = Delete()
Decision = bytes | Delete | LeaveAlone
FileUpdate = Callable[[bytes | None], Decision]  # current bytes (None: no file) -> decision

ATTEMPTS = 5  # an update runs again this often when the file keeps changing under it


@dataclass
class Outcome:
    """What a batch of updates did (or, in a dry run, would do: ``planned``)."""

    written: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    left_alone: list[tuple[str, str]] = field(default_factory=list)  # (path, why)
    failed: list[tuple[str, str]] = field(default_factory=list)  # (path, why)
    planned: dict[str, tuple[bytes | None, bytes | None]] = field(default_factory=dict)
    errors: dict[str, VaultkitError] = field(default_factory=dict)  # the failures raised


def safe_target(root: Path, relative: str, folders: dict[str, Path] | None = None) -> Path:
    """The real file behind ``relative``, refused unless it is inside ``root`` once every
    symbolic link is followed. Writing there (not over the link) keeps a person's
    symbolic links as they are. ``folders`` keeps resolved folders for one batch."""
    folders = {} if folders is None else folders
    if Path(relative).is_absolute() or ".." in Path(relative).parts or "\0" in relative:
        raise UnsafePath("leaves the vault; give a path inside it", relative)
    if "" not in folders:
        folders[""] = root.resolve()
    real_root = folders[""]
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
_TEMPORARY_NAME = re.compile(r"\.(\d+)-\d+" + re.escape(TEMPORARY_SUFFIX) + "$")


def _write_temp(folder: Path, name: str, data: bytes, mode: int | None, durable: bool) -> Path:
    """A temporary file beside the target holding ``data``; ``durable``: on disk (fsync)
    before anyone renames it over the target. Its name starts with a dot (hidden from
    Obsidian and ignored by the watcher) and carries the process id, so a later run can
    tell a temporary file left by a killed run (``remove_stale_temporary``)."""
    while True:
        short = within_bytes(name, 80)  # the name in bytes: 255 is the file system's limit
        temp = folder / f".{short}.{os.getpid()}-{next(_temp_names)}{TEMPORARY_SUFFIX}"
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


def _sync_folders(folders: set[Path]) -> None:
    """Make renames durable: sync each folder that holds a renamed file (POSIX only)."""
    if os.name != "posix":
        return
    for folder in sorted(folders):
        descriptor = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(descriptor)
        finally:
            os.close(descriptor)


def _key_now(target: Path) -> StatKey | None:
    try:
        info = os.stat(target)
    except FileNotFoundError:
        return None
    return _key_of(info)


@dataclass
class _Pending:
    """A decided change waiting for its rename: the file's key when it was read, and the
    temporary file holding the new bytes (None for a removal)."""

    path: str
    target: Path
    read_key: StatKey | None
    temp: Path | None


def update_files(
    root: Path, updates: dict[str, FileUpdate], durable: bool = True, dry_run: bool = False
) -> Outcome:
    """Apply ``updates`` (vault path -> update). ``dry_run``: decide and write nothing;
    the changes are in ``Outcome.planned``."""
    outcome = Outcome()
    folders: dict[str, Path] = {}
    attempts = dict.fromkeys(updates, 0)
    todo = list(updates)
    late: dict[str, tuple[bytes, StatKey | None]] = {}  # the text a person wrote late
    done: dict[str, list[str]] = {"written": [], "removed": []}

    def again(path: str) -> None:
        attempts[path] += 1
        if attempts[path] < ATTEMPTS:
            todo.append(path)
        else:
            outcome.failed.append((path, _CONFLICT))

    while todo:
        pending: list[_Pending] = []
        replaced: list[_Replaced] = []  # the files replaced, held open until checked
        try:
            decide, todo = todo, []
            for path in decide:
                known = late.pop(path, None)
                decided = _decide(
                    root, path, updates[path], folders, durable, dry_run, outcome, known
                )
                if decided is _VANISHED:  # gone between its read and its stat: decide again
                    again(path)
                elif decided is not None:
                    pending.append(decided)
            for item in pending:  # each checked just before its rename
                removal = item.temp is None
                try:
                    committed = _commit(item)
                except OSError as exc:
                    outcome.failed.append((item.path, _could_not(exc)))
                    continue
                if committed is None:  # someone saved it meanwhile: decide again on it
                    again(item.path)
                    continue
                replaced.append(committed)
                done["removed" if removal else "written"].append(item.path)
            if durable and replaced:
                _sync_folders({r.target.parent for r in replaced})
            for found in replaced:  # written into as it was replaced: their text, again
                text = found.late()
                if text is not None:
                    late[found.path] = (text, _key_now(found.target))
                    again(found.path)
        finally:
            for item in pending:
                _discard(item)
            for found in replaced:
                found.close()
    outcome.written = sorted(set(done["written"]))
    outcome.removed = sorted(set(done["removed"]))
    outcome.unchanged.sort()
    return outcome


_CONFLICT = (
    "kept changing while vaultkit tried to update it, so vaultkit left it as it is; "
    "run again when it is quiet"
)


_VANISHED = _Pending("", Path(), None, None)  # what _decide returns for a file gone meanwhile


def _decide(
    root: Path,
    path: str,
    update: FileUpdate,
    folders: dict[str, Path],
    durable: bool,
    dry_run: bool,
    outcome: Outcome,
    known: tuple[bytes, StatKey | None] | None = None,
) -> _Pending | None:
    """Read the file and ask its update. A change is prepared and returned (a temporary
    file, or a removal) unless this is a dry run; anything else goes into ``outcome``. A
    file that vanished between its read and its stat (another build, a person) is
    ``_VANISHED``: it is decided again from what is there now."""
    try:
        target = safe_target(root, path, folders)
        found = known if known is not None else read_file(root, path)
        current, read_key = (None, None) if found is None else found
        decision = update(current)
        if isinstance(decision, LeaveAlone):
            outcome.left_alone.append((path, decision.why))
            return None
        if decision == current or (current is None and isinstance(decision, Delete)):
            outcome.unchanged.append(path)
            return None
        if current is not None and not os.stat(target).st_mode & 0o222:  # chmod a-w
            outcome.left_alone.append((path, _READ_ONLY))
            return None
        if dry_run:
            outcome.planned[path] = (current, None if isinstance(decision, Delete) else decision)
            return None
        if isinstance(decision, Delete):  # the link itself, where the file is a link
            return _Pending(path, root / path, read_key, None)
        target.parent.mkdir(parents=True, exist_ok=True)
        mode = os.stat(target).st_mode & 0o7777 if current is not None else None
        temp = _write_temp(target.parent, target.name, decision, mode, durable)
        return _Pending(path, target, read_key, temp)
    except VaultkitError as exc:
        outcome.failed.append((path, exc.message))
        outcome.errors[path] = exc
    except FileNotFoundError:
        return _VANISHED
    except OSError as exc:
        outcome.failed.append((path, _could_not(exc)))
    return None


def _could_not(exc: OSError) -> str:
    return f"could not be written: {describe_os_error(exc)}"


_READ_ONLY = (
    "is read-only (no write permission for anyone), so vaultkit leaves it as it is; make it "
    "writable to let vaultkit update it"
)


@dataclass
class _Replaced:
    """A file vaultkit just replaced, held open: POSIX has no rename that checks the
    file it replaces, so a person's write can land in it between the last check and the
    rename (an append opened just before). Once the folder is synced, the held file is
    looked at again, and what was written into it is not lost."""

    path: str
    target: Path
    held: int | None  # the replaced file, open (None: there was none, or a removal)
    read_key: StatKey | None

    def late(self) -> bytes | None:
        """The replaced file's text when it changed after vaultkit read it, else None."""
        if self.held is None or self.read_key is None:
            return None
        if _key_of(os.fstat(self.held))[:2] == self.read_key[:2]:  # mtime and size
            return None
        return os.pread(self.held, os.fstat(self.held).st_size, 0)

    def close(self) -> None:
        if self.held is not None:
            os.close(self.held)
            self.held = None


def _commit(item: _Pending) -> _Replaced | None:
    """Put the new file in place (or remove the file) if the file there is still the one
    read -> what was replaced, held open; None when it changed (nothing done)."""
    try:
        held: int | None = os.open(item.target, os.O_RDONLY | os.O_NONBLOCK)
    except FileNotFoundError:
        held = None
    try:
        now = _key_of(os.fstat(held)) if held is not None else None
        if now != item.read_key:
            return None
        if item.temp is None:  # a removal: nothing to put in its place
            item.target.unlink(missing_ok=True)
            return _Replaced(item.path, item.target, None, item.read_key)
        os.replace(item.temp, item.target)
        item.temp = None
        found, held = _Replaced(item.path, item.target, held, item.read_key), None
        return found
    finally:
        if held is not None:
            os.close(held)


def _key_of(info: os.stat_result) -> StatKey:
    return (info.st_mtime_ns, info.st_size, info.st_ctime_ns, info.st_ino)


def _discard(item: _Pending) -> None:
    if item.temp is not None:
        item.temp.unlink(missing_ok=True)
        item.temp = None


def update_file(root: Path, path: str, update: FileUpdate) -> bool:
    """One update, for commands that edit a person's note: True when the file changed.
    Anything that stops it (read-only, a conflict, a disk error) is an error naming the
    file."""
    outcome = update_files(root, {path: update})
    if path in outcome.errors:
        raise outcome.errors[path]
    for found, why in outcome.failed:
        raise (WriteConflict if why == _CONFLICT else DiskError)(why, found)
    for found, why in outcome.left_alone:
        raise RefusedEdit(why, found)
    return bool(outcome.written or outcome.removed)


def create_folder(path: Path) -> None:
    """Create ``path`` and the folders above it (a new vault's root)."""
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DiskError(f"could not be created: {describe_os_error(exc)}", str(path)) from None


def create_new(root: Path, relative: str, data: bytes) -> None:
    """Create ``relative`` atomically; never overwrite an existing file, even in a race."""
    target = safe_target(root, relative)
    if os.path.lexists(target):
        raise NoteExists("already exists; vaultkit never overwrites a note", relative)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        temp = _write_temp(target.parent, target.name, data, None, durable=True)
    except OSError as exc:
        raise DiskError(f"could not be written: {describe_os_error(exc)}", relative) from None
    try:
        os.link(temp, target)  # fails if the name appeared meanwhile
    except FileExistsError:
        raise NoteExists("already exists; vaultkit never overwrites a note", relative) from None
    except OSError as exc:
        if exc.errno not in _NO_HARD_LINKS:
            raise DiskError(f"could not be written: {describe_os_error(exc)}", relative) from None
        _create_exclusively(target, data, relative)
    finally:
        temp.unlink(missing_ok=True)
    _sync_folders({target.parent})


# what a file system without hard links (FAT, exFAT, some network shares) answers
_NO_HARD_LINKS = {errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.ENOSYS, errno.EXDEV}


def _create_exclusively(target: Path, data: bytes, relative: str) -> None:
    """Create the file by name where hard links cannot: the name is claimed at once
    (never over a file that appeared meanwhile), then written and synced; a write that
    fails takes the half-written file back (no one else can have written it)."""
    try:
        handle = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    except FileExistsError:
        raise NoteExists("already exists; vaultkit never overwrites a note", relative) from None
    except OSError as exc:
        raise DiskError(f"could not be written: {describe_os_error(exc)}", relative) from None
    try:
        with os.fdopen(handle, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
    except OSError as exc:
        target.unlink(missing_ok=True)
        raise DiskError(f"could not be written: {describe_os_error(exc)}", relative) from None


def remove_stale_temporary(root: Path, paths: list[str], started: float) -> list[str]:
    """Remove vaultkit's temporary files left by runs that were killed: only files named
    as vaultkit names them, older than this run (``started``, a time.time()), and whose
    process is gone (or that are older than ten minutes, as from another machine)."""
    removed = []
    for path in paths:
        match = _TEMPORARY_NAME.search(path)
        if match is None:
            continue
        full = root / path
        try:
            modified = full.lstat().st_mtime
        except OSError:
            continue
        if modified >= started:
            continue
        if _process_alive(int(match.group(1))) and time.time() - modified < 600:
            continue
        try:
            full.unlink()
        except OSError:
            continue
        removed.append(path)
    return removed


def _process_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, OSError):
        return True
    return True


def save_cache(root: Path, files: dict[str, bytes]) -> None:
    """Write cache files into the vault's cache folder, outside the vault (read.py
    ``cache_folder``). Atomic but not synced: a cache lost in a crash is rebuilt; a cache
    folder that cannot be written (a read-only home, a full disk) is gone without."""
    folder = cache_folder(root)
    try:
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        if not (folder / cache.VAULT_NAME).exists():
            files = {cache.VAULT_NAME: cache.vault_note(os.path.realpath(root)), **files}
        for name, data in files.items():
            temp = _write_temp(folder, name, data, 0o600, durable=False)
            try:
                os.replace(temp, folder / name)
            except OSError:
                temp.unlink(missing_ok=True)
                raise
    except OSError:
        return


def clear_cache(folder: Path) -> int:
    """Remove one vault's cache folder (read.py ``cache_folder``): the files vaultkit
    names there, then the folder if nothing else is in it. Returns the bytes freed."""
    freed = 0
    for entry in files_in(folder, "*"):
        if not _CACHE_NAME.fullmatch(entry) and not _TEMPORARY_NAME.search(entry):
            continue
        path = folder / entry
        try:
            size = path.lstat().st_size
            path.unlink()
        except OSError:
            continue
        freed += size
    with contextlib.suppress(OSError):
        folder.rmdir()
    return freed


_CACHE_NAME = re.compile(
    r"(parse-\d\d|state|answers-[\w-]+)\.pickle|" + re.escape(cache.VAULT_NAME)
)


def remove_legacy_cache(root: Path) -> int:
    """Remove the caches versions up to 0.2 kept inside the vault (`.vaultkit/cache/`):
    only files vaultkit's cache wrote (they start with its mark) and its `.gitignore`.
    Returns the bytes freed."""
    folder = root / cache.LEGACY_FOLDER
    freed = 0
    for name in files_in(folder, "*"):
        path = folder / name
        try:
            if path.is_symlink() or not path.is_file():
                continue
            data = path.read_bytes()
            if not (cache.is_cache_file(data) or data == _LEGACY_IGNORE):
                continue
            path.unlink()
        except OSError:
            continue
        freed += len(data)
    with contextlib.suppress(OSError):
        folder.rmdir()
    return freed


_LEGACY_IGNORE = b"# vaultkit's cache\n*\n"
