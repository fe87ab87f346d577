"""A line scanner for the block structure of plain notes, about ten times faster than
markdown-it-py on them.

It knows the common shapes exactly as markdown-it (CommonMark + tables) reads them:
paragraphs, lists, fences, ATX and setext headings, thematic breaks, table rows and
one-line HTML comments (vaultkit's block markers). On
anything else (quotes, HTML, indented code, blocks nested in list items, link reference
definitions, a setext underline after a table row) it answers None and the caller asks
markdown-it. tests/test_properties.py checks it against markdown-it's full parse.
"""

from __future__ import annotations

import re

from vaultkit.records import Heading

_FENCE = re.compile(r"(`{3,}|~{3,})(.*)$")
_ATX = re.compile(r"(#{1,6})(?:[ \t]+|$)(.*)$")
_ATX_CLOSE = re.compile(r"(?:^|[ \t]+)#+[ \t]*$")
_THEMATIC = re.compile(r"([-*_])(?:[ \t]*\1){2,}[ \t]*$")
_SETEXT = re.compile(r"(=+|-+)[ \t]*$")
_BULLET = re.compile(r"([-*+])(?:[ \t]+(.*)|)$")
_ORDERED = re.compile(r"([0-9]{1,9})[.)](?:[ \t]+(.*)|)$")  # ASCII digits only
_BLOCK_START = re.compile(r"(?:#{1,6}(?:[ \t]|$)|```|~~~|<|>)")
_REFERENCE = re.compile(r"\[[^\]]*\]:")

TEXT, LIST = "text", "list"


# A line that starts with none of these (after no indent at all) is paragraph text or a
# table row, whatever the state: most lines of a note are decided without a regex.
_MAY_BE_STRUCTURE = frozenset("#`~=-*_+<>[0123456789 \t")


def _ends_in_marker(stripped: str) -> bool:
    """Whether a thematic break or setext underline is possible: they are made of their
    marker character only (spaces and tabs aside), so the last one must be it."""
    tail = stripped.rstrip(" \t")
    return bool(tail) and tail[-1] == stripped[0]


def scan_blocks(lines: list[str]) -> tuple[set[int], list[Heading], list[int]] | None:
    """(masked lines, headings, rules) like markdown-it's, or None when unsure."""
    masked: set[int] = set()
    headings: list[Heading] = []
    rules: list[int] = []
    para: str | None = None
    para_start = 0
    piped = False  # the paragraph has a `|`: it may be a table, whose rows end differently
    fence: tuple[str, int] | None = None
    for number, line in enumerate(lines):
        if fence is not None:
            masked.add(number)
            stripped = line.lstrip(" ")
            if len(line) - len(stripped) <= 3 and stripped.startswith(fence[0] * fence[1]):
                if not stripped.rstrip(" \t").strip(fence[0]):
                    fence = None
            continue
        if not line:
            para = None
            continue
        if (
            line[0] in "-*+"
            and len(line) > 2
            and line[1] == " "
            and line[2] not in _MAY_BE_STRUCTURE
        ):
            para = LIST  # "- text": an item with text, which no rule reads otherwise
            continue
        if line[0] not in _MAY_BE_STRUCTURE:
            if para is None:
                para, para_start, piped = TEXT, number, "|" in line
            elif "|" in line:
                if para == LIST:
                    return None  # a table row after a list item: markdown-it may start a table
                piped = True
            continue
        stripped = line.lstrip(" ")
        indent = len(line) - len(stripped)
        if not stripped.strip(" \t"):  # blank: spaces and tabs only (not U+00A0 and kin)
            para = None
            continue
        if stripped[0] == "\t" or indent >= 4:
            if para == TEXT and not piped:
                continue  # a lazy continuation line
            if para == LIST and not _BLOCK_START.match(stripped.lstrip(" \t")):
                continue  # inside the list item
            return None  # indented code, or a block inside a list item
        first = stripped[0]
        if indent and not (_BULLET.match(stripped) or _ORDERED.match(stripped)):
            return None  # may be a list item's continuation after a blank line
        if first in "`~":
            match = _FENCE.match(stripped)
            if match and not (first == "`" and "`" in match.group(2)):
                if indent:
                    return None
                masked.add(number)
                fence = (first, len(match.group(1)))
                para = None
                continue
        if first == "#":
            match = _ATX.match(stripped)
            if match:
                text = _ATX_CLOSE.sub("", match.group(2).rstrip(" \t")) if match.group(2) else ""
                headings.append(Heading(len(match.group(1)), text.strip(), number + 1))
                para = None
                continue
        if first in "=-*_" and _ends_in_marker(stripped):
            if first in "=-" and para == TEXT and _SETEXT.match(stripped):
                if piped:
                    return None  # a rule after a table, a heading after a paragraph
                text = "\n".join(lines[para_start:number]).strip()
                headings.append(Heading(1 if first == "=" else 2, text, para_start + 1))
                para = None
                continue
            if first != "=" and _THEMATIC.match(stripped):
                rules.append(number)
                para = None
                continue
        if first == "<":
            if stripped.startswith("<!--") and "-->" in stripped:
                masked.add(number)  # a one-line HTML comment block (vaultkit's own markers)
                para = None
                continue
            return None
        if first == ">" or (first == "[" and _REFERENCE.match(stripped)):
            return None
        bullet = (first in "-*+" and _BULLET.match(stripped)) or (
            first.isdigit() and _ORDERED.match(stripped)
        )
        if bullet:
            content = bullet.group(2) or ""
            if content and (_BLOCK_START.match(content) or _THEMATIC.match(content)):
                return None  # a block on the marker's line
            has_text = bool(content.strip(" \t"))
            ordered_late = first.isdigit() and bullet.group(1) != "1"
            if para == TEXT and (not has_text or ordered_late):
                continue  # cannot interrupt a paragraph: continuation text
            # an empty item holds no paragraph for the next line to continue
            para = LIST if has_text else None
            continue
        if para == LIST and "|" in stripped:
            return None  # a table row after a list item: markdown-it may start a table
        if para in (TEXT, LIST):
            piped = piped or "|" in stripped
            continue
        para, para_start, piped = TEXT, number, "|" in stripped
    return masked, headings, rules  # an unclosed fence ran to the end, as in markdown-it
