"""The notes vaultkit writes into the vault: the index, one note per lineage, and a JSON
Canvas beside each. Pure: model in, text out; the same vault gives the same bytes.

Which of them need rendering again is the pipeline's business (pipeline.py), not this
module's: every function here renders from the model alone.
"""

from __future__ import annotations

import functools
import hashlib
import json
import math
import re
from collections import defaultdict
from collections.abc import Callable
from typing import Any

from vaultkit.model.check import NoteProblems
from vaultkit.model.compare import one_line as what_changed
from vaultkit.model.compare import settings_in_force
from vaultkit.model.config import Config
from vaultkit.model.metrics import completeness, plain_number
from vaultkit.model.results import RUN, Results, Value, index_metrics, path_to
from vaultkit.model.synced import SyncedProperties
from vaultkit.model.vault_model import Lineage, VaultModel
from vaultkit.obsidian.links import LinkStyle, format_link
from vaultkit.obsidian.resolve import Resolver
from vaultkit.output.formats import (
    SHOWN_DEPTH,
    cell,
    lineage_mermaid,
    mermaid_label,
    one_line,
    status_legend,
)
from vaultkit.records import ERROR, canvas_path, within_bytes

INDEX_BLOCK = "index"
LINEAGE_BLOCK = "lineage"
RECIPE_BLOCK = "recipe"
FORBIDDEN_IN_NAMES = re.compile(r'[*"\\/<>:|?#^\[\]\x00-\x1f\x7f]')
# bytes of a root's name, and of its folder, in its lineage note's name: with " lineage",
# a counter and ".md", the name stays within the 255 bytes a file system stores
LONGEST_NAME = 120
LONGEST_WHERE = 100
STALE_NOTICE = (
    "This lineage no longer exists: its experiments were merged into another lineage or "
    "deleted. vaultkit keeps this note because it holds your text outside this block; "
    "delete the note when you no longer need it."
)


def status_order(status: str | None) -> tuple[int, str]:
    """writing first, done last, other statuses between (alphabetical), no status before done."""
    if status == "writing":
        return (0, "")
    if status == "done":
        return (3, "")
    if status is None:
        return (2, "")
    return (1, status)


def digest(data: str | bytes) -> str:
    return hashlib.sha1(data.encode() if isinstance(data, str) else data).hexdigest()


def _stem(path: str) -> str:
    """A file's name without folder and extension, lower-cased: posixpath.splitext's
    answer for a name that does not start with a dot (the vault hides those)."""
    name = path.rpartition("/")[2]
    stem, dot, _ = name.rpartition(".")
    return (stem if dot else name).lower()


def has_note(lineage: Lineage, config: Config) -> bool:
    """Whether a lineage gets a note of its own: one of two experiments or more, and, with
    `single_lineages = "notes"`, an experiment alone too."""
    return len(lineage.members) > 1 or config.single_lineages == "notes"


def _named_after(note: str, folder: str, suffix: str, taken: set[str]) -> str:
    """`<folder>/<the note's name><suffix>.md`: a name safe to link and shared with no
    file in ``taken`` (lower-cased names, which it joins), so a generated note never
    makes a person's [[link]] ambiguous."""
    name_of_note = FORBIDDEN_IN_NAMES.sub("-", note.rpartition("/")[2]).strip()
    title = within_bytes(name_of_note, LONGEST_NAME).strip() + suffix
    name = title
    if name.lower() in taken:
        where = FORBIDDEN_IN_NAMES.sub("-", note.rpartition("/")[0] or "root")
        name = f"{title} ({within_bytes(where, LONGEST_WHERE)})"
    counter = 2
    while name.lower() in taken:
        name = f"{title} ({counter})"
        counter += 1
    taken.add(name.lower())
    return f"{folder}/{name}.md"


def _persons_names(model: VaultModel) -> set[str]:
    """The names of the files vaultkit did not generate."""
    config = model.vault.config
    return {
        _stem(path)
        for path in model.vault.files
        if not config.in_lineage_folder(path) and not config.in_recipe_folder(path)
    }


