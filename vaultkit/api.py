"""vaultkit as a library: ``vaultkit.open(path)`` gives a ``Vault`` with everything the
command line does. The commands are thin users of this module (cli.py).

A ``Vault`` reads lazily: each property reads what it needs the first time it is asked,
and keeps it. It is a snapshot of the vault at that moment; open the vault again to see
later changes. Errors are ``vaultkit.errors.VaultkitError`` subclasses.
"""

from __future__ import annotations

import dataclasses
import difflib
import functools
import hashlib
import math
import pickle
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypedDict, TypeVar

from vaultkit.create import (
    NewExperiment,
    RunSync,
    change_status,
    demo_runs,
    demo_vault,
    init_vault,
    new_experiment_path,
    obsidian_uri,
    sync_note_runs,
)
from vaultkit.create import new_experiment as create_experiment
from vaultkit.disk import cache
from vaultkit.disk.read import (
    Listing,
    cache_base,
    cache_folder,
    find_vault_root,
    git_tracked,
    list_vault,
    read_bytes,
    read_cache,
)
from vaultkit.disk.write import clear_cache, save_cache, update_file
from vaultkit.errors import (
    MissingExtra,
    NotAnExperiment,
    NoteNotFound,
    RefusedEdit,
    TrackerError,
    VaultkitError,
    VaultNotFound,
)
from vaultkit.loading import (
    ParseCache,
    Progress,
    RecipeReader,
    load_notes,
    load_snapshot,
    note_sections,
    read_config,
    read_note,
    read_settings,
    template_version,
)
from vaultkit.model.check import CODES, NEAR_MISSES, check_model, ignored, problem_order
from vaultkit.model.compare import (
    Column,
    Comparison,
    Side,
    SideBySide,
    compare,
    settings_in_force,
    side_by_side,
)
from vaultkit.model.metrics import completeness
from vaultkit.model.names import resolve_note_name
from vaultkit.model.recipe import Recipe
from vaultkit.model.recognise import (
    has_tag,
    in_folder,
    is_experiment,
    is_experiment_template,
    is_template,
    why_not_an_experiment,
)
from vaultkit.model.results import Condition, MetricRules, Results, most_reported, parse_condition
from vaultkit.model.runs import (
    NOTE_TAG,
    NOTE_TITLE_TAG,
    RUN_PROPERTY,
    Run,
    TrackedRun,
    linked_runs,
)
from vaultkit.model.snapshot import VaultSnapshot
from vaultkit.model.vault_model import Lineage, LineageView, VaultModel, build_model
from vaultkit.obsidian.syntax import is_valid_tag
from vaultkit.output.edit import drop_template_tags
from vaultkit.output.formats import iso_utc, typed_graph
from vaultkit.pipeline import Builder, BuildResult, State
from vaultkit.records import (
    ERROR,
    NEXT,
    PREVIOUS,
    REFERENCES,
    RELATED,
    WARNING,
    Edge,
    Note,
    Problem,
    note_id,
)
from vaultkit.tracker import Tracker, require_mlflow
from vaultkit.tracker import tracking_uri as tracking_uri_for

if TYPE_CHECKING:
    import networkx as nx
    import pandas

T = TypeVar("T")


class ExperimentJson(TypedDict):
    """A record of ``vaultkit list --format json``."""

    id: str
    path: str
    title: str
    status: str | None
    tags: list[str]
    previous: list[str]
    next: list[str]
    related: list[str]
    references: list[str]
    modified: str
    metrics: dict[str, float]


class ChainJson(TypedDict):
    """``vaultkit lineage NOTE --format json``."""

    id: str
    ancestors: list[str]
    descendants: list[str]
    edges: list[list[str]]


@dataclass(frozen=True)
class Experiment:
    """One experiment (or, from ``Vault.status_notes``, any note with a status)."""

    id: str  # the vault path without `.md`: `Experiments/EXP-013 focal loss`
    path: str
    title: str
    status: str | None
    tags: list[str]  # lower case, without `#`
    previous: list[str]  # note ids, resolved
    next: list[str]
    related: list[str]
    references: list[str]  # note ids and URLs
    modified: str  # ISO 8601 UTC
    metrics: dict[str, float]
    sections: str | None  # template sections answered, `9/10`; None for a non-experiment
    problems: list[Problem] = field(default_factory=list)

    def as_json(self) -> ExperimentJson:
        """The record of ``vaultkit list --format json``."""
        return {
            "id": self.id,
            "path": self.path,
            "title": self.title,
            "status": self.status,
            "tags": self.tags,
            "previous": self.previous,
            "next": self.next,
            "related": self.related,
            "references": self.references,
            "modified": self.modified,
            "metrics": self.metrics,
        }


def kept_of(found: Lineage, members: set[str]) -> Lineage:
    """A lineage cut down to some of its members."""
    return Lineage(
        [r for r in found.roots if r in members],
        [m for m in found.members if m in members],
        [e for e in found.edges if e.child in members and e.parent in members],
    )


def _generations(depth: int) -> int:
    if depth < 0:
        raise ValueError(f"depth must be 0 or more, not {depth}")
    return depth


