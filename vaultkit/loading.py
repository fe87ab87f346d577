"""The vault loaded: its settings read into rules, its notes read (``disk.read``) and
parsed (``model.reading``), many of them by worker processes, through the parse cache.
A note that cannot be read becomes a problem for ``check``; every other note is still
read. The only module that joins the disk to the parser.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import re
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

from vaultkit.disk import cache
from vaultkit.disk.read import (
    OBSIDIAN_FOLDER,
    Listing,
    cache_folder,
    list_vault,
    read_bytes,
    read_cache,
    read_file,
    walk_files,
)
from vaultkit.errors import (
    ConfigError,
    DiskError,
    NotARegularFile,
    VaultNotFound,
    describe_os_error,
)
from vaultkit.model.config import CONFIG_PATH, Config, parse_config
from vaultkit.model.metrics import template_sections
from vaultkit.model.reading import DEFAULT_RULES, parse_note, parse_note_and_sections
from vaultkit.model.recipe import (
    ChainNote,
    Chains,
    Recipe,
    build_recipe,
    gaps_of,
    recipe_gap,
)
from vaultkit.model.recognise import has_experiment_property, is_experiment_template
from vaultkit.model.results import Results
from vaultkit.model.snapshot import VaultSnapshot
from vaultkit.model.vault_model import VaultModel
from vaultkit.obsidian.note import normalise_heading
from vaultkit.output.render import lineage_metrics
from vaultkit.records import (
    PREVIOUS,
    WARNING,
    Note,
    ParsedNote,
    ParseRules,
    Problem,
    StatKey,
    note_id,
)

Progress = Callable[[int, int], None]  # (notes done, notes in all)


# -- one note ------------------------------------------------------------------------------


def decode_note(data: bytes) -> tuple[str | None, str | None]:
    """(text, problem): UTF-8 text, or text with U+FFFD for bad bytes plus a problem, or
    None for a file with NUL bytes (binary content, not a note)."""
    if b"\0" in data:
        return None, "contains NUL bytes, so it is not a text note; vaultkit skipped it"
    try:
        return data.decode("utf-8"), None
    except UnicodeDecodeError as exc:
        return data.decode("utf-8", errors="replace"), (
            f"is not valid UTF-8 (byte 0x{data[exc.start]:02x} at offset {exc.start}); "
            "read with replacement characters. Re-save it as UTF-8"
        )


def _unreadable(path: str, message: str) -> Problem:
    return Problem("unreadable-note", WARNING, note_id(path), None, message)


def read_note(
    root: Path, path: str, rules: ParseRules = DEFAULT_RULES
) -> tuple[Note | None, Problem | None]:
    """Read and parse one note; a vanished file gives (None, None)."""
    try:
        found = read_file(root, path)
    except NotARegularFile as exc:
        return None, _unreadable(path, exc.message)
    except OSError as exc:
        return None, _unreadable(path, f"cannot be read: {describe_os_error(exc)}")
    if found is None:
        return None, None
    data, key = found
    text, trouble = decode_note(data)
    parsed = parse_note(text, rules) if text is not None else ParsedNote()
    return Note(path, parsed, key), _unreadable(path, trouble) if trouble else None


def note_sections(root: Path, path: str, rules: ParseRules) -> dict[str, list[str]]:
    """A note's sections, read from disk now (for comparing two notes)."""
    text, _ = decode_note(read_bytes(root, path) or b"")
    return parse_note_and_sections(text or "", rules)[1]


# -- settings --------------------------------------------------------------------------------

# The team template vaultkit ships (`init` copies it into a new vault): its sections and
# questions are what experiments are measured against in a vault without a template.
PACKAGED_TEMPLATE = (
    Path(__file__).parent / "data" / "vault_template" / "Templates" / "Model Training.md"
)


