"""Read a note: its Obsidian syntax (``obsidian.note``), then what its sections report
(metrics, thresholds, settings, which template questions are answered) and the runs its
run block holds. Pure: text in, ``ParsedNote`` out. Never raises on content: bad YAML
becomes ``frontmatter_error``. Line numbers are true to the file, frontmatter included,
so ``check`` can point at the line to fix.
"""

from __future__ import annotations

import re
from typing import Any

from vaultkit.model import metrics
from vaultkit.model.managed import begin_marker, block_lines
from vaultkit.model.recipe import rebuild_facts
from vaultkit.obsidian.note import first_sections, parse_syntax, section_bodies
from vaultkit.records import ParsedNote, ParseRules, SyncedRun, is_synced

# The rules of a note read outside any vault: no template asks for sections (a vault's
# rules, ``loading.read_settings``, name its template's, or the packaged team template's)
DEFAULT_RULES = ParseRules()

RUN_BLOCK = "run"  # the block `vaultkit runs sync` writes (model/runs.py)
RUN_MARKER = begin_marker(RUN_BLOCK)
RUN_METRICS_HEADER = "| run metric |"  # the run block's table of metrics (model/runs.py)
_MISSING_RUN = re.compile(r"^Run (`+) ?(.*?) ?\1: not in the tracking store\b")
_AT_STEP = re.compile(r"^(\S+) \((?:step (\d+)|no step)\)$")


def parse_note(text: str, rules: ParseRules = DEFAULT_RULES) -> ParsedNote:
    """Parse a note. Never raises on content."""
    return parse_note_and_sections(text, rules)[0]


def parse_note_and_sections(
    text: str, rules: ParseRules = DEFAULT_RULES
) -> tuple[ParsedNote, dict[str, list[str]]]:
    """The parse, and each section's lines (code blanked) for comparing notes."""
    note, body_lines, body, found = parse_syntax(text, rules)
    # Sections keep their code blocks: settings are often written in them (`lr: 3e-4`).
    # The run block (`vaultkit runs sync`) holds the tracker's numbers, not the note's.
    run_lines = block_lines(body_lines, RUN_BLOCK) if RUN_MARKER in body else range(0)
    own_lines = body_lines
    if run_lines:
        note.synced_runs = _synced_runs([body_lines[i] for i in run_lines])
        # the block's address of a run is the tracker's, not a run the note names
        note.urls = [url for url in note.urls if url.line - 1 not in run_lines]
        own_lines = ["" if i in run_lines else line for i, line in enumerate(body_lines)]
    bodies = section_bodies(own_lines, found, note.footer_line)
    starts = {name: section.start for name, section in first_sections(found).items()}
    _report(note, bodies, starts, own_lines, "\n".join(own_lines) if run_lines else body, rules)
    # a finished run's values first: a failed attempt's are not the result
    for run in sorted(note.synced_runs.values(), key=lambda r: r.status != "FINISHED"):
        for name, value in run.metrics.items():
            note.run_metrics.setdefault(name, value)
    return note, bodies


def _uncode(cell: str) -> str:
    """A table cell's text: out of its code span (a fence of N backticks, a space inside
    each end when the text needs one), its `\\|` back to `|`."""
    ticks = len(cell) - len(cell.lstrip("`"))
    if ticks and len(cell) >= 2 * ticks and cell.endswith("`" * ticks):
        inner = cell[ticks : len(cell) - ticks]
        if len(inner) > 2 and inner[0] == " " and inner[-1] == " ":
            inner = inner[1:-1]
        cell = inner if inner.strip() else ""  # `` ` ` `` is the empty text
    return cell.replace("\\|", "|")


def _logged_number(text: str) -> float | None:
    """A number of the run block: a plain decimal, `inf`, `-inf` or `nan`, before any
    `(step N)`."""
    text = text.strip().partition(" ")[0]
    return float(text) if text in ("inf", "-inf", "nan") else metrics.parse_number(text)


def _at_step(cell: str | None) -> tuple[float, int | None] | None:
    """`0.61 (step 6)` -> (0.61, 6); `0.64 (no step)` -> (0.64, None); else None."""
    match = _AT_STEP.match(cell.strip()) if cell else None
    number = _logged_number(match.group(1)) if match else None
    if match is None or number is None:
        return None
    return number, int(match.group(2)) if match.group(2) else None


def run_sections(lines: list[str]) -> dict[str, list[str]]:
    """The run block's section of each run (from its `### ` heading to the line before
    the next section or the block's end), by run id: a sync keeps the sections of runs
    that did not change, and of runs the store no longer has."""
    found: dict[str, list[str]] = {}
    section: list[str] = []
    for line in [*lines, "### end"]:
        if line.startswith("### ") or _MISSING_RUN.match(line):
            rows = (metrics.cells(row) for row in section if row.startswith("| run id |"))
            run_id = next((_uncode(c[1]) for c in rows if len(c) == 2), None)
            while section and not section[-1].strip():
                section.pop()
            if run_id:
                found.setdefault(run_id, section)
            section = [line] if line.startswith("### ") else []
        elif section:
            section.append(line)
    return found


