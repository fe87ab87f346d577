"""The notes vaultkit writes into the vault: the index, one note per lineage, and a JSON
Canvas beside each. Pure: model in, text out; the same vault gives the same bytes."""

from __future__ import annotations

import functools
import hashlib
import json
import posixpath
import re
from collections import defaultdict

from vaultkit.model.check import NoteProblems
from vaultkit.model.compare import one_line
from vaultkit.model.config import LinkStyle
from vaultkit.model.metrics import completeness
from vaultkit.model.records import ERROR, PREVIOUS
from vaultkit.model.vault_model import Lineage, VaultModel, files_digest
from vaultkit.obsidian.links import format_link
from vaultkit.obsidian.resolve import Resolver, name_key
from vaultkit.output.formats import iso_day, lineage_mermaid

INDEX_BLOCK = "index"
LINEAGE_BLOCK = "lineage"
FORBIDDEN_IN_NAMES = re.compile(r'[*"\\/<>:|?#^\[\]]')
DATE_PROPERTIES = ("updated", "modified", "last_modified", "date", "created")
_DATE_RE = re.compile(r"\d{4}-\d{2}-\d{2}")


def last_change(model: VaultModel, note_id: str) -> str:
    """YYYY-MM-DD: a date property the team keeps (`updated`, `modified`, …), else the
    file's modification day. (File times differ between clones; a property does not.)"""
    return _last_change(model.notes[note_id])


@functools.lru_cache(maxsize=65536)
def _last_change(note) -> str:
    lowered = {str(k).lower(): v for k, v in note.parsed.properties.items()}
    for key in DATE_PROPERTIES:
        value = lowered.get(key)
        if isinstance(value, str) and _DATE_RE.match(value):
            return value[:10]
    return iso_day(note.mtime_ns)


def status_order(status: str | None) -> tuple:
    """writing first, done last, other statuses between (alphabetical), no status before done."""
    if status == "writing":
        return (0, "")
    if status == "done":
        return (3, "")
    if status is None:
        return (2, "")
    return (1, status)


def _digest(text: str) -> str:
    return hashlib.sha1(text.encode()).hexdigest()


def _stem(path: str) -> str:
    """A file's name without folder and extension, lower-cased: posixpath.splitext's
    answer for a name that does not start with a dot (the vault hides those)."""
    name = path.rpartition("/")[2]
    stem, dot, _ = name.rpartition(".")
    return (stem if dot else name).lower()


def _came_or_went(known: tuple | None, now: tuple) -> tuple[set[str], set[str]] | None:
    """The keys (``resolve.name_key``) of the files that came or went between the files
    the known rows and lineages were rendered against and ``now``: (for the model's
    resolution, for the links'). None when not known: then every one counts."""
    if known is None:
        return None
    (files_then, missing_then), (files, missing) = known, now
    for_model = set(files_then).symmetric_difference(files)
    for_links = {*files_then, *missing_then}.symmetric_difference({*files, *missing})
    return set(map(name_key, for_model)), set(map(name_key, for_links))


def lineage_names(model: VaultModel, lineages: list[Lineage]) -> dict[int, str]:
    """Each lineage's note path, named after its first root ("EXP-001 baseline lineage").
    Names are safe to link and shared with no other note, so a generated note never makes
    a person's [[link]] ambiguous."""
    config = model.vault.config
    taken = {_stem(path) for path in model.vault.files if not config.in_lineage_folder(path)}
    paths: dict[int, str] = {}
    for index, lineage in enumerate(lineages):
        root = (lineage.roots or lineage.members)[0]
        title = FORBIDDEN_IN_NAMES.sub("-", root.rsplit("/", 1)[-1]).strip() + " lineage"
        name = title
        if name.lower() in taken:
            where = FORBIDDEN_IN_NAMES.sub("-", root.rsplit("/", 1)[0] if "/" in root else "root")
            name = f"{title} ({where.replace('/', '-')})"
        counter = 2
        while name.lower() in taken:
            name = f"{title} ({counter})"
            counter += 1
        taken.add(name.lower())
        paths[index] = f"{config.lineage_folder.strip('/')}/{name}.md"
    return paths


