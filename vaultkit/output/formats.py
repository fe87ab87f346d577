"""Command output as text: tables, trees, JSON, CSV, Mermaid, DOT, GraphML. Pure."""

from __future__ import annotations

import csv
import io
import json
import re
from collections import Counter, defaultdict
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol

from vaultkit.model.compare import Comparison, MetricChange, MetricRow, SideBySide
from vaultkit.model.digraph import Digraph
from vaultkit.model.metrics import plain_number
from vaultkit.model.recipe import Recipe
from vaultkit.model.runs import TrackedRun
from vaultkit.model.vault_model import Lineage, VaultModel
from vaultkit.obsidian.syntax import scan_inline
from vaultkit.records import LINK, Edge, Problem, utc_time

if TYPE_CHECKING:  # networkx is imported by the graph exports only: it is slow to import
    import networkx as nx


def to_json(data: Any) -> str:
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


def iso_utc(mtime_ns: int) -> str:
    return utc_time(mtime_ns / 1e9).replace(tzinfo=None).isoformat(timespec="seconds") + "Z"


# -- list -------------------------------------------------------------------------------


def list_csv(records: Sequence[Mapping[str, Any]], metrics: list[str]) -> str:
    """The records as CSV, with a column for each of ``metrics`` after the fields."""
    out = io.StringIO()
    columns = [
        "id",
        "path",
        "title",
        "status",
        "tags",
        "previous",
        "next",
        "related",
        "references",
        "modified",
    ]
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(columns + metrics)
    for record in records:
        cells = [
            "; ".join(v) if isinstance(v, list) else ("" if v is None else v)
            for v in (record[c] for c in columns)
        ]
        writer.writerow(cells + [number(record["metrics"].get(name)) for name in metrics])
    return out.getvalue()


def number(value: float | None) -> str:
    """A metric value as a plain decimal (`0.671`, `12`), or empty."""
    return "" if value is None else plain_number(value)


def _aligned(cells: list[list[str]]) -> list[str]:
    """Rows of cells as lines, each column as wide as its widest cell (the last one
    unpadded), two spaces apart."""
    widths = [max(map(len, column)) for column in zip(*cells, strict=True)]
    return [
        (
            "  ".join(f"{cell:<{width}}" for cell, width in zip(line[:-1], widths, strict=False))
            + "  "
            + line[-1]
        ).rstrip()
        for line in cells
    ]


def list_table(
    rows: list[tuple[str | None, str | None, str, list[str]]],
    noun: str,
    extra: tuple[str, list[str]] | None = None,
) -> str:
    """One line per note: status, completeness (answered template sections, for an
    experiment), id and previous experiments, and an ``extra`` (heading, cells) column
    before the last; then the counts per status."""
    if not rows:
        return f"No {noun}s found.\n"
    cells = [["STATUS", "SECTIONS", "NOTE", "PREVIOUS"]]
    cells += [[s or "-", c or "-", n, ", ".join(p) or "-"] for s, c, n, p in rows]
    if extra is not None:
        heading, values = extra
        for line, value in zip(cells, [heading, *values], strict=True):
            line.insert(3, value or "-")
    lines = _aligned(cells)
    counts = Counter(status or "no status" for status, *_ in rows)
    summary = ", ".join(
        f"{n} {s}" for s, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    )
    plural = noun if len(rows) == 1 else noun + "s"
    return "\n".join(lines) + f"\n\n{len(rows)} {plural}: {summary}\n"


def runs_table(runs: list[TrackedRun], orphans: bool) -> str:
    """One line per tracker run: id, status, name, and the notes that name it (for a run
    no note names whose parent run a note names, a sweep's trial: that it is a child)."""
    if not runs:
        return "No runs without a note.\n" if orphans else "No runs in the tracking store.\n"

    def notes(tracked: TrackedRun) -> str:
        if tracked.notes:
            return ", ".join(tracked.notes)
        if tracked.parent_notes:
            parent = tracked.run.parent_id
            return f"- (a child of run {parent}, which {', '.join(tracked.parent_notes)} names)"
        return "-"

    cells = [["RUN", "STATUS", "NAME", "NOTES"]]
    cells += [[t.run.id, t.run.status, t.run.name or "-", notes(t)] for t in runs]
    widths = [max(len(line[i]) for line in cells) for i in range(3)]
    lines = [
        "  ".join(f"{c:<{w}}" for c, w in zip(line[:3], widths, strict=True)) + "  " + line[3]
        for line in cells
    ]
    without = sum(not t.notes for t in runs)
    lines += ["", f"{len(runs)} run{'s' * (len(runs) != 1)}, {without} without a note"]
    return "\n".join(line.rstrip() for line in lines) + "\n"


