"""The model: which notes are experiments, how links resolve, and the lineages.

Pure: built from a ``Vault`` (data already read), never touches the disk.
"""

from __future__ import annotations

import difflib
import hashlib
import itertools
import posixpath
from dataclasses import dataclass, field
from typing import NamedTuple

from vaultkit.disk.read import Note, Vault
from vaultkit.model.config import LinkStyle
from vaultkit.model.digraph import Digraph
from vaultkit.model.records import PREVIOUS, Link
from vaultkit.obsidian.links import link_path
from vaultkit.obsidian.note import PREVIOUS_SECTION
from vaultkit.obsidian.resolve import Resolution, Resolver, name_key

DOCUMENT_TAG = "document"
TEMPLATE_TAGS = ("template", "document_template")


def has_tag(tags: list[str], wanted: str) -> bool:
    """``#wanted`` or a nested ``#wanted/…`` among lower-cased tags."""
    # (C-level scans: asked several times for every note of the vault)
    return wanted in tags or any(map(str.startswith, tags, itertools.repeat(wanted + "/")))


def in_folder(path: str, folder: str | None) -> bool:
    return bool(folder) and path.lower().startswith(folder.lower().rstrip("/") + "/")


def has_template_tag(tags: list[str]) -> bool:
    return any(has_tag(tags, t) for t in TEMPLATE_TAGS)


def is_template(note: Note, templates_folder: str | None) -> bool:
    """Tagged as a template, or in the Templates plugin's folder."""
    return has_template_tag(note.parsed.tag_names) or in_folder(note.path, templates_folder)


def is_experiment(note: Note, vault: Vault) -> bool:
    """Tagged #model_training, a document (#document or a Previous-experiment heading),
    not a template (tag or templates folder), and not a note vaultkit generates."""
    tags = note.parsed.tag_names
    if not has_tag(tags, vault.config.experiment_tag) or is_template(note, vault.templates_folder):
        return False
    if vault.config.is_generated(note.path):
        return False
    if has_tag(tags, DOCUMENT_TAG):
        return True
    # the template section's state says whether the heading is there (see parse._report)
    return note.parsed.sections.get(PREVIOUS_SECTION, "missing") != "missing"


def files_digest(paths) -> str:
    """A digest of a set of file paths: what link texts and resolutions depend on."""
    return hashlib.sha1("\n".join(sorted(paths)).encode()).hexdigest()


class ResolvedLink(NamedTuple):
    source: str  # note id
    link: Link
    resolution: Resolution
    target: str | None  # the id of the note or file it reaches


@dataclass
class Lineage:
    roots: list[str]
    members: list[str]
    edges: list[tuple[str, str]]  # (child, parent)

    def as_json(self) -> dict:
        return {
            "roots": self.roots,
            "members": self.members,
            "edges": [list(e) for e in self.edges],
        }