def lineage_note_paths(
    model: VaultModel, lineages: list[Lineage], taken: set[str]
) -> dict[int, str]:
    """Each lineage's note path (of those that get one, ``has_note``), named after its
    first root ("EXP-001 baseline lineage"); ``taken`` gets their names."""
    config = model.vault.config
    return {
        index: _named_after(
            (lineage.roots or lineage.members)[0], config.lineage_folder, " lineage", taken
        )
        for index, lineage in enumerate(lineages)
        if has_note(lineage, config)
    }


def recipe_note_paths(model: VaultModel, experiments: list[str], taken: set[str]) -> dict[str, str]:
    """Each recipe note's path, named after its experiment ("EXP-004 merge recipe");
    ``taken`` gets their names."""
    folder = model.vault.config.recipe_folder
    return {note: _named_after(note, folder, " recipe", taken) for note in experiments}


class Layout:
    """Where one build's generated files go, and the links written in them: in the
    vault's link style, as if every generated file already existed (so the next build,
    when they do, writes the same bytes)."""

    def __init__(
        self,
        model: VaultModel,
        lineages: list[Lineage],
        style: LinkStyle,
        previous: Results | None = None,
    ):
        self.model = model
        self.lineages = lineages
        self.style = style
        self.index_path = model.vault.config.index_path
        taken = _persons_names(model)  # the names no generated note may take
        self.lineage_paths = lineage_note_paths(model, lineages, taken)
        self.lineage_of = {m: i for i, lineage in enumerate(lineages) for m in lineage.members}
        self.results = model.results(previous)
        self.index_metrics = index_metrics(model.vault.config, self.results)
        self.recipe_paths = recipe_note_paths(model, self._with_recipes(), taken)
        generated = [self.index_path, *self.lineage_paths.values()]
        generated += [canvas_path(p) for p in self.lineage_paths.values()]
        generated += self.recipe_paths.values()
        self.missing = sorted(set(generated) - set(model.vault.files))
        self.resolver = model.resolver
        if self.missing:
            self.resolver = Resolver([*model.vault.files, *self.missing])
        self._links: dict[tuple[str, str, bool], str] = {}

    def link(self, target: str, source_path: str, in_table: bool = False) -> str:
        """A link to a note (or a generated file) by id or path."""
        # Shortest and absolute links do not depend on where they are written: one per
        # target is enough (the index alone writes thousands).
        folder = source_path.rpartition("/")[0] if self.style.format == "relative" else ""
        key = (target, folder, in_table)
        if key not in self._links:
            note = self.model.notes.get(target)
            path = note.path if note else target
            self._links[key] = format_link(
                path, source_path, self.style, self.resolver, in_table, named=True
            )
        return self._links[key]

    @functools.cached_property
    def synced(self) -> SyncedProperties:
        """The properties `properties_sync` keeps, for this build's experiments."""
        return SyncedProperties(self.model, self.results, self.lineages)

    def _with_recipes(self) -> list[str]:
        """The experiments that get a recipe note (`recipes`): each lineage's best (of the
        lineages with a note), every experiment, or none."""
        wanted = self.model.vault.config.recipes
        if wanted == "all":
            return sorted(self.model.experiments)
        if wanted == "none":
            return []
        bests = (lineage_best(self, self.lineages[n])[1] for n in self.lineage_paths)
        return sorted(best for best in bests if best is not None)

    def lineage_path_of(self, member: str) -> str | None:
        """The lineage note of an experiment; None for one alone in its lineage (it is
        in the index's "Unlinked experiments" table)."""
        return self.lineage_paths.get(self.lineage_of[member])


# -- the index ---------------------------------------------------------------------------

LINEAGE_METRICS = 6  # metric columns of a lineage note's table


def lineage_metrics(results: Results, config_metric: str, lineage: Lineage) -> list[str]:
    """A lineage's metric columns, the one that ranks its experiments first:
    `lineage_metric`, else the one most of its experiments report."""
    names = results.most_reported(lineage.members, LINEAGE_METRICS)
    if config_metric:
        configured = results.name(config_metric)
        names = [configured, *(n for n in names if n != configured)][:LINEAGE_METRICS]
    return names


