"""Managed blocks: the text between a line ``<!-- vaultkit:begin NAME -->`` and a line
``<!-- vaultkit:end NAME -->`` is vaultkit's; everything else is the person's and is kept
byte for byte. A marker counts only when it stands alone on its line, and every line
vaultkit writes inside a block starts with something else, so no note name or title
copied into a block can ever form a marker. Pure."""

from __future__ import annotations

from vaultkit.errors import ManagedBlockError

_BLANK = " \t\ufeff"  # what may stand beside a marker on its line (a BOM on the first)


def begin_marker(name: str) -> str:
    return f"<!-- vaultkit:begin {name} -->"


def end_marker(name: str) -> str:
    return f"<!-- vaultkit:end {name} -->"


def _alone_on_line(text: str, start: int, end: int) -> bool:
    line_start = max(text.rfind("\n", 0, start), text.rfind("\r", 0, start)) + 1
    ends = [i for i in (text.find("\n", end), text.find("\r", end)) if i != -1]
    line_end = min(ends) if ends else len(text)
    return not text[line_start:start].strip(_BLANK) and not text[end:line_end].strip(_BLANK)


def _marker_spans(text: str, marker: str) -> list[tuple[int, int]]:
    spans = []
    at = text.find(marker)
    while at != -1:
        if _alone_on_line(text, at, at + len(marker)):
            spans.append((at, at + len(marker)))
        at = text.find(marker, at + len(marker))
    return spans


def _find(text: str, name: str) -> tuple[int, int] | None:
    """(start of the begin marker, end of the end marker) or None."""
    begins = _marker_spans(text, begin_marker(name))
    ends = _marker_spans(text, end_marker(name))
    if not begins and not ends:
        return None
    if len(begins) != 1 or len(ends) != 1 or ends[0][0] < begins[0][1]:
        raise ManagedBlockError(
            f"the {name!r} block markers are broken ({len(begins)} begin, {len(ends)} end); "
            "fix or delete them so that one begin line comes before one end line"
        )
    return begins[0][0], ends[0][1]


def block_lines(lines: list[str], name: str) -> range:
    """For a parser that works line by line: the 0-based lines of block ``name``, its
    markers included; empty when there is no such block or its markers are broken."""
    begin, end = begin_marker(name), end_marker(name)
    begins = [i for i, line in enumerate(lines) if line.strip(_BLANK) == begin]
    ends = [i for i, line in enumerate(lines) if line.strip(_BLANK) == end]
    if len(begins) == 1 and len(ends) == 1 and begins[0] < ends[0]:
        return range(begins[0], ends[0] + 1)
    return range(0)


def newline_of(text: str) -> str:
    """The note's own line ending, so a CRLF note stays CRLF."""
    return "\r\n" if "\r\n" in text else "\n"


def block_text(name: str, content: str, newline: str = "\n") -> str:
    body = content.strip("\n")
    block = f"{begin_marker(name)}\n{body}\n{end_marker(name)}"
    return block.replace("\n", newline)


def upsert_block(text: str, name: str, content: str) -> str:
    """``text`` with block ``name`` holding ``content``: replaced in place when the markers
    exist, else appended after the person's text."""
    span = _find(text, name)
    # the person's line ending, read outside the block (the block may hold a lone "\r")
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
    """The person's text: everything but the block."""
    span = _find(text, name)
    return text if span is None else text[: span[0]] + text[span[1] :]