@functools.cache
def packaged_template() -> str:
    """The text of the team template vaultkit ships."""
    data = read_bytes(PACKAGED_TEMPLATE.parent, PACKAGED_TEMPLATE.name)
    if data is None:
        raise DiskError(
            "is missing from the installed vaultkit; reinstall it", str(PACKAGED_TEMPLATE)
        )
    return data.decode("utf-8")


def packaged_rules() -> ParseRules:
    """The rules of a vault without a template of its own: the shipped template's
    sections, and the other settings' defaults."""
    return ParseRules(sections=template_sections(packaged_template()))


TEMPLATER_SETTINGS = f"{OBSIDIAN_FOLDER}/plugins/templater-obsidian/data.json"
SETTINGS_FILES = (
    CONFIG_PATH,
    f"{OBSIDIAN_FOLDER}/app.json",
    f"{OBSIDIAN_FOLDER}/templates.json",
    TEMPLATER_SETTINGS,
)


def _settings_file(root: Path, relative: str) -> bytes | None:
    """A settings file's bytes (None: there is none). A FIFO in its place is an error that
    names it; a file that cannot be read is one for the config, and for Obsidian's own
    settings counts as missing, as in Obsidian."""
    try:
        return read_bytes(root, relative)
    except OSError as exc:
        if relative == CONFIG_PATH:
            raise DiskError(f"cannot be read: {describe_os_error(exc)}", relative) from None
        return None


def _json(data: bytes | None) -> dict[str, Any]:
    try:
        found = json.loads(data or b"{}")
    except ValueError:
        return {}
    return found if isinstance(found, dict) else {}


def read_config(root: Path) -> Config:
    """`.vaultkit/config.toml` alone, without listing the vault."""
    return _config(_settings_file(root, CONFIG_PATH))


def _config(data: bytes | None) -> Config:
    if data is None:
        return Config()
    try:
        return parse_config(data.decode("utf-8"))
    except UnicodeDecodeError:
        raise ConfigError("is not UTF-8; save it as UTF-8", CONFIG_PATH) from None


def read_settings(root: Path) -> VaultSnapshot:
    """A snapshot of the vault with its settings read, the rules they make for reading
    notes, and a digest of both (``settings_key``); no note yet."""
    from vaultkit.version import __version__

    root = Path(root).resolve()
    if not root.is_dir():
        raise VaultNotFound("no such folder; check --vault or $VAULTKIT_VAULT", str(root))
    raw = {relative: _settings_file(root, relative) for relative in SETTINGS_FILES}
    config, app, templates, templater = (raw[relative] for relative in SETTINGS_FILES)
    snapshot = VaultSnapshot(
        root,
        config=_config(config),
        app_settings=_json(app),
        template_settings=_json(templates),
        templater_settings=_json(templater),
    )
    template = experiment_template(snapshot)
    snapshot.rules = ParseRules(
        sections=template_sections(template[1] if template else packaged_template()),
        previous_headings=tuple(map(normalise_heading, snapshot.config.previous_headings)),
        previous_properties=snapshot.config.previous_properties,
        status_property=snapshot.config.status_property,
    )
    digest = hashlib.sha1(__version__.encode())
    for relative, data in raw.items():
        digest.update(relative.encode() + b"\0" + (data or b"") + b"\0")
    digest.update(snapshot.rules.key.encode())
    snapshot.settings_key = digest.hexdigest()
    return snapshot


def experiment_template(snapshot: VaultSnapshot) -> tuple[str, str] | None:
    """(path, text) of the template whose sections experiments are measured against:
    `experiment_template` in the config, else a note in a templates folder that carries
    the experiment tag (or the experiment property), the highest version in its name
    first; None: the packaged template."""
    root, config = snapshot.root, snapshot.config
    if config.experiment_template:
        path = config.experiment_template
        path = path if path.lower().endswith(".md") else path + ".md"
        data = read_bytes(root, path)
        text = None if data is None else decode_note(data)[0]
        if text is None:
            raise ConfigError(
                f"experiment_template {config.experiment_template!r} is not a note of the "
                "vault; give the template's path from the vault's root",
                CONFIG_PATH,
            )
        return path, text
    found = []
    for folder in snapshot.templates_folders:
        for path in walk_files(root / folder):
            if not path.lower().endswith(".md"):
                continue
            text, _ = decode_note(read_bytes(root, f"{folder}/{path}") or b"")
            note = Note(f"{folder}/{path}", parse_note(text or ""), (0, 0, 0, 0))
            if is_experiment_template(note, snapshot) or has_experiment_property(note, snapshot):
                found.append((template_version(note.title), note.path, text or ""))
    if not found:
        return None
    _, path, text = max(found)
    return path, text