RUN_MARK = " (run)"  # after a value that comes from a synced MLflow run, not the note
RUN_SOURCE = (
    " A value marked (run) is what a synced MLflow run logged (`vaultkit runs sync`); "
    "the others are the notes' own."
)


def value_text(results: Results, note: str, metric: str) -> str:
    """A value as tables and sentences show it: rounded for reading, `%` where it was
    written, marked `(run)` when only a synced run logged it."""
    return _shown(results.values(note)[metric])


def _shown(found: Value) -> str:
    return plain_number(found.value) + "%" * found.percent + RUN_MARK * (found.source == RUN)


def metric_cell(results: Results, note: str, metric: str) -> str:
    """A value (``value_text``), and ✓ or ✗ where the note sets a threshold for it."""
    found = results.values(note).get(metric)
    if found is None:
        return "—"
    threshold = results.thresholds(note).get(metric)
    if threshold is None:
        return _shown(found)
    met = results.rules.meets(metric, found.value, threshold)
    return f"{_shown(found)} {'✓' if met else '✗'}"


def thresholds_cell(results: Results, note: str) -> str:
    """`✓ 2/2`: how many of the thresholds the note sets its values meet."""
    met, judged = results.thresholds_met(note)
    return f"{'✓' if met == judged else '✗'} {met}/{judged}" if judged else "—"


def index_row(layout: Layout, note: str, problems: NoteProblems) -> str:
    """One experiment's row of the index."""
    model, index_path = layout.model, layout.index_path
    parsed = model.notes[note].parsed
    previous = ", ".join(layout.link(p, index_path, True) for p in model.parents(note))
    found = sorted(problems(note), key=lambda p: (p.severity != ERROR, p.code))
    codes = ", ".join(dict.fromkeys(p.code for p in found)) or "—"
    results = layout.results
    metrics = "".join(f" {metric_cell(results, note, name)} |" for name in layout.index_metrics)
    lineage = layout.lineage_path_of(note)
    return (
        f"| {layout.link(note, index_path, True)} | {previous or '—'} "
        f"| {layout.link(lineage, index_path, True) if lineage else '—'} |{metrics} "
        f"{thresholds_cell(results, note)} | {completeness(parsed.sections)} "
        f"| {model.notes[note].last_change} | {codes} |"
    )


def selected_by(config: Config) -> str:
    """How the vault marks its experiments, in words: the tag, and the property when the
    config names one (either marks a note)."""
    tagged = f"tagged `#{config.experiment_tag}`"
    if not config.experiment_property:
        return tagged
    wanted = " and ".join(f"`{name}: {value}`" for name, value in config.experiment_property)
    return f"with the properties {wanted} or {tagged}"


def index_note(layout: Layout, row: Callable[[str], str]) -> str:
    """The index block: counts per status, each lineage's best, then one table per
    status, newest first; ``row(note)`` gives each experiment's row."""
    model = layout.model
    experiments = sorted(model.experiments)
    by_status: dict[str | None, list[str]] = defaultdict(list)
    for experiment in experiments:
        by_status[model.notes[experiment].parsed.status].append(experiment)
    statuses = sorted(by_status, key=status_order)
    count, lineages = len(experiments), len(layout.lineages)
    lines = [
        "# Experiment index",
        "",
        f"{count} experiment{'s' * (count != 1)} in {lineages} lineage{'s' * (lineages != 1)}. "
        f"Generated by vaultkit from the notes {selected_by(model.vault.config)}; write your "
        "own text outside the vaultkit markers."
        + RUN_SOURCE
        * _from_runs(layout.results, experiments),
        "",
    ]
    if not experiments:
        lines.append('No experiments yet: `vaultkit new-experiment "EXP-001 baseline"`.')
        return "\n".join(lines)
    lines += ["| status | experiments |", "|---|---|"]
    lines += [f"| {status or 'no status'} | {len(by_status[status])} |" for status in statuses]
    lines += _best_of_lineages(layout)
    columns = layout.index_metrics
    for status in statuses:
        members = sorted(by_status[status])  # newest first, then by id
        members.sort(key=lambda n: model.notes[n].last_change, reverse=True)
        lines += [
            "",
            f"## {status or 'no status'} ({len(members)})",
            "",
            "| experiment | previous | lineage | "
            + "".join(f"{cell(name)} | " for name in columns)
            + "thresholds | sections | last change | problems |",
            "|---|---|---|" + "---|" * len(columns) + "---|---|---|---|",
        ]
        lines += [row(member) for member in members]
    return "\n".join(lines)


