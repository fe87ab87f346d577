"""The build: keeps a vault's generated notes (the index, one note and one canvas per
lineage) current. ``Builder.build`` is the one call behind the ``build`` command, the
watcher and ``vaultkit.Vault.build``. Each step is a function below:

1. ``_look``: the settings, every file's stat key, and what changed since the last build
   (its ``State``, kept in the vault's cache folder outside the vault, but for the list of
   generated files, which travels with the vault in `.vaultkit/generated.json`).
2. ``_read``: the notes that can matter: the last build's experiments and the notes
   changed since (a note that was no experiment and did not change is none now).
3. the model (model/vault_model.py): experiments, links, lineages.
4. ``_render``: the index rows and lineage notes whose inputs changed since they were
   last rendered; every input of a row or a lineage is listed in ``row_inputs`` and
   ``lineage_inputs``, and nowhere else.
5. ``_updates``: each generated file as an update of its current bytes (disk/write.py):
   a person's text outside vaultkit's block is kept, an edit made meanwhile is never
   undone, and a generated file that is gone from the build is removed only when it is
   still exactly what vaultkit wrote.
6. the state for the next build.
"""

from __future__ import annotations

import difflib
import functools
import itertools
import json
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vaultkit.disk import cache
from vaultkit.disk.read import cache_folder, list_vault, read_bytes, read_cache, stat_keys
from vaultkit.disk.write import (
    DELETE,
    Decision,
    FileUpdate,
    LeaveAlone,
    Outcome,
    remove_legacy_cache,
    remove_stale_temporary,
    save_cache,
    update_files,
)
from vaultkit.errors import RefusedEdit, VaultkitError
from vaultkit.loading import ParseCache, Progress, RecipeReader, load_notes, read_settings
from vaultkit.model.check import NoteProblems
from vaultkit.model.managed import block_content, outside_text, upsert_block
from vaultkit.model.reading import DEFAULT_RULES
from vaultkit.model.recognise import is_experiment, is_experiment_template
from vaultkit.model.results import Results
from vaultkit.model.snapshot import VaultSnapshot
from vaultkit.model.synced import drift
from vaultkit.model.vault_model import VaultModel, build_model
from vaultkit.obsidian.links import link_style
from vaultkit.obsidian.resolve import name_key
from vaultkit.output import bases, formats, render
from vaultkit.output.edit import set_properties
from vaultkit.records import PREVIOUS, StatKey, canvas_path, is_hidden, is_synced, note_id


@dataclass
class State:
    """What the last build read and wrote; the next build starts from it. Plain data."""

    settings: str = ""  # the settings' digest (VaultSnapshot.settings_key)
    listing: dict[str, StatKey] = field(default_factory=dict)  # every file, after the build
    experiments: frozenset[str] = frozenset()  # their paths
    # every status an experiment had at a build: `set-status` accepts them again later
    statuses: frozenset[str] = frozenset()
    templates: frozenset[str] = frozenset()  # the paths of experiment templates
    # what the links of the rendered rows and lineages were resolved against
    model_files: frozenset[str] = frozenset()
    link_files: frozenset[str] = frozenset()
    rows: dict[str, tuple[tuple[Any, ...], str]] = field(
        default_factory=dict
    )  # id -> (inputs, text)
    lineages: dict[str, tuple[Any, ...]] = field(
        default_factory=dict
    )  # lineage note path -> inputs
    recipes: dict[str, tuple[Any, ...]] = field(default_factory=dict)  # recipe note -> inputs
    # generated file -> digest of what vaultkit writes there into an empty file: the file
    # is removed, once stale, only while it holds exactly that (kept in the vault)
    written: dict[str, str] = field(default_factory=dict)
    complete: bool = False  # nothing was left undone: the next build may skip work
    # generated-looking files the build left alone, and why (``check`` reports them)
    left_alone: list[tuple[str, str]] = field(default_factory=list)
    other_vaults: list[str] = field(default_factory=list)  # folders left out, said once

    @classmethod
    def load(cls, root: Path) -> State:
        data = cache.decode(read_cache(root, cache.STATE_NAME))
        try:
            state = cls(**data) if isinstance(data, dict) else cls()
        except TypeError:
            state = cls()
        if not state._well_formed():
            state = cls()
        state.written = _generated_files(root)
        return state

    def _well_formed(self) -> bool:
        """Whether every part has its shape (a damaged or planted file may not). Checked
        with set and map, not a loop per item: the listing has a key per file."""
        keys = list(self.listing.values()) if isinstance(self.listing, dict) else None
        rows = list(self.rows.values()) if isinstance(self.rows, dict) else None
        return (
            isinstance(self.settings, str)
            and isinstance(self.complete, bool)
            and isinstance(self.left_alone, list)
            and isinstance(self.other_vaults, list)
            and cache.only(str, self.other_vaults)
            and cache.only(tuple, self.left_alone)
            and cache.only(str, itertools.chain.from_iterable(self.left_alone))
            and keys is not None
            and cache.only(tuple, keys)
            and {*map(len, keys)} <= {4}
            and cache.only(int, itertools.chain.from_iterable(keys))
            and rows is not None
            and cache.only(tuple, rows)
            and {*map(len, rows)} <= {2}
            and cache.only(tuple, (inputs for inputs, _ in rows))
            and cache.only(str, (text for _, text in rows))
            and all(
                isinstance(kept, dict)
                and cache.only(str, kept)
                and cache.only(tuple, kept.values())
                for kept in (self.lineages, self.recipes)
            )
            and all(
                isinstance(part, frozenset) and cache.only(str, part)
                for part in (
                    self.experiments,
                    self.statuses,
                    self.templates,
                    self.model_files,
                    self.link_files,
                )
            )
            and cache.only(str, self.listing)
            and cache.only(str, self.rows)
        )

    def encode(self) -> bytes:
        """The cache file: all but ``written``, which is kept in the vault."""
        return cache.encode({k: v for k, v in self.__dict__.items() if k != "written"})