def template_version(name: str) -> tuple[int, ...]:
    """The version in a template's name (`… template v.1.2`), for choosing the newest."""
    match = _VERSION.search(name)
    return tuple(int(part) for part in match.group(1).split(".")) if match else ()


_VERSION = re.compile(r"v\.?\s*(\d+(?:\.\d+)*)", re.IGNORECASE)


# -- notes, through the parse cache ------------------------------------------------------


class ParseCache:
    """The parse cache of one vault (format: cache.py). Shards are read when first asked
    for and written back when a parse in them changed; an unusable shard is read again
    from the notes and rewritten, and said so once (``notices``). A parse depends on the
    vault's rules for reading notes (``ParseRules``): a shard made under other rules is
    rebuilt without a word. A shard file a worker process made whole (a first build) is
    kept as those bytes and written as it is: holding its parses as plain data too would
    double a cold build's memory."""

    def __init__(self, root: Path, rules: ParseRules):
        self.root = root
        self.rules_key = rules.key
        self._shards: dict[int, dict[str, tuple[Any, ...]]] = {}
        self._ready: dict[int, bytes] = {}  # shard -> its file, as a worker encoded it
        # where a worker's whole shard file goes as soon as it comes (a cold build need
        # not hold them all); None: kept for ``files_to_save``
        self.save: Callable[[dict[str, bytes]], None] | None = None
        self.changed: set[int] = set()
        self.notices: list[str] = []
        self._noticed: set[int] = set()

    def _notice(self, shard: int, what: str) -> None:
        if shard not in self._noticed:
            self._noticed.add(shard)
            where = cache_folder(self.root) / cache.shard_name(shard)
            self.notices.append(f"the parse cache {where} {what}; vaultkit rebuilt it")

    def _shard(self, shard: int) -> dict[str, tuple[Any, ...]]:
        if shard not in self._shards:
            ready = self._ready.get(shard)
            data = read_cache(self.root, cache.shard_name(shard)) if ready is None else ready
            found = cache.decode(data)
            entries: Any = None
            if isinstance(found, tuple) and len(found) == 2 and found[0] == self.rules_key:
                entries = found[1]
            if not isinstance(entries, dict):
                if data is not None:
                    if isinstance(found, tuple) and found and found[0] != self.rules_key:
                        pass  # made under other settings: simply rebuilt
                    else:
                        self._notice(shard, "could not be used")
                    self.changed.add(shard)
                entries = {}
            self._shards[shard] = entries
        return self._shards[shard]

    def get(self, path: str, key: StatKey) -> tuple[ParsedNote, str | None] | None:
        """The cached parse of the note at ``path`` while its stat key is ``key``."""
        shard = cache.shard_of(path)
        entry = self._shard(shard).get(path)
        if entry is None:
            return None
        try:
            cached_key, plain, trouble = entry
            if cache.stat_key_of(cached_key) != key:
                return None  # the note changed since
            parsed = cache.parse_from_plain(plain)
            if trouble is not None and not isinstance(trouble, str):
                raise ValueError("not a message")
        except (TypeError, ValueError, AttributeError):
            self._shards[shard].pop(path, None)
            self._ready.pop(shard, None)
            self.changed.add(shard)
            self._notice(shard, "held an entry that could not be used")
            return None
        return parsed, trouble

    def put(self, path: str, key: StatKey, plain: tuple[Any, ...], trouble: str | None) -> None:
        shard = cache.shard_of(path)
        self._shard(shard)[path] = (key, plain, trouble)
        self._ready.pop(shard, None)
        self.changed.add(shard)

    def put_shard(self, shard: int, data: bytes, entries: dict[str, tuple[Any, ...]]) -> None:
        """The parses a worker made of notes of one shard: ``data``, their shard file,
        and ``entries``, what it holds. A shard that held nothing else is kept as
        ``data``, or handed to ``save`` at once where one is set."""
        if self._shard(shard):
            self._shards[shard].update(entries)
            self._ready.pop(shard, None)
        else:
            del self._shards[shard]  # decoded again from ``data`` (or its file) if asked for
            if self.save is not None:
                self.save({cache.shard_name(shard): data})
                return
            self._ready[shard] = data
        self.changed.add(shard)

    def forget_unchanged(self) -> None:
        """Drop the decoded shards no parse changed: the notes read hold their parses as
        records now, and a shard is read again from its file if asked for. For after a
        whole vault is read (which decodes every shard, and would hold every parse twice),
        not after the few notes a watcher reads again."""
        for shard in [s for s in self._shards if s not in self.changed]:
            del self._shards[shard]

    def files_to_save(self, listing: dict[str, StatKey]) -> dict[str, bytes]:
        """The shard files to write: those that changed, without the entries of files
        that are gone or changed since (a worker's shard file is written as it is: an
        entry of a file changed since is never used, as its stat key differs). A worker's
        file is handed over, not kept: once written, the shard is read from it if asked
        for (a watcher would otherwise hold every parse's bytes for good)."""
        files = {}
        for shard in sorted(self.changed):
            if shard in self._ready:
                files[cache.shard_name(shard)] = self._ready.pop(shard)
                continue
            entries = {
                path: entry
                for path, entry in self._shards.get(shard, {}).items()
                if listing.get(path) == entry[0]
            }
            files[cache.shard_name(shard)] = cache.encode((self.rules_key, entries))
        return files


