"""Edits to a note's text that touch nothing else: a new experiment from the template,
links added to a section, the status changed where it is written. Pure: text in, text
out, the note's own line endings kept."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import datetime
from typing import Any

from vaultkit.errors import ConfigError, InvalidTitle
from vaultkit.model.managed import block_content, block_text, newline_of, upsert_block
from vaultkit.model.reading import DEFAULT_RULES, RUN_BLOCK, parse_note
from vaultkit.obsidian import syntax
from vaultkit.obsidian.note import first_sections, normalise_heading, sections, split_frontmatter
from vaultkit.obsidian.properties import YamlError, load_properties
from vaultkit.records import ParseRules

UNLINKABLE = '*"\\/<>:|?#^[]'
WINDOWS_DEVICES = frozenset(
    {
        "CON",
        "PRN",
        "AUX",
        "NUL",
        *(f"COM{i}" for i in range(1, 10)),
        *(f"LPT{i}" for i in range(1, 10)),
    }
)
_WHY = {
    "/": "it separates folders",
    "\\": "it separates folders on Windows",
    "#": "it starts a heading link",
    "^": "it starts a block link",
    "|": "it starts a link's display text",
    "[": "it breaks [[links]]",
    "]": "it breaks [[links]]",
    ":": "macOS and Windows cannot store it in a file name",
}


MAX_NAME_BYTES = 255  # the longest file name ext4, APFS, NTFS and most others store


def check_title(title: str) -> None:
    """Refuse a title that Obsidian cannot link or a file system cannot store."""
    if not title.strip():
        raise InvalidTitle("the title is empty")
    for char in title:
        if char in UNLINKABLE:
            why = _WHY.get(char, "Windows cannot store it in a file name")
            raise InvalidTitle(
                f"the title {title!r} contains {char!r}, which Obsidian cannot link: {why}. "
                "Use letters, digits, spaces, '-', '_', '.', '(' or ')'"
            )
    control = next((char for char in title if ord(char) < 32 or ord(char) == 127), None)
    if control is not None:
        raise InvalidTitle(
            f"the title {title!r} holds {control!r} (a line break, tab or control "
            "character), which a file name and a [[link]] cannot hold; use one line of text"
        )
    if title.split(".")[0].strip().upper() in WINDOWS_DEVICES:
        raise InvalidTitle(
            f"the title {title!r} is a name Windows keeps for a device, so the note could "
            "not be opened or synced there; add a word to it"
        )
    if len(f"{title}.md".encode()) > MAX_NAME_BYTES:
        raise InvalidTitle(
            f"the title is {len(title)} characters long; a file name holds at most "
            f"{MAX_NAME_BYTES} bytes on most file systems, so shorten it (put details in "
            "the note)"
        )
    if title != title.strip() or title.startswith("."):
        raise InvalidTitle(
            f"the title {title!r} starts or ends with a space or starts with '.', which hides "
            "or breaks the note in Obsidian"
        )


# -- Moment.js formats ({{date:FORMAT}}) -------------------------------------------------

# Moment.js's own token pattern (longest first): a letter run it names is a token, any
# other character is literal. vaultkit fills the common ones and refuses the rest, rather
# than writing a wrong date (`DDDD`, the day of the year, would read as `DD` twice).
_MOMENT_TOKENS = re.compile(
    r"\[[^\]]*\]|[Hh]mm(?:ss)?|Mo|MMMM|MMM|MM|M|Do|DDDo|DDDD|DDD|DD|D|dddd|ddd|dd|do|d"
    r"|w[ow]?|W[oW]?|Qo?|N{1,5}|YYYYYY|YYYYY|YYYY|YY|y{2,4}|yo?|gg(?:ggg?)?|GG(?:GGG?)?"
    r"|e|E|a|A|hh?|HH?|kk?|mm?|ss?|S{1,9}|x|X|zz?|ZZ?"
)
SUPPORTED_TOKENS = "YYYY YY MMMM MMM MM M Do DD D dddd ddd dd d HH H hh h mm m ss s A a, and [text]"


def _ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def moment_format(fmt: str, when: datetime) -> str:
    """Format ``when`` with Moment.js tokens, as Obsidian's Templates plugin does
    (English names; ``[text]`` is literal)."""
    hour12 = when.hour % 12 or 12
    values = {
        "YYYY": f"{when.year:04d}",
        "YY": f"{when.year % 100:02d}",
        "MMMM": when.strftime("%B"),
        "MMM": when.strftime("%b"),
        "MM": f"{when.month:02d}",
        "M": str(when.month),
        "Do": _ordinal(when.day),
        "DD": f"{when.day:02d}",
        "D": str(when.day),
        "dddd": when.strftime("%A"),
        "ddd": when.strftime("%a"),
        "dd": when.strftime("%a")[:2],
        "d": str((when.weekday() + 1) % 7),
        "HH": f"{when.hour:02d}",
        "H": str(when.hour),
        "hh": f"{hour12:02d}",
        "h": str(hour12),
        "mm": f"{when.minute:02d}",
        "m": str(when.minute),
        "ss": f"{when.second:02d}",
        "s": str(when.second),
        "A": "AM" if when.hour < 12 else "PM",
        "a": "am" if when.hour < 12 else "pm",
    }

    def token(match: re.Match[str]) -> str:
        text = match.group()
        if text.startswith("["):
            return text[1:-1]
        if text not in values:
            raise ConfigError(
                f"the date format {fmt!r} uses the Moment token {text!r}, which vaultkit does "
                f"not fill; use {SUPPORTED_TOKENS} (or put literal text in [brackets])"
            )
        return values[text]

    return _MOMENT_TOKENS.sub(token, fmt)


_VARIABLE = re.compile(r"\{\{\s*(title|date|time)\s*(?::([^}]*))?\}\}", re.IGNORECASE)


def fill_template(
    text: str,
    title: str,
    when: datetime,
    date_format: str = "YYYY-MM-DD",
    time_format: str = "HH:mm",
) -> str:
    """Replace {{title}}, {{date}}, {{time}}, {{date:FORMAT}} and {{time:FORMAT}}."""

    def variable(match: re.Match[str]) -> str:
        name, fmt = match.group(1).lower(), match.group(2)
        if name == "title":
            return title
        default = date_format if name == "date" else time_format
        return moment_format(fmt.strip() if fmt else default, when)

    return _VARIABLE.sub(variable, text)


# -- line editing ------------------------------------------------------------------------


_LINE_END = re.compile(r"\r\n|\r|\n")


def _lines(text: str) -> list[str]:
    """Lines with their endings, split where the parser splits (CRLF, CR, LF) and nowhere
    else: str.splitlines also breaks at form feeds and U+2028, which would put an edit on
    the wrong line."""
    lines, start = [], 0
    for match in _LINE_END.finditer(text):
        lines.append(text[start : match.end()])
        start = match.end()
    if start < len(text):
        lines.append(text[start:])
    return lines


def _section_span(text: str, name: str) -> tuple[int, int] | None:
    """0-based [first line after the heading, first line after the section); the section
    also ends at the footer's `---` rule."""
    note = parse_note(text)
    section = first_sections(sections(note.headings, len(_lines(text)))).get(name)
    if section is None:
        return None
    footer, end = note.footer_line, section.end
    if footer is not None and section.start - 1 < footer < end:
        end = footer
    return section.start, end


