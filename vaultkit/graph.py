"""The model: which notes are experiments, how links resolve, and the lineages.

Pure: built from a ``Vault`` (data already read), never touches the disk.
"""

from __future__ import annotations

import difflib
import posixpath
from dataclasses import dataclass, field

import networkx as nx

from .model import PREVIOUS, Link
from .parse import PREVIOUS_SECTION, normalise_heading
from .resolve import Resolution, Resolver
from .vault import Note, Vault

DOCUMENT_TAG = "document"
TEMPLATE_TAGS = ("template", "document_template")


def has_tag(tags: list[str], wanted: str) -> bool:
    """``#wanted`` or a nested ``#wanted/…`` among lower-cased tags."""
    return any(tag == wanted or tag.startswith(wanted + "/") for tag in tags)


def in_folder(path: str, folder: str | None) -> bool:
    return bool(folder) and path.lower().startswith(folder.lower().rstrip("/") + "/")


def is_template(note: Note, templates_folder: str | None) -> bool:
    tags = note.parsed.tag_names
    return any(has_tag(tags, t) for t in TEMPLATE_TAGS) or in_folder(note.path, templates_folder)


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
    return any(normalise_heading(h.text) == PREVIOUS_SECTION for h in note.parsed.headings)


def note_id(path: str) -> str:
    """Notes are named without `.md`; attachments keep their extension."""
    return path[:-3] if path.lower().endswith(".md") else path


@dataclass(frozen=True)
class ResolvedLink:
    source: str  # note id
    link: Link
    resolution: Resolution

    @property
    def target(self) -> str | None:
        return note_id(self.resolution.path) if self.resolution.path else None


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
    lineage: nx.DiGraph = field(default_factory=nx.DiGraph)  # parent -> child, experiments
    resolver: Resolver = field(default_factory=lambda: Resolver([]))

    def link_name(self, note_id: str) -> str:
        """The shortest text that links to the note from anywhere: its name when no other
        file shares it, else its full path."""
        name = note_id.rsplit("/", 1)[-1]
        note = self.notes.get(note_id)
        path = note.path if note else note_id
        resolution = self.resolver.resolve(name, "")
        return name if resolution.path == path and len(resolution.candidates) <= 1 else note_id

    def parents(self, note: str) -> list[str]:
        return sorted(self.lineage.predecessors(note)) if note in self.lineage else []

    def children(self, note: str) -> list[str]:
        return sorted(self.lineage.successors(note)) if note in self.lineage else []

    def targets(self, note: str, role: str) -> list[str]:
        """Resolved note ids linked from ``note`` with ``role``, first-seen order."""
        found = (r.target for r in self.links.get(note, []) if r.link.role == role)
        return list(dict.fromkeys(t for t in found if t and t != note))

    def chain(self, note: str) -> tuple[list[str], list[str], list[tuple[str, str]]]:
        """(ancestors, descendants, (child, parent) edges among them and ``note``)."""
        ancestors = sorted(nx.ancestors(self.lineage, note) - {note})
        descendants = sorted(nx.descendants(self.lineage, note) - {note})
        members = {note, *ancestors, *descendants}
        edges = sorted((child, parent) for parent, child in self.lineage.subgraph(members).edges)
        return ancestors, descendants, edges

    def lineages(self) -> list[Lineage]:
        """Connected sets of experiments joined by Previous-experiment edges, singletons
        included, ordered by their first root."""
        result = []
        for component in nx.weakly_connected_components(self.lineage):
            members = sorted(component)
            roots = [m for m in members if self.lineage.in_degree(m) == 0]
            edges = sorted(
                (child, parent) for parent, child in self.lineage.subgraph(members).edges
            )
            result.append(Lineage(roots, members, edges))
        result.sort(key=lambda lineage: (lineage.roots or lineage.members)[0])
        return result

    def cycles(self) -> list[list[str]]:
        """Each set of experiments whose Previous-experiment links go round in a circle,
        as one closed path ``[a, b, …, a]`` (child -> parent order)."""
        found = []
        for component in nx.strongly_connected_components(self.lineage):
            start = min(component)
            if len(component) == 1 and not self.lineage.has_edge(start, start):
                continue
            # walk child -> parent: reverse the parent -> child edges
            cycle = nx.find_cycle(self.lineage.subgraph(component).reverse(copy=False), start)
            found.append([edge[0] for edge in cycle] + [cycle[0][0]])
        return sorted(found)


def build_model(vault: Vault) -> VaultModel:
    """Resolve every link, pick out the experiments, and join them into lineages."""
    resolver = Resolver(vault.files)
    model = VaultModel(vault, resolver=resolver)
    for note in vault.notes.values():
        model.notes[note.id] = note
        if is_experiment(note, vault):
            model.experiments.add(note.id)
    for note in vault.notes.values():
        resolved = []
        for link in note.parsed.links:
            resolution = resolver.resolve(link.target, note.path)
            resolved.append(ResolvedLink(note.id, link, resolution))
        model.links[note.id] = resolved
    model.lineage.add_nodes_from(sorted(model.experiments))
    for child in sorted(model.experiments):
        for resolved in model.links[child]:
            parent = resolved.target
            # `[[#Heading]]` points into the note itself: not a parent
            if (
                resolved.link.role == PREVIOUS
                and parent in model.experiments
                and resolved.link.target
            ):
                model.lineage.add_edge(parent, child)
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
