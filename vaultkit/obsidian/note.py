"""Read one note's text the way Obsidian does. Pure: text in, ``NoteSyntax`` out (what
the note's sections report is ``model.reading``'s business).

Never raises on content: bad YAML becomes ``frontmatter_error``. Line numbers are true to
the file, frontmatter included, so ``check`` can point at the line to fix.
"""

from __future__ import annotations

import bisect
import functools
import re
from dataclasses import dataclass, field
from itertools import accumulate, repeat
from operator import add
from typing import TYPE_CHECKING, Any, NamedTuple

from vaultkit.obsidian import syntax
from vaultkit.obsidian.markdown import scan_blocks
from vaultkit.records import (
    LINK,
    NEXT,
    PREVIOUS,
    REFERENCES,
    RELATED,
    Field,
    Heading,
    Link,
    ParsedNote,
    ParseRules,
    Role,
    Tag,
    Url,
)

FOOTER_KEYS = ("status", "tags", "references", "related")
NEXT_SECTION = "next experiment"
_FIELD_ROLES: dict[str, Role] = {"related": RELATED, "references": REFERENCES}

if TYPE_CHECKING:  # markdown-it is imported on first use (see _markdown_it)
    from markdown_it import MarkdownIt
    from markdown_it.token import Token


# `Key: value`, `- Key: value`, `**Key**: value`, `**Key:** value`; not `Key::` (Dataview)
# and not a URL's `https://`.
_FIELD_RE = re.compile(
    r"^(?P<indent>[ \t]*)(?P<item>[-*+][ \t]+)?(?:\*\*)?"
    r"(?P<key>[A-Za-z][A-Za-z0-9_ -]{0,40}?)(?:\*\*)?:(?:\*\*)?(?!:|//)(?P<value>.*)$"
)
_LIST_ITEM_RE = re.compile(r"^(?P<indent>[ \t]*)(?:[-*+]|\d{1,9}[.)])(?:[ \t]|$)")

# -- block structure ------------------------------------------------------------------


@dataclass
class Blocks:
    """What block parsing tells: lines not indexed, headings, and thematic breaks."""

    masked: set[int] = field(default_factory=set)  # 0-based line numbers
    headings: list[Heading] = field(default_factory=list)
    rules: list[int] = field(default_factory=list)  # 0-based lines of `---` breaks


def _blocks_from_tokens(tokens: list[Token]) -> Blocks:
    blocks = Blocks()
    for index, token in enumerate(tokens):
        if token.type in ("fence", "code_block", "html_block") and token.map:
            # UNVERIFIED for indented code and raw HTML blocks: treated as not indexed,
            # like fenced code (Obsidian does not render Markdown inside HTML).
            blocks.masked.update(range(token.map[0], token.map[1]))
        elif token.type == "heading_open" and token.map:
            text = tokens[index + 1].content if index + 1 < len(tokens) else ""
            blocks.headings.append(Heading(int(token.tag[1]), text.strip(), token.map[0] + 1))
        elif token.type == "hr" and token.map:
            blocks.rules.append(token.map[0])
    return blocks


def block_structure(body: str) -> Blocks:
    """Code, headings and rules of a Markdown body: from the line scanner when it is sure
    (most notes), else from markdown-it-py."""
    lines = body.split("\n")
    scanned = scan_blocks(lines[:-1] if body.endswith("\n") else lines)  # no line after a final LF
    if scanned is not None:
        return Blocks(*scanned)
    return full_block_structure(body)


def full_block_structure(body: str) -> Blocks:
    """The same from markdown-it-py alone: the reference the scanner is tested against."""
    return _blocks_from_tokens(_markdown_it().parse(body))


@functools.cache
def _markdown_it() -> MarkdownIt:
    """markdown-it-py with every block rule a note can use, and no inline parsing (links
    and tags are found by `syntax.py` in the text between blocks). Made on first use:
    most notes never need it, and importing it costs more than a warm build."""
    from markdown_it import MarkdownIt

    return MarkdownIt("commonmark").enable("table").disable(["inline", "text_join"])


# -- frontmatter ------------------------------------------------------------------------