_TEMPLATE_TAG = re.compile(r"[ \t]*(?<!\S)#(?:document_template|template)(?![^\s])")


def drop_template_tags(text: str) -> str:
    """Remove the template's own #template and #document_template tags (body and the
    frontmatter `tags` list) so the new note is not a template: only where Obsidian sees
    them as tags, never in code or a comment."""
    lines = _lines(text)
    template_tags = ("template", "document_template")
    seen = {tag.line for tag in parse_note(text).tags if tag.name.lower() in template_tags}
    for number in sorted(line for line in seen if line is not None):
        line = lines[number - 1]
        offsets = [t.offset for t in syntax.scan_inline(line)[2] if t.name.lower() in template_tags]
        kept = [
            m
            for m in _TEMPLATE_TAG.finditer(line)
            if any(m.start() <= o < m.end() for o in offsets)
        ]
        for match in reversed(kept):
            line = line[: match.start()] + line[match.end() :]
        lines[number - 1] = line
    yaml, closing = split_frontmatter([line.rstrip("\r\n") for line in lines])
    if yaml is not None:
        for index in range(1, closing):
            if re.fullmatch(
                r"\s*-\s*[\"']?#?(?:document_template|template)[\"']?\s*",
                lines[index].rstrip("\r\n"),
            ):
                lines[index] = ""
    return "".join(lines)


