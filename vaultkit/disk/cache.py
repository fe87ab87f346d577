"""The format of vaultkit's own files: the caches (each note's parse, what the last build
left, the everyday commands' answers), kept outside the vault in the user's cache folder
(disk/read.py ``cache_folder``), and the one small file that travels with the vault,
`.vaultkit/generated.json`. Pure: data in, bytes out, and back.

Every file holds plain data only (tuples, lists, dicts, strings, numbers, and the dates
YAML properties may hold), pickled and covered by a checksum. It is read by an unpickler
that builds nothing else, so a cache planted in a shared vault cannot run code. A file
that is corrupt, truncated, foreign, from another version or of the wrong shape decodes
to nothing, and the caller rebuilds it: a cache is never an error.

A note's entry is reused only while the file's (mtime, size, ctime, inode) are the same;
ctime changes on every write and cannot be set back, so an edit that restores the old
mtime and size is still seen.
"""

from __future__ import annotations

import datetime
import functools
import io
import json
import os
import pickle
import zlib
from collections.abc import Iterable
from sys import intern
from typing import Any

from vaultkit.records import (
    Field,
    Heading,
    Link,
    ParsedNote,
    RebuildFacts,
    StatKey,
    SyncedRun,
    Tag,
    Url,
)
from vaultkit.version import __version__

# Where versions up to 0.2 kept their caches, inside the vault (a build removes them)
LEGACY_FOLDER = ".vaultkit/cache"
SHARDS = 32  # a changed note rewrites one shard, not the whole cache
STATE_NAME = "state.pickle"  # what the last build read and wrote (pipeline.py)
# A file in each vault's cache folder naming the vault, for people who look in there
VAULT_NAME = "vault.txt"
_VAULT_LINE = "vaultkit's caches of the vault "


def vault_note(real_path: str) -> bytes:
    """The content of ``VAULT_NAME`` for the vault at ``real_path``."""
    return f"{_VAULT_LINE}{real_path}\n".encode("utf-8", "surrogateescape")


def vault_of_note(data: bytes | None) -> str | None:
    """The vault ``vault_note`` named, or None."""
    text = (data or b"").decode("utf-8", "surrogateescape")
    return text[len(_VAULT_LINE) : -1] if text.startswith(_VAULT_LINE) else None


def answers_name(kind: str) -> str:
    """The cache file of the answer of one kind (experiments, problems, …; api.py)."""
    return f"answers-{kind.replace(' ', '-')}.pickle"


SCHEMA = 13
_MAGIC = b"vaultkit-cache\n"


def shard_of(path: str) -> int:
    return zlib.crc32(path.encode("utf-8")) % SHARDS


def shard_name(shard: int) -> str:
    return f"parse-{shard:02d}.pickle"


def stat_key(stat: os.stat_result) -> StatKey:
    return (stat.st_mtime_ns, stat.st_size, stat.st_ctime_ns, stat.st_ino)


# What a cache file may build besides plain data: the dates YAML properties can hold.
_ALLOWED = {
    ("datetime", name): getattr(datetime, name)
    for name in ("date", "datetime", "time", "timedelta", "timezone")
}


class _PlainUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        found = _ALLOWED.get((module, name))
        if found is None:
            raise pickle.UnpicklingError(f"{module}.{name} is not allowed in the cache")
        return found


def is_cache_file(data: bytes) -> bool:
    """Whether ``data`` is a file vaultkit's cache wrote (of any version)."""
    return data.startswith(_MAGIC)


def encode(data: Any) -> bytes:
    """A cache file holding ``data`` (plain data only)."""
    payload = pickle.dumps(({"schema": SCHEMA, "version": __version__}, data), protocol=5)
    return _MAGIC + zlib.crc32(payload).to_bytes(4, "big") + payload


def decode(data: bytes | None) -> Any:
    """What a cache file holds, or None when it cannot be trusted or used."""
    if not data or not data.startswith(_MAGIC):
        return None
    checksum, payload = data[len(_MAGIC) : len(_MAGIC) + 4], data[len(_MAGIC) + 4 :]
    if zlib.crc32(payload).to_bytes(4, "big") != checksum:
        return None
    try:
        header, content = _PlainUnpickler(io.BytesIO(payload)).load()
    except Exception:  # noqa: BLE001 - any damage at all means: rebuild
        return None
    if header != {"schema": SCHEMA, "version": __version__}:
        return None
    return content


# -- a note's parse as plain data ---------------------------------------------------------

# ParsedNote's fields in order; the records among them are stored as plain tuples, which
# unpickle about four times faster than named tuples (a build reads thousands of notes).
_FIELDS = tuple(ParsedNote.__dataclass_fields__)
Record = type[Tag] | type[Link] | type[Url] | type[Heading]
_RECORD_LISTS: dict[str, Record] = {"tags": Tag, "links": Link, "urls": Url, "headings": Heading}
_LIST_AT = {_FIELDS.index(name): record for name, record in _RECORD_LISTS.items()}
# and the fields that map names to records
_DICT_AT: dict[int, type[Field] | type[SyncedRun]] = {
    _FIELDS.index("fields"): Field,
    _FIELDS.index("synced_runs"): SyncedRun,
}