def split_frontmatter(lines: list[str]) -> tuple[str | None, int]:
    """(YAML text or None, index of the closing line) (docs/obsidian-rules.md,
    "Properties").

    The opener is exactly `---` on line 1 (spaces or tabs may follow); the closer is the
    first later line that begins with `---`. Without a closer there is no frontmatter."""
    if not lines or lines[0].rstrip(" \t") != "---":
        return None, -1
    for index in range(1, len(lines)):
        if lines[index].startswith("---"):
            return "\n".join(lines[1:index]), index
    return None, -1


def _frontmatter_tags(properties: dict[str, Any]) -> tuple[list[Tag], str | None]:
    """Tags from the first key matching /^tags$/i, as Obsidian ≥ 1.9.4 reads them, and the
    first value it drops (`a, b`, an item with a space or a character tags cannot hold)."""
    key = next((k for k in properties if isinstance(k, str) and k.lower() == "tags"), None)
    if key is None:
        return [], None
    value = properties[key]
    items = [value] if isinstance(value, str) else value if isinstance(value, list) else []
    tags, ignored = [], None
    for item in items:
        if not isinstance(item, str):
            continue
        name = item.strip()
        name = name[1:] if name.startswith("#") else name
        if not name:
            continue
        if syntax.is_valid_tag(name):
            tags.append(Tag(name, None))
        elif ignored is None:
            ignored = item
    return tags, ignored


def _property_status(properties: dict[str, Any], wanted: str) -> str | None:
    key = next((k for k in properties if isinstance(k, str) and k.lower() == wanted), None)
    value = properties.get(key) if key is not None else None
    if isinstance(value, str) and value.strip().lstrip("#").strip():
        return value.strip().lstrip("#").strip().lower()
    return None


def _property_links(
    properties: dict[str, Any], lines: list[str], closing: int, roles: dict[str, Role]
) -> tuple[list[Link], list[Url]]:
    """Links written as whole property values, and URLs under a `references` property."""
    links, urls = [], []
    where = _PropertyLines(lines, closing)
    for key, value in properties.items():
        role = roles.get(str(key).lower(), LINK)
        for item in value if isinstance(value, list) else [value]:
            if not isinstance(item, str):
                continue
            raw = syntax.parse_property_link(item)
            if raw is not None:
                line = where.line_of(item.strip(), str(key))
                links.append(Link(raw.target, raw.subpath, raw.alias, "property", line, role))
            elif role == REFERENCES and re.match(r"(?i)(https?|ftp)://\S+$", item.strip()):
                urls.append(Url(item.strip(), where.line_of(item.strip(), str(key)), REFERENCES))
    return links, urls


class _PropertyLines:
    """The line a property value is written on (1-based): searched forward from the last
    value found, since the values of a list come in order (a search from the top each
    time made 10,000 values cost 10,000 searches of the whole block)."""

    def __init__(self, lines: list[str], closing: int):
        self.lines = lines
        self.closing = closing
        self.next_from = 1

    def line_of(self, text: str, key: str) -> int:
        for start in (self.next_from, 1):
            for index in range(start, self.closing):
                if text and text in self.lines[index]:
                    self.next_from = index
                    return index + 1
        for index in range(1, self.closing):
            if self.lines[index].lstrip("\"'").startswith(key):
                return index + 1
        return 1


# -- footer fields and sections ---------------------------------------------------------


def _match_field(line: str, after_last_rule: bool) -> re.Match[str] | None:
    if not after_last_rule:  # only the footer keys count here: most lines have none
        lowered = line.lower()
        if not any(key in lowered for key in FOOTER_KEYS):
            return None
    match = _FIELD_RE.match(line)
    if not match:
        return None
    key = match.group("key").strip()
    if key.lower() in FOOTER_KEYS or after_last_rule:
        return match
    return None