def add_links_to_section(
    text: str, heading: str, links: list[str], question: str | None = None
) -> str:
    """Add ``links`` to the section under ``heading``: on the template's question line
    (``question`` found in it, ending '?') when given and still unanswered, else as new
    list items after the section's last line. A missing section is created before the
    footer rule."""
    if not links:
        return text
    newline = newline_of(text) if text else "\n"
    lines = _lines(text)
    span = _section_span(text, normalise_heading(heading))
    if span is None:
        return _add_section(text, heading, links, newline)
    start, end = span
    for index in range(start, min(end, len(lines))):
        stripped = lines[index].rstrip("\r\n")
        if question and question in stripped.lower() and stripped.rstrip().endswith("?"):
            ending = lines[index][len(stripped) :]
            lines[index] = stripped.rstrip() + " " + ", ".join(links) + (ending or newline)
            return "".join(lines)
    last = start - 1
    for index in range(start, min(end, len(lines))):
        if lines[index].strip():
            last = index
    if last >= 0 and not lines[last].endswith(("\n", "\r")):
        lines[last] += newline
    new = [f"- {link}{newline}" for link in links]
    if last == start - 1:
        new = [newline] + new
    lines[last + 1 : last + 1] = new
    return "".join(lines)


def _add_section(text: str, heading: str, links: list[str], newline: str) -> str:
    block = [f"# {heading}{newline}", newline] + [f"- {link}{newline}" for link in links]
    lines = _lines(text)
    rule = parse_note(text).footer_line
    if rule is not None:
        lines[rule:rule] = block + [newline]
        return "".join(lines)
    if lines and not lines[-1].endswith(("\n", "\r")):
        lines[-1] += newline
    prefix = [newline] if lines and lines[-1].strip() else []
    return "".join(lines + prefix + block)


def add_previous_links(text: str, links: list[str], heading: str = "Previous experiment") -> str:
    """The previous experiments, under ``heading`` (the vault's first Previous-experiment
    heading), on the template's question line when it is there."""
    return add_links_to_section(text, heading, links, "previous experiment")


def add_next_link(text: str, link: str) -> str:
    """A parent's only change: one new list item in its Next-experiment section."""
    return add_links_to_section(text, "Next experiment", [link])


def add_related_links(text: str, links: list[str]) -> str:
    """Fill the footer's `Related:` list: its empty `- ` item first, then new items."""
    if not links:
        return text
    note = parse_note(text)
    related = note.fields.get("related")
    newline = newline_of(text)
    lines = _lines(text)
    if related is None:
        if lines and not lines[-1].endswith(("\n", "\r")):
            lines[-1] += newline
        return (
            "".join(lines)
            + f"{newline}Related:{newline}"
            + "".join(f"- {link}{newline}" for link in links)
        )
    first, last = related.line - 1, related.end_line - 1
    pending = list(links)
    for index in range(first + 1, last + 1):
        if re.fullmatch(r"\s*[-*+]\s*", lines[index].rstrip("\r\n")) and pending:
            indent = lines[index][: len(lines[index]) - len(lines[index].lstrip())]
            lines[index] = f"{indent}- {pending.pop(0)}{newline}"
    if pending:
        if not lines[last].endswith(("\n", "\r")):
            lines[last] += newline
        lines[last + 1 : last + 1] = [f"- {link}{newline}" for link in pending]
    return "".join(lines)


def set_status(text: str, status: str, rules: ParseRules = DEFAULT_RULES) -> str:
    """Set the status where it is written: the first tag on the `Status:` line, else the
    status property (``rules.status_property``); a note with neither gets a footer
    `Status:` line."""
    note = parse_note(text, rules)
    lines = _lines(text)
    newline = newline_of(text) if text else "\n"
    field = note.fields.get("status")
    if field is not None:
        index = field.line - 1
        raw = lines[index]
        content = raw.rstrip("\r\n")
        ending = raw[len(content) :]
        colon = content.index(":") + 1
        tags = [t for t in syntax.scan_inline(content)[2] if t.offset >= colon]
        if tags:
            tag = tags[0]
            content = (
                content[: tag.offset] + f"#{status}" + content[tag.offset + 1 + len(tag.name) :]
            )
        else:
            head, rest = content[:colon], content[colon:]
            content = f"{head} #{status}" + (rest if rest.strip() else rest.rstrip())
        lines[index] = content + ending
        return "".join(lines)
    plain = [line.rstrip("\r\n") for line in lines]
    yaml, closing = split_frontmatter(plain)
    if yaml is not None and note.property_status is not None:
        for index in range(1, closing):
            pattern = rf"^({re.escape(rules.status_property)}\s*:\s*)(.*?)(\s*)$"
            match = re.match(pattern, plain[index], re.IGNORECASE)
            if match:
                value = match.group(2)
                quote = value[0] if value[:1] in ("'", '"') else ""
                new = (
                    f"{quote}#{status}{quote}"
                    if value.strip(quote).startswith("#")
                    else (f"{quote}{status}{quote}")
                )
                ending = lines[index][len(plain[index]) :]
                lines[index] = match.group(1) + new + match.group(3) + ending
                return "".join(lines)
    if lines and not lines[-1].endswith(("\n", "\r")):
        lines[-1] += newline
    return "".join(lines) + f"{newline}---{newline}Status: #{status}{newline}"