def _best_of_lineages(layout: Layout) -> list[str]:
    """Each lineage's best experiment by its main metric."""
    index_path = layout.index_path
    lines = [
        "",
        "## Best of each lineage",
        "",
        "| lineage | experiments | ranked by | best | value | thresholds | recipe |",
        "|---|---|---|---|---|---|---|",
    ]
    alone = []
    for number, lineage in enumerate(layout.lineages):
        if number not in layout.lineage_paths:
            alone.extend(lineage.members)
            continue
        link = layout.link(layout.lineage_paths[number], index_path, True)
        names, found = lineage_best(layout, lineage)
        best_cells = "— | — | — | —"
        if found:
            recipe = layout.recipe_paths.get(found)
            best_cells = (
                f"{layout.link(found, index_path, True)} "
                f"| {metric_cell(layout.results, found, names[0])} "
                f"| {thresholds_cell(layout.results, found)} "
                f"| {layout.link(recipe, index_path, True) if recipe else '—'}"
            )
        ranked_by = f"{cell(names[0])} ({_direction(layout, names[0])})" if names else "—"
        lines.append(f"| {link} | {len(lineage.members)} | {ranked_by} | {best_cells} |")
    if len(lines) == 5:  # no lineage of two experiments or more
        lines = []
    return lines + _unlinked(layout, sorted(alone))


def _unlinked(layout: Layout, alone: list[str]) -> list[str]:
    """The experiments that neither grow out of another nor are grown out of: one table,
    not a lineage note each."""
    if not alone:
        return []
    columns = layout.index_metrics
    lines = [
        "",
        f"## Unlinked experiments ({len(alone)})",
        "",
        "No previous experiment and none that follows: each is a lineage of its own.",
        "",
        "| experiment | status |" + "".join(f" {cell(name)} |" for name in columns),
        "|---|---|" + "---|" * len(columns),
    ]
    for note in alone:
        status = layout.model.notes[note].parsed.status or "—"
        values = "".join(f" {metric_cell(layout.results, note, name)} |" for name in columns)
        lines.append(f"| {layout.link(note, layout.index_path, True)} | {status} |{values}")
    return lines


def _direction(layout: Layout, metric: str) -> str:
    higher = layout.results.rules.higher_is_better(metric)
    return "higher is better" if higher else "lower is better"


def _from_runs(results: Results, notes: list[str]) -> bool:
    """Whether any value shown for ``notes`` comes from a run."""
    return any(v.source == RUN for n in notes for v in results.values(n).values())


def lineage_best(layout: Layout, lineage: Lineage) -> tuple[list[str], str | None]:
    """(the lineage's metric columns, the first being the one that ranks it; its best
    experiment by that metric, if any reports it)."""
    results = layout.results
    names = lineage_metrics(results, layout.model.vault.config.lineage_metric, lineage)
    if not names:
        return names, None
    found = results.best(names[0], lineage.members)
    return names, found[0] if found else None


# -- lineage notes -----------------------------------------------------------------------


def ordered_members(model: VaultModel, lineage: Lineage) -> list[str]:
    """Parents before children; a cycle falls back to id order."""
    order = model.lineage.topological_order(lineage.members)
    return list(lineage.members) if order is None else order