def find_fields(lines: list[str], blocks: Blocks) -> dict[str, Field]:
    """Footer fields: Status/Tags/References/Related anywhere outside code, and any other
    `Key:` line after the note's last `---` rule. A value goes on over the list items
    under the key (deeper-indented ones for a `- Key:` item)."""
    last_rule = blocks.rules[-1] if blocks.rules else len(lines)
    fields: dict[str, Field] = {}
    masked = blocks.masked
    next_free = 0  # lines before this belong to the value of a field found already
    for index in [i for i, line in enumerate(lines) if ":" in line and i not in masked]:
        if index < next_free:
            continue
        match = _match_field(lines[index], index > last_rule)
        if match is None:
            continue
        key_indent = len(match.group("indent").expandtabs(4))
        as_item = bool(match.group("item"))
        value = [match.group("value")]
        end = index
        probe = index + 1
        while probe < len(lines) and probe not in masked:
            line = lines[probe]
            if not line.strip():
                probe += 1
                continue
            item = _LIST_ITEM_RE.match(line)
            indent = len(line[: len(line) - len(line.lstrip())].expandtabs(4))
            belongs = indent > key_indent if as_item else bool(item) and indent >= key_indent
            if not belongs or (not as_item and _match_field(line, False)):
                break
            value.append(line)
            end = probe
            probe += 1
        key = match.group("key").strip()
        fields.setdefault(key.lower(), Field(key, "\n".join(value), index + 1, end + 1))
        next_free = end + 1
    return fields


@functools.lru_cache(maxsize=4096)  # notes from one template share their headings
def normalise_heading(text: str) -> str:
    """Heading text compared for section names: case, emphasis and spacing ignored."""
    return " ".join(text.replace("*", "").replace("_", " ").split()).lower()


class Section(NamedTuple):
    """The lines under a heading: 0-based [start, end), up to the next heading of the
    same or a higher level (not cut at the footer)."""

    name: str  # the heading's text, normalised
    heading: Heading
    start: int  # the line after the heading
    end: int  # the next heading of the same or a higher level, or the line count


def sections(headings: list[Heading], line_count: int) -> list[Section]:
    """Every heading's section, in one pass (a stack of the headings still open)."""
    ends = [line_count] * len(headings)
    open_headings: list[int] = []
    for index, heading in enumerate(headings):
        while open_headings and headings[open_headings[-1]].level >= heading.level:
            ends[open_headings.pop()] = heading.line - 1
        open_headings.append(index)
    return [Section(normalise_heading(h.text), h, h.line, ends[i]) for i, h in enumerate(headings)]


def first_sections(found: list[Section]) -> dict[str, Section]:
    """The first section of each name (the one a name refers to)."""
    first: dict[str, Section] = {}
    for section in found:
        if section.name:
            first.setdefault(section.name, section)
    return first


# -- the note -------------------------------------------------------------------------------


def normalise_newlines(text: str) -> str:
    """CRLF and lone CR become LF (each still one line); a leading BOM goes."""
    if text.startswith("\ufeff"):
        text = text[1:]
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    return text


class NoteSyntax(NamedTuple):
    """A note's Obsidian syntax: the parse with everything but what its sections report
    (``model.reading`` adds that), its body lines (frontmatter blanked), its body text
    and its sections."""

    note: ParsedNote
    body_lines: list[str]
    body: str
    sections: list[Section]