def _generated_files(root: Path) -> dict[str, str]:
    """The generated files vaultkit wrote into the vault (``State.written``), from
    `.vaultkit/generated.json`; for a vault last built by a version that kept them in its
    cache inside the vault, from there."""
    try:
        found = cache.generated_from_json(read_bytes(root, cache.GENERATED_PATH))
        if found is None:
            legacy = cache.decode(read_bytes(root, f"{cache.LEGACY_FOLDER}/{cache.STATE_NAME}"))
            found = cache.text_map(legacy.get("written")) if isinstance(legacy, dict) else None
    except (OSError, VaultkitError):
        found = None
    return found or {}


def _templates(state: State, read: VaultSnapshot, listing: dict[str, StatKey]) -> frozenset[str]:
    """The experiment templates after a build that read the notes in ``read``: those of them
    that are templates, and the last build's templates it did not read and that are
    still there unchanged."""
    found = {path for path, note in read.notes.items() if is_experiment_template(note, read)}
    kept = {
        path
        for path in state.templates
        if path not in read.notes and state.listing.get(path) == listing.get(path) is not None
    }
    return frozenset(found | kept)


@dataclass
class BuildResult:
    """What a build did (or, with ``dry_run``, would do)."""

    written: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    unchanged: int = 0
    left_alone: list[tuple[str, str]] = field(default_factory=list)  # (path, why)
    failed: list[tuple[str, str]] = field(default_factory=list)  # (path, why): not updated
    notices: list[str] = field(default_factory=list)  # caches rebuilt, temporary files removed
    skipped_because: str | None = None  # why nothing was rendered ("nothing changed", …)
    diff: str = ""  # dry run: the changes as a unified diff
    changed: list[str] = field(default_factory=list)  # files that changed since the last build
    # experiments whose vaultkit properties it set (properties_sync): not in ``written``,
    # which holds the generated files
    properties_set: list[str] = field(default_factory=list)


@dataclass(eq=False)
class Output:
    """A generated file: the update that writes it into whatever is there, and the digest
    of what it holds when nothing else is there (vaultkit may remove it later only while
    it holds exactly that). A lineage note, canvas or recipe is rendered when its update
    is asked for, and not kept: a first build would otherwise hold every generated file
    at once."""

    update: FileUpdate
    pure: Callable[[], bytes]  # what it holds alone
    digest: str | None = None  # of ``pure()``, once known (an update may learn it)

    def pure_digest(self) -> str:
        if self.digest is None:
            self.digest = render.digest(self.pure())
        return self.digest


@dataclass
class _Look:
    snapshot: VaultSnapshot  # settings only, files
    listing: dict[str, StatKey]
    changed: list[str]  # files whose stat key differs from the state's (or new)
    came_or_went: bool
    temporary: list[str]
    other_vaults: list[str] | None  # None: not looked at (the watcher named the changes)