class Renderer:
    """Renders the generated notes of one model with the vault's link style."""

    def __init__(
        self,
        model: VaultModel,
        style: LinkStyle,
        link_cache: dict | None = None,
        known_rows: dict[str, tuple[str, str]] | None = None,
        known_files: tuple | None = None,
    ):
        self.model = model
        self.style = style
        self.lineages = model.lineages()
        config = model.vault.config
        self.lineage_paths = lineage_names(model, self.lineages)
        # Links are written as if every generated file already existed, so the next build
        # (when they do) writes the same bytes.
        generated = [config.index_path, *self.lineage_paths.values()]
        generated += [p[:-3] + ".canvas" for p in self.lineage_paths.values()]
        missing = set(generated) - set(model.vault.files)
        # What this build's links resolve against, for the next one (``_row_touched``).
        self.files = (tuple(model.vault.files), tuple(sorted(missing)))
        self._came_or_went = _came_or_went(known_files, self.files)
        # The files links are written against; its digest changes when one appears or goes
        # (not when a generated file is merely written for the first time).
        self.resolver, self.files_version = model.resolver, model.files_version
        if missing:
            files = {*model.vault.files, *missing}
            self.resolver, self.files_version = Resolver(files), files_digest(files)
        # Link texts can be reused across builds while no file appears or goes.
        self._links: dict = {} if link_cache is None or missing else link_cache
        version = (self.files_version, style)
        if self._links.get("version") != version:
            self._links.clear()
            self._links["version"] = version
        self._order: dict[int, list[str]] = {}
        self.lineage_of = {m: i for i, ln in enumerate(self.lineages) for m in ln.members}
        self.problems = NoteProblems(model)
        # Index rows of the last build by experiment: (signature, text); and this one's.
        self.known_rows = known_rows or {}
        self.rows: dict[str, tuple[str, str]] = {}
        self.index_path = config.index_path
        # what every index row is made of besides its own note (see index_row_signature)
        self._row_context = repr((style, self.index_path, model.vault.templates_folder))

    def link(self, target_id: str, source_path: str, in_table: bool = False) -> str:
        # Shortest and absolute links do not depend on where they are written: one per
        # target is enough (the index alone writes thousands).
        where = posixpath.dirname(source_path) if self.style.format == "relative" else ""
        key = (target_id, where, in_table)
        if key not in self._links:
            note = self.model.notes.get(target_id)
            target = note.path if note else target_id
            self._links[key] = format_link(target, source_path, self.style, self.resolver, in_table)
        return self._links[key]

    def _problem_cell(self, note_id: str) -> str:
        found = self.problems(note_id)
        if not found:
            return "—"
        ordered = sorted(found, key=lambda p: (p.severity != ERROR, p.code))
        return ", ".join(dict.fromkeys(p.code for p in ordered))

    # -- index ----------------------------------------------------------------------

    def index(self) -> str:
        """The index block: counts per status, then one table per status, newest first."""
        experiments = sorted(self.model.experiments)
        by_status: dict[str | None, list[str]] = defaultdict(list)
        for note_id in experiments:
            by_status[self.model.notes[note_id].parsed.status].append(note_id)
        statuses = sorted(by_status, key=status_order)
        tag = self.model.vault.config.experiment_tag
        lines = [
            "# Experiment index",
            "",
            f"{len(experiments)} experiment{'s' * (len(experiments) != 1)} in "
            f"{len(self.lineages)} lineage{'s' * (len(self.lineages) != 1)}. Generated by "
            f"vaultkit from the notes tagged `#{tag}`; write your own text outside the "
            "vaultkit markers.",
            "",
        ]
        if not experiments:
            lines.append('No experiments yet: `vaultkit new-experiment "EXP-001 baseline"`.')
            return "\n".join(lines)
        lines += ["| status | experiments |", "|---|---|"]
        lines += [f"| {status or 'no status'} | {len(by_status[status])} |" for status in statuses]
        for status in statuses:
            members = sorted(by_status[status])  # newest first, then by id
            members.sort(key=lambda n: last_change(self.model, n), reverse=True)
            lines += [
                "",
                f"## {status or 'no status'} ({len(members)})",
                "",
                "| experiment | previous | lineage | sections | last change | problems |",
                "|---|---|---|---|---|---|",
            ]
            lines += [self.index_row(note_id) for note_id in members]
        return "\n".join(lines)

    def index_row(self, note_id: str) -> str:
        """One experiment's row; the last build's text when its signature is the same."""
        signature = self.index_row_signature(note_id)
        index_path = self.index_path
        known = self.known_rows.get(note_id)
        if known is not None and known[0] == signature and not self._row_touched(note_id):
            row = known[1]
        else:
            previous = ", ".join(
                self.link(p, index_path, True) for p in self.model.parents(note_id)
            )
            lineage_path = self.lineage_paths[self.lineage_of[note_id]]
            row = (
                f"| {self.link(note_id, index_path, True)} | {previous or '—'} "
                f"| {self.link(lineage_path, index_path, True)} "
                f"| {completeness(self.model.notes[note_id].parsed.sections)} "
                f"| {last_change(self.model, note_id)} | {self._problem_cell(note_id)} |"
            )
        self.rows[note_id] = (signature, row)
        return row

    def index_row_signature(self, note_id: str) -> str:
        """A digest of everything an index row is made of, but the files its links
        resolve against (see ``_row_touched``). The note stands in by its file's stat key (as
        for lineage notes); its lineage by its note's path; its parents by where its
        Previous-experiment links go; its problems by those found outside its own check."""
        model = self.model
        previous = [
            (r.target, r.target in model.experiments)
            for r in model.links.get(note_id, [])
            if r.link.role == PREVIOUS
        ]
        made_of = (
            model.notes[note_id].stat_key,
            self.lineage_paths[self.lineage_of[note_id]],
            previous,
            self.problems.elsewhere.get(note_id),
        )
        return _digest(f"{self._row_context}{made_of!r}")

    # -- lineage notes --------------------------------------------------------------

    def ordered_members(self, index: int) -> list[str]:
        """Parents before children; a cycle falls back to id order."""
        if index not in self._order:
            lineage = self.lineages[index]
            order = self.model.lineage.topological_order(lineage.members)
            self._order[index] = list(lineage.members) if order is None else order
        return self._order[index]

    def lineage_signature(self, index: int) -> str:
        """A digest of everything a lineage note and canvas are made of; equal signatures,
        equal text. A member stands in by its file's stat key: what vaultkit reads from an
        unchanged file does not change (the parse cache rests on the same fact, and both
        are dropped when vaultkit's version changes)."""
        lineage = self.lineages[index]
        made_of = (
            [(m, self.model.notes[m].stat_key) for m in lineage.members],
            lineage.edges,
            lineage.roots,
            self.style,
            self.model.vault.config.lineage_metric,
        )
        return _digest(repr(made_of))

    # -- what files that came or went since the last build touch --------------------

    def _row_touched(self, note_id: str) -> bool:
        """Whether a file came or went, since the known rows were rendered, that one of
        this row's links could resolve to: its problems (every link of the note, as the
        model resolves them) or its link texts (the note, its parents, its lineage)."""
        if self._came_or_went is None:
            return True
        for_model, for_links = self._came_or_went
        note = self.model.notes[note_id]
        if for_model and any(
            name_key(link.target, note.path) in for_model for link in note.parsed.links
        ):
            return True
        linked = [note.path, *(self.model.notes[p].path for p in self.model.parents(note_id))]
        linked.append(self.lineage_paths[self.lineage_of[note_id]])
        return bool(for_links) and not for_links.isdisjoint(map(name_key, linked))

    def lineage_touched(self, index: int) -> bool:
        """Whether a file came or went, since the known lineage notes were rendered, that
        a link in this one could resolve to: its members (by the model, for the chart, and
        by the links) and its canvas."""
        if self._came_or_went is None:
            return True
        for_model, for_links = self._came_or_went
        if not for_model and not for_links:
            return False
        members = {name_key(self.model.notes[m].path) for m in self.lineages[index].members}
        canvas = name_key(self.lineage_paths[index][:-3] + ".canvas")
        touched = not members.isdisjoint(for_model) or not members.isdisjoint(for_links)
        return touched or canvas in for_links

    def lineage_note(self, index: int) -> str:
        lineage = self.lineages[index]
        path = self.lineage_paths[index]
        canvas = path[:-3] + ".canvas"
        root = (lineage.roots or lineage.members)[0]
        statuses = defaultdict(int)
        for member in lineage.members:
            statuses[self.model.notes[member].parsed.status or "no status"] += 1
        counts = ", ".join(
            f"{n} {s}"
            for s, n in sorted(
                statuses.items(),
                key=lambda kv: status_order(None if kv[0] == "no status" else kv[0]),
            )
        )
        roots = ", ".join(self.link(r, path) for r in lineage.roots) or "none (a cycle)"
        size = len(lineage.members)
        lines = [
            f"# Lineage: {root.rsplit('/', 1)[-1]}",
            "",
            f"{size} experiment{'s' * (size != 1)} ({counts}). Roots: {roots}. "
            f"Canvas: {format_link(canvas, path, self.style, self.resolver)}",
            "",
            "```mermaid",
            lineage_mermaid(self.model, lineage.members, lineage.edges).rstrip("\n"),
            "```",
            "",
            "## Tree",
            "",
        ]
        lines += self._outline(lineage, path)
        lines += [
            "",
            "## Chain",
            "",
            "| # | experiment | status | previous | what changed | last change |",
            "|---|---|---|---|---|---|",
        ]
        for number, member in enumerate(self.ordered_members(index), 1):
            parents = self.model.parents(member)
            previous = ", ".join(self.link(p, path, True) for p in parents)
            lines.append(
                f"| {number} | {self.link(member, path, True)} "
                f"| {self.model.notes[member].parsed.status or '—'} | {previous or '—'} "
                f"| {self._what_changed(member, parents) or '—'} "
                f"| {last_change(self.model, member)} |"
            )
        lines += self._metrics(index, path)
        return "\n".join(lines)

    def _what_changed(self, member: str, parents: list[str]) -> str:
        """The settings that changed from the (first) previous experiment."""
        if not parents:
            return ""
        new = self.model.notes[member].parsed
        return one_line(self.model.notes[parents[0]].parsed, new).replace("|", "\\|")

    def _main_metric(self, counts: dict[str, int]) -> str | None:
        """The configured `lineage_metric`, else the first metric most members report."""
        configured = self.model.vault.config.lineage_metric
        if configured or not counts:
            return configured or None
        return max(counts, key=lambda name: counts[name])  # the first of the most shared

    def _metrics(self, index: int, path: str) -> list[str]:
        """The chain's metrics as a table, and the main metric's trend as a chart."""
        members = self.ordered_members(index)
        reported = [m for m in members if self.model.notes[m].parsed.metrics]
        if not reported:
            return []
        counts: dict[str, int] = {}  # members reporting each metric, first appearance first
        for member in reported:
            for name in self.model.notes[member].parsed.metrics:
                counts[name] = counts.get(name, 0) + 1
        names = sorted(counts, key=lambda name: (-counts[name], name))[:6]
        lines = [
            "",
            "## Metrics",
            "",
            "| experiment | " + " | ".join(names) + " |",
            "|---|" + "---|" * len(names),
        ]
        for member in reported:
            values = self.model.notes[member].parsed.metrics
            cells = [f"{values[n]:g}" if n in values else "—" for n in names]
            lines.append(f"| {self.link(member, path, True)} | " + " | ".join(cells) + " |")
        metric = self._main_metric(counts)
        points = [(m, self.model.notes[m].parsed.metrics.get(metric)) for m in members]
        points = [(m, v) for m, v in points if v is not None]
        if metric and len(points) >= 2:
            labels = ", ".join(_chart_label(m.rsplit("/", 1)[-1]) for m, _ in points)
            lines += [
                "",
                "```mermaid",
                "xychart-beta",
                f"  title {_chart_label(metric + ' along the chain')}",
                f"  x-axis [{labels}]",
                f"  y-axis {_chart_label(metric)}",
                f"  line [{', '.join(f'{v:g}' for _, v in points)}]",
                "```",
            ]
        return lines

    def _outline(self, lineage: Lineage, path: str) -> list[str]:
        """The tree as nested list items of real wikilinks; a merge appears under each
        parent, expanded once."""
        lines: list[str] = []
        expanded: set[str] = set()

        def visit(note_id: str, depth: int):
            status = self.model.notes[note_id].parsed.status or "no status"
            item = f"{'    ' * depth}- {self.link(note_id, path)} · {status}"
            if note_id in expanded:
                lines.append(item + " · (continued above)")
                return
            expanded.add(note_id)
            lines.append(item)
            for child in self.model.children(note_id):
                visit(child, depth + 1)

        for start in lineage.roots or lineage.members[:1]:
            visit(start, 0)
        return lines

    # -- canvas ---------------------------------------------------------------------

    def canvas(self, index: int, existing: dict | None) -> dict:
        """The lineage as JSON Canvas 1.0, left to right. Nodes a person moved or resized
        keep their place; cards and edges a person added stay."""
        lineage = self.lineages[index]
        depth = self.model.lineage.depths(lineage.members, lineage.roots)
        rows: dict[int, int] = defaultdict(int)
        generated_nodes, generated_edges = [], []
        for member in self.ordered_members(index):
            level = depth[member]
            node = {
                "id": canvas_id("node", member),
                "type": "file",
                "file": self.model.notes[member].path,
                "x": level * 480,
                "y": rows[level] * 300,
                "width": 400,
                "height": 240,
            }
            rows[level] += 1
            color = CANVAS_COLORS.get(self.model.notes[member].parsed.status or "")
            if color:
                node["color"] = color
            generated_nodes.append(node)
        for child, parent in lineage.edges:
            generated_edges.append(
                {
                    "id": canvas_id("edge", f"{parent}->{child}"),
                    "fromNode": canvas_id("node", parent),
                    "fromSide": "right",
                    "toNode": canvas_id("node", child),
                    "toSide": "left",
                }
            )
        return merge_canvas(existing, generated_nodes, generated_edges)


