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
from collections.abc import Callable, Mapping
from typing import NamedTuple, TypedDict

from vaultkit.model.compare import SettingChange, settings_changes
from vaultkit.model.metrics import SEED, SectionTexts
from vaultkit.obsidian.note import normalise_heading
from vaultkit.records import WARNING, Heading, Problem, RebuildFacts, SyncedRun

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
    states: dict[str, str]  # section -> "answered", "unanswered", "empty" or "missing"
    headings: list[Heading]  # its headings as written
    facts: RebuildFacts | None  # what the parse kept of its rebuild sections
    settings: dict[str, str]  # what the note itself states (name -> value)
    links: dict[str, str]  # a link's target as written (lower case) -> the note it reaches
    runs: dict[str, SyncedRun]  # run id -> the run as its block shows it
    bodies: dict[str, list[str]] | None = None  # its sections' text, when read from disk


class Answer(TypedDict):
    section: str
    part: str  # "data", "environment", "model" or "metrics"
    heading: str  # the section's heading as the source note writes it
    lines: list[str]  # its text ([] when the notes were not read: a recipe note embeds it)
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
# the name is read backwards from the operator (see model/metrics.py: a name searched
# for at every position of a line makes a long line quadratic)
_PIN = re.compile(r"(==|>=|~=|@)\s*v?(\d[\w.\-+]*)")
_PIN_NAME = re.compile(r"\s*`?([\w.\-\[\]]*[A-Za-z])`?(?![\w.\-])")
_VERSION = re.compile(r"\d+\.\d+")
_LOCATION = re.compile(r"://|[\w.\-]/[\w.\-]|\b[A-Za-z]:\\")
# A data version: one of these words, else a `v3`, a date or a commit hash; each
# pattern starts with a literal character, which the regex engine finds fast, and is
# searched in lower-cased text (a case-blind regex scans several times slower).
_DATA_VERSION_WORDS = ("version", ".dvc", "commit", "snapshot")
_DATA_VERSION = (
    re.compile(r"v\d+\b"),
    re.compile(r"@[0-9a-f]{7}"),
    re.compile(r"(?:19|20)\d\d-\d\d\b"),
)
_PRETRAINED_WORDS = ("pretrained", "pre-trained", "weight", "from scratch", "checkpoint")
_SEED_NAMES = ("seed", "random seed", "random_state", "random state", "manual_seed")


def text_of(line: str) -> str:
    """A line without its list marker and surrounding space."""
    return _MARKER.sub("", line, count=1).strip()


def _pointers(lines: list[str]) -> tuple[str, ...] | None:
    """The link targets (lower case) a section that only points elsewhere names (none for
    "as before"); None when the section answers something itself (most sections: their
    first line says so)."""
    named: list[str] = []
    pointed = False
    for line in lines:
        text = text_of(line)
        if not text:
            continue
        if not _POINTER.match(text):
            return None
        rest = _FILLER.sub("", _LINK.sub("", text))
        if re.search(r"[A-Za-z0-9]", rest):
            return None  # "as in EXP-002: mosaic p = 1.0" answers, and names a source
        named += [target.strip().lower() for target in _LINK.findall(text)]
        pointed = True
    return tuple(named) if pointed else None


def rebuild_facts(texts: SectionTexts) -> RebuildFacts | None:
    """What a recipe needs of a note's sections (the parse keeps this, not the text);
    None for a note without rebuild sections."""
    bodies = texts.bodies
    if not any(name in bodies for name in (*REBUILD_SECTIONS, CHANGE_SECTION)):
        return None
    pointers = []
    for section in REBUILD_SECTIONS:
        lines = bodies.get(section)
        named = _pointers(lines) if lines else None
        if named is not None:
            pointers.append((section, named))
    found = set()
    data = texts.lowered("data collecting process")
    if ("/" in data or ":\\" in data) and _LOCATION.search(texts.text("data collecting process")):
        found.add("data-location")
    if any(word in data for word in _DATA_VERSION_WORDS) or any(
        pattern.search(data) for pattern in _DATA_VERSION
    ):
        found.add("data-version")
    if any(word in texts.lowered("model") for word in _PRETRAINED_WORDS):
        found.add("pretrained-weights")
    if texts.says("model", *SEED):  # "Randomness: torch.manual_seed(0)": no setting, a seed
        found.add("seed")
    present = [section for section in REBUILD_SECTIONS if section in bodies]
    may_say = any(_says_as_before(texts.lowered(section)) for section in present)
    as_before = tuple(
        (section, text_of(line))
        for section in (present if may_say else ())
        for line in bodies[section]
        if _AS_BEFORE.search(line) and not _LINK.search(line)
    )
    change = bodies.get(CHANGE_SECTION)
    return RebuildFacts(
        tuple(pointers),
        tuple(_libraries(bodies.get("environment setup", []))),
        tuple(sorted(found)),
        as_before,
        _change(change)[:CHANGE_KEPT] if change is not None else None,
    )


