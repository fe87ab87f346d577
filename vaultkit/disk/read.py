"""The read side: the only module that reads the vault from disk.

It walks the vault as Obsidian does (dot-paths invisible, symlink loops and links back
into the vault ignored), reads every note, and hands the text to the pure parser. A note
that cannot be read becomes a problem for ``check``; every other note is still read.
"""

from __future__ import annotations

import functools
import itertools
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from vaultkit.disk import cache
from vaultkit.errors import VaultkitError
from vaultkit.model.config import CONFIG_PATH, Config, ConfigError, parse_config
from vaultkit.model.records import WARNING, ParsedNote, Problem
from vaultkit.obsidian.note import may_carry_tag, parse_note, parse_note_and_sections

CONFIG_FOLDER = ".obsidian"


@dataclass(eq=False)  # identity: a re-read note is a new object
class Note:
    """One Markdown file of the vault and what it says."""

    path: str  # vault-relative, '/'-separated, with '.md'
    parsed: ParsedNote
    stat_key: cache.StatKey  # (mtime_ns, size, ctime_ns, inode): what the parse cache compares

    @property
    def mtime_ns(self) -> int:
        return self.stat_key[0]

    @property
    def id(self) -> str:
        return self.path[:-3]

    @property
    def title(self) -> str:
        return self.id.rsplit("/", 1)[-1]


@dataclass
class Vault:
    """Everything read from a vault folder; the rest of vaultkit never touches the disk."""

    root: Path
    notes: dict[str, Note] = field(default_factory=dict)  # by path
    files: list[str] = field(default_factory=list)  # every file, notes and attachments
    template_settings: dict = field(default_factory=dict)
    app_settings: dict = field(default_factory=dict)
    config: Config = field(default_factory=Config)
    problems: list[Problem] = field(default_factory=list)
    stale_shards: set[int] = field(default_factory=set)  # parse-cache shards to rewrite
    listing: dict[str, tuple | None] = field(default_factory=dict)  # see list_vault
    encoded_shards: dict[int, bytes] = field(default_factory=dict)  # cache files made by workers
    kept_entries: dict = field(default_factory=dict)  # cache entries of notes left unread

    @functools.cached_property  # the settings are read once, before any note
    def templates_folder(self) -> str | None:
        folder = self.template_settings.get("folder")
        return folder.strip().strip("/") or None if isinstance(folder, str) else None


def find_vault_root(start: Path) -> Path:
    """The nearest folder at or above ``start`` that holds ``.obsidian/``, else ``start``."""
    start = start.resolve()
    for folder in (start, *start.parents):
        if (folder / CONFIG_FOLDER).is_dir():
            return folder
    return start


def read_json(path: Path) -> dict:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def read_settings(root: Path) -> tuple[dict, dict]:
    """The Templates plugin's settings (folder, date and time formats) and the app
    settings (link format)."""
    return (
        read_json(root / CONFIG_FOLDER / "templates.json"),
        read_json(root / CONFIG_FOLDER / "app.json"),
    )


def read_config(root: Path) -> Config:
    """`.vaultkit/config.toml`, or the defaults when there is none."""
    path = root / CONFIG_PATH
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return Config()
    except (OSError, UnicodeDecodeError) as exc:
        raise VaultkitError(f"cannot be read: {exc}", str(path)) from None
    try:
        return parse_config(text)
    except ConfigError as exc:
        raise VaultkitError(str(exc), str(path)) from None


