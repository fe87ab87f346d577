"""The parse cache: each note's parse, kept between runs in `.vaultkit/cache/`.

An entry is reused only while the file's (mtime, size, ctime, inode) are the same; ctime
changes on every write and cannot be set back, so an edit that restores the old mtime
and size is still seen. The file is a pickle read by an unpickler that builds only
vaultkit's own records and plain data, so a cache planted in a shared vault cannot run
code. A cache that is corrupt, truncated, foreign or from another schema is ignored and
rebuilt, never an error. Pure: bytes in, entries out.
"""

from __future__ import annotations

import io
import os
import pickle
import zlib

from . import __version__, model

CACHE_FOLDER = ".vaultkit/cache"
SHARDS = 32  # a changed note rewrites one shard, not the whole cache
BUILD_STATE_PATH = f"{CACHE_FOLDER}/last-build"  # the vault fingerprint after the last build
# lineage note -> (what it was rendered from, stat keys of the files written for it)
LINEAGES_PATH = f"{CACHE_FOLDER}/lineages.pickle"
SCHEMA = 4
_MAGIC = b"vaultkit-parse-cache\n"
_ALLOWED = {
    ("vaultkit.model", name) for name in ("ParsedNote", "Link", "Url", "Tag", "Heading", "Field")
}
_ALLOWED |= {
    ("datetime", "date"),
    ("datetime", "datetime"),
    ("datetime", "time"),
    ("datetime", "timedelta"),
    ("datetime", "timezone"),
}


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
        if (module, name) not in _ALLOWED:
            raise pickle.UnpicklingError(f"{module}.{name} is not allowed in the cache")
        return super().find_class(module, name)


def encode(entries: dict) -> bytes:
    header = {"schema": SCHEMA, "version": __version__}
    return _MAGIC + pickle.dumps((header, entries), protocol=pickle.HIGHEST_PROTOCOL)


def decode(data: bytes | None) -> dict:
    """The entries of a cache file, or {} when it cannot be trusted or used."""
    if not data or not data.startswith(_MAGIC):
        return {}
    try:
        header, entries = _RestrictedUnpickler(io.BytesIO(data[len(_MAGIC) :])).load()
    except Exception:  # noqa: BLE001 - any damage at all means: rebuild
        return {}
    if not isinstance(header, dict) or header.get("schema") != SCHEMA:
        return {}
    if header.get("version") != __version__ or not isinstance(entries, dict):
        return {}
    return entries
