"""The read side: the only module that reads the vault from disk, as bytes.

It walks the vault as Obsidian does (dot-paths invisible, linked folders followed once),
and reads files and vaultkit's caches; what the bytes mean is ``loading``'s business.
Only regular files are ever opened (a FIFO would block a reader forever). See
docs/obsidian-rules.md, "Files".
"""

from __future__ import annotations

import errno
import hashlib
import os
import re
import stat
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import platformdirs

from vaultkit.disk import cache
from vaultkit.errors import (
    DiskError,
    NotARegularFile,
    VaultkitError,
    VaultTooLarge,
    describe_os_error,
)
from vaultkit.records import StatKey

OBSIDIAN_FOLDER = ".obsidian"
TEMPORARY_SUFFIX = ".vaultkit-tmp"  # vaultkit's own temporary files (see write.py)
MAX_FILES = 500_000  # a walk that finds more has followed a link somewhere it should not


# -- one file ------------------------------------------------------------------------------


def read_file(root: Path, relative: str) -> tuple[bytes, StatKey] | None:
    """A vault file's bytes and its stat key, or None when there is no such file. Only a
    regular file is read: anything else raises NotARegularFile (it is opened without
    blocking, so a FIFO cannot stall vaultkit)."""
    path = os.path.join(root, relative)
    try:
        descriptor = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_BINARY", 0))
    except (FileNotFoundError, NotADirectoryError):
        return None
    except OSError as exc:
        if exc.errno == errno.ENXIO:  # a socket
            raise NotARegularFile(_NOT_REGULAR, relative) from None
        raise
    with os.fdopen(descriptor, "rb") as handle:
        info = os.fstat(descriptor)
        if not stat.S_ISREG(info.st_mode):
            if stat.S_ISDIR(info.st_mode):
                return None  # a folder where a file was expected: no such file
            raise NotARegularFile(_NOT_REGULAR, relative)
        return handle.read(), cache.stat_key(info)


_NOT_REGULAR = (
    "is not a regular file (a FIFO, socket or device); vaultkit never reads or replaces one. "
    "Remove it or give vaultkit another path"
)


def read_bytes(root: Path, relative: str) -> bytes | None:
    """``read_file`` without the stat key."""
    found = read_file(root, relative)
    return None if found is None else found[0]


# -- vaultkit's caches, outside the vault -----------------------------------------------

CACHE_ENV = "VAULTKIT_CACHE_DIR"  # where caches go instead of the user's cache folder


def cache_base() -> Path:
    """The folder holding every vault's cache folder: the user's cache folder for
    vaultkit (`~/.cache/vaultkit` on Linux, `~/Library/Caches/vaultkit` on macOS), or
    ``$VAULTKIT_CACHE_DIR``."""
    chosen = os.environ.get(CACHE_ENV) or platformdirs.user_cache_dir("vaultkit", appauthor=False)
    return Path(chosen) / "vaults"


def cache_folder(root: Path) -> Path:
    """Where one vault's caches live, outside the vault: the caches hold stat keys that
    mean nothing on another machine, and a file-syncing tool would upload them again
    after every build. Keyed by the vault's real path, so every way to name the vault
    (a linked folder, a relative path) finds the same cache."""
    real = os.path.realpath(root)
    digest = hashlib.sha256(os.fsencode(real)).hexdigest()[:16]
    readable = re.sub(r"[^A-Za-z0-9._-]+", "-", os.path.basename(real)).strip("-.")[:40]
    return cache_base() / f"{readable or 'vault'}-{digest}"


def read_cache(root: Path, name: str) -> bytes | None:
    """A cache file of the vault at ``root``, or None when there is none to read."""
    try:
        return read_bytes(cache_folder(root), name)
    except (OSError, VaultkitError):
        return None


# -- the walk ------------------------------------------------------------------------------


@dataclass
class Listing:
    """Every file of the vault now, with its stat key, in walk order; and vaultkit's own
    temporary files (hidden), which a killed run may have left."""

    files: dict[str, StatKey] = field(default_factory=dict)
    temporary: list[str] = field(default_factory=list)
    other_vaults: list[str] = field(default_factory=list)  # folders with their own .obsidian/
    # files and folders whose names are not UTF-8, as `\xNN` escapes: left out, said
    bad_names: list[str] = field(default_factory=list)
    unreadable: list[tuple[str, str]] = field(default_factory=list)  # (folder, why), said


Walked = tuple[list[str], list[str], list[str], list[str], list[tuple[str, str]]]