class Builder:
    """Keeps one vault's generated notes current. A ``Builder`` kept alive between builds
    (the watcher) keeps its model in memory and updates it from the changed notes."""

    def __init__(
        self, root: Path, progress: Progress | None = None, save_every: float = 0.0
    ) -> None:
        """``save_every``: the least seconds between two saves of the state and the parse
        cache (the watcher's builds come seconds apart; ``save`` saves at once)."""
        self.root = Path(root).resolve()
        self.progress = progress
        self.save_every = save_every
        self._saved_at = float("-inf")
        self._unsaved = False
        self.state = State.load(self.root)
        self.parses = ParseCache(self.root, DEFAULT_RULES)  # remade for the vault's rules
        self.model: VaultModel | None = None
        self._listing: dict[str, StatKey] | None = None  # as this builder last saw it
        self._results: Results | None = None  # the last build's, for the next one
        # what this builder last found or left in `.vaultkit/generated.json` (None: not
        # looked at yet): the watcher's builds need not read it again while it is the same
        self._generated_saved: dict[str, str] | None = None

    # -- 1. look ----------------------------------------------------------------------------

    def _look(self, changed: Iterable[str] | None) -> _Look:
        snapshot = read_settings(self.root)
        digest = snapshot.settings_key
        if digest != self.state.settings:  # new settings (or no state): start afresh,
            # but for what vaultkit wrote: only that lets it remove its own stale files
            self.state = State(settings=digest, written=self.state.written)
            self.model = None
        if self.parses.rules_key != snapshot.rules.key:
            self.parses = ParseCache(self.root, snapshot.rules)
        temporary: list[str] = []
        other_vaults = None
        if changed is None or self._listing is None:
            found = list_vault(self.root)
            listing, temporary, other_vaults = found.files, found.temporary, found.other_vaults
        else:  # the watcher names what changed: look at those files only
            listing = dict(self._listing)
            for path, key in stat_keys(self.root, sorted(set(changed))).items():
                if key is None or is_hidden(path):
                    listing.pop(path, None)
                else:
                    listing[path] = key
        before = self.state.listing
        differ = [path for path, key in listing.items() if before.get(path) != key]
        came_or_went = before.keys() != listing.keys()
        snapshot.files = list(listing)
        return _Look(snapshot, listing, differ, came_or_went, temporary, other_vaults)

    # -- 2. read ----------------------------------------------------------------------------

    def _nothing_to_write(self, look: _Look) -> bool:
        """True when what changed cannot change what build writes: only notes (and other
        files) that neither are nor were experiments changed, and no file came or went."""
        config = look.snapshot.config
        if not self.state.complete or look.came_or_went:
            return False
        if any(p in self.state.experiments or config.is_generated(p) for p in look.changed):
            return False
        notes = [p for p in look.changed if p.lower().endswith(".md")]
        probe = VaultSnapshot(
            look.snapshot.root,
            config,
            look.snapshot.template_settings,
            templater_settings=look.snapshot.templater_settings,
            rules=look.snapshot.rules,
        )
        load_notes(probe, notes, look.listing, self.parses)
        if any(is_experiment(note, probe) for note in probe.notes.values()):
            return False
        self.state.templates = _templates(self.state, probe, look.listing)
        return True

    def _read(self, look: _Look) -> VaultModel:
        """The model, from the notes a build needs (see the module's docstring)."""
        config = look.snapshot.config

        def may_be_experiment(path: str) -> bool:
            return path.lower().endswith(".md") and not config.is_generated(path)

        if self.model is not None:  # kept in memory: read what changed, update the model
            snapshot = self.model.vault
            snapshot.files = look.snapshot.files
            changed = [p for p in look.changed if p.lower().endswith(".md")]
            gone = [p for p in snapshot.notes if p not in look.listing]
            for path in [*changed, *gone]:
                snapshot.notes.pop(path, None)
            again = {note_id(p) for p in [*changed, *gone]}
            snapshot.problems = [p for p in snapshot.problems if p.note not in again]
            to_read = [p for p in changed if may_be_experiment(p)]
            vanished = load_notes(snapshot, to_read, look.listing, self.parses)
            snapshot.files = [p for p in snapshot.files if p not in vanished]
            self.model.update({*changed, *gone, *vanished})
            return self.model
        notes = [p for p in look.listing if may_be_experiment(p)]
        if self.state.complete:
            wanted = {*self.state.experiments, *look.changed}
            notes = [p for p in notes if p in wanted]
        snapshot = look.snapshot
        vanished = load_notes(snapshot, notes, look.listing, self.parses, self.progress)
        self.parses.forget_unchanged()
        snapshot.files = [p for p in snapshot.files if p not in vanished]
        self.model = build_model(snapshot, all_links=False)
        return self.model

    def load(self) -> VaultModel:
        """The model of the vault as it is, kept in memory (the watcher's starting point
        after a build that had nothing to do)."""
        if self.model is None:
            self._read(self._look(None))
        assert self.model is not None
        return self.model

    # -- the build ---------------------------------------------------------------------------

    def build(self, changed: Iterable[str] | None = None, dry_run: bool = False) -> BuildResult:
        """Bring the generated notes up to date. ``changed``: the paths known to have
        changed (the watcher's events); None: look at every file."""
        started = time.time()
        look = self._look(changed)
        # the parses workers make are saved as they come; a dry run saves nothing
        self.parses.save = None if dry_run else functools.partial(save_cache, self.root)
        result = BuildResult(changed=look.changed)
        if look.other_vaults is not None and look.other_vaults != self.state.other_vaults:
            result.notices += [
                f"{folder}/ is another vault (it has its own .obsidian/), so vaultkit leaves it out"
                for folder in look.other_vaults
                if folder not in self.state.other_vaults
            ]
            self.state.other_vaults = look.other_vaults
            self._unsaved = True
        if not dry_run and look.temporary:
            removed = remove_stale_temporary(self.root, look.temporary, started)
            result.notices += [
                f"removed {p}, left by a vaultkit run that was stopped" for p in removed
            ]
        if self.state.complete and not dry_run:
            if not look.changed and not look.came_or_went:
                result.skipped_because = "nothing changed"
            elif self._nothing_to_write(look):
                result.skipped_because = "no experiment changed"
            if result.skipped_because:
                self._listing = look.listing
                if look.changed or self._unsaved:  # new stat keys, parses, notices said
                    self.state.listing = look.listing
                    self._save(result)
                return result
        model = self._read(look)
        style = link_style(model.vault.app_settings)
        layout = render.Layout(model, model.lineages(), style, self._results)
        self._results = layout.results
        outputs, rendered = self._render(look, model, layout)
        updates = self._updates(model, layout, outputs)
        synced = self._synced_properties(model, layout)
        outcome = update_files(self.root, {**updates, **synced}, dry_run=dry_run)
        _report(result, outcome)
        result.properties_set = [p for p in result.written if p in synced]
        result.written = [p for p in result.written if p not in synced]
        if dry_run:
            result.diff = _diff(outcome)
            self.model = None  # a dry run leaves no trace, in memory either
            return result
        self._remember(look, model, layout, outputs, rendered, outcome, set(synced))
        self._save_generated(result)
        self._save(result)
        return result

    # -- 4. render --------------------------------------------------------------------------

    def _render(
        self, look: _Look, model: VaultModel, layout: render.Layout
    ) -> tuple[dict[str, Output], dict[str, Any]]:
        """The update of every generated file whose content may have changed; and what
        was rendered, for the state (rows, lineage inputs)."""
        state = self.state
        problems = NoteProblems(model)
        names = _names_changed(state, model, layout) if state.complete else None
        rows: dict[str, tuple[tuple[Any, ...], str]] = {}

        def row(note: str) -> str:
            inputs = row_inputs(model, layout, problems, note)
            known = state.rows.get(note)
            if (
                known is None
                or known[0] != inputs
                or _touched(names, lambda: row_names(model, layout, note))
            ):
                known = (inputs, render.index_row(layout, note, problems))
            rows[note] = known
            return known[1]

        index = render.index_note(layout, row)
        outputs = {layout.index_path: _block_output(render.INDEX_BLOCK, lambda: index)}
        lineages: dict[str, tuple[Any, ...]] = {}
        for number, path in layout.lineage_paths.items():
            inputs = lineage_inputs(model, layout, number)
            lineages[path] = inputs
            canvas = canvas_path(path)
            untouched = all(
                p in state.listing and look.listing.get(p) == state.listing[p]
                for p in (path, canvas)
            )
            if (
                state.lineages.get(path) == inputs
                and untouched
                and not _touched(
                    names, functools.partial(lineage_link_names, model, layout, number)
                )
            ):
                continue  # rendered from the same inputs, and nobody touched its files
            note = functools.partial(render.lineage_note, layout, number)
            outputs[path] = _block_output(render.LINEAGE_BLOCK, note)
            outputs[canvas] = _canvas_output(layout, number)
        recipes: dict[str, tuple[Any, ...]] = {}
        reader: RecipeReader | None = None
        for experiment, path in layout.recipe_paths.items():
            inputs = recipe_inputs(model, layout, experiment, path)
            recipes[path] = inputs
            if (
                state.recipes.get(path) == inputs
                and path in state.listing
                and look.listing.get(path) == state.listing[path]
                and not _touched(names, functools.partial(recipe_names, model, inputs))
            ):
                continue  # rendered from the same inputs, and nobody touched its file
            reader = reader or RecipeReader(self.root, model, layout.results)
            recipe = functools.partial(_recipe_text, reader, layout, experiment, path)
            outputs[path] = _block_output(render.RECIPE_BLOCK, recipe)
        base = model.vault.config.base_path
        if base is not None:
            text = bases.base_file(layout.synced)
            outputs[base] = _owned_output(text.encode("utf-8"), state.written.get(base))
        return outputs, {"rows": rows, "lineages": lineages, "recipes": recipes}

    # -- 5. updates --------------------------------------------------------------------------

    def _updates(
        self, model: VaultModel, layout: render.Layout, outputs: dict[str, Output]
    ) -> dict[str, FileUpdate]:
        """The outputs, and the removal of generated files the build no longer makes."""
        config = model.vault.config
        produced = {layout.index_path, *layout.lineage_paths.values()}
        produced |= {canvas_path(p) for p in layout.lineage_paths.values()}
        produced |= set(layout.recipe_paths.values())
        if config.base_path is not None:
            produced.add(config.base_path)
        candidates = {
            p
            for p in model.vault.files
            if config.in_lineage_folder(p) or config.in_recipe_folder(p)
        }
        candidates |= set(self.state.written)
        updates = {path: output.update for path, output in outputs.items()}
        for path in sorted(candidates - produced):
            if path.lower().endswith((".md", ".canvas", ".base")):
                updates[path] = _stale_update(path, self.state.written.get(path))
        return updates

    def _synced_properties(self, model: VaultModel, layout: render.Layout) -> dict[str, FileUpdate]:
        """With `properties_sync`: the experiments whose vaultkit properties differ from
        what their notes say, each as an update of its properties alone; and the notes
        that were experiments at the last build and still hold vaultkit's properties."""
        if not model.vault.config.properties_sync:
            return {}
        synced = layout.synced
        updates: dict[str, FileUpdate] = {}
        for experiment in model.experiments:
            note = model.notes[experiment]
            wanted = synced.wanted(experiment)
            if drift(note.parsed.properties, wanted):
                updates[note.path] = _properties_update(wanted)
        now = {model.notes[e].path for e in model.experiments}
        for path in self.state.experiments - now:
            gone = model.vault.notes.get(path)
            if gone is not None and any(is_synced(k) for k in gone.parsed.properties):
                updates[path] = _properties_update({})
        return updates

    # -- 6. remember ---------------------------------------------------------------------

    def _remember(
        self,
        look: _Look,
        model: VaultModel,
        layout: render.Layout,
        outputs: dict[str, Output],
        rendered: dict[str, Any],
        outcome: Outcome,
        notes_edited: set[str],
    ) -> None:
        state = self.state
        # a note whose properties the build changed is read again by the next build
        touched = [p for p in [*outcome.written, *outcome.removed] if p not in notes_edited]
        now = stat_keys(self.root, touched)
        listing = dict(look.listing)
        for path in touched:
            key = now[path]
            if key is None or is_hidden(path):
                listing.pop(path, None)
            else:
                listing[path] = key
        written = dict(state.written)
        for path in outcome.removed:
            written.pop(path, None)
        for path, output in outputs.items():
            written[path] = output.pure_digest()
        state.listing = dict(sorted(listing.items()))
        state.experiments = frozenset(model.notes[e].path for e in model.experiments)
        found = {model.notes[e].parsed.status for e in model.experiments}
        state.statuses = state.statuses | {status for status in found if status}
        state.templates = _templates(state, model.vault, look.listing)
        state.model_files = frozenset(model.vault.files)
        state.link_files = frozenset({*model.vault.files, *layout.missing})
        state.rows = rendered["rows"]
        state.lineages = rendered["lineages"]
        state.recipes = rendered["recipes"]
        state.written = written
        state.complete = not outcome.failed
        state.left_alone = [(p, why) for p, why in outcome.left_alone if why]
        self._listing = listing

    def _save_generated(self, result: BuildResult) -> None:
        """Keep `.vaultkit/generated.json` (``State.written``) as the build left it: written
        only when it changes, and not at all in a vault where vaultkit generated nothing.
        Then the caches an older version kept in the vault go."""
        written = self.state.written
        if written == self._generated_saved:
            return
        data = cache.generated_to_json(written)

        def update(current: bytes | None) -> Decision:
            return data if written or current is not None else LeaveAlone("")

        outcome = update_files(self.root, {cache.GENERATED_PATH: update})
        result.failed += outcome.failed
        if not outcome.failed:
            self._generated_saved = dict(written)
            freed = remove_legacy_cache(self.root)
            if freed:
                result.notices.append(
                    f"removed {cache.LEGACY_FOLDER}/ ({freed / 1e6:.1f} MB): vaultkit now keeps "
                    f"its caches outside the vault, in {cache_folder(self.root)}"
                )

    def _save(self, result: BuildResult) -> None:
        result.notices += self.parses.notices
        self.parses.notices = []
        self._unsaved = True
        if time.monotonic() - self._saved_at >= self.save_every:
            self.save()

    def save(self) -> None:
        """Write the state and the parse cache files that changed, if anything is unsaved."""
        if not self._unsaved:
            return
        files = self.parses.files_to_save(self.state.listing)
        self.parses.changed.clear()
        files[cache.STATE_NAME] = self.state.encode()
        save_cache(self.root, files)
        self._saved_at = time.monotonic()
        self._unsaved = False