# -- lineage ----------------------------------------------------------------------------


class LineageSource(Protocol):
    """What drawing a lineage needs: the graph and each experiment's status and link
    name (``VaultModel`` and ``LineageView`` both are one)."""

    lineage: Digraph

    def status(self, note: str) -> str | None: ...

    def link_name(self, note: str) -> str: ...


def _marker(model: LineageSource, note_id: str) -> str:
    status = model.status(note_id)
    return f"[{status}]" if status else "[no status]"


SHOWN_DEPTH = 12  # deeper generations are drawn at this indentation, with their number


def lineage_tree(
    model: LineageSource,
    lineage: Lineage,
    focus: str | None = None,
    scope: set[str] | None = None,
) -> str:
    """A lineage as an indented tree from its roots; a merge is printed once in full and
    then referred to. ``scope``: what the lineage held before it was cut down (children
    cut off are counted: "… 2 more below")."""
    members = set(lineage.members)
    starts = lineage.roots or [min(members)]
    lines: list[str] = []
    columns: list[str] = []  # what each shown level above draws: "│   " or "    "
    for line in model.lineage.tree(starts, members, scope):
        level = min(line.depth, SHOWN_DEPTH)
        label = f"{one_line(line.node)}  {_marker(model, line.node)}"
        if line.depth > SHOWN_DEPTH:
            label += f"  (generation {line.depth})"
        if line.node == focus:
            label += "  <- this note"
        if line.repeated:
            label += "  (shown above)"
        connector = "" if level == 0 else "└── " if line.last else "├── "
        del columns[max(level - 1, 0) :]
        lines.append("".join(columns) + connector + label)
        below = "" if level == 0 else "    " if line.last else "│   "
        if 0 < level < SHOWN_DEPTH:
            columns.append(below)
        if line.hidden:
            more = "  " if level == 0 else "".join(columns[: level - 1]) + below
            lines.append(f"{more}… {line.hidden} more below (raise --depth)")
    return "\n".join(lines) + "\n"


def cell(text: str) -> str:
    """Text as one Markdown table cell: on one line, its `|` escaped."""
    return one_line(text).replace("|", "\\|")


def one_line(text: str) -> str:
    """Text on one line: a file name may hold line breaks, which would break a table row
    or a tree (or, in a managed block, start a line of its own)."""
    if "\n" in text or "\r" in text:
        return text.replace("\r\n", " ").replace("\n", " ").replace("\r", " ")
    return text


def lineage_text(
    model: LineageSource,
    lineages: list[Lineage],
    focus: str | None = None,
    scope: set[str] | None = None,
) -> str:
    if not lineages:
        return "No experiments found.\n"
    return "\n".join(lineage_tree(model, found, focus, scope) for found in lineages)


_MERMAID_SAFE = frozenset(" -_.")


def mermaid_label(text: str) -> str:
    """Any text as a quoted Mermaid string that shows exactly that text, in a flowchart
    node and in a chart alike: every character but letters, digits and ` -_.` becomes a
    `#NN;` entity, which Mermaid decodes after parsing, so no `"`, `#`, `%%`, `<`, `&`,
    backtick or `$` can be read as syntax, HTML, a comment or math; so do spaces at either
    end, which Mermaid would trim; and the `d` of `direction`, which Mermaid reads as a
    statement even inside a label (docs/obsidian-rules.md, "Mermaid and Canvas")."""
    text = one_line(text)
    inside = range(len(text) - len(text.lstrip(" ")), len(text.rstrip(" ")))
    escaped = "".join(
        char if (char.isalnum() or char in _MERMAID_SAFE) and index in inside else f"#{ord(char)};"
        for index, char in enumerate(text)
    )
    return '"' + escaped.replace("direction", "#100;irection") + '"'


LEFT_TO_RIGHT_GENERATIONS = 4  # deeper lineages are drawn top-down


