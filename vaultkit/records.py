"""Plain data passed between the stages: what a note says, what ``check`` finds, the
rules a note is read by. Neutral: it imports nothing else of vaultkit, so every layer
(obsidian/ at the bottom included) may use it. Nothing here reads the disk or computes
anything costly."""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final, Literal, NamedTuple, TypedDict

# Where a link is written decides its edge type in the graph.
Role = Literal["previous", "next", "related", "references", "link"]
PREVIOUS: Final = "previous"
NEXT: Final = "next"
RELATED: Final = "related"
REFERENCES: Final = "references"
LINK: Final = "link"

Severity = Literal["error", "warning"]
ERROR: Final = "error"
WARNING: Final = "warning"

TemplateSections = tuple[tuple[str, tuple[str, ...]], ...]  # (section, its questions), in order

StatKey = tuple[int, int, int, int]  # (mtime_ns, size, ctime_ns, inode): a file's identity now


class Link(NamedTuple):
    """One internal link as written: ``[[target#subpath|alias]]``, an embed, a Markdown
    link or a link in a property. ``line`` is 1-based in the file."""

    target: str
    subpath: str
    alias: str | None
    form: str  # "wikilink" | "embed" | "markdown" | "property"
    line: int
    role: Role = LINK


class Url(NamedTuple):
    """An external address (``https://…``), kept for References."""

    url: str
    line: int
    role: Role = LINK


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


class Edge(NamedTuple):
    """A Previous-experiment edge: ``child`` names ``parent`` as its previous experiment.
    Every edge list in vaultkit is made of these, so none can be read the wrong way round."""

    child: str
    parent: str


class ProblemJson(TypedDict):
    """A problem in ``vaultkit check --format json``."""

    code: str
    severity: Severity
    note: str | None
    line: int | None
    message: str


@dataclass(frozen=True)
class Problem:
    """Something ``check`` reports. ``note`` is a note id, or None for the vault itself."""

    code: str
    severity: Severity
    note: str | None
    line: int | None
    message: str

    def as_json(self) -> ProblemJson:
        return {
            "code": self.code,
            "severity": self.severity,
            "note": self.note,
            "line": self.line,
            "message": self.message,
        }


class SyncedRun(NamedTuple):
    """A run as the note's run block (`vaultkit runs sync`) shows it."""

    status: str  # MLflow's, or "missing" when the store did not have the run
    params: dict[str, str]
    metrics: dict[str, float]  # final values
    best: dict[str, tuple[float, int]]  # (best value, its step), of a metric's history
    # (the note's value when synced, the step that logged it or None) by metric
    found: dict[str, tuple[float, int | None]]
    experiment: str  # the MLflow experiment's name ("" in a block of an older vaultkit)
    deleted: bool  # in MLflow's trash


class RebuildFacts(NamedTuple):
    """What the rebuild recipe reads of a note (model/recipe.py), kept in its parse in
    place of the section text. Tuples, not sets or dicts: most are empty, and an empty
    tuple costs nothing (thousands of notes hold one)."""

    # (section, the link targets it names, lower case; none: "as before") for each
    # rebuild section that only points elsewhere
    pointers: tuple[tuple[str, tuple[str, ...]], ...]
    libraries: tuple[tuple[str, str | None], ...]  # Environment setup: (name, version)
    # which of "data-location", "data-version", "pretrained-weights", "seed" it states
    found: tuple[str, ...]
    as_before: tuple[tuple[str, str], ...]  # (section, line) saying "as before", no link
    # what its Previous experiment section says it changes; None: it has no such section
    change: str | None


@dataclass
class ParsedNote:
    """Everything vaultkit reads out of one note's text; made by ``model.reading.parse_note``."""

    properties: dict[str, Any] = field(default_factory=dict)
    frontmatter_error: tuple[str, int] | None = None  # (message, line)
    # the broken properties hold a template's placeholders (`{{date}}`, `<% … %>`)
    frontmatter_placeholders: bool = False
    tags: list[Tag] = field(default_factory=list)
    tag_names: list[str] = field(default_factory=list)  # lower-cased, first seen, no repeats
    links: list[Link] = field(default_factory=list)
    urls: list[Url] = field(default_factory=list)
    headings: list[Heading] = field(default_factory=list)
    fields: dict[str, Field] = field(default_factory=dict)  # lower-case key -> first field
    footer_line: int | None = None  # 0-based line of the `---` that opens the footer
    footer_status: str | None = None
    property_status: str | None = None
    ignored_tags: str | None = None  # a `tags:` value that Obsidian ignores
    metrics: dict[str, float] = field(default_factory=dict)  # name -> reported value
    percent: tuple[str, ...] = ()  # the metrics written with `%` (72%: 72)
    thresholds: dict[str, float] = field(default_factory=dict)  # name -> accepted threshold
    unread_results: list[tuple[int, str]] = field(default_factory=list)  # (line, text)
    # the synced runs' final values, as logged (a finished run's first)
    run_metrics: dict[str, float] = field(default_factory=dict)
    synced_runs: dict[str, SyncedRun] = field(default_factory=dict)  # run id -> from that block
    settings: dict[str, str] = field(default_factory=dict)  # hyperparameters, pinned versions
    text_settings: dict[str, str] = field(default_factory=dict)  # `optimizer: AdamW`
    sections: dict[str, str] = field(default_factory=dict)  # template section -> state
    previous_heading: bool = False  # has a heading that names the previous experiment
    gaps: list[str] = field(default_factory=list)  # what a rebuild of the model would miss
    rebuild: RebuildFacts | None = None  # what the rebuild recipe reads of it

    @property
    def status(self) -> str | None:
        return self.footer_status or self.property_status