def walk_files(root: Path) -> list[str]:
    """Every file of the vault as a sorted vault-relative path, skipping dot-paths.

    Symlinked folders are followed once (the first link by name wins); a link that loops
    or points back into the vault is skipped, as Obsidian does."""
    root = root.resolve()
    found: list[str] = []
    seen_dirs = {root}

    def visit(folder: Path, prefix: str):
        try:
            entries = sorted(os.scandir(folder), key=lambda e: e.name)  # same order everywhere
        except OSError:
            return
        for entry in entries:
            if entry.name.startswith("."):
                continue
            relative = prefix + entry.name
            try:
                is_dir = entry.is_dir()
                is_link = entry.is_symlink()
                is_file = entry.is_file()  # FIFOs and sockets would block a reader
            except OSError:
                continue
            if is_dir:
                if is_link:
                    try:
                        target = Path(entry.path).resolve(strict=True)
                    except (OSError, RuntimeError):
                        continue
                    if target in seen_dirs or target.is_relative_to(root):
                        continue
                    seen_dirs.add(target)
                visit(Path(entry.path), relative + "/")
            elif is_file:
                found.append(relative)

    visit(root, "")
    found.sort()
    return found


def decode_note(data: bytes) -> tuple[str | None, str | None]:
    """(text, problem): UTF-8 text, or text with U+FFFD for bad bytes plus a problem, or
    None for a file with NUL bytes (binary content, not a note)."""
    if b"\0" in data:
        return None, "contains NUL bytes, so it is not a text note; vaultkit skipped it"
    try:
        return data.decode("utf-8"), None
    except UnicodeDecodeError as exc:
        return data.decode("utf-8", errors="replace"), (
            f"is not valid UTF-8 (byte 0x{data[exc.start]:02x} at offset {exc.start}); "
            "read with replacement characters. Re-save it as UTF-8"
        )


def _unreadable(path: str, message: str) -> Problem:
    return Problem("unreadable-note", WARNING, path[:-3], None, message)


def read_note(root: Path, path: str) -> tuple[Note | None, Problem | None]:
    """Read and parse one note; a vanished file gives (None, None)."""
    note, problem, _ = _read_note_carrying(root, path, None)
    return note, problem


def _read_note_carrying(
    root: Path, path: str, tag: str | None
) -> tuple[Note | None, Problem | None, bool]:
    """``read_note``, and whether the note was left unparsed: with a ``tag``, a note whose
    text cannot carry it (``parse.may_carry_tag``) is read but not parsed, and not
    reported (``check`` reads it in full)."""
    full = root / path
    try:
        with open(full, "rb") as handle:
            stat = os.fstat(handle.fileno())
            data = handle.read()
    except FileNotFoundError:
        return None, None, False
    except OSError as exc:
        return None, _unreadable(path, f"cannot be read: {exc.strerror or exc}"), False
    text, trouble = decode_note(data)
    if tag is not None and not may_carry_tag(text or "", tag):
        return None, None, True
    problem = _unreadable(path, trouble) if trouble else None
    parsed = parse_note(text) if text is not None else ParsedNote()
    return Note(path, parsed, cache.stat_key(stat)), problem, False


PARALLEL_THRESHOLD = 1000  # notes; below this, starting worker processes costs more than it saves


def _read_shard(root: Path, paths: list[str], tag: str | None):
    """Read and parse one cache shard's notes (in a worker process): the shard's cache
    file, which is also how the parses travel back; the notes that could not be read
    (with their problem; None for a note that vanished); the notes left unparsed."""
    entries: cache.Entries = {}
    failed, unparsed = [], []
    for path in paths:
        note, problem, left = _read_note_carrying(root, path, tag)
        if left:
            unparsed.append(path)
        elif note is None:
            failed.append((path, problem))
        else:
            entries[path] = (note.stat_key, note.parsed, problem.message if problem else None)
    return cache.encode(entries), failed, unparsed


def _note_from_entry(path: str, entry) -> tuple[str, Note, Problem | None]:
    key, parsed, trouble = entry
    problem = _unreadable(path, trouble) if trouble else None
    return path, Note(path, parsed, key), problem