def flowchart_direction(model: LineageSource, members: list[str], edges: list[Edge]) -> str:
    """`LR` while the lineage is at most LEFT_TO_RIGHT_GENERATIONS deep, which fits a note
    page's width; `TD` for deeper ones, which grow down the page (a note scrolls down,
    and a wide chart is shrunk until its names are unreadable)."""
    children = {child for child, _ in edges}
    roots = [m for m in members if m not in children]
    deepest = max(model.lineage.depths(members, roots).values(), default=0)
    return "LR" if deepest < LEFT_TO_RIGHT_GENERATIONS else "TD"


def lineage_mermaid(model: LineageSource, members: list[str], edges: list[Edge]) -> str:
    """A flowchart whose nodes open their notes in Obsidian (``internal-link``) and carry
    their status as a class."""
    ids = {member: f"n{index}" for index, member in enumerate(sorted(members), 1)}
    lines = [f"flowchart {flowchart_direction(model, members, edges)}"]
    for member in sorted(members):
        # the node's text is what Obsidian opens on a click: a name that resolves to it
        lines.append(f"  {ids[member]}[{mermaid_label(model.link_name(member))}]")
    for child, parent in sorted(edges):
        lines.append(f"  {ids[parent]} --> {ids[child]}")
    by_status = defaultdict(list)
    for member in sorted(members):
        by_status[_css_class(model.status(member))].append(ids[member])
    if ids:
        lines.append(f"  class {','.join(ids.values())} internal-link;")
    for css_class, nodes in sorted(by_status.items()):
        status = css_class.removeprefix("st_")
        style = STATUS_COLOURS.get(status, OTHER_COLOUR)[1]
        lines.append(f"  classDef {css_class} {style};")
        lines.append(f"  class {','.join(nodes)} {css_class};")
    return "\n".join(lines) + "\n"


# One colour per known status (name for the legend, Mermaid style); any other status,
# and none, is grey. Light fills with dark strokes read on light and dark themes alike.
STATUS_COLOURS = {
    "writing": ("yellow", "fill:#fff3bf,stroke:#e67700"),
    "pending": ("blue", "fill:#e7f5ff,stroke:#1971c2"),
    "reading": ("cyan", "fill:#e3fafc,stroke:#0c8599"),
    "postpone": ("violet", "fill:#f3f0ff,stroke:#6741d9"),
    "not_done": ("red", "fill:#ffe3e3,stroke:#c92a2a"),
    "done": ("green", "fill:#d3f9d8,stroke:#2b8a3e"),
}
OTHER_COLOUR = ("grey", "fill:#f1f3f5,stroke:#868e96")


def _css_class(status: str | None) -> str:
    """A Mermaid class name for a status; prefixed so no status can be a keyword."""
    return "st_" + status if status in STATUS_COLOURS else "st_other"


def status_legend(statuses: list[str | None]) -> str:
    """What the flowchart's colours mean, for the statuses it shows."""
    known = [s for s in STATUS_COLOURS if s in statuses]
    others = sorted({s or "no status" for s in statuses if s not in STATUS_COLOURS})
    parts = [f"{STATUS_COLOURS[s][0]} {s}" for s in known]
    if others:
        parts.append(f"{OTHER_COLOUR[0]} {', '.join(others)}")
    return "Colours: " + "; ".join(parts) + "."


