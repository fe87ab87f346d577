"""The model: which notes are experiments, where their links go, and the lineages.

Pure: built from a ``VaultSnapshot`` (data already read), never touches the disk.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, NamedTuple, TypedDict

from vaultkit.model.digraph import Digraph
from vaultkit.model.recognise import is_experiment
from vaultkit.model.results import Results, metric_rules
from vaultkit.model.snapshot import VaultSnapshot
from vaultkit.obsidian.links import LinkStyle, link_path
from vaultkit.obsidian.resolve import Resolution, Resolver, name_key
from vaultkit.records import PREVIOUS, Edge, Link, Note, note_id


class ResolvedLink(NamedTuple):
    source: str  # note id
    link: Link
    resolution: Resolution
    target: str | None  # the id of the note or file it reaches


class LineageJson(TypedDict):
    """A lineage in ``vaultkit lineage --format json``."""

    roots: list[str]
    members: list[str]
    edges: list[list[str]]


@dataclass
class Lineage:
    """Experiments joined by Previous-experiment links: a connected piece of the graph."""

    roots: list[str]
    members: list[str]
    edges: list[Edge]

    def as_json(self) -> LineageJson:
        return {
            "roots": self.roots,
            "members": self.members,
            "edges": [list(edge) for edge in self.edges],
        }


@dataclass
class VaultModel:
    """A vault read as experiments and typed links.

    ``all_links`` False (``build``, ``watch``): ``links`` holds the experiments'
    Previous-experiment links, all the lineage needs, and ``resolved_links`` resolves a
    note's other links when asked (a build checks only the index rows it renders again).
    Other commands resolve every note's links."""

    vault: VaultSnapshot
    notes: dict[str, Note] = field(default_factory=dict)  # by id
    experiments: set[str] = field(default_factory=set)
    links: dict[str, list[ResolvedLink]] = field(default_factory=dict)  # by source id
    lineage: Digraph = field(default_factory=Digraph)  # between experiments
    resolver: Resolver = field(default_factory=lambda: Resolver([]))
    all_links: bool = True
    _files: frozenset[str] = frozenset()
    # Indexes that let ``update`` touch only what a change can affect; made on the first
    # update after the full build (a one-shot command never needs them).
    _by_name: dict[str, set[str]] | None = None  # link name -> sources
    _backlinks: dict[str, set[str]] = field(default_factory=dict)  # target id -> sources
    _link_names: dict[str, str] = field(default_factory=dict)  # while no file comes or goes
    _asked: dict[str, list[ResolvedLink]] = field(default_factory=dict)  # see all_links

    def update(self, changed_paths: set[str]) -> None:
        """Bring the model up to date after the vault's notes or files changed at
        ``changed_paths``; the graph is updated in place, and links are resolved again
        only for the notes a change can have affected."""
        vault = self.vault
        files = frozenset(vault.files)
        added, removed = files - self._files, self._files - files
        if added or removed:
            self._link_names.clear()
            self._asked.clear()
            self.resolver = Resolver(vault.files)
            self._files = files
        if self._by_name is None and self.links:
            self._index_links()
        indexed = self._by_name is not None
        affected: set[str] = set()
        for path in changed_paths:
            if not path.lower().endswith(".md"):
                continue
            note_key = note_id(path)
            was_experiment = note_key in self.experiments
            self.notes.pop(note_key, None)
            self.experiments.discard(note_key)
            note = vault.notes.get(path)
            if note is not None:
                self.notes[note_key] = note
                if is_experiment(note, vault):
                    self.experiments.add(note_key)
            affected.add(note_key)
            if indexed and (note_key in self.experiments) != was_experiment:
                affected |= self._backlinks.get(note_key, set())  # their edges change
        if self._by_name is not None:
            for path in added | removed:  # a new or lost file changes links by its name
                affected |= self._by_name.get(name_key(path), set())
        for source in sorted(affected):
            self._relink(source)

    def _index_links(self) -> None:
        self._by_name, self._backlinks = {}, {}
        for source, resolved_links in self.links.items():
            self._index(source, resolved_links)

    def _index(self, source: str, resolved_links: list[ResolvedLink]) -> None:
        assert self._by_name is not None
        for resolved in resolved_links:
            key = name_key(resolved.link.target, source)  # the id is in the note's folder
            self._by_name.setdefault(key, set()).add(source)
            if resolved.target:
                self._backlinks.setdefault(resolved.target, set()).add(source)

    def _relink(self, source: str) -> None:
        """Resolve one note's links again and redo its Previous-experiment edges."""
        old = self.links.pop(source, [])
        if self._by_name is not None:
            for resolved in old:
                key = name_key(resolved.link.target, source)
                self._by_name.get(key, set()).discard(source)
                if resolved.target:
                    self._backlinks.get(resolved.target, set()).discard(source)
        if source in self.lineage:
            self.lineage.remove_in_edges(source)
            if source not in self.experiments:
                self.lineage.remove_node(source)
        self._asked.pop(source, None)
        note = self.notes.get(source)
        if note is None or not (self.all_links or source in self.experiments):
            return
        links = note.parsed.links
        if not self.all_links:
            links = [link for link in links if link.role == PREVIOUS]
        resolved_links = self._resolve(source, links)
        self.links[source] = resolved_links
        if self._by_name is not None:
            self._index(source, resolved_links)
        if source not in self.experiments:
            return
        self.lineage.add_node(source)
        for resolved in resolved_links:
            parent = resolved.target
            # `[[#Heading]]` points into the note itself: not a parent
            if (
                resolved.link.role == PREVIOUS
                and parent in self.experiments
                and resolved.link.target
            ):
                self.lineage.add_edge(Edge(source, parent))

    def _resolve(self, source: str, links: list[Link]) -> list[ResolvedLink]:
        resolve, path = self.resolver.resolve, self.notes[source].path
        resolved_links = []
        for link in links:
            resolution = resolve(link.target, path)
            resolved_links.append(ResolvedLink(source, link, resolution, resolution.target))
        return resolved_links

    def resolved_links(self, source: str) -> list[ResolvedLink]:
        """Every link of a note, resolved (see ``all_links``)."""
        if self.all_links or source not in self.notes:
            return self.links.get(source, [])
        if source not in self._asked:
            self._asked[source] = self._resolve(source, self.notes[source].parsed.links)
        return self._asked[source]

    def link_name(self, target: str) -> str:
        """The shortest text that links to the note from anywhere: its name when no other
        file shares it, else its full path."""
        if target not in self._link_names:
            note = self.notes.get(target)
            path = note.path if note else target
            self._link_names[target] = link_path(path, "", LinkStyle(), self.resolver)
        return self._link_names[target]

    def results(self, previous: Results | None = None) -> Results:
        """Every experiment's metrics, one value and one name per metric (model/results.py):
        made anew when asked, as the model changes with the vault (``previous``: the
        last ones, whose values of unchanged notes are kept)."""
        return Results(
            metric_rules(self.vault.config),
            lambda note: self.notes[note].parsed,
            sorted(self.experiments),
            previous,
        )

    def status(self, note: str) -> str | None:
        found = self.notes.get(note)
        return found.parsed.status if found else None

    def lineage_view(self) -> LineageView:
        """What drawing lineages needs, as plain data (kept between commands)."""
        experiments = sorted(self.experiments)
        return LineageView(
            self.lineages(),
            {e: self.status(e) for e in experiments},
            {e: self.link_name(e) for e in experiments},
        )

    def parents(self, note: str) -> list[str]:
        return sorted(self.lineage.pred[note]) if note in self.lineage else []

    def children(self, note: str) -> list[str]:
        return sorted(self.lineage.succ[note]) if note in self.lineage else []

    def targets(self, note: str, role: str) -> list[str]:
        """Resolved note ids linked from ``note`` with ``role``, first-seen order."""
        found = (r.target for r in self.resolved_links(note) if r.link.role == role)
        return list(dict.fromkeys(t for t in found if t and t != note))

    def chain(self, note: str) -> tuple[list[str], list[str], list[Edge]]:
        """(ancestors, descendants, edges among them and ``note``)."""
        return self.lineage.chain(note)

    def lineages(self) -> list[Lineage]:
        """Connected sets of experiments joined by Previous-experiment edges, singletons
        included, ordered by their first root."""
        result = []
        for component in self.lineage.weak_components():
            members = sorted(component)
            roots = [m for m in members if self.lineage.in_degree(m) == 0]
            result.append(Lineage(roots, members, self.lineage.edges_among(members)))
        result.sort(key=lambda lineage: (lineage.roots or lineage.members)[0])
        return result

    def cycles(self) -> list[list[str]]:
        """Each set of experiments whose Previous-experiment links go round in a circle,
        as one closed path ``[a, b, …, a]`` (child -> parent order)."""
        found = []
        for component in self.lineage.strong_components():
            start = min(component)
            if len(component) == 1 and not self.lineage.has_edge(start, start):
                continue
            found.append(self.lineage.cycle_upwards(start, component))
        return sorted(found)