def _walk(root: Path) -> Walked:
    """(files, temporary files, other vaults, names that are not UTF-8) as sorted
    vault-relative paths, dot-paths skipped; and the folders that could not be read, with
    why (their notes are missing, and links into them look dangling). A folder inside the
    vault that holds its own `.obsidian/` is another vault: it is left out (and listed).
    A file or folder whose name is not UTF-8 (Obsidian cannot open it either) is left out
    (and listed).

    A folder reached through a symbolic link is followed when it lies outside the vault,
    is not a folder above the vault, and is neither inside nor above a folder followed
    already: so each linked tree is walked once and no link leads back up (Obsidian
    follows linked folders; a link to `/` would otherwise walk the whole disk). More than
    MAX_FILES files is an error naming the links followed."""
    root = root.resolve()
    files: list[str] = []
    temporary: list[str] = []
    other_vaults: list[str] = []
    bad_names: list[str] = []
    unreadable: list[tuple[str, str]] = []
    followed = [root]
    links: list[str] = []

    def visit(folder: str, prefix: str) -> None:
        try:
            entries = sorted(os.scandir(folder), key=lambda e: e.name)  # same order everywhere
        except OSError as exc:
            unreadable.append((prefix.rstrip("/") or ".", describe_os_error(exc)))
            return
        if prefix and any(e.name == OBSIDIAN_FOLDER and e.is_dir() for e in entries):
            other_vaults.append(prefix.rstrip("/"))
            return
        for entry in entries:
            relative = prefix + entry.name
            if not entry.name.isprintable() and not_utf8(entry.name):
                bad_names.append(shown_name(relative))
                continue
            if entry.name.startswith("."):
                if entry.name.endswith(TEMPORARY_SUFFIX):
                    temporary.append(relative)
                continue
            try:
                is_dir = entry.is_dir()
                is_file = not is_dir and entry.is_file()  # FIFOs and sockets are neither
            except OSError:
                continue
            if is_file:
                files.append(relative)
                if len(files) > MAX_FILES:
                    raise VaultTooLarge(
                        f"holds more than {MAX_FILES:,} files"
                        + (f" (it follows the linked folders {', '.join(links)})" if links else "")
                        + "; vaultkit stops rather than read them all. Remove the links that "
                        "lead outside the vault, or open a smaller folder as the vault",
                        str(root),
                    )
            elif is_dir:
                if entry.is_symlink():
                    try:
                        target = Path(entry.path).resolve(strict=True)
                    except (OSError, RuntimeError):
                        continue
                    if any(
                        target.is_relative_to(seen) or seen.is_relative_to(target)
                        for seen in followed
                    ):
                        continue  # inside or above the vault or a tree followed already
                    followed.append(target)
                    links.append(relative)
                visit(entry.path, relative + "/")

    visit(str(root), "")
    files.sort()
    temporary.sort()
    return files, temporary, other_vaults, sorted(bad_names), unreadable


def not_utf8(name: str) -> bool:
    """A name the file system gave as bytes that are not UTF-8 (Python holds them as
    lone surrogates, which no text output can write)."""
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def shown_name(name: str) -> str:
    """A name as it can be printed: bytes that are not UTF-8 as `\\xNN`."""
    return name.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def walk_files(root: Path) -> list[str]:
    """Every file of the vault, sorted (see ``_walk``)."""
    return _walk(root)[0]


def files_in(folder: Path, pattern: str) -> list[str]:
    """The names of the regular files directly in ``folder`` that match the glob
    ``pattern``, sorted; none when there is no such folder. (Folders outside a vault:
    the service files of the platform's service manager.)"""
    try:
        return sorted(p.name for p in folder.glob(pattern) if p.is_file())
    except OSError:
        return []


def stat_keys(root: Path, paths: Iterable[str]) -> dict[str, StatKey | None]:
    """Each path's stat key now (None when it is gone or not a regular file)."""
    keys: dict[str, StatKey | None] = {}
    prefix = f"{root}{os.sep}"  # plain strings: a Path per file costs more than the stat
    for path in paths:
        try:
            info = os.stat(prefix + path)
        except OSError:
            keys[path] = None
            continue
        keys[path] = cache.stat_key(info) if stat.S_ISREG(info.st_mode) else None
    return keys


def list_vault(root: Path) -> Listing:
    """The vault's files now with their stat keys; a file that went between the walk and
    the stat is left out. One listing serves a whole build."""
    root = Path(root).resolve()
    files, temporary, other_vaults, bad_names, unreadable = _walk(root)
    for folder in VAULTKIT_FOLDERS:  # hidden, so the walk passes them by
        pattern = f"*{TEMPORARY_SUFFIX}"
        temporary += [f"{folder}/{name}" for name in files_in(root / folder, pattern)]
    keys = stat_keys(root, files)
    found = {path: key for path, key in keys.items() if key is not None}
    return Listing(found, temporary, other_vaults, bad_names, unreadable)


# where vaultkit writes its own files in the vault (and versions up to 0.2 their caches)
VAULTKIT_FOLDERS = (".vaultkit", cache.LEGACY_FOLDER)


# -- the vault's folder -----------------------------------------------------------------


def find_vault_root(start: Path) -> Path | None:
    """The nearest folder at or above ``start`` that holds ``.obsidian/``, or None."""
    start = start.resolve()
    for folder in (start, *start.parents):
        if (folder / OBSIDIAN_FOLDER).is_dir():
            return folder
    return None


def git_tracked(root: Path) -> set[str]:
    """The vault paths of the files git tracks (the index: committed or staged), for a
    vault in a git working tree; DiskError when there is no git or no repository."""
    import subprocess

    try:
        done = subprocess.run(
            ["git", "-C", str(root), "ls-files", "-z"],
            capture_output=True,
            timeout=60,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise DiskError(f"cannot ask git which files it tracks: {exc}", str(root)) from None
    if done.returncode != 0:
        raise DiskError(
            "is not in a git repository, so no file is tracked; leave out --tracked",
            str(root),
        )
    return {os.fsdecode(path) for path in done.stdout.split(b"\0") if path}