def _dot_quote(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{escaped}"'


def lineage_dot(model: LineageSource, members: list[str], edges: list[Edge]) -> str:
    lines = ["digraph lineage {", "  rankdir=LR;", "  node [shape=box];"]
    for member in sorted(members):
        status = model.status(member)
        label = _dot_quote(f"{member.rsplit('/', 1)[-1]}\n[{status or 'no status'}]")
        lines.append(f"  {_dot_quote(member)} [label={label}];")
    for child, parent in sorted(edges):
        lines.append(f"  {_dot_quote(parent)} -> {_dot_quote(child)};")
    lines.append("}")
    return "\n".join(lines) + "\n"


# -- check ------------------------------------------------------------------------------


PER_NOTE = 3  # problems of one code listed in one note; the rest are counted
PER_VAULT = 30  # problems of one code listed in the vault; past that, a summary line


def check_text(problems: list[Problem], summarise: bool = True) -> str:
    """The problems by note. ``summarise``: a code with more than PER_VAULT problems is
    one line of counts, and a note lists at most PER_NOTE of one code (the JSON has
    them all)."""
    if not problems:
        return "No problems found.\n"
    by_code = Counter(p.code for p in problems)
    crowded = {c for c, n in by_code.items() if n > PER_VAULT} if summarise else set()
    lines = []
    for code in sorted(crowded):
        found = [p for p in problems if p.code == code]
        severities = ", ".join(
            f"{n} {s}{'s' * (n != 1)}"
            for s, n in sorted(Counter(p.severity for p in found).items())
        )
        notes = len({p.note for p in found})
        lines.append(
            f"{code}: {severities} in {notes} note{'s' * (notes != 1)}, not listed "
            f'(vaultkit check --code {code} lists them; ignore = ["{code}"] in '
            ".vaultkit/config.toml silences them)"
        )
    if lines:
        lines.append("")
    grouped: dict[str | None, list[Problem]] = defaultdict(list)
    for problem in problems:
        if problem.code not in crowded:
            grouped[problem.note].append(problem)
    for note in sorted(grouped, key=lambda n: (n is not None, n or "")):
        lines.append(note if note is not None else "(vault)")
        shown: Counter[str] = Counter()
        for p in grouped[note]:
            shown[p.code] += 1
            if summarise and shown[p.code] > PER_NOTE:
                continue
            where = f"{p.line}:" if p.line else ""  # a problem of the whole note
            lines.append(f"  {where:<6} {p.severity:<7} {p.code:<24} {p.message}")
        for code, n in shown.items():
            if summarise and n > PER_NOTE:
                lines.append(f"  … and {n - PER_NOTE} more {code} in this note")
        lines.append("")
    errors = sum(p.severity == "error" for p in problems)
    warnings = len(problems) - errors
    notes = len({p.note for p in problems})
    lines.append(
        f"{errors} error{'s' * (errors != 1)}, {warnings} warning{'s' * (warnings != 1)} "
        f"in {notes} note{'s' * (notes != 1)}"
    )
    return "\n".join(lines) + "\n"


def check_summary(problems: list[Problem]) -> str:
    """Counts per code and severity, most first: what a vault's problems are, on a screen."""
    if not problems:
        return "No problems found.\n"
    counts = Counter((p.code, p.severity) for p in problems)
    notes: dict[tuple[str, str], set[str | None]] = defaultdict(set)
    for p in problems:
        notes[(p.code, p.severity)].add(p.note)
    rows = [("CODE", "SEVERITY", "PROBLEMS", "NOTES")]
    for (code, severity), n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])):
        rows.append((code, severity, str(n), str(len(notes[(code, severity)]))))
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    lines = [
        f"{r[0]:<{widths[0]}}  {r[1]:<{widths[1]}}  {r[2]:>{widths[2]}}  {r[3]:>{widths[3]}}"
        for r in rows
    ]
    errors = sum(p.severity == "error" for p in problems)
    warnings = len(problems) - errors
    lines.append("")
    lines.append(f"{errors} error{'s' * (errors != 1)}, {warnings} warning{'s' * (warnings != 1)}")
    return "\n".join(lines) + "\n"


def check_json(problems: list[Problem]) -> str:
    return to_json({"problems": [p.as_json() for p in problems]})


# -- graph ------------------------------------------------------------------------------


def typed_graph(model: VaultModel, generated: bool = False) -> nx.MultiDiGraph[str]:
    """Every note (and linked attachment) as a node; each resolved link as an edge typed
    previous / next / related / references / link. vaultkit's own notes (the index, the
    lineage notes), which link to every experiment, only with ``generated``."""
    import networkx as nx

    config = model.vault.config
    left_out = (
        set()
        if generated
        else {n for n, note in model.notes.items() if config.is_generated(note.path)}
    )
    graph: nx.MultiDiGraph[str] = nx.MultiDiGraph()
    for note_id in sorted(set(model.notes) - left_out):
        note = model.notes[note_id]
        graph.add_node(
            note_id,
            kind="experiment" if note_id in model.experiments else "note",
            path=note.path,
            status=note.parsed.status or "",
            tags=note.parsed.tag_names,
        )
    for source in sorted(set(model.links) - left_out):
        for resolved in model.links[source]:
            target = resolved.target
            if target is None or target in left_out:
                continue
            if target not in graph:
                graph.add_node(target, kind="file", path=target, status="", tags=[])
            graph.add_edge(source, target, type=resolved.link.role or LINK, line=resolved.link.line)
    return graph


