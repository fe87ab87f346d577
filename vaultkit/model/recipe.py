"""The rebuild recipe: what a person needs to rebuild one experiment's model, each answer
resolved along its chain from the root and named with the note that stated it; the
replay of the steps from the root; and the gaps, what the chain never states
(docs/recipe.md has the rules). Pure: the chain's notes in, the recipe out.

Each note of a chain states only what changed ("as in EXP-002: mosaic p = 1.0"), so an
answer is found where it was last written: the experiment's own section when it answers
it, else its previous experiment's (the first one it names, at a merge), and so on to
the root; a section that only points elsewhere ("Same as [[EXP-001 baseline]]", "as
before") is followed to the note it names, else to the previous experiment.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import NamedTuple, TypedDict

from vaultkit.model.compare import SettingChange, settings_changes
from vaultkit.records import WARNING, Problem, SyncedRun

# The template's sections that say how to rebuild the model, in the recipe's order, and
# the part of the recipe each belongs to.
REBUILD_SECTIONS = {
    "data collecting process": "data",
    "data detail": "data",
    "data augmentation": "data",
    "environment setup": "environment",
    "model": "model",
    "metrics": "metrics",
}
CHANGE_SECTION = "previous experiment"  # where a note says what it changes


class ChainNote(NamedTuple):
    """One experiment as the recipe reads it."""

    id: str
    parents: list[str]  # its previous experiments, in the order it names them
    bodies: dict[str, list[str]]  # section -> its lines
    states: dict[str, str]  # section -> "answered", "unanswered", "empty" or "missing"
    settings: dict[str, str]  # what the note itself states (name -> value)
    links: dict[str, str]  # a link's target as written (lower case) -> the note it reaches
    runs: dict[str, SyncedRun]  # run id -> the run as its block shows it
    value: float | None  # its main metric
    thresholds: tuple[int, int]  # (met, judged)


class Answer(TypedDict):
    section: str
    part: str  # "data", "environment", "model" or "metrics"
    lines: list[str]
    source: str  # the note whose text it is
    via: str | None  # the previous experiment it came through (None: the note's own)


class Setting(TypedDict):
    name: str
    value: str
    source: str  # the note that set it, or last changed it
    via: str | None
    before: str | None  # its value before that change (None: set there first)


class Library(TypedDict):
    name: str
    version: str | None
    source: str


class RunEntry(TypedDict):
    experiment: str
    run: str
    status: str
    params: dict[str, str]


class Step(TypedDict):
    experiment: str
    previous: list[str]
    change: str  # what its Previous experiment section says it changes
    settings: list[SettingChange]  # against its first previous experiment
    value: float | None  # the main metric
    thresholds_met: str | None  # "2/2", or None when no threshold applies


class Gap(TypedDict):
    kind: str
    message: str


class Contradiction(TypedDict):
    setting: str
    notes: list[str]
    message: str


class Recipe(TypedDict):
    experiment: str
    metric: str | None  # the main metric the replay shows
    chain: list[str]  # the root first, the experiment last
    answers: list[Answer]
    settings: list[Setting]
    libraries: list[Library]
    seed: Setting | None
    runs: list[RunEntry]
    replay: list[Step]
    gaps: list[Gap]
    contradictions: list[Contradiction]


_MARKER = re.compile(r"^\s*(?:[-*+]|\d+[.)])?\s*(?:\[[ xX]\]\s*)?")
_LINK = re.compile(r"\[\[([^\]|#]*)(?:#[^\]|]*)?(?:\|[^\]]*)?\]\]")
# a line that points elsewhere instead of answering
_POINTER = re.compile(
    r"^(?:same as|as in|as for|as before|as previously|identical to|like|see|unchanged|"
    r"no changes?|nothing changed)\b",
    re.I,
)
_FILLER = re.compile(
    r"\b(?:same|as|in|for|before|previously|identical|to|like|see|unchanged|no|changes?|"
    r"nothing|changed|the|previous|experiment|one|above|earlier|ones?)\b",
    re.I,
)
_PIN = re.compile(r"`?([A-Za-z][\w.\-\[\]]*)`?\s*(?:==|>=|~=|@)\s*v?(\d[\w.\-+]*)")
_VERSION = re.compile(r"\d+\.\d+")
_LIBRARIES = re.compile(r"librar", re.I)
_LOCATION = re.compile(r"://|[\w.\-]+/[\w.\-]|\b[A-Z]:\\", re.I)
_DATA_VERSION = re.compile(
    r"\bv\d+\b|version|\.dvc\b|\b(?:19|20)\d\d-\d\d\b|\bcommit\b|\bsnapshot\b|@[0-9a-f]{7,}",
    re.I,
)
_PRETRAINED = re.compile(r"pre-?trained|weights?\b|from scratch|checkpoint", re.I)
_SEED_NAMES = ("seed", "random seed", "random_state", "random state", "manual_seed")


def text_of(line: str) -> str:
    """A line without its list marker and surrounding space."""
    return _MARKER.sub("", line, count=1).strip()


def _pointers(lines: list[str], links: Mapping[str, str]) -> list[str | None] | None:
    """The notes a section that only points elsewhere names ([] for "as before"; None
    for an unresolved link); None when the section answers something itself."""
    texts = [t for t in (text_of(line) for line in lines) if t]
    if not texts:
        return None
    named: list[str | None] = []
    for text in texts:
        if not _POINTER.match(text):
            return None
        rest = _FILLER.sub("", _LINK.sub("", text))
        if re.search(r"[A-Za-z0-9]", rest):
            return None  # "as in EXP-002: mosaic p = 1.0" answers, and names a source
        named += [links.get(target.strip().lower()) for target in _LINK.findall(text)]
    return named


class _Resolver:
    """Finds each section's answer along the chain, and the gaps met on the way."""

    def __init__(self, notes: Mapping[str, ChainNote]) -> None:
        self.notes = notes
        self.gaps: list[Gap] = []

    def answer(self, note: str, section: str, seen: frozenset[str] = frozenset()) -> list[str]:
        """The path of notes to the one whose text answers ``section`` ([] when none does)."""
        if note in seen or note not in self.notes:
            return []
        found = self.notes[note]
        seen = seen | {note}
        lines = found.bodies.get(section)
        if found.states.get(section) == "answered" and lines is not None:
            named = _pointers(lines, found.links)
            if named is None:
                return [note]
            for target in named:
                if target is None:
                    self._gap(
                        "broken-reference",
                        f"{_name(note)}: {section} points to a note that does not exist; "
                        "write the answer there, or link the note that has it",
                    )
            targets = [t for t in named if t is not None] or found.parents
        else:
            targets = found.parents
        for target in targets:
            path = self.answer(target, section, seen)
            if path:
                return [note, *path]
        return []

    def _gap(self, kind: str, message: str) -> None:
        gap: Gap = {"kind": kind, "message": message}
        if gap not in self.gaps:
            self.gaps.append(gap)