PARALLEL_THRESHOLD = 1000  # notes; below this, starting worker processes costs more than it saves


def _parse_plain(
    root: Path, path: str, rules: ParseRules
) -> tuple[str, StatKey | None, tuple[Any, ...] | None, Problem | None]:
    """Read and parse one note into plain data (what a worker process sends back)."""
    note, problem = read_note(root, path, rules)
    if note is None:
        return path, None, None, problem
    return path, note.stat_key, cache.parse_to_plain(note.parsed), problem


def _parse_shard(root: Path, paths: list[str], rules: ParseRules) -> ShardParsed:
    """Read and parse notes of one parse-cache shard (in a worker process): their shard
    file, which is also how the parses travel back, and the problems and vanished notes."""
    entries: dict[str, tuple[Any, ...]] = {}
    problems: list[Problem] = []
    vanished: list[str] = []
    for path in paths:
        _, key, plain, problem = _parse_plain(root, path, rules)
        if problem is not None:
            problems.append(problem)
        if key is not None and plain is not None:
            entries[path] = (key, plain, problem.message if problem else None)
        elif problem is None:
            vanished.append(path)
    return cache.encode((rules.key, entries)), problems, vanished


ShardParsed = tuple[bytes, list[Problem], list[str]]


def _stop_with_parent(parent: int) -> None:
    """In a worker process: exit as soon as the process that started it is gone, so a
    killed build leaves no worker behind (SIGKILL cannot be caught by the parent). The
    build's process is asked for by its id: a worker started by a fork server is that
    server's child."""

    def alive() -> bool:
        try:
            os.kill(parent, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return os.getppid() != 1 or parent == 1

    def watch() -> None:
        while alive():
            threading.Event().wait(0.2)
        os._exit(1)

    threading.Thread(target=watch, daemon=True).start()


def start_method() -> str:
    """How worker processes start: by `fork`, the fastest, only while this process runs
    a single thread (a fork copies locks other threads may hold, and can deadlock: the
    watcher's observer and run syncer are threads); else by `forkserver` (`spawn` where
    there is no fork)."""
    if os.name != "posix":
        return "spawn"
    return "fork" if threading.active_count() == 1 else "forkserver"


def _shards_in_workers(
    root: Path, paths: list[str], rules: ParseRules
) -> Iterator[tuple[int, int, ShardParsed]]:
    """Yield (shard, how many notes, ``_parse_shard``'s result) for many notes, one shard
    per task, parsed by worker processes, as they come back."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    by_shard: dict[int, list[str]] = {}
    for path in paths:
        by_shard.setdefault(cache.shard_of(path), []).append(path)
    shards = sorted(by_shard)
    count = len(shards)
    workers = min(os.cpu_count() or 1, 8)
    context = multiprocessing.get_context(start_method())
    with ProcessPoolExecutor(
        workers, mp_context=context, initializer=_stop_with_parent, initargs=(os.getpid(),)
    ) as pool:
        batches = [by_shard[s] for s in shards]
        found = pool.map(_parse_shard, [root] * count, batches, [rules] * count)
        yield from zip(shards, map(len, batches), found, strict=True)


def load_notes(
    snapshot: VaultSnapshot,
    paths: list[str],
    listing: dict[str, StatKey],
    parses: ParseCache,
    progress: Progress | None = None,
) -> set[str]:
    """Read the notes at ``paths`` into ``snapshot`` (notes, problems), reusing cached
    parses of unchanged notes; big batches are parsed by worker processes. Returns the
    paths of notes that vanished before they could be read."""
    root = snapshot.root
    to_parse = []
    vanished = set()
    done = 0
    for path in paths:
        key = listing.get(path)
        cached = parses.get(path, key) if key is not None else None
        if cached is None:
            to_parse.append(path)
            continue
        parsed, trouble = cached
        snapshot.notes[path] = Note(path, parsed, key)  # type: ignore[arg-type]
        if trouble:
            snapshot.problems.append(_unreadable(path, trouble))
        done += 1
        if progress is not None:
            progress(done, len(paths))
    workers = min(os.cpu_count() or 1, 8)
    if len(to_parse) >= PARALLEL_THRESHOLD and workers >= 2:
        in_workers = _shards_in_workers(root, to_parse, snapshot.rules)
        for shard, count, (data, problems, gone) in in_workers:
            entries = cache.decode(data)[1]
            for path, (key, plain, _) in entries.items():
                snapshot.notes[path] = Note(path, cache.parse_from_plain(plain), key)
            parses.put_shard(shard, data, entries)
            snapshot.problems += problems
            vanished.update(gone)
            done += count
            if progress is not None:
                progress(done, len(paths))
    else:
        for path, key, plain, problem in (_parse_plain(root, p, snapshot.rules) for p in to_parse):
            if problem is not None:
                snapshot.problems.append(problem)
            if key is not None and plain is not None:
                snapshot.notes[path] = Note(path, cache.parse_from_plain(plain), key)
                parses.put(path, key, plain, problem.message if problem else None)
            elif problem is None:
                vanished.add(path)
            done += 1
            if progress is not None:
                progress(done, len(paths))
    snapshot.notes = dict(sorted(snapshot.notes.items()))
    snapshot.problems.sort(key=lambda p: (p.note or "", p.code, p.message))
    return vanished


def load_snapshot(
    root: Path,
    listing: Listing | None = None,
    only: Iterable[str] | None = None,
    parses: ParseCache | None = None,
    progress: Progress | None = None,
) -> VaultSnapshot:
    """The vault read: settings, every file, and its notes (``only``: just these)."""
    snapshot = read_settings(root)
    listing = list_vault(snapshot.root) if listing is None else listing
    snapshot.files = list(listing.files)
    wanted = set(only) if only is not None else None
    paths = [
        p for p in listing.files if p.lower().endswith(".md") and (wanted is None or p in wanted)
    ]
    parses = ParseCache(snapshot.root, snapshot.rules) if parses is None else parses
    vanished = load_notes(snapshot, paths, listing.files, parses, progress)
    parses.forget_unchanged()
    if vanished:
        snapshot.files = [p for p in snapshot.files if p not in vanished]
    return snapshot


# -- the rebuild recipe -----------------------------------------------------------------------


class RecipeReader(Mapping[str, ChainNote]):
    """Recipes of one model's experiments (model/recipe.py). The section text a recipe
    quotes is not kept in the parse: each note is read from disk when a recipe first asks
    for it, and once for all the recipes this reader makes."""

    def __init__(
        self, root: Path, model: VaultModel, results: Results, *, with_text: bool = False
    ) -> None:
        """``with_text``: read each note's section text from disk, for answers that quote
        it (`vaultkit recipe`); else the recipe is made from the parses alone (a recipe
        note embeds the sections, `check` counts the gaps)."""
        self.root = root
        self.model = model
        self.results = results
        self.with_text = with_text
        self.read: dict[str, ChainNote] = {}
        self.chains = Chains(self)
        self.asked = [section for section, _ in model.vault.rules.sections]
        self._metrics: dict[str, str | None] | None = None

    def metric(self, note: str) -> str | None:
        """The main metric of the experiment's lineage (the lineage note's)."""
        if self._metrics is None:
            config, self._metrics = self.model.vault.config, {}
            for lineage in self.model.lineages():
                metrics = lineage_metrics(self.results, config.lineage_metric, lineage)
                for member in lineage.members:
                    self._metrics[member] = metrics[0] if metrics else None
        return self._metrics.get(note)

    def chain(self, note: str) -> list[str]:
        """The experiment and its ancestors, parents first (in name order in a cycle)."""
        model = self.model
        ancestors = set(model.chain(note)[0]) if note in model.lineage else set()
        order = model.lineage.topological_order({*ancestors, note})
        return order if order is not None else sorted(ancestors - {note}) + [note]

    def recipe(self, note: str) -> Recipe:
        metric = self.metric(note)

        def value(member: str) -> float | None:
            return self.results.value(member, metric) if metric else None

        return build_recipe(
            note,
            self.chain(note),
            self.chains,
            metric,
            value,
            self.results.thresholds_met,
            self.asked,
        )

    def gap(self, note: str) -> Problem | None:
        """`recipe-gap` for the experiment, made from the parses alone."""
        gaps, contradictions = gaps_of(note, self.chains, self.asked)
        return recipe_gap(note, gaps, contradictions)

    def __getitem__(self, note: str) -> ChainNote:
        if note not in self.read:
            model = self.model
            if note not in model.notes:
                raise KeyError(note)
            parsed = model.notes[note].parsed
            # the previous experiments in the order the note names them (its Previous
            # links, which the model resolved), then any other parent
            named = [r.target for r in model.links.get(note, []) if r.link.role == PREVIOUS]
            parents = [p for p in dict.fromkeys(named) if p in model.parents(note)]
            parents += [p for p in model.parents(note) if p not in parents]
            facts = parsed.rebuild
            # a section's link is looked up only where one points elsewhere
            resolved = model.resolved_links(note) if facts and facts.pointers else []
            path = model.notes[note].path
            self.read[note] = ChainNote(
                note,
                parents,
                parsed.sections,
                parsed.headings,
                facts,
                parsed.settings,
                {r.link.target.strip().lower(): r.target for r in resolved if r.target},
                parsed.synced_runs,
                note_sections(self.root, path, model.vault.rules) if self.with_text else None,
            )
        return self.read[note]

    def __contains__(self, note: object) -> bool:
        return note in self.model.notes

    def __iter__(self) -> Iterator[str]:
        return iter(self.model.notes)

    def __len__(self) -> int:
        return len(self.model.notes)