def check_codes(codes: Iterable[str]) -> None:
    """A ValueError naming the first unknown problem code of ``codes`` and the closest
    known one; nothing when all are known."""
    for code in sorted(set(codes) - set(CODES)):
        close = difflib.get_close_matches(code, sorted(CODES), n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise ValueError(f"no problem code {code!r}{hint} (codes: {', '.join(sorted(CODES))})")


@dataclass(frozen=True)
class Selection:
    """What ``Vault.select`` chose: the records in order, what they are ("experiment" or
    "note"), the metric they are sorted by, and, when a filter left nothing, why (with
    what there is instead)."""

    records: list[Experiment]
    noun: str
    metric: str | None = None
    empty_because: str | None = None

    @property
    def metrics(self) -> list[str]:
        """The metrics the records report, most reported first (the sorted-by one first
        of all): the columns of `list --format csv`."""
        reported = most_reported(r.metrics for r in self.records)
        if self.metric is None:
            return reported
        return [self.metric, *(m for m in reported if m != self.metric)]


def _none_with(noun: str, what: str, asked: list[str], found: list[str]) -> str:
    """That no note has the status or tag asked for, and what there is instead."""
    counts = Counter(found)
    shown_asked = " or ".join(repr(a) for a in asked)
    if not counts:
        return f"No {noun}s with {what} {shown_asked}: no {noun} has a {what}."
    shown = ", ".join(f"{name} ({n})" for name, n in sorted(counts.items()))
    close = difflib.get_close_matches(asked[0].lstrip("#").lower(), list(counts), n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    plural = "statuses" if what == "status" else "tags"
    return f"No {noun}s with {what} {shown_asked}. The {plural} in use: {shown}{hint}"


def _none_meets(noun: str, condition: Condition, records: list[Experiment]) -> str:
    """That no record meets ``condition``, and the values there are."""
    values = [v for r in records if (v := r.metrics.get(condition.metric)) is not None]
    values = [v for v in values if not math.isnan(v)]
    if not values:
        return f"No {noun}s with {condition}: none reports {condition.metric}."
    reported = f"{len(values)} of {len(records)} report it"
    return (
        f"No {noun}s with {condition}: {condition.metric} runs from {min(values):g} "
        f"to {max(values):g} ({reported})."
    )


def _metric_named(name: str, records: list[Experiment], rules: MetricRules) -> str:
    """The metric ``name`` names, in any spelling (`map_0.5` is `mAP@0.5`) or by an
    alias; an unknown one is a ValueError that lists the metrics there are."""
    known = sorted({m for r in records for m in r.metrics}, key=str.lower)
    for metric in known:
        if rules.key(metric) == rules.key(name):
            return metric
    listed = ", ".join(known) if known else "none (no experiment reports a metric)"
    raise ValueError(f"no metric named {name!r}; the experiments report: {listed}")


def _sorted_by_metric(
    records: list[Experiment], metric: str, rules: MetricRules
) -> list[Experiment]:
    """Best first; a record without a value, or a NaN, last."""
    sign = -1 if rules.higher_is_better(metric) else 1

    def best_first(record: Experiment) -> tuple[bool, float]:
        value = record.metrics.get(metric)
        if value is None or math.isnan(value):
            return (True, 0.0)
        return (False, sign * value)

    return sorted(records, key=best_first)


@dataclass(frozen=True)
class Chain:
    """One experiment's chain: where it came from and what grew out of it."""

    id: str
    ancestors: list[str]
    descendants: list[str]
    edges: list[Edge]

    @property
    def members(self) -> list[str]:
        return sorted({self.id, *self.ancestors, *self.descendants})

    def as_json(self) -> ChainJson:
        return {
            "id": self.id,
            "ancestors": self.ancestors,
            "descendants": self.descendants,
            "edges": [list(edge) for edge in self.edges],
        }


KNOWN_STATUSES = ("writing", "done", "pending", "postpone", "not_done", "reading")


def clear_all_caches() -> dict[str, int]:
    """Remove the caches of every vault on this machine: for each vault's cache folder
    that held any, the vault it was for and the bytes freed."""
    freed = {}
    for folder in sorted(cache_base().glob("*/")):
        try:
            named = cache.vault_of_note(read_bytes(folder, cache.VAULT_NAME))
        except (OSError, VaultkitError):
            named = None
        size = clear_cache(folder)
        if size:
            freed[named or str(folder)] = size
    return freed


def find_vault(start: str | Path = ".") -> Path | None:
    """The nearest folder at or above ``start`` that holds `.obsidian/` (the vault
    Obsidian would open), or None."""
    return find_vault_root(Path(start).expanduser())


def init(path: str | Path) -> list[str]:
    """A new vault for experiment notes at ``path`` (a new or empty folder): the
    Templates plugin set up, the experiment template, an Experiments/ folder, a welcome
    note and a .gitignore for Obsidian's per-device files. The files it created."""
    return init_vault(Path(path).expanduser())


@dataclass(frozen=True)
class Demo:
    """A demo vault, made and built (``demo``)."""

    vault: Vault
    build: BuildResult
    orphan_run: str | None  # with MLflow: the id of the run no note names yet


def demo(path: str | Path, *, with_mlflow: bool = False) -> Demo:
    """A demo vault at ``path``: a defect detector's experiments, two lineages, a branch
    and a merge, built. ``with_mlflow``: its training runs logged to an MLflow store in
    the vault (`mlflow.db`, the one store vaultkit ever creates) and synced into the
    notes; ``MissingExtra`` without the `mlflow` extra, before anything is made."""
    root = Path(path).expanduser()
    if with_mlflow:
        require_mlflow()
    demo_vault(root)
    orphan = None
    if with_mlflow:
        orphan = demo_runs(root, Tracker(f"sqlite:///{root.resolve() / 'mlflow.db'}", create=True))
        Vault(root).sync_runs()
    vault = Vault(root)
    return Demo(vault, vault.build(), orphan)


def open(path: str | Path, progress: Progress | None = None) -> Vault:  # noqa: A001
    """The vault at ``path`` (a folder). ``progress(done, total)`` is called while a big
    vault's notes are read."""
    return Vault(path, progress)


class Vault:
    """An Obsidian vault of experiment notes (see the module's docstring)."""

    def __init__(self, path: str | Path, progress: Progress | None = None):
        if not str(path).strip():
            raise VaultNotFound("the vault path is empty; give a folder")
        root = Path(path).expanduser()
        if not root.is_dir():
            raise VaultNotFound("no such folder; check the path", str(root))
        self.root = root.resolve()
        self.progress = progress
        self._listing: Listing | None = None
        self._model: VaultModel | None = None
        self._settings: VaultSnapshot | None = None
        self._builder: Builder | None = None
        self._answers: dict[str, Any] = {}
        self._results: Results | None = None
        self._results_of: VaultModel | None = None

    def __repr__(self) -> str:
        return f"vaultkit.open({str(self.root)!r})"

    # -- what is there --------------------------------------------------------------------

    @property
    def listing(self) -> Listing:
        if self._listing is None:
            self._listing = list_vault(self.root)
        return self._listing

    @property
    def settings(self) -> VaultSnapshot:
        """The vault's settings (and files), without its notes."""
        if self._settings is None:
            self._settings = read_settings(self.root)
            self._settings.files = list(self.listing.files)
        return self._settings

    @property
    def model(self) -> VaultModel:
        """Every note read and every link resolved."""
        if self._model is None:
            parses = ParseCache(self.root, self.settings.rules)
            parses.save = functools.partial(save_cache, self.root)
            snapshot = load_snapshot(self.root, self.listing, parses=parses, progress=self.progress)
            save_cache(self.root, parses.files_to_save(self.listing.files))
            self._model = build_model(snapshot)
        return self._model

    @property
    def results(self) -> Results:
        """Every experiment's metrics, one value and one name per metric: the numbers
        every output shows (model/results.py)."""
        if self._results is None or self._results_of is not self._model:
            self._results, self._results_of = self.model.results(), self._model
        return self._results

    @property
    def note_ids(self) -> list[str]:
        """Every note's id, sorted."""
        return sorted(note_id(p) for p in self.listing.files if p.lower().endswith(".md"))

    def note_names(self, *, experiments: bool = False) -> list[str]:
        """The notes' names (without folder), sorted, from the file listing alone: no
        note is read (completing what a person types stays quick on a big vault). Never
        vaultkit's own notes; ``experiments``: only the experiments the last build found
        (before any build, every note)."""
        config = self.settings.config
        paths = [
            path
            for path in self.listing.files
            if path.lower().endswith(".md") and not config.is_generated(path)
        ]
        built = State.load(self.root).experiments if experiments else frozenset()
        if built:
            paths = [path for path in paths if path in built]
        return sorted({note_id(path).rpartition("/")[2] for path in paths}, key=str.casefold)

    def folders(self) -> list[str]:
        """The vault's folders that hold files, sorted, but those vaultkit writes its
        lineage and recipe notes in (where a person's new note may go), from the listing
        alone."""
        config = self.settings.config
        found = {
            path.rpartition("/")[0]
            for path in self.listing.files
            if "/" in path
            and not config.in_lineage_folder(path)
            and not config.in_recipe_folder(path)
        }
        return sorted(found, key=str.casefold)

    def note(self, name: str) -> str:
        """The id of the note ``name`` names: an id or a name, any case, or a unique
        beginning of one (`EXP-004`). NoteNotFound / AmbiguousNote otherwise."""
        config = self.settings.config
        return resolve_note_name(
            self.note_ids, name, lambda found: config.is_generated(found + ".md")
        )

    def _read(self, name: str) -> Note:
        found = self.note(name)
        if self._model is not None and found in self._model.notes:
            return self._model.notes[found]
        note, problem = read_note(self.root, found + ".md", self.settings.rules)
        if note is None:
            why = problem.message if problem else "is gone; it was deleted a moment ago"
            raise NoteNotFound(why, found + ".md")
        return note

    # -- experiments ----------------------------------------------------------------------

    @property
    def experiments(self) -> list[Experiment]:
        """Every experiment, sorted by id, with its problems."""
        return self._answer("experiments", self._experiments, _records_plain, _records)

    def _experiments(self) -> list[Experiment]:
        model, results = self.model, self.results
        by_note = _problems_by_note(self._all_problems())
        return [_record(model, results, e, by_note.get(e, [])) for e in sorted(model.experiments)]

    @property
    def status_notes(self) -> list[Experiment]:
        """Every note with a status, experiments or not (templates left out): the team's
        whole writing queue."""
        return self._answer("status notes", self._status_notes, _records_plain, _records)

    def _status_notes(self) -> list[Experiment]:
        model = self.model
        chosen = [
            n
            for n, note in model.notes.items()
            if note.parsed.status and not is_template(note, model.vault)
        ]
        by_note = _problems_by_note(self._all_problems())
        results = self.results
        return [_record(model, results, n, by_note.get(n, [])) for n in sorted(chosen)]

    def select(
        self,
        *,
        statuses: Iterable[str] = (),
        tags: Iterable[str] = (),
        all_notes: bool = False,
        sort_by: str | None = None,
        where: Iterable[str] = (),
    ) -> Selection:
        """What ``vaultkit list`` shows: the experiments (``all_notes``: every note with
        a status) with any of ``statuses`` and any of ``tags`` (nested tags count; `#`
        and case aside) that meet every condition of ``where`` (`mAP@0.5>=0.7`: a note
        without the metric meets none), best first by the metric ``sort_by`` names (a
        note without a value, or a NaN, last). Metrics are named in any spelling or by
        an alias; one no record reports, or a condition that cannot be read, is a
        ValueError that says what there is."""
        everything = self.status_notes if all_notes else self.experiments
        noun = "note" if all_notes else "experiment"
        records, empty_because = everything, None
        filters: list[tuple[str, list[str], Callable[[Experiment], list[str]]]] = [
            ("status", list(statuses), lambda r: [r.status] if r.status else []),
            ("tag", list(tags), lambda r: r.tags),
        ]
        for what, asked, found_in in filters:
            if not asked:
                continue
            wanted = [a.lstrip("#").lower() for a in asked]
            records = [r for r in records if any(has_tag(found_in(r), w) for w in wanted)]
            if not records and empty_because is None:
                in_use = [value for r in everything for value in found_in(r)]
                empty_because = _none_with(noun, what, asked, in_use)
        conditions = [parse_condition(text) for text in where]
        metric = None
        if conditions or sort_by is not None:
            # the metric rules need the model, which an unchanged vault's answers do not
            rules = self.results.rules
            for condition in conditions:
                named = _metric_named(condition.metric, everything, rules)
                kept = [r for r in records if condition.holds(r.metrics.get(named))]
                if records and not kept and empty_because is None:
                    met = condition._replace(metric=named)
                    empty_because = _none_meets(noun, met, records)
                records = kept
            if sort_by is not None:
                metric = _metric_named(sort_by, everything, rules)
                records = _sorted_by_metric(records, metric, rules)
        return Selection(records, noun, metric, empty_because)

    def experiment(self, name: str) -> Experiment:
        """The experiment ``name`` names (see ``note``)."""
        found = self.note(name)
        for record in self.experiments:
            if record.id == found:
                return record
        raise _not_an_experiment(found)

    # -- lineages -------------------------------------------------------------------------

    @property
    def lineages(self) -> list[Lineage]:
        """Sets of experiments joined by Previous-experiment links, first roots first."""
        return self.lineage_view.lineages

    @property
    def lineage_view(self) -> LineageView:
        """The lineages with each experiment's status and link name (what drawing them
        needs)."""
        return self._answer(
            "lineages",
            lambda: self.model.lineage_view(),
            LineageView.to_plain,
            LineageView.from_plain,
        )

    def lineage(self, name: str, *, depth: int | None = None) -> Chain:
        """The chain of the experiment ``name``: its ancestors and descendants (``depth``:
        those at most that many generations below it)."""
        found = self.note(name)
        view = self.lineage_view
        if found not in view.statuses:
            raise _not_an_experiment(found)
        ancestors, descendants, edges = view.chain(found)
        if depth is not None:
            below = view.lineage.within([found], _generations(depth))
            kept = {*ancestors, *below}
            descendants = [d for d in descendants if d in below]
            edges = [e for e in edges if e.child in kept and e.parent in kept]
        return Chain(found, ancestors, descendants, edges)

    def lineages_within(self, depth: int) -> list[Lineage]:
        """Every lineage cut ``depth`` generations below its roots."""
        view = self.lineage_view
        return [
            kept_of(
                found, view.lineage.within(found.roots or found.members[:1], _generations(depth))
            )
            for found in view.lineages
        ]

    # -- checks and comparisons -----------------------------------------------------------

    def check(
        self,
        *,
        codes: Iterable[str] = (),
        severity: str | None = None,
        experiments_only: bool = False,
        changed_only: bool = False,
        tracked_only: bool = False,
    ) -> list[Problem]:
        """Every problem in the vault, sorted by note, line and code; and the files the
        last build left alone, and why. ``codes``: only these codes (an unknown code is
        a ValueError naming the closest); ``severity``: only "error" or "warning";
        ``experiments_only``: only the experiments' problems; ``changed_only``: only
        the problems of notes changed or added since the last build (``changed_notes``);
        ``tracked_only``: only those of notes git tracks (a draft not yet added to git
        does not block a commit of other notes; DiskError outside a git repository)."""
        wanted = set(codes)
        check_codes(wanted)
        if severity not in (None, ERROR, WARNING):
            raise ValueError(f"no severity {severity!r}: use {ERROR!r} or {WARNING!r}")
        notes: set[str | None] | None = None
        if experiments_only:
            notes = {record.id for record in self.experiments}
        if changed_only:
            changed: set[str | None] = {note_id(path) for path in self.changed_notes()}
            notes = changed if notes is None else notes & changed
        if tracked_only:
            tracked: set[str | None] = {
                note_id(path) for path in git_tracked(self.root) if path.lower().endswith(".md")
            }
            notes = tracked if notes is None else notes & tracked
        return [
            p
            for p in self._all_problems()
            if (not wanted or p.code in wanted)
            and (severity is None or p.severity == severity)
            and (notes is None or p.note in notes)
        ]

    def changed_notes(self) -> list[str]:
        """The paths of the notes changed or added since the last build (every note when
        there was none), sorted."""
        built = State.load(self.root).listing
        return sorted(
            path
            for path, key in self.listing.files.items()
            if path.lower().endswith(".md") and built.get(path) != key
        )

    def near_misses(self) -> list[Problem]:
        """The notes that look like experiments and are none, each with why (a copy of
        the template, a note missing one of the marks)."""
        return [p for p in self.check() if p.code in NEAR_MISSES]

    def _recipe_gaps(self) -> list[Problem]:
        """`recipe-gap` for each `done` experiment whose recipe has gaps."""
        model = self.model
        done = sorted(e for e in model.experiments if model.notes[e].parsed.status == "done")
        if not done:
            return []
        reader = RecipeReader(self.root, model, self.results)
        ignore = model.vault.config.ignore
        return [p for p in map(reader.gap, done) if p is not None and not ignored(p, ignore)]

    def _all_problems(self) -> list[Problem]:
        found = self._answer(
            "problems",
            lambda: sorted(
                [*check_model(self.model), *self._recipe_gaps()],
                key=problem_order,
            ),
            lambda found: list(map(_problem_plain, found)),
            _problems,
        )
        files = self.listing.files
        left = [
            Problem("left-alone", WARNING, note_id(path), None, f"vaultkit left it alone: {why}")
            for path, why in State.load(self.root).left_alone
            if path in files
        ]
        left += [
            Problem(
                "nested-vault",
                WARNING,
                None,
                None,
                f"{folder}/ is another vault (it has its own .obsidian/); vaultkit leaves it "
                "out. Open it on its own, or remove its .obsidian/ to make it part of this one",
            )
            for folder in self.listing.other_vaults
        ]
        left += [
            Problem(
                "unreadable-note",
                WARNING,
                name,
                None,
                "its name is not UTF-8, so vaultkit (and Obsidian) leave it out; rename it",
            )
            for name in self.listing.bad_names
        ]
        left += [
            Problem(
                "unreadable-note",
                WARNING,
                folder,
                None,
                f"this folder cannot be read, so its notes are left out and links into it "
                f"look dangling: {why}",
            )
            for folder, why in self.listing.unreadable
        ]
        if not left:
            return found
        return sorted([*found, *left], key=problem_order)

    # -- answers kept while nothing changes -----------------------------------------------

    @functools.cached_property
    def fingerprint(self) -> str:
        """A digest of everything an answer about the vault depends on: every file's stat
        key, the settings and vaultkit's version."""
        digest = hashlib.sha1(self.settings.settings_key.encode())
        digest.update(pickle.dumps(sorted(self.listing.files.items()), protocol=5))
        return digest.hexdigest()

    def _answer(
        self,
        kind: str,
        compute: Callable[[], T],
        to_plain: Callable[[T], Any],
        from_plain: Callable[[Any], T],
    ) -> T:
        """``compute()``, or the answer kept from the last time it was computed on the same
        vault (in its cache folder, ``cache_folder``): a vault whose files have not changed
        gives the same answers, so `list`, `lineage` and `check` need not read it again."""
        if kind in self._answers:
            known: T = self._answers[kind]
            return known
        kept = cache.decode(read_cache(self.root, cache.answers_name(kind)))
        if isinstance(kept, tuple) and len(kept) == 2 and kept[0] == self.fingerprint:
            try:
                answer = from_plain(kept[1])
                self._answers[kind] = answer
                return answer
            except (TypeError, ValueError, KeyError):
                pass  # a damaged file: compute the answer again
        value = compute()
        self._answers[kind] = value
        data = cache.encode((self.fingerprint, to_plain(value)))
        save_cache(self.root, {cache.answers_name(kind): data})
        return value

    def diff(self, note: str, other: str | None = None) -> list[Comparison]:
        """What changed from ``other`` (default: each previous experiment) to ``note``:
        sections, settings and metrics, one comparison per previous note."""
        model = self.model
        new = self.note(note)
        olds = [self.note(other)] if other else model.parents(new)
        if not olds:
            raise RefusedEdit(
                "has no previous experiment to compare with; name one: vaultkit diff NOTE OTHER",
                new,
            )
        if olds == [new]:
            raise RefusedEdit("is compared with itself; name another note as OTHER", new)
        rules, results = model.vault.rules, self.results
        in_force = self._settings_in_force([new, *olds])

        def side(note: str) -> Side:
            bodies = note_sections(self.root, model.notes[note].path, rules)
            return Side(note, bodies, in_force[note], results.numbers(note))

        new_side = side(new)
        order_of_sections = list(model.notes[new].parsed.sections)
        return [compare(side(old), new_side, order_of_sections, results.rules) for old in olds]

    def _settings_in_force(self, notes: list[str]) -> dict[str, dict[str, str]]:
        """The settings in force at each of ``notes`` (and their ancestors): what a note
        states, and what its parents had in force that it does not state again."""
        model = self.model
        involved = {a for n in notes if n in model.lineage for a in model.chain(n)[0]}
        involved |= {n for n in notes if n in model.lineage}
        order = model.lineage.topological_order(involved) or sorted(involved)
        order += [n for n in notes if n not in involved]
        return settings_in_force(order, model.parents, lambda n: model.notes[n].parsed.settings)

    def compare(self, *names: str, lineage: str | None = None) -> SideBySide:
        """Experiments side by side (`vaultkit compare`): each one's status and sections
        answered, every metric with its best experiment marked (direction-aware), and
        the settings in force that differ. ``names``: two or more experiments, in the
        order shown; ``lineage``: the whole chain of that experiment, roots first."""
        if lineage is not None:
            if names:
                raise ValueError("give notes or a lineage, not both")
            model = self.model
            members = self.lineage(lineage).members
            chosen = model.lineage.topological_order(set(members)) or sorted(members)
        else:
            chosen = list(dict.fromkeys(self.note(name) for name in names))
        if len(chosen) < 2:
            raise ValueError("compare needs two experiments or more (or --lineage NOTE)")
        records = {record.id: record for record in self.experiments}
        for found in chosen:
            if found not in records:
                raise _not_an_experiment(found)
        in_force = self._settings_in_force(chosen)
        columns = [
            Column(
                found,
                records[found].status,
                records[found].sections,
                self.results.numbers(found),
                in_force[found],
            )
            for found in chosen
        ]
        return side_by_side(columns, self.results.rules)

    def recipe(self, name: str) -> Recipe:
        """Everything needed to rebuild the experiment ``name``'s model (`vaultkit recipe`):
        each rebuild question's answer, found along its chain from the root with the note
        that stated it, every setting with the note that set or last changed it, the
        libraries, the seed, the runs, the replay of the steps and the gaps
        (model/recipe.py)."""
        model = self.model
        note = self.note(name)
        if note not in model.experiments:
            raise _not_an_experiment(note)
        return RecipeReader(self.root, model, self.results, with_text=True).recipe(note)

    # -- the caches ---------------------------------------------------------------------------

    @property
    def cache_folder(self) -> Path:
        """Where vaultkit keeps this vault's caches: outside the vault, in the user's cache
        folder. Removing it is always safe; the next command reads the vault again."""
        return cache_folder(self.root)

    def clear_cache(self) -> int:
        """Remove this vault's caches; returns the bytes freed."""
        self._answers.clear()
        self._builder = None
        return clear_cache(self.cache_folder)

    # -- writing --------------------------------------------------------------------------

    def build(self, *, dry_run: bool = False) -> BuildResult:
        """Write the index and lineage notes (see pipeline.py); ``dry_run``: write
        nothing and put the changes, as a diff, in ``BuildResult.diff``."""
        synced, unreachable = [], None
        if read_config(self.root).runs_sync and not dry_run:  # `runs_sync = true`: runs first
            try:
                synced = [s.path for s in self.sync_runs() if s.written]
            except TrackerError as exc:  # the notes are built as they are
                unreachable = f"runs_sync: {exc.message}; built from the notes as they are"
        if self._builder is None:  # kept: a second build starts from the first one's model
            self._builder = Builder(self.root, self.progress)
        result = self._builder.build(dry_run=dry_run)
        if synced:
            result.notices.append(f"runs_sync: wrote the run blocks of {', '.join(synced)}")
        if unreachable:
            result.notices.append(unreachable)
        if result.written or result.removed:
            self._forget()
        return result

    def _forget(self) -> None:
        """Forget what was read: the vault changed through this ``Vault``."""
        self._listing = self._model = self._settings = None
        self._answers = {}
        self.__dict__.pop("fingerprint", None)

    def new_experiment(
        self,
        title: str,
        *,
        previous: Sequence[str] = (),
        related: Sequence[str] = (),
        folder: str | None = None,
        template: str | None = None,
        now: datetime | None = None,
        run: Run | None = None,
    ) -> NewExperiment:
        """Start the note ``title`` from the vault's experiment template, linked to each
        ``previous`` experiment (and each of those linked to it). ``run``: an MLflow run
        (``Vault.tracker().run(id)``) that fills the note, which names it; when no
        ``previous`` is given, the experiment naming the run's parent run is the previous."""
        settings = self.settings
        if run is not None and run.parent_id and not previous:
            previous = [n for n, ids in self.linked_runs().items() if run.parent_id in ids][:1]
        parents = [self._read(name) for name in previous]
        path = new_experiment_path(settings, title, self._experiments_folder(folder, parents))
        created = create_experiment(
            settings,
            path,
            parents,
            [self._read(name) for name in related],
            self._read(template).path if template else self.template(),
            now or datetime.now(),
            run,
        )
        self._forget()
        return created

    def _experiments_folder(self, asked: str | None, parents: list[Note]) -> str:
        """Where a new experiment goes: the folder asked for; else `experiments_folder`
        when the config sets it; else its first previous experiment's folder (a chain
        goes on beside it); else `experiments_folder` (`Experiments`) while a note lives
        there or no experiment exists yet; else the folder where most experiments live
        (a vault of project folders keeps its own)."""
        if asked is not None:
            return asked
        config = self.settings.config
        configured = config.experiments_folder
        if "experiments_folder" in config.written:
            return configured
        if parents:
            return parents[0].path.rpartition("/")[0]
        if any(in_folder(path, configured) for path in self.listing.files):
            return configured
        # the last build's experiments (no note is read); before any build, every one
        paths = sorted(State.load(self.root).experiments) or [r.path for r in self.experiments]
        if not paths:
            return configured
        counts = Counter(path.rpartition("/")[0] for path in paths)
        return min(counts, key=lambda found: (-counts[found], found))

    def template(self) -> str | None:
        """The vault's experiment template: a note tagged #model_training and #template or
        #document_template (the highest version in its name, then the newest); else a note
        named 'Model Training' in the templates folder; else None (the packaged one)."""
        settings = self.settings
        tagged = [n for n in self._template_candidates() if is_experiment_template(n, settings)]
        if tagged:
            best = max(tagged, key=lambda n: (template_version(n.title), n.mtime_ns, n.path))
            return best.path
        folder = settings.templates_folder
        for path in sorted(self.listing.files):
            title = note_id(path).rpartition("/")[2]
            if title.lower() == "model training" and in_folder(path, folder):
                return path
        return None

    def _template_candidates(self) -> list[Note]:
        """The notes that may be experiment templates: those the last build found, and
        every note changed since (read now); without a build to go by, every note."""
        if self._model is None:
            state = State.load(self.root)
            files = self.listing.files
            if state.complete and state.settings == self.settings.settings_key:
                paths = {p for p in state.templates if p in files}
                paths |= {
                    p
                    for p, key in files.items()
                    if p.lower().endswith(".md") and state.listing.get(p) != key
                }
                snapshot = read_settings(self.root)
                load_notes(snapshot, sorted(paths), files, ParseCache(self.root, snapshot.rules))
                return list(snapshot.notes.values())
        return list(self.model.notes.values())

    def set_status(self, note: str, status: str, *, force: bool = False) -> tuple[str | None, str]:
        """Write ``status`` where the note keeps its status -> (old status, new status).
        Refused on a generated note; without ``force``, also on a note that is no
        experiment, for a status the vault does not know (a typo), and for `done` while
        template sections are unanswered."""
        status = status.strip().lstrip("#").lower()
        if not is_valid_tag(status):
            raise RefusedEdit(f"{status!r} is not a tag Obsidian can read; use letters and '_'")
        found = self._read(note)
        settings = self.settings
        if settings.config.is_generated(found.path):
            raise RefusedEdit(
                "is a note vaultkit generates, so it has no status of its own; set the "
                "status in the experiment's note",
                found.path,
            )
        experiment = is_experiment(found, settings)
        if not experiment and not force:
            why = why_not_an_experiment(found, settings)
            raise NotAnExperiment(
                f"is not an experiment ({why}), so vaultkit does not set its status; "
                "use --force to set it anyway",
                found.path,
            )
        known = {*KNOWN_STATUSES, *settings.config.statuses}
        if status not in known and not force:
            # the statuses experiments have now, and had at any build
            in_use = {r.status for r in self.experiments if r.status}
            in_use |= State.load(self.root).statuses
            if status not in in_use:
                choices = sorted(known | in_use)
                close = difflib.get_close_matches(status, choices, n=3, cutoff=0.5)
                hint = f"Did you mean {' or '.join(map(repr, close))}? " if close else ""
                raise RefusedEdit(
                    f"{status!r} is a status no experiment has had and vaultkit does not "
                    f"know ({', '.join(choices)}). {hint}Use --force to start a new status, "
                    "or list it under statuses in .vaultkit/config.toml",
                    found.path,
                )
        change_status(settings, found, experiment, status, force)
        self._forget()
        return found.parsed.status, status

    def obsidian_uri(self, path: str) -> str:
        """The `obsidian://open?vault=…&file=…` address that opens the note at ``path``
        (a vault path) in Obsidian."""
        return obsidian_uri(self.root, path)

    def gaps(self, name: str) -> list[str]:
        """What the note ``name`` leaves out that a person needs to rebuild its model
        (no seed, no library versions, …), each in a sentence; none for a note vaultkit
        does not read as an experiment-shaped note."""
        found = self.note(name)
        note = self.model.notes.get(found)
        return list(note.parsed.gaps) if note is not None else []

    def graph(self, *, generated: bool = False) -> nx.MultiDiGraph[str]:
        """The typed link graph (`vaultkit graph`): every note and linked attachment, and
        each resolved link typed previous / next / related / references / link;
        vaultkit's own notes only with ``generated``."""
        return typed_graph(self.model, generated)

    def tracker(self, tracking_uri: str | None = None) -> Tracker:
        """The MLflow tracking store: ``tracking_uri``, else `MLFLOW_TRACKING_URI`, else
        `mlflow_tracking_uri` in the config, else MLflow's default. Raises
        ``MissingExtra`` without the `mlflow` extra."""
        require_mlflow()  # first: without the extra, the store's address does not matter
        config = read_config(self.root)
        uri = tracking_uri_for(tracking_uri, config.mlflow_tracking_uri, self.root)
        return Tracker(uri, timeout=config.mlflow_timeout, retries=config.mlflow_retries)

    def runs(self, tracker: Tracker | None = None, *, orphans: bool = False) -> list[TrackedRun]:
        """The store's runs, newest first, each with the notes that name it and, for a
        run no note names, the notes that name its parent run (a sweep's trial).
        ``orphans``: only the runs no note names."""
        tracker = tracker or self.tracker()
        named: dict[str, list[str]] = {}
        for note, ids in self.linked_runs().items():
            for run_id in ids:
                named.setdefault(run_id, []).append(note)
        return [
            TrackedRun(run, named.get(run.id, []), named.get(run.parent_id or "", []))
            for run in tracker.runs()
            if not (orphans and run.id in named)
        ]

    def linked_runs(self) -> dict[str, list[str]]:
        """Each experiment that names MLflow runs -> their ids."""
        found = {e: linked_runs(self.model.notes[e].parsed) for e in sorted(self.model.experiments)}
        return {note: ids for note, ids in found.items() if ids}

    def sync_runs(
        self, notes: list[str] | None = None, tracker: Tracker | None = None
    ) -> list[RunSync]:
        """Write each run a note names into the note's run block (all experiments that
        name runs, or ``notes``); text outside the block is kept byte for byte."""
        linked = self.linked_runs()
        if notes:
            chosen = [self.note(name) for name in notes]
            for note in chosen:
                if note not in linked:
                    raise RefusedEdit(
                        f"names no MLflow run: add an {RUN_PROPERTY} property with the run id, "
                        "or the run's address from the MLflow UI under References",
                        self.model.notes[note].path,
                    )
        else:
            chosen = list(linked)
        tracker = tracker or self.tracker()  # after the notes: a note naming no run needs no store
        known: dict[str, Run | None] = {}
        config = self.settings.config
        summaries = tracker.summaries([i for note in chosen for i in linked[note]])
        synced = [
            sync_note_runs(
                self.root,
                self.model.notes[note].path,
                self.model.notes[note].parsed,
                config,
                tracker,
                known,
                summaries,
            )
            for note in chosen
        ]
        if any(s.written for s in synced):
            self._forget()
        return synced

    def tag_runs(self, tracker: Tracker | None = None) -> list[tuple[str, str, str]]:
        """Tag each run a note names with the note's `obsidian://` address and title
        (MLflow shows tags on the run's page) -> (note path, run id, what happened: one
        of ``vaultkit.tracker``'s TAGGED, HELD, NOT_FOUND, DELETED, or the error that
        stopped that run's tags). One run that cannot be tagged stops no other."""
        tracker = tracker or self.tracker()
        done = []
        for note, ids in self.linked_runs().items():
            path = self.model.notes[note].path
            tags = {
                NOTE_TAG: obsidian_uri(self.root, path),
                NOTE_TITLE_TAG: self.model.notes[note].title,
            }
            for run_id in ids:
                try:
                    outcome = tracker.set_tags(run_id, tags)
                except TrackerError as exc:
                    outcome = f"not tagged: {exc.message}"
                done.append((path, run_id, outcome))
        return done

    def fix_template_tags(self) -> list[str]:
        """Remove the #template and #document_template tags that experiments made from the
        template still carry, and nothing else -> the paths changed."""
        chosen = [
            r.path for r in self.experiments if any(p.code == "template-tags" for p in r.problems)
        ]
        unreadable = []  # every note is checked before any is edited
        for path in chosen:
            try:
                _without_template_tags(read_bytes(self.root, path))
            except (VaultkitError, UnicodeDecodeError):
                unreadable.append(path)
        if unreadable:
            raise RefusedEdit(
                f"cannot be read as UTF-8 text, so check --fix edited no note: "
                f"{', '.join(unreadable)}; save them as UTF-8 and run it again"
            )
        changed = []
        for path in chosen:
            update_file(self.root, path, _without_template_tags)
            changed.append(path)
        if changed:
            self._forget()
        return changed

    # -- for notebooks --------------------------------------------------------------------

    def to_pandas(self) -> pandas.DataFrame:
        """One row per experiment (indexed by id) and one column per metric."""
        try:
            import pandas
        except ImportError:
            raise MissingExtra(
                "pandas is not installed; install it with: pip install 'vaultkit[pandas]'"
            ) from None
        rows = []
        for record in self.experiments:
            row: dict[str, Any] = {
                "id": record.id,
                "title": record.title,
                "status": record.status,
                "previous": record.previous,
                "next": record.next,
                "tags": record.tags,
                "sections": record.sections,
                "problems": len(record.problems),
                "modified": pandas.Timestamp(record.modified),
                "path": record.path,
            }
            row.update(record.metrics)
            rows.append(row)
        return pandas.DataFrame(rows).set_index("id") if rows else pandas.DataFrame()


def _without_template_tags(current: bytes | None) -> bytes:
    if current is None:
        raise NoteNotFound("is gone; nothing to fix")
    return drop_template_tags(current.decode("utf-8")).encode("utf-8")


def _not_an_experiment(found: str) -> NotAnExperiment:
    return NotAnExperiment(
        "is not an experiment (needs #model_training and #document or a "
        "'Previous experiment' heading, and must not be a template)",
        found,
    )


def _problems_by_note(problems: list[Problem]) -> dict[str | None, list[Problem]]:
    by_note: dict[str | None, list[Problem]] = {}
    for problem in problems:
        by_note.setdefault(problem.note, []).append(problem)
    return by_note


# the fields of a record as kept, but its problems (kept as plain tuples)
_RECORD_FIELDS = [f.name for f in dataclasses.fields(Experiment) if f.name != "problems"]


def _problem_plain(problem: Problem) -> tuple[Any, ...]:
    return (problem.code, problem.severity, problem.note, problem.line, problem.message)


def _records_plain(records: list[Experiment]) -> list[tuple[Any, ...]]:
    """Each record as (its fields but problems, its problems), plain data for the cache."""
    return [
        (tuple(getattr(r, name) for name in _RECORD_FIELDS), list(map(_problem_plain, r.problems)))
        for r in records
    ]


def _problems(plain: list[tuple[Any, ...]]) -> list[Problem]:
    return [Problem(*p) for p in plain]


def _records(plain: list[tuple[Any, ...]]) -> list[Experiment]:
    return [
        Experiment(**dict(zip(_RECORD_FIELDS, fields, strict=True)), problems=_problems(problems))
        for fields, problems in plain
    ]


def _record(model: VaultModel, results: Results, note: str, problems: list[Problem]) -> Experiment:
    found = model.notes[note]
    urls = [u.url for u in found.parsed.urls if u.role == REFERENCES]
    experiment = note in model.experiments
    return Experiment(
        id=note,
        path=found.path,
        title=found.title,
        status=found.parsed.status,
        tags=list(found.parsed.tag_names),
        previous=model.targets(note, PREVIOUS),
        next=model.targets(note, NEXT),
        related=model.targets(note, RELATED),
        references=model.targets(note, REFERENCES) + list(dict.fromkeys(urls)),
        modified=iso_utc(found.mtime_ns),
        metrics=results.numbers(note),
        sections=completeness(found.parsed.sections) if experiment else None,
        problems=problems,
    )