def graph_json(graph: nx.MultiDiGraph[str]) -> str:
    import networkx as nx

    return to_json(nx.node_link_data(graph, edges="links"))


def graph_graphml(graph: nx.MultiDiGraph[str]) -> str:
    import networkx as nx

    flat: nx.MultiDiGraph[str] = nx.MultiDiGraph()
    for node, data in graph.nodes(data=True):
        flat.add_node(
            node, **{k: " ".join(v) if isinstance(v, list) else v for k, v in data.items()}
        )
    for source, target, key, data in graph.edges(keys=True, data=True):
        flat.add_edge(source, target, key, **data)
    return "\n".join(nx.generate_graphml(flat)) + "\n"


def graph_dot(graph: nx.MultiDiGraph[str]) -> str:
    lines = ["digraph vault {", "  rankdir=LR;"]
    for node, data in graph.nodes(data=True):
        shape = "box" if data["kind"] == "experiment" else "ellipse"
        lines.append(f"  {_dot_quote(node)} [shape={shape}];")
    for source, target, data in graph.edges(data=True):
        lines.append(
            f"  {_dot_quote(source)} -> {_dot_quote(target)} [label={_dot_quote(data['type'])}];"
        )
    lines.append("}")
    return "\n".join(lines) + "\n"


# -- diff ---------------------------------------------------------------------------------


def _number(value: float | None) -> str:
    return "—" if value is None else plain_number(value)


def _delta(entry: MetricChange) -> str:
    delta, direction = entry["delta"], entry["direction"]
    if delta is None or direction is None:
        return "new" if entry["old"] is None else "gone"
    arrow = {"better": "▲ better", "worse": "▼ worse", "same": "= same"}[direction]
    return f"{'+' if delta >= 0 else ''}{plain_number(delta)} {arrow}"


def diff_text(result: Comparison) -> str:
    lines = [f"{result['from']} -> {result['to']}", ""]
    lines.append("Metrics")
    for entry in result["metrics"] or []:
        lines.append(
            f"  {entry['name']}: {_number(entry['old'])} -> {_number(entry['new'])}"
            f"  ({_delta(entry)})"
        )
    if not result["metrics"]:
        lines.append("  (no metrics in either note)")
    lines += ["", "Settings"]
    for setting in result["settings"]:
        lines.append(f"  {setting['name']}: {setting['old'] or '—'} -> {setting['new'] or '—'}")
    if not result["settings"]:
        lines.append("  (no setting changed)")
    for change in result["sections"]:
        lines += ["", f"# {change['section']}"]
        lines += [f"  - {line}" for line in change["removed"]]
        lines += [f"  + {line}" for line in change["added"]]
    return "\n".join(lines) + "\n"


def diff_markdown(result: Comparison) -> str:
    """For pasting into a note: tables for metrics and settings, lists for sections."""
    lines = [
        f"## [[{result['from'].rsplit('/', 1)[-1]}]] → [[{result['to'].rsplit('/', 1)[-1]}]]",
        "",
        "| metric | before | after | change |",
        "|---|---|---|---|",
    ]
    for entry in result["metrics"]:
        lines.append(
            f"| {entry['name']} | {_number(entry['old'])} | {_number(entry['new'])} "
            f"| {_delta(entry)} |"
        )
    lines += ["", "| setting | before | after |", "|---|---|---|"]
    for setting in result["settings"]:
        lines.append(f"| {setting['name']} | {setting['old'] or '—'} | {setting['new'] or '—'} |")
    for change in result["sections"]:
        lines += ["", f"### {change['section'].capitalize()}", ""]
        lines += [f"- removed: {_pasted(line)}" for line in change["removed"]]
        lines += [f"- added: {_pasted(line)}" for line in change["added"]]
    return "\n".join(lines) + "\n"


def _titles(result: SideBySide) -> list[str]:
    return [column["id"].rpartition("/")[2] for column in result["experiments"]]


BEST_MARK = " *"  # after the best value of a metric