class LineageView:
    """The lineages with each experiment's status and link name: all that the lineage
    command and its formats need (output/formats.py), without the notes."""

    def __init__(
        self,
        lineages: list[Lineage],
        statuses: dict[str, str | None],
        link_names: dict[str, str],
    ):
        self.lineages = lineages
        self.statuses = statuses
        self.link_names = link_names
        self.lineage = Digraph()
        for found in lineages:
            for member in found.members:
                self.lineage.add_node(member)
            for edge in found.edges:
                self.lineage.add_edge(edge)

    def status(self, note: str) -> str | None:
        return self.statuses.get(note)

    def link_name(self, note: str) -> str:
        return self.link_names.get(note, note)

    def lineage_of(self, note: str) -> Lineage | None:
        return next((found for found in self.lineages if note in found.members), None)

    def chain(self, note: str) -> tuple[list[str], list[str], list[Edge]]:
        """(ancestors, descendants, edges among them and ``note``)."""
        return self.lineage.chain(note)

    def to_plain(self) -> tuple[Any, ...]:
        lineages = [(f.roots, f.members, [tuple(e) for e in f.edges]) for f in self.lineages]
        return lineages, self.statuses, self.link_names

    @classmethod
    def from_plain(cls, plain: tuple[Any, ...]) -> LineageView:
        lineages, statuses, link_names = plain
        found = [Lineage(r, m, [Edge(*e) for e in edges]) for r, m, edges in lineages]
        return cls(found, statuses, link_names)


def build_model(vault: VaultSnapshot, all_links: bool = True) -> VaultModel:
    """Resolve every link (or only the experiments' ones), pick out the experiments, and
    join them into lineages."""
    model = VaultModel(vault, all_links=all_links)
    model.update(set(vault.notes))
    return model