def row_inputs(
    model: VaultModel, layout: render.Layout, problems: NoteProblems, note: str
) -> tuple[Any, ...]:
    """Everything an index row is made of, but where its links go (that is
    ``row_names``). The note stands in by its file's stat key: what vaultkit reads from
    unchanged bytes does not change (the parse cache rests on the same fact)."""
    previous = [
        (r.target, r.target in model.experiments)
        for r in model.links.get(note, [])
        if r.link.role == PREVIOUS
    ]
    parents = [model.notes[p].path for p in model.parents(note)]
    return (
        model.notes[note].stat_key,
        tuple(layout.index_metrics),
        layout.lineage_path_of(note),
        tuple(parents),
        tuple(previous),
        tuple((p.code, p.line, p.message) for p in problems.elsewhere.get(note, ())),
    )


def row_names(model: VaultModel, layout: render.Layout, note: str) -> Names:
    """The names an index row's links look up: where the note's own links go (its
    problems), and the links the row writes (the note, its parents, its lineage). A
    link's answer depends only on the files of its name (``resolve.name_key``)."""
    entry = model.notes[note]
    model_keys = {name_key(link.target, entry.path) for link in entry.parsed.links}
    written = [entry.path, *(model.notes[p].path for p in model.parents(note))]
    lineage = layout.lineage_path_of(note)
    return model_keys, set(map(name_key, [*written, *([lineage] if lineage else [])]))