def _settings(
    chain: list[str], notes: Mapping[str, ChainNote], libraries: set[str]
) -> tuple[dict[str, dict[str, tuple[str, str, str | None]]], list[Contradiction]]:
    """The settings in force at each note of ``chain`` (parents first): name -> (value,
    the note that set or last changed it, its value before); and the contradictions: a
    merge whose parents disagree on a setting it does not state, and a value changed
    where the note's Previous experiment section does not say so."""
    in_force: dict[str, dict[str, tuple[str, str, str | None]]] = {}
    found: list[Contradiction] = []
    for note in chain:
        current = notes[note]
        parents = [p for p in current.parents if p in in_force]
        merged: dict[str, tuple[str, str, str | None]] = {}
        for parent in reversed(parents):  # the first parent's value wins
            merged.update(in_force[parent])
        own = {k: v for k, v in current.settings.items() if k not in libraries}
        # where the note says what it changes; a vault whose template has no such
        # section has no place to say it, and no change there is unexplained
        change = current.bodies.get(CHANGE_SECTION)
        said = " ".join(change).lower() if change is not None else None
        for name in sorted({n for p in parents for n in in_force[p]} - set(own)):
            values = {in_force[p][name][0]: p for p in parents if name in in_force[p]}
            if len(values) > 1:
                shown = ", ".join(
                    f"{_name(p)} has {v}"
                    + (f" from {_name(in_force[p][name][1])}" if in_force[p][name][1] != p else "")
                    for v, p in values.items()
                )
                found.append(
                    {
                        "setting": name,
                        "notes": [note, *values.values()],
                        "message": f"{_name(note)} merges experiments that disagree on {name} "
                        f"({shown}) and does not say which it uses; the recipe takes "
                        f"{_name(parents[0])}'s",
                    }
                )
        for name, value in own.items():
            prior = merged.get(name)
            if prior is not None and prior[0] == value:
                continue  # stated again, unchanged: it was set where it was set
            merged[name] = (value, note, prior[0] if prior else None)
            if prior is not None and said is not None and not _mentions(said, name):
                found.append(
                    {
                        "setting": name,
                        "notes": [prior[1], note],
                        "message": f"{_name(note)} has {name} {value} where {_name(prior[1])} "
                        f"has {prior[0]}, and its Previous experiment section does not say "
                        f"{name} changed; say so there, or correct the value",
                    }
                )
        in_force[note] = merged
    return in_force, found