@dataclass(eq=False)  # identity: a note read again is a new object
class Note:
    """One Markdown file of the vault and what it says."""

    path: str  # vault-relative, '/'-separated, with '.md'
    parsed: ParsedNote
    stat_key: StatKey

    @property
    def mtime_ns(self) -> int:
        return self.stat_key[0]

    @property
    def id(self) -> str:
        return note_id(self.path)

    @property
    def title(self) -> str:
        return self.id.rpartition("/")[2]

    @functools.cached_property  # asked for every experiment by every build's index
    def last_change(self) -> str:
        """YYYY-MM-DD: a date property the team keeps (`updated`, `modified`, …), else the
        file's modification day in UTC. (File times differ between clones; a property
        does not.)"""
        lowered = {str(k).lower(): v for k, v in self.parsed.properties.items()}
        for key in DATE_PROPERTIES:
            value = lowered.get(key)
            if isinstance(value, str) and _DATE.match(value):
                return value[:10]
        return utc_time(self.mtime_ns / 1e9).date().isoformat()


def utc_time(seconds: float) -> datetime:
    """A time stamp as a UTC date and time; one a calendar cannot hold (a file time past
    the year 9999, which a bad clock or tool can set) is the nearest it can."""
    try:
        return datetime.fromtimestamp(seconds, UTC)
    except (OverflowError, ValueError, OSError):
        return (datetime.max if seconds > 0 else datetime.min).replace(tzinfo=UTC)


DATE_PROPERTIES = ("updated", "modified", "last_modified", "date", "created")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def note_id(path: str) -> str:
    """A note's id: its vault path without ``.md``."""
    return path[:-3] if path.lower().endswith(".md") else path


def canvas_path(note_path: str) -> str:
    """The canvas that sits beside a generated note: the same path ending in ``.canvas``."""
    return note_id(note_path) + ".canvas"


def within_bytes(name: str, limit: int) -> str:
    """``name`` cut to at most ``limit`` bytes of UTF-8, never inside a character: file
    systems count a name's bytes (255), and a CJK character is three."""
    return name.encode("utf-8")[:limit].decode("utf-8", "ignore")


def is_hidden(path: str) -> bool:
    """A vault path Obsidian never shows: one of its parts starts with a dot (``.obsidian/``,
    ``.trash/``, ``.git/``, ``.draft.md``)."""
    return path.startswith(".") or "/." in path


@dataclass(frozen=True)
class ParseRules:
    """What a vault's settings change in how its notes are read: the sections its
    experiment template asks to fill in, where a note names its previous experiment,
    and which property holds a status (`.vaultkit/config.toml`)."""

    sections: TemplateSections = ()
    previous_headings: tuple[str, ...] = ("previous experiment",)  # normalised
    previous_properties: tuple[str, ...] = ("previous", "previous_experiment")  # lower case
    status_property: str = "status"  # lower case

    @functools.cached_property
    def property_roles(self) -> dict[str, Role]:
        roles: dict[str, Role] = {"next": NEXT, "next_experiment": NEXT, "related": RELATED}
        roles["references"] = REFERENCES
        roles.update(dict.fromkeys(self.previous_properties, PREVIOUS))
        return roles

    @functools.cached_property
    def questions(self) -> dict[str, tuple[str, ...]]:
        return dict(self.sections)

    @functools.cached_property
    def key(self) -> str:
        """A digest of the rules: parses made under other rules are not reused."""
        import hashlib

        return hashlib.sha1(repr(self).encode()).hexdigest()


SYNCED_PREFIX = "vaultkit_"  # the properties vaultkit writes (model/synced.py), and only those


def is_synced(name: object) -> bool:
    """A property vaultkit writes, and so never reads as a metric, a status or a link."""
    return isinstance(name, str) and name.lower().startswith(SYNCED_PREFIX)