def _synced_runs(lines: list[str]) -> dict[str, SyncedRun]:
    """What the run block says of each run: its experiment, status, parameters, final
    and best metrics, and the step that logged each of the note's values; a run the
    store no longer had keeps what its section says, with the status "missing"."""
    found: dict[str, SyncedRun] = {}
    run: dict[str, Any] = {}
    table = ""
    for line in [*lines, "### end"]:
        if line.startswith("### "):
            if run.get("id"):
                found[run["id"]] = _synced(run)
            run, table = {}, ""
            continue
        if (missing := _MISSING_RUN.match(line)) is not None:
            run_id = _uncode(missing.group(2))
            if run.get("id"):
                found[run["id"]] = _synced(run)
            kept = found.get(run_id)
            found[run_id] = (kept or _synced({}))._replace(status="missing")
            run = {}
            continue
        if not line.startswith("|"):
            table = ""
            continue
        cells = metrics.cells(line)
        if line.startswith(("| parameter |", RUN_METRICS_HEADER, "| |")):
            table = line
        elif table == "| | |" and len(cells) == 2:
            key = {"run id": "id", "experiment": "experiment", "status": "status"}.get(cells[0])
            if key:
                run[key] = _uncode(cells[1])
            elif cells[0] == "deleted":
                run["deleted"] = True
        elif table.startswith("| parameter |") and len(cells) == 2 and cells[0][:1] == "`":
            run.setdefault("params", {})[_uncode(cells[0])] = _uncode(cells[1])
        elif table.startswith(RUN_METRICS_HEADER) and len(cells) >= 2 and cells[0][:1] == "`":
            name, number = _uncode(cells[0]), _logged_number(cells[1])
            if number is not None:
                run.setdefault("metrics", {})[name] = number
            at_best = _at_step(cells[2]) if len(cells) > 2 else None
            at_note = _at_step(cells[3]) if len(cells) > 3 else None
            if at_best is not None and at_best[1] is not None:
                run.setdefault("best", {})[name] = (at_best[0], at_best[1])
            if at_note is not None:
                run.setdefault("found", {})[name] = at_note
    return found


def _synced(run: dict[str, Any]) -> SyncedRun:
    return SyncedRun(
        run.get("status", ""),
        run.get("params", {}),
        run.get("metrics", {}),
        run.get("best", {}),
        run.get("found", {}),
        run.get("experiment", ""),
        run.get("deleted", False),
    )


def _report(
    note: ParsedNote,
    bodies: dict[str, list[str]],
    starts: dict[str, int],
    all_lines: list[str],
    text: str,
    rules: ParseRules,
) -> None:
    """Metrics, thresholds, settings and section states of an experiment-shaped note.
    Among the values of one metric, the first found wins: the Result section's tables,
    then its lines, then the Metrics section's tables (the plan), Dataview fields and
    numeric properties (docs/results.md)."""
    questions = rules.questions
    found: list[metrics.Prose] = []
    for name in metrics.RESULT_SECTIONS:
        lines = bodies.get(name)
        if lines:
            found.append(metrics.table_metrics(lines))
            prose = metrics.prose_metrics(lines, questions.get(name, ()))
            found.append(prose)
            note.unread_results += [(starts[name] + i + 1, t) for i, t in prose.unread]
    plan = bodies.get(metrics.PLAN_SECTION)
    if plan:
        found.append(metrics.table_metrics(plan))
        found.append(metrics.prose_metrics(plan, questions.get(metrics.PLAN_SECTION, ()), True))
    percent = []
    for part in found:
        for key, value in part.values.items():
            if key not in note.metrics:
                note.metrics[key] = value
                if key in part.percent:
                    percent.append(key)
        for key, value in part.thresholds.items():
            note.thresholds.setdefault(key, value)
    note.percent = tuple(percent)
    for key, value in metrics.inline_metrics(all_lines).items():
        note.metrics.setdefault(key, value)
    for key, prop in note.properties.items():
        if isinstance(prop, int | float) and not isinstance(prop, bool) and not is_synced(key):
            try:
                note.metrics.setdefault(str(key), float(prop))
            except OverflowError:  # a 400-digit integer is no metric
                continue
    # a result is no setting: `recall: 0.44` under Result does not change between notes
    reported = {metrics.metric_key(name) for name in note.metrics}
    note.settings = {
        name: value
        for name, value in metrics.settings(text).items()
        if metrics.metric_key(name) not in reported
    }
    if note.synced_runs:  # compared with the runs' parameters only
        note.text_settings = metrics.text_settings(text)
    note.sections = {
        name: metrics.section_state(bodies.get(name), questions)
        for name, questions in rules.sections
    }
    texts = metrics.SectionTexts(bodies)
    note.gaps = metrics.reproducibility_gaps(texts, note.thresholds, set(note.sections))
    note.rebuild = rebuild_facts(texts)