def parse_syntax(text: str, rules: ParseRules) -> NoteSyntax:
    """Properties, tags, links, addresses, headings, fields, sections and the status of
    a note's text. Never raises on content."""
    text = normalise_newlines(text)
    lines = text.split("\n")
    note = ParsedNote()
    yaml_text, closing = split_frontmatter(lines)
    body_lines = lines
    if yaml_text is not None:
        # Frontmatter lines become blank body lines, so markdown-it's line numbers stay true;
        # text after the closing `---` on its line is body.
        body_lines = [""] * closing + [lines[closing][3:]] + lines[closing + 1 :]
        from vaultkit.obsidian.properties import (  # notes without properties skip YAML
            YamlError,
            load_properties,
        )

        try:
            note.properties = load_properties(yaml_text) or {}
        except YamlError as exc:
            line = 2 + exc.line if exc.line is not None else 1
            note.frontmatter_error = (str(exc), min(line, closing + 1))
            note.frontmatter_placeholders = "{{" in yaml_text or "<%" in yaml_text
        note.tags, note.ignored_tags = _frontmatter_tags(note.properties)
        note.property_status = _property_status(note.properties, rules.status_property)
        note.links, note.urls = _property_links(
            note.properties, lines, closing, rules.property_roles
        )

    body = "\n".join(body_lines)
    blocks = block_structure(body)
    note.headings = blocks.headings
    note.fields = find_fields(body_lines, blocks)
    found = sections(note.headings, len(body_lines))
    roles = _line_roles(note, found, rules)
    note.previous_heading = any(s.name in rules.previous_headings for s in found)
    _scan_body(body_lines, blocks, roles, note)
    note.footer_line = footer_rule(note.fields, blocks.rules)
    status_field = note.fields.get("status")
    if status_field is not None:
        status_line = body_lines[status_field.line - 1]
        value_start = status_line.index(":") + 1
        first = next(
            (tag for tag in syntax.scan_inline(status_line)[2] if tag.offset >= value_start),
            None,
        )
        note.footer_status = first.name.lower() if first else None
    note.tag_names = list(dict.fromkeys(tag.name.lower() for tag in note.tags))
    return NoteSyntax(note, body_lines, body, found)


def footer_rule(fields: dict[str, Field], rules: list[int]) -> int | None:
    """0-based line of the `---` that opens the footer: the last rule, when footer fields
    (Status, Tags, References, Related) follow it."""
    if rules and any(f.line - 1 > rules[-1] for f in fields.values()):
        return rules[-1]
    return None


def section_bodies(
    lines: list[str], found: list[Section], footer: int | None
) -> dict[str, list[str]]:
    """Each heading's text (normalised) -> its lines, never into the footer. The first
    heading of a name wins."""
    stop = len(lines) if footer is None else footer
    return {
        name: lines[section.start : max(min(section.end, stop), section.start)]
        for name, section in first_sections(found).items()
    }


def _line_roles(note: ParsedNote, found: list[Section], rules: ParseRules) -> dict[int, Role]:
    """1-based line -> the role of links written on it (fields win over sections)."""
    roles: dict[int, Role] = {}
    section_roles: dict[str, Role] = {
        NEXT_SECTION: NEXT,
        **dict.fromkeys(rules.previous_headings, PREVIOUS),
    }
    for section in found:
        role = section_roles.get(section.name)
        if role is not None:
            for line in range(section.start + 1, section.end + 1):
                roles[line] = role
    for key, role in _FIELD_ROLES.items():
        written = note.fields.get(key)
        if written is not None:
            for line in range(written.line, written.end_line + 1):
                roles[line] = role
    return roles


def _scan_body(lines: list[str], blocks: Blocks, roles: dict[int, Role], note: ParsedNote) -> None:
    """Scan each run of indexed lines (the lines between masked ones) for links, URLs and
    tags."""
    start = 0
    for stop in [*sorted(blocks.masked), len(lines)]:
        if stop > start:
            _scan_run(lines, start, stop, roles, note)
        start = max(start, stop + 1)


def _scan_run(
    lines: list[str], start: int, stop: int, roles: dict[int, Role], note: ParsedNote
) -> None:
    segment = "\n".join(lines[start:stop])
    if "[" not in segment and "#" not in segment and "://" not in segment:
        return
    # where each line after the first begins in the segment (no Python loop per line)
    line_ends = list(accumulate(map(add, map(len, lines[start : stop - 1]), repeat(1))))

    def line_of(offset: int) -> int:  # 1-based in the file
        return start + 1 + bisect.bisect_right(line_ends, offset)

    raw_links, raw_urls, raw_tags = syntax.scan_inline(segment)
    for raw in raw_links:
        line = line_of(raw.offset)
        role = roles.get(line, LINK)
        note.links.append(Link(raw.target, raw.subpath, raw.alias, raw.form, line, role))
    for url in raw_urls:
        line = line_of(url.offset)
        note.urls.append(Url(url.url, line, roles.get(line, LINK)))
    for tag in raw_tags:
        note.tags.append(Tag(tag.name, line_of(tag.offset)))
