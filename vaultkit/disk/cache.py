"""The parse cache: each note's parse, kept between runs in `.vaultkit/cache/`.

Each entry's parse is stored in two parts: what every build reads of every note (status,
links, tags, sections, properties) and, packed in bytes, the rest (headings, fields,
metrics, settings, …), unpacked only when something asks for it.

An entry is reused only while the file's (mtime, size, ctime, inode) are the same; ctime
changes on every write and cannot be set back, so an edit that restores the old mtime
and size is still seen. The file is a pickle read by an unpickler that builds only
vaultkit's own records and plain data, so a cache planted in a shared vault cannot run
code. A checksum covers the whole file. A cache that is corrupt, truncated, foreign or from
another schema is ignored and rebuilt, never an error. Pure: bytes in, entries out.
"""

from __future__ import annotations

import datetime
import io
import os
import pickle
import zlib

from vaultkit import __version__
from vaultkit.errors import VaultkitError
from vaultkit.model import records as model

CACHE_FOLDER = ".vaultkit/cache"
SHARDS = 32  # a changed note rewrites one shard, not the whole cache
BUILD_STATE_PATH = f"{CACHE_FOLDER}/last-build.pickle"  # what the last build read (build.py)
# lineage note -> (what it was rendered from, stat keys of the files written for it)
LINEAGES_PATH = f"{CACHE_FOLDER}/lineages.pickle"
INDEX_ROWS_PATH = f"{CACHE_FOLDER}/index-rows.pickle"  # experiment -> (signature, row)
SCHEMA = 5
_MAGIC = b"vaultkit-parse-cache\n"


def shard_of(path: str) -> int:
    return zlib.crc32(path.encode("utf-8")) % SHARDS


def shard_path(shard: int) -> str:
    return f"{CACHE_FOLDER}/parse-{shard:02d}.pickle"


StatKey = tuple[int, int, int, int]
# path -> (stat key, parsed note, unreadable-note message or None)
Entries = dict[str, tuple[StatKey, "model.ParsedNote", str | None]]


def stat_key(stat: os.stat_result) -> StatKey:
    return (stat.st_mtime_ns, stat.st_size, stat.st_ctime_ns, stat.st_ino)


class _RestrictedUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str):
        found = _ALLOWED.get((module, name))  # (a lookup: asked for every cached note)
        if found is None:
            raise pickle.UnpicklingError(f"{module}.{name} is not allowed in the cache")
        return found


def _loads(data: bytes):
    return _RestrictedUnpickler(io.BytesIO(data)).load()


# What every build reads of every note; the other fields of a parse are packed.
_READ_BY_EVERY_BUILD = (
    "properties",
    "frontmatter_error",
    "links",
    "footer_status",
    "property_status",
    "ignored_tags",
    "sections",
    "gaps",
    "tag_names",
)
_PACKED = tuple(
    name for name in model.ParsedNote.__dataclass_fields__ if name not in _READ_BY_EVERY_BUILD
)


def _pack_note(note: model.ParsedNote):
    """How a parse is pickled into the cache: the fields every build reads, and the rest
    as bytes (kept as they are when nothing unpacked them since they were read)."""
    packed = note.__dict__.get("_packed")
    if packed is not None:
        rest = packed[1]
    else:
        rest = pickle.dumps(
            {name: getattr(note, name) for name in _PACKED}, pickle.HIGHEST_PROTOCOL
        )
    return _note_from_parts, (tuple(getattr(note, name) for name in _READ_BY_EVERY_BUILD), rest)


def _unpack(rest: bytes) -> dict:
    """The packed fields of a cached parse. The file's checksum rules out accidents, so
    only a cache made on purpose to fail gets here."""
    try:
        return _loads(rest)
    except Exception:  # noqa: BLE001 - whatever it is, the cache cannot be used
        raise VaultkitError(
            "vaultkit's parse cache is damaged; delete this folder and run again", CACHE_FOLDER
        ) from None


def _note_from_parts(read: tuple, rest: bytes) -> model.ParsedNote:
    """A cached parse as it is decoded: the fields every build reads, the rest packed."""
    note = model.ParsedNote.__new__(model.ParsedNote)
    note.__dict__.update(zip(_READ_BY_EVERY_BUILD, read, strict=True))
    note.__dict__["_packed"] = (_unpack, rest)
    return note


# What a cache file may build: vaultkit's records and the dates YAML properties hold.
_ALLOWED = {
    (model.__name__, name): getattr(model, name)
    for name in ("Link", "Url", "Tag", "Heading", "Field")  # a ParsedNote is made of parts
}
_ALLOWED[(__name__, "_note_from_parts")] = _note_from_parts
_ALLOWED |= {
    ("datetime", name): getattr(datetime, name)
    for name in ("date", "datetime", "time", "timedelta", "timezone")
}


def encode(entries: dict) -> bytes:
    header = {"schema": SCHEMA, "version": __version__}
    buffer = io.BytesIO()
    pickler = pickle.Pickler(buffer, protocol=pickle.HIGHEST_PROTOCOL)
    pickler.dispatch_table = {model.ParsedNote: _pack_note}
    pickler.dump((header, entries))
    payload = buffer.getvalue()
    return _MAGIC + zlib.crc32(payload).to_bytes(4, "big") + payload


def decode(data: bytes | None) -> dict:
    """The entries of a cache file, or {} when it cannot be trusted or used."""
    if not data or not data.startswith(_MAGIC):
        return {}
    checksum, payload = data[len(_MAGIC) : len(_MAGIC) + 4], data[len(_MAGIC) + 4 :]
    if zlib.crc32(payload).to_bytes(4, "big") != checksum:
        return {}
    try:
        header, entries = _loads(payload)
    except Exception:  # noqa: BLE001 - any damage at all means: rebuild
        return {}
    if not isinstance(header, dict) or header.get("schema") != SCHEMA:
        return {}
    if header.get("version") != __version__ or not isinstance(entries, dict):
        return {}
    return entries
