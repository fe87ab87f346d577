"""Managed blocks: the text between ``<!-- vaultkit:begin NAME -->`` and
``<!-- vaultkit:end NAME -->`` is vaultkit's; everything else is the user's and is kept
byte for byte. Pure."""

from __future__ import annotations

import re

from vaultkit.errors import VaultkitError


class ManagedBlockError(VaultkitError):
    """Markers that cannot be trusted (an end without a begin, a block twice)."""


def begin_marker(name: str) -> str:
    return f"<!-- vaultkit:begin {name} -->"


def end_marker(name: str) -> str:
    return f"<!-- vaultkit:end {name} -->"


def _find(text: str, name: str) -> tuple[int, int] | None:
    """(start of the begin marker line's content, end of the end marker) or None."""
    begins = [m.start() for m in re.finditer(re.escape(begin_marker(name)), text)]
    ends = [m.end() for m in re.finditer(re.escape(end_marker(name)), text)]
    if not begins and not ends:
        return None
    if len(begins) != 1 or len(ends) != 1 or ends[0] < begins[0]:
        raise ManagedBlockError(
            f"the {name!r} block markers are broken ({len(begins)} begin, {len(ends)} end); "
            "fix or delete them so that one begin comes before one end"
        )
    return begins[0], ends[0]


def newline_of(text: str) -> str:
    """The note's own line ending, so a CRLF note stays CRLF."""
    return "\r\n" if "\r\n" in text else "\n"


def block_text(name: str, content: str, newline: str = "\n") -> str:
    body = content.strip("\n")
    block = f"{begin_marker(name)}\n{body}\n{end_marker(name)}"
    return block.replace("\n", newline)


def upsert_block(text: str, name: str, content: str) -> str:
    """``text`` with block ``name`` holding ``content``: replaced in place when the markers
    exist, else appended after the user's text."""
    span = _find(text, name)
    # the user's line ending, read outside the block (the block may hold a lone "\r")
    newline = newline_of(text if span is None else text[: span[0]] + text[span[1] :])
    block = block_text(name, content, newline)
    if span is not None:
        return text[: span[0]] + block + text[span[1] :]
    if not text:
        return block + newline
    separator = (
        "" if text.endswith(newline * 2) else newline if text.endswith(newline) else newline * 2
    )
    return text + separator + block + newline


def block_content(text: str, name: str) -> str | None:
    """What block ``name`` holds now, or None when there is no such block."""
    span = _find(text, name)
    if span is None:
        return None
    inner = text[span[0] + len(begin_marker(name)) : span[1] - len(end_marker(name))]
    return inner.replace("\r\n", "\n").strip("\n")


def outside_text(text: str, name: str) -> str:
    """The user's text: everything but the block."""
    span = _find(text, name)
    return text if span is None else text[: span[0]] + text[span[1] :]