def lineage_inputs(model: VaultModel, layout: render.Layout, number: int) -> tuple[Any, ...]:
    """Everything a lineage note and its canvas are made of but where their
    links go: their file, members (by stat key), edges and roots, and the names metrics
    are shown under (the spelling most notes of the vault use). (The metric charted is a
    setting: new settings start a build afresh.)"""
    lineage = layout.lineages[number]
    members = tuple((m, model.notes[m].stat_key) for m in lineage.members)
    edges = tuple(map(tuple, lineage.edges))  # plain: they pickle faster than named tuples
    names = layout.results.shown_names
    recipes = tuple(layout.recipe_paths.get(m) for m in lineage.members)
    return (layout.lineage_paths[number], members, edges, tuple(lineage.roots), names, recipes)


def recipe_inputs(
    model: VaultModel, layout: render.Layout, experiment: str, path: str
) -> tuple[Any, ...]:
    """Everything a recipe note is made of but where its links go: its file, its chain's
    notes (by stat key, with their previous experiments), the metric its replay shows
    and the names metrics are shown under."""
    ancestors = model.chain(experiment)[0] if experiment in model.lineage else []
    chain = sorted({*ancestors, experiment})
    names, _ = render.lineage_best(layout, layout.lineages[layout.lineage_of[experiment]])
    notes = tuple(
        (note, model.notes[note].path, model.notes[note].stat_key, tuple(model.parents(note)))
        for note in chain
    )
    return (path, notes, names[0] if names else None, layout.results.shown_names)