def compare_text(result: SideBySide) -> str:
    """The experiments as columns: status, sections answered, each metric (the best
    marked), then the settings in force that differ."""
    columns = result["experiments"]
    cells = [["", *_titles(result)]]
    cells.append(["status", *(column["status"] or "-" for column in columns)])
    cells.append(["sections", *(column["sections"] or "-" for column in columns)])
    for row in result["metrics"]:
        cells.append(
            [f"{row['name']} ({row['better']} is better)", *_metric_cells(result, row, False)]
        )
    if result["settings"]:
        cells.append(["settings that differ:", *([""] * len(columns))])
        for setting in result["settings"]:
            cells.append([f"  {setting['name']}", *(v or "—" for v in setting["values"])])
    lines = _aligned(cells)
    notes = ["", f"{BEST_MARK.strip()} the best of each metric"] if result["metrics"] else []
    return "\n".join(lines + notes) + "\n"


def compare_markdown(result: SideBySide) -> str:
    """For pasting into a note: one table, the experiments as columns that link to their
    notes, the best value of each metric in bold."""
    columns = result["experiments"]
    links = [f"[[{title}]]" for title in _titles(result)]
    lines = [f"| | {' | '.join(links)} |", "|---|" + "---|" * len(columns)]
    lines.append(f"| status | {' | '.join(c['status'] or '—' for c in columns)} |")
    lines.append(f"| sections | {' | '.join(c['sections'] or '—' for c in columns)} |")
    for row in result["metrics"]:
        cells = _metric_cells(result, row, True)
        name = cell(row["name"])
        lines.append(f"| {name} ({row['better']} is better) | {' | '.join(cells)} |")
    if result["settings"]:
        lines.append("| *settings that differ* |" + " |" * len(columns))
    for setting in result["settings"]:
        written = " | ".join(f"`` {cell(v)} ``" if v else "—" for v in setting["values"])
        lines.append(f"| {cell(setting['name'])} | {written} |")
    return "\n".join(lines) + "\n"


def _metric_cells(result: SideBySide, row: MetricRow, markdown: bool) -> list[str]:
    """Each experiment's value of a metric, the best one marked (bold, in Markdown)."""
    cells = []
    for column, value in zip(result["experiments"], row["values"], strict=True):
        text = _number(value)
        if column["id"] == row["best"]:
            text = f"**{text}**" if markdown else text + BEST_MARK
        cells.append(text)
    return cells


def _pasted(line: str) -> str:
    """A changed line as it reads pasted into a note: its links still click, but each
    tag Obsidian would read is escaped (`\\#done`), so the note that holds the diff takes
    no one's status or tags."""
    return _escaped_tags(re.sub(r"^\s*(?:[-*+]|\d+[.)])\s+", "", line).strip())


def _escaped_tags(text: str) -> str:
    """``text`` with each tag Obsidian would read escaped (`\\#done`): a note that holds it
    takes no one's status or tags."""
    for tag in reversed(scan_inline(text)[2]):
        text = text[: tag.offset] + "\\" + text[tag.offset :]
    return text


def section_embed(name: str, heading: str) -> str:
    """Obsidian's embed of a note's section (`![[EXP-001 baseline#Model]]`), which shows
    the section as it is now; a link to the note where the heading holds a character a
    link cannot."""
    if any(char in heading for char in "#|[]^"):
        return f"[[{name}]], section {heading!r}"
    return f"![[{name}#{heading}]]"