def lineage_note(layout: Layout, index: int) -> str:
    model, lineage = layout.model, layout.lineages[index]
    path = layout.lineage_paths[index]
    root = (lineage.roots or lineage.members)[0]
    statuses: dict[str, int] = defaultdict(int)
    for member in lineage.members:
        statuses[model.notes[member].parsed.status or "no status"] += 1
    counts = ", ".join(
        f"{n} {s}"
        for s, n in sorted(
            statuses.items(), key=lambda kv: status_order(None if kv[0] == "no status" else kv[0])
        )
    )
    roots = ", ".join(layout.link(r, path) for r in lineage.roots) or "none (a cycle)"
    size = len(lineage.members)
    members = ordered_members(model, lineage)
    in_force = settings_in_force(members, model.parents, lambda m: model.notes[m].parsed.settings)
    numbers = {member: number for number, member in enumerate(members, 1)}
    names, found = lineage_best(layout, lineage)
    lines = [
        f"# Lineage: {one_line(root.rpartition('/')[2])}",
        "",
        f"{size} experiment{'s' * (size != 1)} ({counts}). Roots: {roots}. "
        f"Canvas: {layout.link(canvas_path(path), path)}",
        "",
        _best_sentence(layout, names, found, path),
        "",
        "```mermaid",
        lineage_mermaid(model, lineage.members, lineage.edges).rstrip("\n"),
        "```",
        "",
        status_legend([model.notes[m].parsed.status for m in lineage.members]),
        "",
        "## Tree",
        "",
    ]
    lines += _outline(layout, lineage, path)
    lines += [
        "",
        "## Chain",
        "",
        "| # | experiment | status | previous | what changed | last change |",
        "|---|---|---|---|---|---|",
    ]
    for member in members:
        parents = model.parents(member)
        previous = ", ".join(layout.link(p, path, True) for p in parents)
        lines.append(
            f"| {numbers[member]} | {layout.link(member, path, True)} "
            f"| {model.notes[member].parsed.status or '—'} | {previous or '—'} "
            f"| {_what_changed(layout, member, parents, path, in_force)} "
            f"| {model.notes[member].last_change} |"
        )
    lines += _metrics(layout, members, names, found, numbers, path)
    return "\n".join(lines)


def _what_changed(
    layout: Layout,
    member: str,
    parents: list[str],
    path: str,
    in_force: dict[str, dict[str, str]],
) -> str:
    """The settings in force that changed from the parent (a setting a note does not
    repeat is its parent's); from each parent, named, for a merge."""

    def change(parent: str) -> str:
        return cell(what_changed(in_force[parent], in_force[member]))

    if len(parents) == 1:
        return change(parents[0]) or "—"
    text = "; ".join(
        f"from {layout.link(p, path, True)}: {change(p) or 'no setting changed'}" for p in parents
    )
    return text or "—"


def _best_sentence(layout: Layout, names: list[str], found: str | None, path: str) -> str:
    """Which experiment is best, by which metric, and whether it meets its thresholds."""
    if not names:
        return (
            "No experiment of this lineage reports a metric yet: write one in its Result "
            "section, as `- mAP@0.5: 0.61` or a table (`| metric | value |`)."
        )
    metric = names[0]
    if found is None:
        return f"No experiment of this lineage reports {metric} yet."
    results = layout.results
    sentence = (
        f"**Best by {one_line(metric)}** ({_direction(layout, metric)}): "
        f"{layout.link(found, path)}, {value_text(results, found, metric)}."
    )
    met, judged = results.thresholds_met(found)
    if judged:
        needs = ", ".join(
            f"{one_line(name)} {'≥' if results.rules.higher_is_better(name) else '≤'} "
            f"{plain_number(limit)}"
            for name, limit in results.thresholds(found).items()
            if name in results.values(found)
        )
        verdict = "all met" if met == judged else f"{met} of {judged} met"
        sentence += f" Thresholds ({needs}): {verdict}."
    recipe = layout.recipe_paths.get(found)
    if recipe:
        sentence += f" How to rebuild it: {layout.link(recipe, path)}."
    return sentence