def recipe_names(model: VaultModel, inputs: tuple[Any, ...]) -> Names:
    """The names a recipe note's links look up: the links its chain's notes hold (a
    section that points to [[X]]), and its own."""
    path, notes = inputs[0], inputs[1]
    paths = [note_path for _, note_path, _, _ in notes]
    model_keys = {
        name_key(link.target, note_path)
        for note, note_path, _, _ in notes
        for link in model.notes[note].parsed.links
    }
    return model_keys, set(map(name_key, [*paths, path]))


def _link_from(layout: render.Layout, source: str, target: str) -> str:
    return layout.link(target, source)


def lineage_link_names(model: VaultModel, layout: render.Layout, number: int) -> Names:
    """The names a lineage note's links look up: its members (the chart's labels and the
    links) and its canvas."""
    lineage = layout.lineages[number]
    members = {name_key(model.notes[m].path) for m in lineage.members}
    return members, members | {name_key(canvas_path(layout.lineage_paths[number]))}


Names = tuple[set[str], set[str]]  # (looked up by the model's links, by the written links)


def _names_changed(
    state: State, model: VaultModel, layout: render.Layout
) -> tuple[set[str], set[str]]:
    """The names (``name_key``) of the files that came or went since the rows and
    lineages of the last build were rendered: for the model's links, and for the links
    vaultkit writes (which count generated files as there before they are)."""
    files = set(model.vault.files)
    for_model = state.model_files.symmetric_difference(files)
    for_links = state.link_files.symmetric_difference({*files, *layout.missing})
    return set(map(name_key, for_model)), set(map(name_key, for_links))