def _chart_label(text: str) -> str:
    """A quoted xychart string: Mermaid has no escape for '"' inside one."""
    return '"' + text.replace('"', "'") + '"'


CANVAS_COLORS = {"done": "4", "writing": "3"}
CANVAS_PREFIX = "vk"


def canvas_id(kind: str, key: str) -> str:
    """Stable 16-character ids, like Obsidian's, derived from the note path."""
    return CANVAS_PREFIX + _digest(f"{kind}:{key}")[:14]


def is_generated_canvas_item(item: dict) -> bool:
    return str(item.get("id", "")).startswith(CANVAS_PREFIX) and len(str(item.get("id"))) == 16


def merge_canvas(existing: dict | None, nodes: list[dict], edges: list[dict]) -> dict:
    """Generated nodes and edges merged into a canvas a person may have edited."""
    existing = existing or {}
    old_nodes = [n for n in existing.get("nodes", []) if isinstance(n, dict)]
    old_edges = [e for e in existing.get("edges", []) if isinstance(e, dict)]
    placed = {n["id"]: n for n in old_nodes if is_generated_canvas_item(n)}
    for node in nodes:
        old = placed.get(node["id"])
        if old:
            for key in ("x", "y", "width", "height"):
                if isinstance(old.get(key), int):
                    node[key] = old[key]
    merged_nodes = nodes + [n for n in old_nodes if not is_generated_canvas_item(n)]
    merged_edges = edges + [e for e in old_edges if not is_generated_canvas_item(e)]
    return {"nodes": merged_nodes, "edges": merged_edges}


# json.dumps with options makes a new encoder per call; a canvas has thousands of items
_json_item = json.JSONEncoder(ensure_ascii=False).encode


def canvas_text(canvas: dict) -> str:
    """One node or edge per line: readable in a git diff, and fast to write."""
    parts = []
    for key in ("nodes", "edges"):
        items = ",\n\t\t".join(map(_json_item, canvas[key]))
        parts.append(f'\t"{key}": [\n\t\t{items}\n\t]' if items else f'\t"{key}": []')
    return "{\n" + ",\n".join(parts) + "\n}\n"