def _metrics(
    layout: Layout,
    members: list[str],
    names: list[str],
    found: str | None,
    numbers: dict[str, int],
    path: str,
) -> list[str]:
    """The lineage's metrics as a table, and the main metric along the path to the best
    as a chart."""
    results = layout.results
    reported = [m for m in members if results.values(m)]
    if not reported:
        return []
    lines = [
        "",
        "## Metrics",
        "",
        *([RUN_SOURCE.strip(), ""] if _from_runs(results, reported) else []),
        f"| # | experiment | {' | '.join(map(cell, names))} |",
        "|---|---|" + "---|" * len(names),
    ]
    for member in reported:
        cells = " | ".join(metric_cell(results, member, name) for name in names)
        lines.append(f"| {numbers[member]} | {layout.link(member, path, True)} | {cells} |")
    return lines + (_chart(layout, names[0], found, numbers, path) if found else [])


def _chart(layout: Layout, metric: str, top: str, numbers: dict[str, int], path: str) -> list[str]:
    """The metric along one path, from a root to the best experiment: a line across
    sibling branches would join experiments that never built on each other. The x-axis
    shows the Chain table's numbers, which stay short for any name; a long path is
    charted over its last CHART_POINTS values."""
    model, results = layout.model, layout.results

    def value(member: str) -> float | None:
        return results.value(member, metric)

    def finite(member: str) -> bool:
        found = value(member)
        return found is not None and math.isfinite(found)

    steps = path_to(top, model.parents, value, metric, results.rules)
    plotted = [m for m in steps if finite(m)]
    if len(plotted) < 2:
        return []
    trimmed = len(plotted) > CHART_POINTS
    if trimmed:
        plotted = plotted[-CHART_POINTS:]
        steps = steps[steps.index(plotted[0]) :]
    # a root, unless the path was cut short or came round a cycle (which has no root)
    start = f"#{numbers[steps[0]]}" if trimmed or model.parents(steps[0]) else "the root"
    labels = ", ".join(mermaid_label(str(numbers[m])) for m in plotted)
    values = ", ".join(plain_number(value(m) or 0.0) for m in plotted)
    sentence = (
        f"The chart follows the path from {start}"
        + (f" (its last {CHART_POINTS} values)" if trimmed else "")
        + f" to the best, {layout.link(steps[-1], path)}: "
        + " → ".join(f"#{numbers[m]}" for m in steps)
        + "."
    )
    left_out = [m for m in steps if not finite(m)]
    if left_out:
        sentence += (
            " Not in the chart: "
            + ", ".join(
                f"#{numbers[m]} ({one_line(metric)} {plain_number(v)})"
                if (v := value(m)) is not None
                else f"#{numbers[m]} (no {one_line(metric)})"
                for m in left_out
            )
            + "."
        )
    return [
        "",
        "```mermaid",
        *CHART_CONFIG,
        "xychart-beta",
        f"  title {mermaid_label(f'{metric} from {start} to the best')}",
        f"  x-axis {mermaid_label('# in the Chain table')} [{labels}]",
        f"  y-axis {mermaid_label(metric)}",
        f"  line [{values}]",
        "```",
        "",
        sentence,
    ]


CHART_POINTS = 30  # a path's last points charted: more labels would overlap on a note page

# The chart's line in a mid blue that reads on Obsidian's light and dark backgrounds
# alike (Mermaid's default theme draws it in a pale lavender, barely visible on white).
CHART_CONFIG = (
    "---",
    "config:",
    "  themeVariables:",
    "    xyChart:",
    '      plotColorPalette: "#1c7ed6"',
    "---",
)


def _outline(layout: Layout, lineage: Lineage, path: str) -> list[str]:
    """The tree as nested list items of real wikilinks; a merge appears under each
    parent, expanded once. Generations below SHOWN_DEPTH are listed at that depth."""
    model = layout.model
    lines = []
    for line in model.lineage.tree(lineage.roots or lineage.members[:1]):
        status = model.notes[line.node].parsed.status or "no status"
        item = f"{'    ' * min(line.depth, SHOWN_DEPTH)}- {layout.link(line.node, path)} · {status}"
        if line.depth > SHOWN_DEPTH:
            item += f" · generation {line.depth}"
        lines.append(item + (" · (continued above)" if line.repeated else ""))
    return lines