def parse_to_plain(parsed: ParsedNote) -> tuple[Any, ...]:
    """A parse as a tuple of plain values (see ``parse_from_plain``). The names every note
    repeats (sections, tags, metrics, settings, statuses) are interned: pickled once per
    cache file, they are one string each in the process that reads it back, not one per
    note (a tenth of a first build's memory)."""
    values = [getattr(parsed, name) for name in _FIELDS]
    for at in _LIST_AT:
        if at != _TAGS_AT:  # tags: below, with their names interned
            values[at] = [tuple(record) for record in values[at]]
    # a heading's text (notes from one template share them) and a link's target (notes
    # link to the same notes)
    values[_HEADINGS_AT] = [
        (level, intern(text), line) for level, text, line in values[_HEADINGS_AT]
    ]
    values[_LINKS_AT] = [(intern(target), *rest) for target, *rest in values[_LINKS_AT]]
    for at in _DICT_AT:
        values[at] = {intern(key): tuple(found) for key, found in values[at].items()}
    for at in _NAMED_AT:
        values[at] = {intern(key): value for key, value in values[at].items()}
    values[_TAG_NAMES_AT] = list(map(intern, values[_TAG_NAMES_AT]))
    values[_TAGS_AT] = [(intern(name), line) for name, line in values[_TAGS_AT]]
    values[_PERCENT_AT] = tuple(map(intern, values[_PERCENT_AT]))
    if values[_REBUILD_AT] is not None:
        values[_REBUILD_AT] = tuple(values[_REBUILD_AT])
    return tuple(values)


_NAMED = ("metrics", "thresholds", "settings", "text_settings", "sections")
_NAMED_AT = [_FIELDS.index(name) for name in _NAMED]
_TAG_NAMES_AT = _FIELDS.index("tag_names")
_TAGS_AT = _FIELDS.index("tags")
_PERCENT_AT = _FIELDS.index("percent")
_HEADINGS_AT = _FIELDS.index("headings")
_LINKS_AT = _FIELDS.index("links")
_REBUILD_AT = _FIELDS.index("rebuild")
_REBUILD_WIDTH = len(RebuildFacts._fields)


# tuple.__new__ bound to each record class: a plain tuple becomes the record without a
# Python call per item (the records' own constructors are Python functions)
_MAKERS = {at: functools.partial(tuple.__new__, record) for at, record in _LIST_AT.items()}
_WIDTHS = {at: {len(record._fields)} for at, record in _LIST_AT.items()}
_DICT_MAKERS = {at: functools.partial(tuple.__new__, record) for at, record in _DICT_AT.items()}
_DICT_WIDTHS = {at: {len(record._fields)} for at, record in _DICT_AT.items()}


def parse_from_plain(values: tuple[Any, ...]) -> ParsedNote:
    """The parse ``parse_to_plain`` made. Raises ValueError on data of the wrong shape.
    (A build decodes thousands: the records are made by C calls, and the parse's fields
    are set in one step rather than through its __init__.)"""
    if type(values) is not tuple or len(values) != len(_FIELDS):
        raise ValueError("not a cached parse")
    found = list(values)
    for at, make in _MAKERS.items():
        made = list(map(make, found[at]))
        if made and {*map(len, made)} != _WIDTHS[at]:
            raise ValueError("a cached record has the wrong shape")
        found[at] = made
    for at, make_record in _DICT_MAKERS.items():
        records = dict(zip(found[at], map(make_record, found[at].values()), strict=True))
        if records and {*map(len, records.values())} != _DICT_WIDTHS[at]:
            raise ValueError("a cached record has the wrong shape")
        found[at] = records
    facts = found[_REBUILD_AT]
    if facts is not None:
        if type(facts) is not tuple or len(facts) != _REBUILD_WIDTH:
            raise ValueError("a cached record has the wrong shape")
        found[_REBUILD_AT] = _NEW_RECORD(RebuildFacts, facts)
    parsed = _NEW(ParsedNote)
    parsed.__dict__ = dict(zip(_FIELDS, found, strict=True))
    return parsed


_NEW = object.__new__
_NEW_RECORD = tuple.__new__


def stat_key_of(key: Any) -> StatKey:
    """``key`` if it has the shape of a stat key, else ValueError."""
    if not (isinstance(key, tuple) and len(key) == 4 and all(type(k) is int for k in key)):
        raise ValueError("not a stat key")
    return key


# -- the file that travels with the vault ----------------------------------------------

# The generated files vaultkit wrote into the vault, each with a digest of what it holds
# when nothing but vaultkit's text is in it: a generated note the build no longer makes is
# removed only while it still holds exactly that. It lives in the vault because it is
# about the vault's files (a second machine must know them too); it changes only when a
# generated note does.
GENERATED_PATH = ".vaultkit/generated.json"
_GENERATED_ABOUT = (
    "The notes vaultkit generated in this vault, with a digest of what it wrote into each: "
    "it removes a generated note it no longer makes only while the note still holds exactly "
    "that. Keep this file with the vault (sync it, commit it)."
)


def generated_to_json(written: dict[str, str]) -> bytes:
    data = {"about": _GENERATED_ABOUT, "files": dict(sorted(written.items()))}
    return (json.dumps(data, indent=2, ensure_ascii=False) + "\n").encode("utf-8")


def generated_from_json(data: bytes | None) -> dict[str, str] | None:
    """The generated files ``generated_to_json`` wrote, or None when ``data`` is not such
    a file (then vaultkit removes none of them: it cannot tell them from a person's)."""
    try:
        return text_map(json.loads(data)["files"]) if data else None
    except (ValueError, TypeError, KeyError):
        return None


def text_map(value: Any) -> dict[str, str] | None:
    """``value`` if it maps text to text, else None."""
    if isinstance(value, dict) and only(str, value) and only(str, value.values()):
        return value
    return None


def only(kind: type, items: Iterable[Any]) -> bool:
    """Every item is exactly of ``kind`` (a check that runs in C, item by item: a state
    file has an entry per file of the vault)."""
    return {*map(type, items)} <= {kind}