def recipe_document(
    recipe: Recipe,
    markdown: bool,
    link: Callable[[str], str] | None = None,
    link_name: Callable[[str], str] | None = None,
) -> str:
    """A recipe for reading (``markdown`` False: the terminal) or for a note (True: links
    that click, tags escaped): the answers by part, each with the note it comes from,
    the settings, libraries, seed and runs, the replay from the root, then the gaps.
    ``link``: how a note is linked (in Markdown; default `[[its name]]`). An answer
    without its text (a recipe made from the parses) embeds its section, linked by
    ``link_name`` (default: the note's name)."""

    def name(note: str) -> str:
        if not markdown:
            return note.rpartition("/")[2]
        return link(note) if link else f"[[{note.rpartition('/')[2]}]]"

    lines: list[str] = []

    def heading(level: int, text: str) -> None:
        if lines and lines[-1]:
            lines.append("")
        if markdown:
            lines.extend([f"{'#' * level} {text}", ""])
        else:
            lines.extend([text, "=" * len(text) if level == 2 else "-" * len(text)])

    def body(line: str) -> str:
        return _escaped_tags(line) if markdown else "  " + line.replace("\t", "    ")

    def origin(source: str, via: str | None) -> str:
        through = f", through {name(via)}" if via and via != source else ""
        return f"from {name(source)}{through}"

    chain = " → ".join(name(note) for note in recipe["chain"])
    lines.append(
        f"# Recipe: {name(recipe['experiment'])}" if markdown else name(recipe["experiment"])
    )
    lines += [
        "",
        f"Everything the chain {chain} states about rebuilding this model, each answer "
        "from the note that states it (the experiment's own, else the nearest before it).",
    ]
    parts = {"data": "Data", "environment": "Environment", "model": "Model", "metrics": "Metrics"}
    for part, title in parts.items():
        answers = [a for a in recipe["answers"] if a["part"] == part]
        if not answers and part != "model":
            continue
        heading(2, title)
        for answer in answers:
            section = answer["section"].capitalize()
            heading(3, f"{section} ({origin(answer['source'], answer['via'])})")
            lines += [body(line) for line in answer["lines"]]
            if not answer["lines"]:
                source = answer["source"]
                shown = link_name(source) if link_name else source.rpartition("/")[2]
                lines.append(section_embed(shown, answer["heading"]))
        if part == "environment" and recipe["libraries"]:
            shown = ", ".join(
                f"{lib['name']} {lib['version'] or '(no version)'}" for lib in recipe["libraries"]
            )
            lines += ["", f"Libraries: {shown}."]
        if part == "model":
            heading(3, "Settings")
            rows = [
                [
                    s["name"],
                    s["value"],
                    origin(s["source"], s["via"]).removeprefix("from "),
                    s["before"] or "—",
                ]
                for s in recipe["settings"]
            ]
            lines += _rows(["setting", "value", "set or last changed in", "before"], rows, markdown)
            seed = recipe["seed"]
            lines += [
                "",
                f"Seed: {seed['value']} ({origin(seed['source'], seed['via'])})."
                if seed
                else "Seed: not stated (see the gaps).",
            ]
    if recipe["runs"]:
        heading(2, "Runs")
        rows = [
            [
                name(run["experiment"]),
                run["run"],
                run["status"],
                ", ".join(f"{k}={v}" for k, v in sorted(run["params"].items())) or "—",
            ]
            for run in recipe["runs"]
        ]
        lines += _rows(["experiment", "run", "status", "parameters"], rows, markdown)
    heading(2, "Replay")
    metric = recipe["metric"]
    for number, step in enumerate(recipe["replay"], 1):
        previous = ", ".join(name(p) for p in step["previous"])
        after = f" (after {previous})" if previous else ""
        changed = ", ".join(
            f"{c['name']} {c['old'] or '—'} → {c['new'] or '—'}" for c in step["settings"]
        )
        facts = [step["change"], f"settings: {changed}" if changed else ""]
        if metric is not None:
            met = f", thresholds {step['thresholds_met']}" if step["thresholds_met"] else ""
            facts.append(f"{metric} {_number(step['value'])}{met}")
        said = "; ".join(f.rstrip(".") for f in facts if f)
        said = _escaped_tags(said) if markdown else said
        lines.append(f"{number}. {name(step['experiment'])}{after}: {said}")
    heading(2, "Gaps")
    problems = [g["message"] for g in recipe["gaps"]]
    problems += [f"contradiction: {c['message']}" for c in recipe["contradictions"]]
    lines += [f"- {problem}" for problem in problems] or [
        "None: every rebuild question is answered somewhere in the chain."
    ]
    return "\n".join(lines) + "\n"


def _rows(head: list[str], rows: list[list[str]], markdown: bool) -> list[str]:
    """A table: Markdown, or aligned columns for the terminal."""
    if not markdown:
        return ["  " + line for line in _aligned([head, *rows])]
    return [
        "| " + " | ".join(head) + " |",
        "|" + "---|" * len(head),
        *("| " + " | ".join(cell(value) for value in row) + " |" for row in rows),
    ]