def _touched(changed: Names | None, names_of: Callable[[], Names]) -> bool:
    """Whether a file came or went whose name a row's or lineage's links look up
    (``changed`` None: not known, so yes). ``names_of`` is asked only when files did."""
    if changed is None:
        return True
    for_model, for_links = changed
    if not for_model and not for_links:
        return False
    model_keys, link_keys = names_of()
    return not for_model.isdisjoint(model_keys) or not for_links.isdisjoint(link_keys)


# -- updates of generated files -------------------------------------------------------------


def _text_of(current: bytes | None) -> str:
    if current is None:
        return ""
    try:
        return current.decode("utf-8")
    except UnicodeDecodeError:
        raise RefusedEdit("is not UTF-8, so vaultkit leaves it alone; save it as UTF-8") from None


def _recipe_text(reader: RecipeReader, layout: render.Layout, experiment: str, path: str) -> str:
    return formats.recipe_document(
        reader.recipe(experiment),
        True,
        functools.partial(_link_from, layout, path),
        layout.model.link_name,
    )


def _block_output(name: str, content: Callable[[], str]) -> Output:
    """A note whose block ``name`` holds ``content()``; the person's text around it
    stays."""

    def alone(text: str) -> bytes:
        return upsert_block("", name, text).encode("utf-8")

    def update(current: bytes | None) -> bytes:
        text = content()  # rendered once for both
        data = alone(text)
        output.digest = render.digest(data)
        return data if current is None else upsert_block(_text_of(current), name, text).encode()

    output = Output(update, lambda: alone(content()))
    return output


def _owned_output(content: bytes, written: str | None) -> Output:
    """A file vaultkit writes whole and keeps current only while it holds what vaultkit
    wrote last: once a person (or Obsidian, saving a change made in its view) changes it,
    or when it was theirs to begin with, it is left to them."""

    def update(current: bytes | None) -> Decision:
        if current is None or current == content:
            return content
        if written is not None and render.digest(current) == written:
            return content
        return LeaveAlone("")

    return Output(update, lambda: content)


def _properties_update(wanted: dict[str, Any]) -> FileUpdate:
    """An experiment whose vaultkit properties hold ``wanted`` (and no others); nothing
    else in the note changes. A note whose properties vaultkit cannot read is left alone."""

    def update(current: bytes | None) -> Decision:
        if current is None:
            return LeaveAlone("")
        edited = set_properties(_text_of(current), wanted, owned=is_synced)
        if edited is None:
            return LeaveAlone(_UNREADABLE_PROPERTIES)
        return edited.encode("utf-8")

    return update