@dataclass
class VaultModel:
    """A vault read as experiments and typed links."""

    vault: Vault
    notes: dict[str, Note] = field(default_factory=dict)  # by id
    experiments: set[str] = field(default_factory=set)
    links: dict[str, list[ResolvedLink]] = field(default_factory=dict)  # by source id
    lineage: Digraph = field(default_factory=Digraph)  # parent -> child, experiments
    resolver: Resolver = field(default_factory=lambda: Resolver([]))
    files_version: str = ""  # a digest of every file path: changes when one appears or goes
    # False (``build``, ``watch``): ``links`` holds the experiments' Previous-experiment
    # links, all the lineage needs; ``resolved_links`` resolves a note's other links when
    # asked (build checks only the index rows it renders again). Other commands read
    # every note's links.
    all_links: bool = True
    _files: frozenset[str] = frozenset()
    # Indexes that let ``update`` touch only what a change can affect; made on the first
    # update after the full build (a one-shot command never needs them).
    _by_name: dict[str, set[str]] | None = None  # link name -> sources
    _backlinks: dict[str, set[str]] | None = None  # target id -> sources
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
            self.files_version = files_digest(files)
        if self._by_name is None and self.links:
            self._index_links()
        indexed = self._by_name is not None
        affected: set[str] = set()
        for path in changed_paths:
            if not path.lower().endswith(".md"):
                continue
            note_id = path[:-3]
            was_experiment = note_id in self.experiments
            self.notes.pop(note_id, None)
            self.experiments.discard(note_id)
            note = vault.notes.get(path)
            if note is not None:
                self.notes[note_id] = note
                if is_experiment(note, vault):
                    self.experiments.add(note_id)
            affected.add(note_id)
            if indexed and (note_id in self.experiments) != was_experiment:
                affected |= self._backlinks.get(note_id, set())  # their edges change
        if indexed:
            for path in added | removed:  # a new or lost file changes links by its name
                affected |= self._by_name.get(name_key(path), set())
        for note_id in sorted(affected):
            self._relink(note_id)

    def _index_links(self) -> None:
        self._by_name, self._backlinks = {}, {}
        for note_id, resolved_links in self.links.items():
            self._index(note_id, resolved_links)

    def _index(self, note_id: str, resolved_links: list[ResolvedLink]) -> None:
        for resolved in resolved_links:
            key = name_key(resolved.link.target, note_id)  # the id is in the note's folder
            self._by_name.setdefault(key, set()).add(note_id)
            if resolved.target:
                self._backlinks.setdefault(resolved.target, set()).add(note_id)

    def _relink(self, note_id: str) -> None:
        """Resolve one note's links again and redo its Previous-experiment edges."""
        old = self.links.pop(note_id, [])
        if self._by_name is not None:
            for resolved in old:
                key = name_key(resolved.link.target, note_id)
                self._by_name.get(key, set()).discard(note_id)
                if resolved.target:
                    self._backlinks.get(resolved.target, set()).discard(note_id)
        if note_id in self.lineage:
            self.lineage.remove_in_edges(note_id)
            if note_id not in self.experiments:
                self.lineage.remove_node(note_id)
        self._asked.pop(note_id, None)
        note = self.notes.get(note_id)
        if note is None or not (self.all_links or note_id in self.experiments):
            return
        links = note.parsed.links
        if not self.all_links:
            links = [link for link in links if link.role == PREVIOUS]
        resolved_links = self._resolve(note_id, links)
        self.links[note_id] = resolved_links
        if self._by_name is not None:
            self._index(note_id, resolved_links)
        if note_id not in self.experiments:
            return
        self.lineage.add_node(note_id)
        for resolved in resolved_links:
            parent = resolved.target
            # `[[#Heading]]` points into the note itself: not a parent
            if (
                resolved.link.role == PREVIOUS
                and parent in self.experiments
                and resolved.link.target
            ):
                self.lineage.add_edge(parent, note_id)

    def _resolve(self, note_id: str, links: list[Link]) -> list[ResolvedLink]:
        resolve, source = self.resolver.resolve, self.notes[note_id].path
        resolved_links = []
        for link in links:
            resolution = resolve(link.target, source)
            resolved_links.append(ResolvedLink(note_id, link, resolution, resolution.target))
        return resolved_links

    def resolved_links(self, note_id: str) -> list[ResolvedLink]:
        """Every link of a note, resolved (see ``all_links``)."""
        if self.all_links or note_id not in self.notes:
            return self.links.get(note_id, [])
        if note_id not in self._asked:
            self._asked[note_id] = self._resolve(note_id, self.notes[note_id].parsed.links)
        return self._asked[note_id]

    def link_name(self, note_id: str) -> str:
        """The shortest text that links to the note from anywhere: its name when no other
        file shares it, else its full path."""
        if note_id not in self._link_names:
            note = self.notes.get(note_id)
            path = note.path if note else note_id
            self._link_names[note_id] = link_path(path, "", LinkStyle(), self.resolver)
        return self._link_names[note_id]

    def parents(self, note: str) -> list[str]:
        return sorted(self.lineage.pred[note]) if note in self.lineage else []

    def children(self, note: str) -> list[str]:
        return sorted(self.lineage.succ[note]) if note in self.lineage else []

    def targets(self, note: str, role: str) -> list[str]:
        """Resolved note ids linked from ``note`` with ``role``, first-seen order."""
        found = (r.target for r in self.links.get(note, []) if r.link.role == role)
        return list(dict.fromkeys(t for t in found if t and t != note))

    def chain(self, note: str) -> tuple[list[str], list[str], list[tuple[str, str]]]:
        """(ancestors, descendants, (child, parent) edges among them and ``note``)."""
        ancestors = sorted(self.lineage.reachable(note, forward=False) - {note})
        descendants = sorted(self.lineage.reachable(note, forward=True) - {note})
        return ancestors, descendants, self.lineage.edges_among({note, *ancestors, *descendants})

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


def build_model(vault: Vault, all_links: bool = True) -> VaultModel:
    """Resolve every link (or only the experiments' ones), pick out the experiments, and
    join them into lineages."""
    model = VaultModel(vault, all_links=all_links)
    model.update(set(vault.notes))
    return model


def resolve_note_argument(model: VaultModel, name: str) -> tuple[str | None, list[str]]:
    """A NOTE typed on the command line, resolved like a wikilink typed at the vault root:
    (note id, []) when found, (None, candidates) when the name is ambiguous, (None, [])
    when nothing matches."""
    name = name.strip().replace("\\", "/")
    if name.lower().endswith(".md"):
        name = name[:-3]
    lowered = {note_id.lower(): note_id for note_id in model.notes}
    if name.lower() in lowered:
        return lowered[name.lower()], []
    suffix = "/" + name.lower()
    matches = sorted(n for n in model.notes if ("/" + n.lower()).endswith(suffix))
    if len(matches) == 1:
        return matches[0], []
    return None, matches


def closest_names(model: VaultModel, name: str, limit: int = 5) -> list[str]:
    """Note ids whose name or id is closest to ``name``, for 'did you mean'."""
    wanted = name.lower()
    scored = []
    for note_id in model.notes:
        title = posixpath.basename(note_id).lower()
        score = max(
            difflib.SequenceMatcher(None, wanted, title).ratio(),
            difflib.SequenceMatcher(None, wanted, note_id.lower()).ratio(),
        )
        scored.append((-score, note_id))
    return [note_id for score, note_id in sorted(scored)[:limit] if score < -0.4]