# -- canvases ----------------------------------------------------------------------------

Item = dict[str, Any]  # a JSON Canvas node or edge
CANVAS_COLORS = {"done": "4", "writing": "3"}
CANVAS_PREFIX = "vk"


def canvas_id(kind: str, key: str) -> str:
    """Stable 16-character ids, like Obsidian's, derived from the note path."""
    return CANVAS_PREFIX + digest(f"{kind}:{key}")[:14]


def is_generated_canvas_item(item: Item) -> bool:
    return str(item.get("id", "")).startswith(CANVAS_PREFIX) and len(str(item.get("id"))) == 16


def lineage_canvas(layout: Layout, index: int) -> tuple[list[Item], list[Item]]:
    """The lineage as JSON Canvas 1.0 nodes and edges, left to right (``merge_canvas``
    puts them into the canvas a person may have edited)."""
    model, lineage = layout.model, layout.lineages[index]
    depth = model.lineage.depths(lineage.members, lineage.roots)
    rows: dict[int, int] = defaultdict(int)
    nodes, edges = [], []
    for member in ordered_members(model, lineage):
        level = depth[member]
        node: Item = {
            "id": canvas_id("node", member),
            "type": "file",
            "file": model.notes[member].path,
            "x": level * 480,
            "y": rows[level] * 300,
            "width": 400,
            "height": 240,
        }
        rows[level] += 1
        color = CANVAS_COLORS.get(model.notes[member].parsed.status or "")
        if color:
            node["color"] = color
        nodes.append(node)
    for child, parent in lineage.edges:
        edges.append(
            {
                "id": canvas_id("edge", f"{parent}->{child}"),
                "fromNode": canvas_id("node", parent),
                "fromSide": "right",
                "toNode": canvas_id("node", child),
                "toSide": "left",
            }
        )
    return nodes, edges


def merge_canvas(existing: Item | None, nodes: list[Item], edges: list[Item]) -> Item:
    """Generated nodes and edges merged into a canvas a person may have edited: nodes a
    person moved or resized keep their place; cards and edges a person added stay."""
    existing = existing or {}
    old_nodes = [n for n in canvas_items(existing, "nodes") if isinstance(n, dict)]
    old_edges = [e for e in canvas_items(existing, "edges") if isinstance(e, dict)]
    placed = {n["id"]: n for n in old_nodes if is_generated_canvas_item(n)}
    merged_nodes = []
    for node in nodes:
        old = placed.get(node["id"])
        if old:
            node = {**node, **{k: old[k] for k in _PLACE if isinstance(old.get(k), int)}}
        merged_nodes.append(node)
    merged_nodes += [n for n in old_nodes if not is_generated_canvas_item(n)]
    merged_edges = edges + [e for e in old_edges if not is_generated_canvas_item(e)]
    others = {k: v for k, v in existing.items() if k not in ("nodes", "edges")}  # a tool's
    return {"nodes": merged_nodes, "edges": merged_edges, **others}


_PLACE = ("x", "y", "width", "height")


def canvas_items(canvas: Item, key: str) -> list[Any]:
    """A canvas's `nodes` or `edges`: a list, whatever a person or a tool left there
    (`null`, a number) counting as none."""
    found = canvas.get(key)
    return found if isinstance(found, list) else []


# json.dumps with options makes a new encoder per call; a canvas has thousands of items
_json_item = json.JSONEncoder(ensure_ascii=False).encode


def canvas_text(canvas: Item) -> str:
    """One node or edge per line: readable in a git diff, and fast to write."""
    parts = []
    for key in ("nodes", "edges"):
        items = ",\n\t\t".join(map(_json_item, canvas[key]))
        parts.append(f'\t"{key}": [\n\t\t{items}\n\t]' if items else f'\t"{key}": []')
    parts += [
        f"\t{_json_item(key)}: {_json_item(value)}"
        for key, value in canvas.items()
        if key not in ("nodes", "edges")
    ]
    return "{\n" + ",\n".join(parts) + "\n}\n"