def _canvas_output(layout: render.Layout, number: int) -> Output:
    """A lineage canvas, merged into the one there: what a person moved or added stays."""

    def merged(existing: dict[str, Any] | None) -> bytes:
        nodes, edges = render.lineage_canvas(layout, number)  # rendered once for both
        alone = render.canvas_text(render.merge_canvas(None, nodes, edges)).encode("utf-8")
        output.digest = render.digest(alone)
        if existing is None:
            return alone
        return render.canvas_text(render.merge_canvas(existing, nodes, edges)).encode("utf-8")

    def update(current: bytes | None) -> bytes:
        existing = None
        if current is not None:
            try:
                existing = json.loads(current)
            except (ValueError, RecursionError):  # not JSON, or nested past reading
                existing = None
            if not isinstance(existing, dict):
                raise RefusedEdit("is not valid JSON Canvas; fix or delete it")
        return merged(existing)

    output = Output(update, lambda: merged(None))
    return output


def _stale_update(path: str, written: str | None) -> FileUpdate:
    """A generated file the build no longer makes: removed while it is exactly what
    vaultkit wrote; a lineage note of vaultkit's that holds the person's text keeps it,
    with a notice in its block; anything else is left as it is."""

    def update(current: bytes | None) -> Decision:
        if current is None:
            return DELETE
        if written is not None and render.digest(current) == written:
            return DELETE
        is_note = path.lower().endswith(".md")
        if is_note:
            text = current.decode("utf-8", "replace")
            try:
                ours = block_content(text, render.LINEAGE_BLOCK) is not None
            except VaultkitError:
                ours = False
            if not ours:
                return _PERSONS if written is None else _CHANGED
            if written is None:
                return _NOT_OURS
            if outside_text(text, render.LINEAGE_BLOCK).strip():
                return upsert_block(
                    _text_of(current), render.LINEAGE_BLOCK, render.STALE_NOTICE
                ).encode()
            return _CHANGED
        try:
            canvas = json.loads(current)
        except (ValueError, RecursionError):
            return _PERSONS if written is None else _CHANGED
        items = (
            [*render.canvas_items(canvas, "nodes"), *render.canvas_items(canvas, "edges")]
            if isinstance(canvas, dict)
            else []
        )
        generated = any(isinstance(i, dict) and render.is_generated_canvas_item(i) for i in items)
        if not generated:
            return _PERSONS
        return _NOT_OURS if written is None else _CHANGED

    return update


_UNREADABLE_PROPERTIES = (
    "its properties are not valid YAML, so vaultkit cannot keep its own properties in "
    "it (properties_sync); fix them (check says where)"
)
_PERSONS = LeaveAlone("")  # a person's own file in the lineage folder: nothing to say
_NOT_OURS = LeaveAlone(
    "looks generated but vaultkit did not write it here (a copy?), so it leaves it as it "
    "is; delete it if you do not need it"
)
_CHANGED = LeaveAlone(
    "belongs to a lineage that no longer exists, but it changed since vaultkit wrote it, "
    "so vaultkit leaves it as it is; delete it when you no longer need it"
)


def _report(result: BuildResult, outcome: Outcome) -> None:
    result.written, result.removed = outcome.written, outcome.removed
    if outcome.planned:  # a dry run: what it would write and remove
        result.written = sorted(p for p, (_, new) in outcome.planned.items() if new is not None)
        result.removed = sorted(p for p, (_, new) in outcome.planned.items() if new is None)
    result.unchanged = len(outcome.unchanged)
    result.left_alone = [(p, why) for p, why in outcome.left_alone if why]
    result.failed = outcome.failed


def _diff(outcome: Outcome) -> str:
    """A unified diff of every change a dry run found."""
    out: list[str] = []
    for path, (old, new) in sorted(outcome.planned.items()):
        old_lines = old.decode("utf-8", "replace").splitlines(keepends=True) if old else []
        new_lines = new.decode("utf-8").splitlines(keepends=True) if new is not None else []
        out.extend(
            difflib.unified_diff(
                old_lines,
                new_lines,
                fromfile=f"a/{path}" if old is not None else "/dev/null",
                tofile=f"b/{path}" if new is not None else "/dev/null",
            )
        )
    return "".join(line if line.endswith("\n") else line + "\n" for line in out)
