"""A note named on the command line or in Python: resolved like a wikilink typed at the
vault root, then by a unique prefix of its name. Pure: note ids in, an id out."""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterable

from vaultkit.errors import AmbiguousNote, NoteNotFound


def _matches(ids: list[str], name: str) -> list[str]:
    """The ids ``name`` names: the id itself (any case; the exact case wins), else the ids
    it ends at a folder boundary, else the ids whose path or name starts with it."""
    wanted = name.lower()
    full = [i for i in ids if i.lower() == wanted]
    if full:
        return [i for i in full if i == name] or full
    suffix = [i for i in ids if ("/" + i.lower()).endswith("/" + wanted)]
    if suffix:
        return suffix
    return [
        i
        for i in ids
        if i.lower().startswith(wanted) or i.rpartition("/")[2].lower().startswith(wanted)
    ]


def resolve_note_name(
    ids: Iterable[str], name: str, secondary: Callable[[str], bool] = lambda note: False
) -> str:
    """The note id ``name`` stands for: an id or a note name (any case, `.md` optional),
    or a unique beginning of one (`EXP-004` for `EXP-004 mosaic and focal loss`). Among
    several, the ``secondary`` ones (vaultkit's generated notes) count only when nothing
    else matches. Raises NoteNotFound with the closest names, or AmbiguousNote with the
    candidates."""
    cleaned = name.strip().replace("\\", "/").strip("/")
    if cleaned.lower().endswith(".md"):
        cleaned = cleaned[:-3]
    ordered = sorted(ids)
    if not cleaned:
        raise NoteNotFound("a note name is empty; give a note's name or path")
    found = _matches(ordered, cleaned)
    if len(found) > 1:
        found = [n for n in found if not secondary(n)] or found
    if len(found) == 1:
        return found[0]
    if found:
        shown = ", ".join(found[:10]) + (f" and {len(found) - 10} more" if len(found) > 10 else "")
        whole = all(n.lower().endswith(cleaned.lower()) for n in found)
        hint = "give the folder too" if whole else "give more of the name"
        raise AmbiguousNote(f"{name!r} names {len(found)} notes; {hint}: {shown}")
    close = closest_names(ordered, cleaned)
    hint = f"; closest: {', '.join(close)}" if close else "; vaultkit list shows the experiments"
    raise NoteNotFound(f"no note named {name!r}{hint}")


def closest_names(ids: Iterable[str], name: str, limit: int = 5) -> list[str]:
    """Note ids closest to ``name`` for 'did you mean': names that contain it first, then
    by similarity of the name or the id."""
    wanted = name.lower()
    scored = []
    for note in ids:
        title = note.rpartition("/")[2].lower()
        contains = wanted in title or wanted in note.lower()
        similarity = max(
            difflib.SequenceMatcher(None, wanted, title).ratio(),
            difflib.SequenceMatcher(None, wanted, note.lower()).ratio(),
        )
        if contains or similarity > 0.4:
            scored.append((not contains, -similarity, note))
    return [note for *_, note in sorted(scored)[:limit]]