def _read_all(
    root: Path, paths: list[str], tag: str | None, encoded: dict[int, bytes], unparsed: set
):
    """Yield (path, note, problem) for every path; the notes that cannot carry ``tag``
    are yielded without a note and added to ``unparsed``. Big vaults are read by worker
    processes, one parse-cache shard each; their cache files are kept in ``encoded``."""
    workers = min(os.cpu_count() or 1, 8)
    if len(paths) < PARALLEL_THRESHOLD or workers < 2:
        for path in paths:
            note, problem, left = _read_note_carrying(root, path, tag)
            if left:
                unparsed.add(path)
            yield path, note, problem
        return
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    by_shard: dict[int, list[str]] = {}
    for path in paths:
        by_shard.setdefault(cache.shard_of(path), []).append(path)
    shards = sorted(by_shard)
    context = multiprocessing.get_context("fork" if os.name == "posix" else "spawn")
    with ProcessPoolExecutor(workers, mp_context=context) as pool:
        results = pool.map(
            _read_shard, [root] * len(shards), [by_shard[s] for s in shards], [tag] * len(shards)
        )
        for shard, (data, failed, left) in zip(shards, results, strict=True):
            entries = cache.decode(data)
            for path, entry in entries.items():
                # unpacked while the workers still parse: a build of new notes renders
                # most of them, and later there is a core to spare no more
                entry[1].unpack()
                yield _note_from_entry(path, entry)
            for path, problem in failed:
                yield path, None, problem
            unparsed.update(left)
            for path in left:
                yield path, None, None
            missing = set(by_shard[shard]) - set(entries) - {path for path, _ in failed} - set(left)
            if missing:  # a parse the cache format refused: read those notes here
                for path in sorted(missing):
                    yield (path, *read_note(root, path))
            else:
                encoded[shard] = data


def read_text_file(root: Path, path: str) -> bytes | None:
    """The bytes of a vault file, or None when it does not exist."""
    try:
        return (root / path).read_bytes()
    except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
        return None


def _cached_notes(paths: list[str], listing: dict, entries: cache.Entries):
    """(notes reused from the cache with their problems, paths that must be read)."""
    reused, to_read = [], []
    for path in paths:
        entry = entries.get(path)
        key = listing.get(path)
        if entry is None or key is None or entry[0] != key:
            to_read.append(path)
        else:
            reused.append(_note_from_entry(path, entry))
    return reused, to_read


def stat_keys(root: Path, paths) -> dict[str, tuple | None]:
    """Each path's stat key now (None when it is gone)."""
    keys: dict[str, tuple | None] = {}
    prefix = f"{root}{os.sep}"  # plain strings: a Path per file costs more than the stat
    for path in paths:
        try:
            keys[path] = cache.stat_key(os.stat(prefix + path))
        except OSError:
            keys[path] = None
    return keys


def list_vault(root: Path) -> dict[str, cache.StatKey | None]:
    """Every file of the vault, in walk order, with its stat key now (None when it went
    between the walk and the stat). One listing serves a whole build."""
    root = Path(root).resolve()
    return stat_keys(root, walk_files(root))


def settings_digest(root: Path) -> str:
    """A digest of what a build reads besides the notes: the settings files' bytes and
    vaultkit's version."""
    import hashlib

    from vaultkit import __version__

    digest = hashlib.sha1(__version__.encode())
    for settings in (CONFIG_PATH, f"{CONFIG_FOLDER}/app.json", f"{CONFIG_FOLDER}/templates.json"):
        digest.update(settings.encode() + b"\0" + (read_text_file(root, settings) or b"") + b"\0")
    return digest.hexdigest()


def note_sections(root: Path, path: str) -> dict[str, list[str]]:
    """A note's sections, read from disk now (for comparing two notes)."""
    text, _ = decode_note(read_text_file(root, path) or b"")
    return parse_note_and_sections(text or "")[1]


def read_vault_settings(root: Path) -> Vault:
    """A vault with its settings read and no note yet."""
    root = Path(root).resolve()
    template_settings, app_settings = read_settings(root)
    return Vault(
        root,
        template_settings=template_settings,
        app_settings=app_settings,
        config=read_config(root),
    )