CHANGE_KEPT = 1000  # characters of a note's change kept: the settings it names, the replay
CHANGE_SHOWN = 300  # characters of it the replay shows


def _shortened(text: str) -> str:
    return text if len(text) <= CHANGE_SHOWN else text[: CHANGE_SHOWN - 1] + "…"


InForce = dict[str, tuple[str, str, str | None]]  # name -> (value, set or changed in, before)


class Chains:
    """What the recipes of one vault share, each worked out once per note (a vault's
    recipes walk the same ancestors again and again): the settings in force at a note,
    the contradictions it brings, and the path to the note that answers each section."""

    def __init__(self, notes: Mapping[str, ChainNote]) -> None:
        self.notes = notes
        self._read: dict[str, ChainNote | None] = {}  # notes[...] asked once each
        self._in_force: dict[str, InForce] = {}
        self._contradictions: dict[str, list[Contradiction]] = {}
        self._answers: dict[tuple[str, str], list[str]] = {}
        self._inherited: dict[str, tuple[tuple[Gap, ...], tuple[Contradiction, ...]]] = {}
        self._busy: set[object] = set()  # being worked out: a cycle reads nothing back

    def note(self, note: str) -> ChainNote | None:
        """The note, None when ``notes`` has none such."""
        if note not in self._read:
            self._read[note] = self.notes[note] if note in self.notes else None
        return self._read[note]

    def answer(self, note: str, section: str) -> list[str]:
        """The path of notes from ``note`` to the one whose text answers ``section`` ([]
        when none does): its own, else the notes its section points to, else its
        previous experiments', the first one it names first."""
        key = (note, section)
        known = self._answers.get(key)
        if known is not None:
            return known
        found = self.note(note)
        if found is None or key in self._busy:
            return []
        answered = found.states.get(section) == "answered"
        pointers = found.facts.pointers if answered and found.facts else ()
        named = next((targets for name, targets in pointers if name == section), None)
        if answered and named is None:  # the note's own answer: most sections, most notes
            self._answers[key] = [note]
            return self._answers[key]
        self._busy.add(key)
        path: list[str] = []
        if named is not None:
            reached = [found.links.get(target) for target in named]
            targets = [t for t in reached if t is not None] or found.parents
        else:
            targets = found.parents
        for target in targets:
            below = self.answer(target, section)
            if below:
                path = [note, *below]
                break
        self._busy.discard(key)
        self._answers[key] = path
        return path

    def in_force(self, note: str) -> InForce:
        """The settings in force at ``note``: its parents' (the first parent's value where
        two differ) updated by what it states; a value stated again unchanged keeps the
        note that set it."""
        if note in self._in_force:
            return self._in_force[note]
        current = self.note(note)
        if note in self._busy or current is None:
            return {}
        self._busy.add(note)
        parents = [p for p in current.parents if self.note(p) is not None]
        above = {p: self.in_force(p) for p in parents}
        # one parent: its settings, shared until this note changes one (most notes of a
        # long chain restate what they inherit)
        merged: InForce = above[parents[0]] if len(parents) == 1 else {}
        shared = len(parents) == 1
        for parent in reversed(parents if len(parents) > 1 else ()):
            merged.update(above[parent])
        pinned = {name for name, _ in current.facts.libraries} if current.facts else set()
        own = {k: v for k, v in current.settings.items() if k not in pinned}
        # where the note says what it changes; a vault whose template has no such
        # section has no place to say it, and no change there is unexplained
        change = current.facts.change if current.facts else None
        said = change.lower() if change is not None else None
        found: list[Contradiction] = []
        disputed = {n for p in parents for n in above[p]} - set(own) if len(parents) > 1 else ()
        for name in sorted(disputed):
            values = {above[p][name][0]: p for p in parents if name in above[p]}
            if len(values) > 1:
                shown = ", ".join(
                    f"{_name(p)} has {v}"
                    + (f" from {_name(above[p][name][1])}" if above[p][name][1] != p else "")
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
            if shared:
                merged, shared = dict(merged), False
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
        self._busy.discard(note)
        self._in_force[note] = merged
        self._contradictions[note] = found
        return merged

    def inherited(self, note: str) -> tuple[tuple[Gap, ...], tuple[Contradiction, ...]]:
        """What ``note``'s chain brings, without walking it: its sections that point to
        no note, the "as before" of its roots and the contradictions of its notes,
        gathered from its parents' (most chains bring none, so `check` asks each `done`
        experiment at little cost)."""
        if note in self._inherited:
            return self._inherited[note]
        current = self.note(note)
        if ("inherited", note) in self._busy or current is None:
            return (), ()
        self._busy.add(("inherited", note))
        self.in_force(note)
        gaps: dict[str, Gap] = {}
        found: dict[str, Contradiction] = {}
        for parent in current.parents:
            above_gaps, above_found = self.inherited(parent)
            gaps.update((g["message"], g) for g in above_gaps)
            found.update((c["message"], c) for c in above_found)
        facts = current.facts
        for section, line in facts.as_before if facts and not current.parents else ():
            message = (  # a root: nothing comes before it to read
                f"{_name(note)}: {section} says {line!r}, but nothing comes before "
                f"{_name(note)}; write the value there"
            )
            gaps[message] = {"kind": "as-before-at-root", "message": message}
        for section, named in facts.pointers if facts else ():
            if any(target not in current.links for target in named):
                message = (
                    f"{_name(note)}: {section} points to a note that does not exist; write "
                    "the answer there, or link the note that has it"
                )
                gaps[message] = {"kind": "broken-reference", "message": message}
        found.update((c["message"], c) for c in self._contradictions.get(note, []))
        self._busy.discard(("inherited", note))
        self._inherited[note] = (tuple(gaps.values()), tuple(found.values()))
        return self._inherited[note]


def _name(note: str) -> str:
    return note.rpartition("/")[2]


_AS_BEFORE = re.compile(
    r"\b(?:as before|same as before|as previously|as in the previous|unchanged|no change)\b",
    re.I,
)
_AS_BEFORE_WORDS = ("before", "previous", "unchanged", "no change")


def _says_as_before(lowered: str) -> bool:
    """Whether a section's text (lower case) may say "as before": else no line does."""
    return any(word in lowered for word in _AS_BEFORE_WORDS)


def _mentions(text: str, name: str) -> bool:
    words = re.escape(name).replace(r"\ ", r"[\s_\-]?")
    return re.search(rf"(?<![\w]){words}(?![\w])", text) is not None


def _libraries(lines: list[str]) -> list[tuple[str, str | None]]:
    """Libraries an Environment setup section names: pinned anywhere (`torch==2.3.0`), and
    the items of a list under a line about libraries, with or without a version."""
    found: dict[str, str | None] = {}
    under: int | None = None  # the indent of the line about libraries
    for line in lines:
        text = text_of(line)
        if not text:
            continue
        pin = _PIN.search(text) if "=" in text or "@" in text else None
        name = _PIN_NAME.match(text[: pin.start()][::-1]) if pin else None
        about = not pin and "ibrar" in text  # "Libraries:", "libraries used"
        indent = (
            len(line.expandtabs(4)) - len(line.expandtabs(4).lstrip())
            if under is not None or about
            else 0
        )
        if pin and name:
            found.setdefault(name.group(1)[::-1].lower(), pin.group(2).rstrip(".,"))
        elif under is not None and indent > under:
            word = re.match(r"`?([A-Za-z][\w.\-\[\]]*)", text)
            version = _VERSION.search(text)
            if word:
                found.setdefault(word.group(1).lower(), version.group() if version else None)
        if under is not None and indent <= under:
            under = None
        if about:
            under = indent
    return list(found.items())


def _change(lines: list[str]) -> str:
    """What a note says it changes: its Previous experiment section but the line that
    names the previous experiment."""
    texts = [text_of(line) for line in lines]
    return "; ".join(t for t in texts if t and "previous experiment?" not in t.lower())


def _sources(experiment: str, chains: Chains, asked: list[str]) -> dict[str, list[str]]:
    """For each rebuild section the vault's template asks, the path to the note that
    answers it for ``experiment`` ([] when none does)."""
    return {
        section: chains.answer(experiment, section)
        for section in REBUILD_SECTIONS
        if section in asked
    }


def _answers(chains: Chains, paths: dict[str, list[str]]) -> list[Answer]:
    """The answers the paths lead to."""
    answers: list[Answer] = []
    for section, path in paths.items():
        source = chains.note(path[-1]) if path else None
        if source is None:
            continue
        bodies = source.bodies
        answers.append(
            {
                "section": section,
                "part": REBUILD_SECTIONS[section],
                "heading": next(
                    (h.text for h in source.headings if normalise_heading(h.text) == section),
                    section,
                ),
                "lines": [line.rstrip() for line in _trimmed(bodies.get(section, []))]
                if bodies is not None
                else [],
                "source": source.id,
                "via": path[1] if len(path) > 1 else None,
            }
        )
    return answers


def _gaps(
    experiment: str, chains: Chains, paths: dict[str, list[str]], asked: list[str]
) -> list[Gap]:
    """What the chain never states, each named."""
    facts_of = {}
    for section, path in paths.items():
        source = chains.note(path[-1]) if path else None
        facts_of[section] = source.facts if source else None
    found: set[str] = set()
    for section in ("data collecting process", "model"):  # the facts each one states
        facts = facts_of.get(section)
        if facts is not None:
            found.update(facts.found)
    environment = facts_of.get("environment setup")
    libraries = list(environment.libraries) if environment else []
    seeded = "seed" in found or any(name in _SEED_NAMES for name in chains.in_force(experiment))
    answered = {section for section, path in paths.items() if path}
    gaps: list[Gap] = [
        {
            "kind": "unanswered",
            "message": f"{section} is not answered in any note of the chain; answer it in "
            f"{_name(experiment)} (or in the note where it was decided)",
        }
        for section, path in paths.items()
        if not path
    ]
    gaps += chains.inherited(experiment)[0]
    gaps += _missing(answered, found, libraries, seeded, experiment, asked)
    return gaps


def gaps_of(
    experiment: str, chains: Chains, asked: list[str]
) -> tuple[list[Gap], list[Contradiction]]:
    """The recipe's gaps and contradictions alone (what `check` reports)."""
    gaps = _gaps(experiment, chains, _sources(experiment, chains, asked), asked)
    return gaps, list(chains.inherited(experiment)[1])


def build_recipe(
    experiment: str,
    chain: list[str],
    chains: Chains,
    metric: str | None,
    value: Callable[[str], float | None],
    thresholds_met: Callable[[str], tuple[int, int]],
    asked: list[str],
) -> Recipe:
    """The recipe of ``experiment``. ``chain``: it and its ancestors, parents first;
    ``chains``: the notes the recipe may read (the chain, and notes a section points to);
    ``metric``: the main metric, ``value`` each note's, ``thresholds_met`` each note's
    (met, judged); ``asked``: the sections the vault's template asks for."""
    notes = chains.notes
    target = notes[experiment]
    paths = _sources(experiment, chains, asked)
    answers = _answers(chains, paths)
    reach = {parent: _ancestors(notes, parent) for parent in target.parents}

    def via(source: str) -> str | None:
        if source == experiment:
            return None
        return next((p for p in target.parents if source in reach[p]), None)

    settings: list[Setting] = [
        {"name": name, "value": value_, "source": source, "via": via(source), "before": before}
        for name, (value_, source, before) in sorted(chains.in_force(experiment).items())
    ]
    environment = next((a for a in answers if a["section"] == "environment setup"), None)
    facts = notes[environment["source"]].facts if environment else None
    in_chain = set(chain)
    replay: list[Step] = []
    for note in chain:
        current = notes[note]
        previous = [p for p in current.parents if p in in_chain]
        before = {k: v[0] for k, v in chains.in_force(previous[0]).items()} if previous else {}
        now = {k: v[0] for k, v in chains.in_force(note).items()}
        met, judged = thresholds_met(note)
        replay.append(
            {
                "experiment": note,
                "previous": previous,
                "change": _shortened((current.facts.change or "") if current.facts else ""),
                "settings": settings_changes(before, now) if previous else [],
                "value": value(note),
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
            for name, version in facts.libraries
        ]
        if environment and facts
        else [],
        "seed": next((s for s in settings if s["name"] in _SEED_NAMES), None),
        "runs": [
            {"experiment": note, "run": run_id, "status": run.status, "params": dict(run.params)}
            for note in chain
            for run_id, run in sorted(notes[note].runs.items())
        ],
        "replay": replay,
        "gaps": _gaps(experiment, chains, paths, asked),
        "contradictions": list(chains.inherited(experiment)[1]),
    }


def _trimmed(lines: list[str]) -> list[str]:
    """A section's lines without the blank ones around them."""
    start, end = 0, len(lines)
    while start < end and not lines[start].strip():
        start += 1
    while end > start and not lines[end - 1].strip():
        end -= 1
    return lines[start:end]


def _ancestors(notes: Mapping[str, ChainNote], start: str) -> set[str]:
    """``start`` and every note before it."""
    todo, seen = [start], set()
    while todo:
        note = todo.pop()
        if note in seen or note not in notes:
            continue
        seen.add(note)
        todo += notes[note].parents
    return seen


def _missing(
    answered: set[str],
    found: set[str],
    libraries: list[tuple[str, str | None]],
    seeded: bool,
    experiment: str,
    asked: list[str],
) -> list[Gap]:
    """What a rebuild needs that the chain's answers do not state (of what the vault's
    template asks: a template with no Model section asks for no seed). ``found``: the
    facts the answering notes state."""
    gaps: list[Gap] = []
    where = f"write it in {_name(experiment)} (or in the note of its chain where it was decided)"
    if not seeded and "model" in asked:
        gaps.append(
            {"kind": "seed", "message": f"no seed: nothing says how randomness is fixed; {where}"}
        )
    if "environment setup" in answered and not libraries:
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
    if "data collecting process" in answered:
        if "data-location" not in found:
            gaps.append(
                {
                    "kind": "data-location",
                    "message": f"no data location (a path or an address); {where}",
                }
            )
        if "data-version" not in found:
            gaps.append(
                {
                    "kind": "data-version",
                    "message": f"no data version (a tag, a date, a DVC file); {where}",
                }
            )
    if "model" in answered and "pretrained-weights" not in found:
        gaps.append(
            {
                "kind": "pretrained-weights",
                "message": "no pretrained weights: nothing says where they come from (or that "
                f"training starts from scratch); {where}",
            }
        )
    return gaps


def recipe_gap(
    experiment: str, gaps: list[Gap], contradictions: list[Contradiction]
) -> Problem | None:
    """`recipe-gap` for an experiment whose recipe has gaps or contradictions (``check``
    asks for the `done` ones: a finished experiment should be rebuildable)."""
    kinds = [gap["kind"] for gap in gaps]
    kinds += [f"contradiction on {c['setting']}" for c in contradictions]
    if not kinds:
        return None
    count = len(kinds)
    return Problem(
        "recipe-gap",
        WARNING,
        experiment,
        None,
        f"done, but its rebuild recipe has {count} gap{'s' * (count != 1)} "
        f"({', '.join(dict.fromkeys(kinds))}); vaultkit recipe "
        f"'{_name(experiment)}' says what is missing and where to write it",
    )