def _name(note: str) -> str:
    return note.rpartition("/")[2]


_AS_BEFORE = re.compile(
    r"\b(?:as before|same as before|as previously|as in the previous|unchanged|no change)\b",
    re.I,
)


def _before_the_root(chain: list[str], notes: Mapping[str, ChainNote]) -> list[Gap]:
    """A rebuild answer of a root (a note with no previous experiment) that says "as
    before": there is nothing before it to read."""
    gaps: list[Gap] = []
    for note in chain:
        if notes[note].parents:
            continue
        for section in REBUILD_SECTIONS:
            for line in notes[note].bodies.get(section, []):
                if _AS_BEFORE.search(line) and not _LINK.search(line):
                    gaps.append(
                        {
                            "kind": "as-before-at-root",
                            "message": f"{_name(note)}: {section} says {text_of(line)!r}, but "
                            f"nothing comes before {_name(note)}; write the value there",
                        }
                    )
    return gaps


def _mentions(text: str, name: str) -> bool:
    words = re.escape(name).replace(r"\ ", r"[\s_\-]?")
    return re.search(rf"(?<![\w]){words}(?![\w])", text) is not None


def _libraries(lines: list[str]) -> list[tuple[str, str | None]]:
    """Libraries an Environment setup section names: pinned anywhere (`torch==2.3.0`), and
    the items of a list under a line about libraries, with or without a version."""
    found: dict[str, str | None] = {}
    under: int | None = None
    for line in lines:
        indent = len(line.expandtabs(4)) - len(line.expandtabs(4).lstrip())
        text = text_of(line)
        if not text:
            continue
        pin = _PIN.search(text)
        if pin:
            found.setdefault(pin.group(1).lower(), pin.group(2).rstrip(".,"))
        elif under is not None and indent > under:
            word = re.match(r"`?([A-Za-z][\w.\-\[\]]*)", text)
            version = _VERSION.search(text)
            if word:
                found.setdefault(word.group(1).lower(), version.group() if version else None)
        if under is not None and indent <= under:
            under = None
        if _LIBRARIES.search(text) and not pin:
            under = indent
    return list(found.items())


def _change(lines: list[str]) -> str:
    """What a note says it changes: its Previous experiment section but the line that
    names the previous experiment."""
    texts = [text_of(line) for line in lines]
    return "; ".join(t for t in texts if t and "previous experiment?" not in t.lower())


def build_recipe(
    experiment: str,
    chain: list[str],
    notes: Mapping[str, ChainNote],
    metric: str | None,
    asked: list[str],
) -> Recipe:
    """The recipe of ``experiment``. ``chain``: it and its ancestors, parents first;
    ``notes``: each note the recipe may read (the chain, and notes a section points to);
    ``metric``: the main metric; ``asked``: the sections the vault's template asks for."""
    resolver = _Resolver(notes)
    target = notes[experiment]
    answers: list[Answer] = []
    unanswered = []
    for section, part in REBUILD_SECTIONS.items():
        if section not in asked:
            continue
        path = resolver.answer(experiment, section)
        if not path:
            unanswered.append(section)
            continue
        source = path[-1]
        answers.append(
            {
                "section": section,
                "part": part,
                "lines": [line.rstrip() for line in _trimmed(notes[source].bodies[section])],
                "source": source,
                "via": path[1] if len(path) > 1 else None,
            }
        )
    by_section = {a["section"]: a for a in answers}
    environment = by_section.get("environment setup")
    libraries = _libraries(environment["lines"]) if environment else []
    library_names = {name for name, _ in libraries}
    in_force, contradictions = _settings(chain, notes, library_names)
    final = in_force.get(experiment, {})

    def via(source: str) -> str | None:
        if source == experiment:
            return None
        return next((p for p in target.parents if p == source or _reaches(notes, p, source)), None)

    settings: list[Setting] = [
        {"name": name, "value": value, "source": source, "via": via(source), "before": before}
        for name, (value, source, before) in sorted(final.items())
    ]
    seed = next((s for s in settings if s["name"] in _SEED_NAMES), None)
    gaps = list(resolver.gaps)
    gaps += [
        {
            "kind": "unanswered",
            "message": f"{section} is not answered in any note of the chain; answer it in "
            f"{_name(experiment)} (or in the note where it was decided)",
        }
        for section in unanswered
    ]
    gaps += _before_the_root(chain, notes)
    gaps += _missing(by_section, libraries, seed, experiment, asked)
    runs: list[RunEntry] = [
        {"experiment": note, "run": run_id, "status": run.status, "params": dict(run.params)}
        for note in chain
        for run_id, run in sorted(notes[note].runs.items())
    ]
    replay: list[Step] = []
    for note in chain:
        current = notes[note]
        first = next((p for p in current.parents if p in in_force), None)
        before = {k: v[0] for k, v in in_force.get(first, {}).items()} if first else {}
        met, judged = current.thresholds
        replay.append(
            {
                "experiment": note,
                "previous": [p for p in current.parents if p in in_force],
                "change": _change(current.bodies.get(CHANGE_SECTION, [])),
                "settings": settings_changes(before, {k: v[0] for k, v in in_force[note].items()})
                if first
                else [],
                "value": current.value,
                "thresholds_met": f"{met}/{judged}" if judged else None,
            }
        )
    return {
        "experiment": experiment,
        "metric": metric,
        "chain": chain,
        "answers": answers,
        "settings": settings,
        "libraries": [
            {"name": name, "version": version, "source": environment["source"]}
            for name, version in libraries
        ]
        if environment
        else [],
        "seed": seed,
        "runs": runs,
        "replay": replay,
        "gaps": gaps,
        "contradictions": contradictions,
    }