def load_vault(
    root: Path,
    progress=None,
    use_cache: bool = True,
    listing=None,
    skip_generated=False,
    only=None,
    experiments_only=False,
) -> Vault:
    """Read a whole vault, reusing cached parses of unchanged notes. ``progress(done,
    total)`` is called while notes are read; ``listing`` is a ``list_vault`` made just
    before (else one is made here). ``skip_generated``: leave out the notes vaultkit
    generates (the index, the lineage folder), which ``build`` never reads; ``only``:
    read only these notes; ``experiments_only``: parse none whose text cannot carry the
    experiment tag (no experiment, so nothing ``build`` reads). Notes left out stay files
    of the vault, and their cache entries stay for the other commands."""
    vault = read_vault_settings(root)
    root = vault.root
    vault.listing = list_vault(root) if listing is None else listing
    files = list(vault.listing)
    all_notes = [p for p in files if p.lower().endswith(".md")]
    note_paths = [
        p
        for p in all_notes
        if not (skip_generated and vault.config.is_generated(p)) and (only is None or p in only)
    ]
    entries: cache.Entries = {}
    if use_cache:
        for shard in range(cache.SHARDS):
            entries.update(cache.decode(read_text_file(root, cache.shard_path(shard))))
    if len(note_paths) < len(all_notes):
        unread = set(all_notes).difference(note_paths)
        vault.kept_entries = {p: e for p, e in entries.items() if p in unread}
    reused, to_read = _cached_notes(note_paths, vault.listing, entries)
    vanished, unparsed = set(), set()
    encoded: dict[int, bytes] = {}  # cache files the workers made
    tag = vault.config.experiment_tag if experiments_only else None
    results = _read_all(root, to_read, tag, encoded, unparsed)
    for done, (path, note, problem) in enumerate(itertools.chain(reused, results), 1):
        if note is not None:
            vault.notes[path] = note
        elif problem is None and path not in unparsed:
            vanished.add(path)
        if problem is not None:
            vault.problems.append(problem)
        if progress is not None:
            progress(done, len(note_paths))
    vault.notes = dict(sorted(vault.notes.items()))  # workers finish in any order
    vault.problems.sort(key=lambda p: (p.note or "", p.code, p.message))
    vault.files = [p for p in files if p not in vanished]
    reused_paths = {path for path, _, _ in reused}
    gone = set(entries) - reused_paths - set(vault.kept_entries)  # changed, deleted, not a note
    vault.stale_shards = {cache.shard_of(p) for p in [*to_read, *gone]}
    # a worker's file is the whole shard when no entry of that shard was reused or kept
    reused_shards = {cache.shard_of(p) for p in [*reused_paths, *vault.kept_entries]}
    vault.encoded_shards = {s: d for s, d in encoded.items() if s not in reused_shards}
    return vault


def cache_files(vault: Vault) -> dict[str, bytes]:
    """The parse-cache shards that no longer match what was read (see cache.py)."""
    troubles = {p.note: p.message for p in vault.problems if p.code == "unreadable-note"}
    ready = {s: d for s, d in vault.encoded_shards.items() if s in vault.stale_shards}
    shards: dict[int, cache.Entries] = {s: {} for s in vault.stale_shards - set(ready)}
    for path, note in vault.notes.items():
        shard = cache.shard_of(path)
        if shard in shards:
            shards[shard][path] = (note.stat_key, note.parsed, troubles.get(note.id))
    for path, entry in vault.kept_entries.items():
        if cache.shard_of(path) in shards and vault.listing.get(path) == entry[0]:
            shards[cache.shard_of(path)][path] = entry  # still true of the file
    encoded = {shard: cache.encode(entries) for shard, entries in shards.items()}
    return {cache.shard_path(shard): data for shard, data in sorted({**ready, **encoded}.items())}
