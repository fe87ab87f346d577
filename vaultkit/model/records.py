"""Plain data passed between the layers: what a note says, and what check finds."""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import NamedTuple

# Where a link is written decides its edge type in the graph.
PREVIOUS, NEXT, RELATED, REFERENCES, LINK = "previous", "next", "related", "references", "link"

ERROR, WARNING = "error", "warning"


# The records a parse produces are named tuples: cheap to make, and fast to cache.


class Link(NamedTuple):
    """One internal link as written: ``[[target#subpath|alias]]``, an embed, a Markdown
    link or a link in a property. ``line`` is 1-based in the file."""

    target: str
    subpath: str
    alias: str | None
    form: str  # "wikilink" | "embed" | "markdown" | "property"
    line: int
    role: str = LINK  # PREVIOUS, NEXT, RELATED, REFERENCES or LINK


class Url(NamedTuple):
    """An external address (``https://…``), kept for References."""

    url: str
    line: int
    role: str = LINK


class Tag(NamedTuple):
    """A tag as written (without ``#``); compare with ``name.lower()``."""

    name: str
    line: int | None  # None for tags that came from a property


class Heading(NamedTuple):
    level: int
    text: str
    line: int


class Field(NamedTuple):
    """A footer field such as ``Status: #done``; ``value`` includes the list items under it."""

    key: str
    value: str
    line: int
    end_line: int


@dataclass(frozen=True)
class Problem:
    """Something ``check`` reports. ``note`` is a note id or None for the vault itself."""

    code: str
    severity: str
    note: str | None
    line: int | None
    message: str

    def as_json(self) -> dict:
        return {
            "code": self.code,
            "severity": self.severity,
            "note": self.note,
            "line": self.line,
            "message": self.message,
        }


@dataclass
class ParsedNote:
    """Everything vaultkit reads out of one note's text; built by ``parse.parse_note``."""

    properties: dict = field(default_factory=dict)
    frontmatter_error: tuple[str, int] | None = None  # (message, line)
    tags: list[Tag] = field(default_factory=list)
    links: list[Link] = field(default_factory=list)
    urls: list[Url] = field(default_factory=list)
    headings: list[Heading] = field(default_factory=list)
    fields: dict[str, Field] = field(default_factory=dict)  # lower-case key -> first field
    footer_line: int | None = None  # 0-based line of the `---` that opens the footer
    footer_status: str | None = None
    property_status: str | None = None
    ignored_tags: str | None = None  # a `tags:` value that Obsidian ignores
    metrics: dict[str, float] = field(default_factory=dict)  # name -> reported value
    thresholds: dict[str, float] = field(default_factory=dict)  # name -> accepted threshold
    settings: dict[str, str] = field(default_factory=dict)  # hyperparameters, pinned versions
    sections: dict[str, str] = field(default_factory=dict)  # template section -> state
    gaps: list[str] = field(default_factory=list)  # what a rebuild of the model would miss

    @property
    def status(self) -> str | None:
        return self.footer_status or self.property_status

    def __getattr__(self, name: str):
        """Fields a cached parse left packed (see cache.py) are unpacked on first use: a
        build reads most notes' status, links and sections, and few notes' details."""
        if "_packed" not in self.__dict__:
            raise AttributeError(name)
        self.unpack()
        return getattr(self, name)

    def unpack(self) -> None:
        """Unpack now what a cached parse left packed."""
        packed = self.__dict__.pop("_packed", None)
        if packed is not None:
            unpack, data = packed
            self.__dict__.update(unpack(data))

    @functools.cached_property  # asked for every note by every build
    def tag_names(self) -> list[str]:
        """Lower-cased tags, first occurrence order, without duplicates."""
        return list(dict.fromkeys(t.name.lower() for t in self.tags))