def _trimmed(lines: list[str]) -> list[str]:
    """A section's lines without the blank ones around them."""
    start, end = 0, len(lines)
    while start < end and not lines[start].strip():
        start += 1
    while end > start and not lines[end - 1].strip():
        end -= 1
    return lines[start:end]


def _reaches(notes: Mapping[str, ChainNote], start: str, goal: str) -> bool:
    """``goal`` is ``start`` or one of its ancestors."""
    todo, seen = [start], set()
    while todo:
        note = todo.pop()
        if note == goal:
            return True
        if note in seen or note not in notes:
            continue
        seen.add(note)
        todo += notes[note].parents
    return False


def _missing(
    answers: Mapping[str, Answer],
    libraries: list[tuple[str, str | None]],
    seed: Setting | None,
    experiment: str,
    asked: list[str],
) -> list[Gap]:
    """What a rebuild needs that the chain's answers do not state (of what the vault's
    template asks: a template with no Model section asks for no seed)."""

    def says(section: str, pattern: re.Pattern[str]) -> bool:
        found = answers.get(section)
        return found is not None and any(pattern.search(line) for line in found["lines"])

    gaps: list[Gap] = []
    where = f"write it in {_name(experiment)} (or in the note of its chain where it was decided)"
    if seed is None and "model" in asked:
        gaps.append(
            {"kind": "seed", "message": f"no seed: nothing says how randomness is fixed; {where}"}
        )
    if "environment setup" in answers and not libraries:
        gaps.append(
            {"kind": "libraries", "message": f"no libraries are named with versions; {where}"}
        )
    gaps += [
        {
            "kind": "library-version",
            "message": f"library {name} has no version (e.g. {name}==1.2.3); {where}",
        }
        for name, version in libraries
        if version is None
    ]
    if "data collecting process" in answers:
        if not says("data collecting process", _LOCATION):
            gaps.append(
                {
                    "kind": "data-location",
                    "message": f"no data location (a path or an address); {where}",
                }
            )
        if not says("data collecting process", _DATA_VERSION):
            gaps.append(
                {
                    "kind": "data-version",
                    "message": f"no data version (a tag, a date, a DVC file); {where}",
                }
            )
    if "model" in answers and not says("model", _PRETRAINED):
        gaps.append(
            {
                "kind": "pretrained-weights",
                "message": "no pretrained weights: nothing says where they come from (or that "
                f"training starts from scratch); {where}",
            }
        )
    return gaps


def recipe_gap(recipe: Recipe) -> Problem | None:
    """`recipe-gap` for an experiment whose recipe has gaps or contradictions (``check``
    asks for the `done` ones: a finished experiment should be rebuildable)."""
    kinds = [gap["kind"] for gap in recipe["gaps"]]
    kinds += [f"contradiction on {c['setting']}" for c in recipe["contradictions"]]
    if not kinds:
        return None
    count = len(kinds)
    return Problem(
        "recipe-gap",
        WARNING,
        recipe["experiment"],
        None,
        f"done, but its rebuild recipe has {count} gap{'s' * (count != 1)} "
        f"({', '.join(dict.fromkeys(kinds))}); vaultkit recipe "
        f"'{_name(recipe['experiment'])}' says what is missing and where to write it",
    )