def set_run_block(text: str, content: str) -> str:
    """The note with its run block holding ``content``: replaced where it is, else put
    at the end of the Result section, else before the footer, else at the end."""
    if block_content(text, RUN_BLOCK) is not None:
        return upsert_block(text, RUN_BLOCK, content)
    lines = _lines(text)
    span = _section_span(text, "result")
    at = span[1] if span else parse_note(text).footer_line
    if at is None:
        return upsert_block(text, RUN_BLOCK, content)
    while at > 0 and not lines[at - 1].strip():
        at -= 1  # after the section's last written line, before its blank ones
    newline = newline_of(text)
    before, after = "".join(lines[:at]), "".join(lines[at:])
    if before and not before.endswith(("\n", "\r")):
        before += newline
    block = block_text(RUN_BLOCK, content, newline)
    gap = newline if after and not after.startswith(("\n", "\r")) else ""
    return before + newline + block + newline + gap + after


def add_property(text: str, name: str, value: str) -> str:
    """``name: value`` as a new property (``value`` a plain YAML scalar): in the note's
    properties, or in new ones at its top."""
    newline = newline_of(text) if text else "\n"
    lines = _lines(text)
    yaml_text, closing = split_frontmatter([line.rstrip("\r\n") for line in lines])
    if yaml_text is None:
        return f"---{newline}{name}: {value}{newline}---{newline}" + text
    lines[closing:closing] = [f"{name}: {value}{newline}"]
    return "".join(lines)


def _yaml_scalar(value: Any) -> str:
    """A value as YAML that reads back as itself: plain where it can be, else in quotes."""
    if isinstance(value, str):
        plain = value and value == value.strip() and not value.startswith(("[", "{", "#"))
        try:
            if plain and load_properties(f"k: {value}") == {"k": value}:
                return value
        except YamlError:
            pass
        return json.dumps(value, ensure_ascii=False)
    return json.dumps(value)


def _property_lines(name: str, value: Any, newline: str) -> list[str]:
    if isinstance(value, list):
        return [f"{name}:{newline}", *(f"  - {_yaml_scalar(v)}{newline}" for v in value)]
    return [f"{name}: {_yaml_scalar(value)}{newline}"]


def set_properties(
    text: str, values: dict[str, Any], owned: Callable[[object], bool] = lambda name: False
) -> str | None:
    """The note with each property of ``values`` holding its value (None: absent), and no
    other ``owned`` property. A property changed is changed where it is, a new one goes
    at the end of the properties (into new ones at the top when the note has none); every
    other line stays as it is, byte for byte. None when the note's properties cannot be
    read, or the edit would not read back as exactly that."""
    newline = newline_of(text) if text else "\n"
    lines = _lines(text)
    plain = [line.rstrip("\r\n") for line in lines]
    yaml_text, closing = split_frontmatter(plain)
    try:
        before = (load_properties(yaml_text) or {}) if yaml_text is not None else {}
    except YamlError:
        return None
    changes = {name: value for name, value in values.items() if before.get(name) != value}
    changes |= {name: None for name in before if owned(name) and name not in values}
    if not changes:
        return text
    if yaml_text is None:
        lines, closing = [f"---{newline}", f"---{newline}", *lines], 1
        plain = ["---", "---", *plain]
    for name, value in changes.items():
        start = next(
            (i for i in range(1, closing) if re.match(rf"{re.escape(name)}\s*:(\s|$)", plain[i])),
            None,
        )
        new = [] if value is None else _property_lines(name, value, newline)
        if start is None:
            lines[closing:closing] = new
            plain[closing:closing] = [line.rstrip("\r\n") for line in new]
            closing += len(new)
            continue
        end = start + 1
        while end < closing and plain[end][:1] in (" ", "\t", "-") and plain[end].strip():
            end += 1
        lines[start:end] = new
        plain[start:end] = [line.rstrip("\r\n") for line in new]
        closing += len(new) - (end - start)
    expected = {k: v for k, v in {**before, **changes}.items() if v is not None}
    edited = "".join(lines)
    try:
        after = load_properties("\n".join(plain[1:closing])) or {}
    except YamlError:
        return None
    return edited if after == expected else None
