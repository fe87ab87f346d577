"""Experiment notes and the tracker's runs (MLflow): which runs a note names, and the
block `runs sync` writes into it. Pure: notes and runs in, text and data out; reading
the tracker is ``vaultkit/tracker.py``'s business.

A note names a run by its `mlflow_run` property (one id or a list) or by an MLflow UI
address anywhere in its text (`…/#/experiments/1/runs/<run id>`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TypedDict

from vaultkit.model.metrics import exact_number, metric_key
from vaultkit.model.reading import RUN_METRICS_HEADER
from vaultkit.model.results import DEFAULT_METRIC_RULES, MetricRules
from vaultkit.records import ERROR, WARNING, ParsedNote, Problem, SyncedRun, utc_time

RUN_PROPERTY = "mlflow_run"
GIT_COMMIT_TAG = "mlflow.source.git.commit"
PARENT_RUN_TAG = "mlflow.parentRunId"
NOTE_TAG = "vaultkit.note"  # the note's obsidian:// address, set by `runs tag`
NOTE_TITLE_TAG = "vaultkit.note_title"
_RUN_ADDRESS = re.compile(r"/runs/([0-9a-f]{32})(?![0-9a-f])")


@dataclass(frozen=True)
class Run:
    """One tracker run, as plain data."""

    id: str
    name: str
    experiment_id: str
    status: str  # FINISHED, FAILED, RUNNING, KILLED or SCHEDULED
    start_ms: int | None
    end_ms: int | None
    metrics: dict[str, float] = field(default_factory=dict)  # the last value logged
    # every (step, value) logged, in order, for the metrics whose history was read
    history: dict[str, tuple[tuple[int, float], ...]] = field(default_factory=dict)
    params: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    environment: tuple[str, str] | None = None  # (artifact path, its text)
    experiment_name: str = ""
    deleted: bool = False  # in MLflow's trash (its lifecycle stage is "deleted")
    address: str | None = None  # the run's page in the MLflow UI, for a server's runs

    @property
    def git_commit(self) -> str | None:
        return self.tags.get(GIT_COMMIT_TAG)

    @property
    def parent_id(self) -> str | None:
        return self.tags.get(PARENT_RUN_TAG)


class TrackedRunJson(TypedDict):
    """A record of ``vaultkit runs list --format json``."""

    id: str
    name: str
    experiment_id: str
    status: str
    notes: list[str]
    parent: str | None  # a sweep's trial: its parent run's notes document it
    parent_notes: list[str]


@dataclass(frozen=True)
class TrackedRun:
    """A tracker run and the notes that document it (``Vault.runs``)."""

    run: Run
    notes: list[str]  # the notes that name it
    parent_notes: list[str]  # the notes that name its parent run

    def as_json(self) -> TrackedRunJson:
        """The record of ``vaultkit runs list --format json``."""
        run = self.run
        return {
            "id": run.id,
            "name": run.name,
            "experiment_id": run.experiment_id,
            "status": run.status,
            "notes": self.notes,
            "parent": run.parent_id,
            "parent_notes": self.parent_notes,
        }


def linked_runs(parsed: ParsedNote) -> list[str]:
    """The run ids a note names, in the order written, each once."""
    found: list[str] = []
    value = parsed.properties.get(RUN_PROPERTY)
    for item in value if isinstance(value, list) else [value]:
        if isinstance(item, str | int) and str(item).strip():
            found.append(str(item).strip())
    for url in parsed.urls:
        if "/runs/" in url.url:  # most addresses are not MLflow's: no regex for them
            found += _RUN_ADDRESS.findall(url.url)
    return list(dict.fromkeys(found))


def best_of_history(
    metric: str, history: tuple[tuple[int, float], ...], rules: MetricRules
) -> tuple[float, int] | None:
    """(best value, its step) of a metric logged more than once: the first step that
    reached it."""
    if len(history) < 2:
        return None
    best_step, best_value = min(history)
    for step, value in sorted(history):
        if rules.better(metric, value, best_value):
            best_step, best_value = step, value
    return best_value, best_step


def step_of(history: tuple[tuple[int, float], ...], value: float, tolerance: float) -> int | None:
    """The step that logged ``value``: the closest within ``tolerance`` (the first of
    equally close ones), if any is."""
    within = [
        (0.0 if logged == value else abs(logged - value), step)
        for step, logged in history
        if not differ(value, logged, tolerance)
    ]
    return min(within)[1] if within else None


_BACKTICKS = re.compile(r"`+")


def code_span(text: str) -> str:
    """Any text as one code span on one line: nothing in it is read as a tag, a link, a
    table cell or a marker. The span's fence is one backtick longer than the longest run
    inside (a run of N backticks ends only at a run of exactly N)."""
    text = " ".join(text.split()).replace("|", "\\|")
    if not text:
        return "` `"  # an empty span would read as two backticks
    longest = max(map(len, _BACKTICKS.findall(text)), default=0)
    fence = "`" * (longest + 1)
    return f"{fence} {text} {fence}" if longest or text[:1] == " " else f"{fence}{text}{fence}"


MAX_FILE_LINES = 200  # lines of a logged environment file shown in the block
MAX_FILE_CHARS = 20_000
_FENCE_LINE = re.compile(r"^ {0,3}(~+|`+)")


def fenced(text: str, where: str) -> list[str]:
    """A logged file as a code block no line of it can end: a tilde fence longer than
    any fence-like line inside, lines that would read as vaultkit's block markers
    escaped with a `\\`, and at most MAX_FILE_LINES lines or MAX_FILE_CHARS characters
    (what was cut is said, with where the whole file is)."""
    lines = text.strip("\n").splitlines()
    kept: list[str] = []
    size = 0
    for line in lines:
        size += len(line) + 1
        if len(kept) == MAX_FILE_LINES or size > MAX_FILE_CHARS:
            break
        kept.append("\\" + line if "<!-- vaultkit:" in line else line)
    longest = max((len(m.group(1)) for line in kept if (m := _FENCE_LINE.match(line))), default=0)
    fence = "~" * max(4, longest + 1)
    block = [fence + "text", *kept, fence]
    if len(kept) < len(lines):
        block.append(
            f"(cut after {len(kept)} of {len(lines)} lines; the whole file is the run's "
            f"artifact {code_span(where)})"
        )
    return block


def _when(ms: int) -> str:
    return utc_time(ms / 1000).replace(tzinfo=None).isoformat(" ", "minutes") + " UTC"


def _duration(ms: int) -> str:
    minutes, seconds = divmod(round(ms / 1000), 60)
    hours, minutes = divmod(minutes, 60)
    if hours:
        return f"{hours} h {minutes} min"
    return f"{minutes} min {seconds} s" if minutes else f"{seconds} s"


def _at_step(value: float, step: int | None) -> str:
    return f"{exact_number(value)} ({'no step' if step is None else f'step {step}'})"


DELETED_ROW = (
    "| deleted | yes: in MLflow's trash; restore it there, or name the run that replaced it |"
)


def run_section(
    run: Run,
    stated: dict[str, float] | None = None,
    rules: MetricRules = DEFAULT_METRIC_RULES,
    tolerance: float = 0.01,
) -> list[str]:
    """One run, as the lines of its part of the block. ``stated``: the note's own values
    by metric key; the block says at which step the run logged each (check reads it: a
    note may state any step's value, the best epoch's or the one it kept). Every text
    from the tracker is a code span or a fenced file: none of it can change what the
    note says."""
    stated = stated or {}
    lines = [f"### MLflow run {code_span(run.name or run.id)}", "", "| | |", "|---|---|"]
    lines.append(f"| run id | {code_span(run.id)} |")
    if run.experiment_name:
        lines.append(f"| experiment | {code_span(run.experiment_name)} |")
    lines.append(f"| status | {code_span(run.status)} |")
    if run.deleted:
        lines.append(DELETED_ROW)
    if run.start_ms is not None:
        lines.append(f"| started | {_when(run.start_ms)} |")
        if run.end_ms is not None:
            lines.append(f"| ended | {_when(run.end_ms)} |")
            lines.append(f"| duration | {_duration(run.end_ms - run.start_ms)} |")
    if run.git_commit:
        lines.append(f"| git commit | {code_span(run.git_commit)} |")
    if run.parent_id:
        lines.append(f"| parent run | {code_span(run.parent_id)} |")
    if run.address:
        lines.append(f"| in MLflow | <{run.address}> |")
    if run.metrics:
        lines += ["", f"{RUN_METRICS_HEADER} final (step) | best (step) | {NOTE_COLUMN} |"]
        lines.append("|---|---|---|---|")
        for name in sorted(run.metrics):
            history = run.history.get(name, ())
            final = run.metrics[name]
            last_step = max((step for step, _ in history), default=None)
            best = best_of_history(name, history, rules)
            shown = _at_step(*best) if best else "—"
            note = stated.get(rules.key(name))
            checked = "—" if note is None else _at_step(note, step_of(history, note, tolerance))
            final_cell = _at_step(final, last_step) if history else exact_number(final)
            lines.append(f"| {code_span(name)} | {final_cell} | {shown} | {checked} |")
    if run.params:
        lines += ["", "| parameter | value |", "|---|---|"]
        lines += [f"| {code_span(k)} | {code_span(run.params[k])} |" for k in sorted(run.params)]
    if run.environment:
        path, text = run.environment
        lines += ["", f"Environment logged with the run ({code_span(path)}):", ""]
        lines += fenced(text, path)
    return lines


NOTE_COLUMN = "the note's value (step)"
RUN_BLOCK_HEADER = (
    "## Runs",
    "",
    "Synced from MLflow by `vaultkit runs sync`; edits here are replaced.",
)


def missing_line(run_id: str, store: str, kept: bool) -> str:
    """What the block says of a run the store does not have (``kept``: the block keeps
    what it showed of the run before, above this line)."""
    where = f"not in the tracking store {code_span(store)}"
    if kept:
        return f"Run {code_span(run_id)}: {where} at the last sync; above is what it showed before."
    return f"Run {code_span(run_id)}: {where}."


def run_block(sections: list[list[str]]) -> str:
    """What `runs sync` writes into a note: a section per run it names, in the note's
    order (``run_section``, a section kept from the last sync, or ``missing_line``)."""
    lines = list(RUN_BLOCK_HEADER)
    for section in sections:
        lines += ["", *section]
    return "\n".join(lines)


def unchanged(
    summary: Run, synced: SyncedRun, stated: dict[str, float], rules: MetricRules
) -> bool:
    """Whether the block's section of a run still says all a sync would write, by the
    run's summary (status, final values, parameters: one request for many runs) and the
    note's values: then its metric histories and files need not be read again. A run
    still running may log more."""
    if summary.status in ("RUNNING", "SCHEDULED") or not synced.experiment:
        return False
    noted = {rules.key(n): v for n, (v, _) in synced.found.items()}
    wanted = {
        key: value
        for key, value in stated.items()
        if any(rules.key(n) == key for n in summary.metrics)
    }
    params = {" ".join(k.split()): " ".join(v.split()) for k, v in summary.params.items()}
    return (
        summary.status == synced.status
        and summary.deleted == synced.deleted
        and summary.metrics == synced.metrics
        and params == synced.params  # as the block writes them: on one line
        and wanted == noted
    )


UNFINISHED = ("FAILED", "RUNNING", "SCHEDULED", "KILLED")


def _number(text: str) -> float | None:
    try:
        return float(text.rstrip("%"))
    except ValueError:
        return None


def differ(stated: float, logged: float, tolerance: float) -> bool:
    """Further apart than ``tolerance``, relative to the larger of the two."""
    if stated == logged:  # inf and inf
        return False
    return not abs(stated - logged) <= tolerance * max(abs(stated), abs(logged), 1e-12)


def stated_values(parsed: ParsedNote, rules: MetricRules) -> dict[str, float]:
    """The note's own values by metric key (the first written of each)."""
    found: dict[str, float] = {}
    for name, value in parsed.metrics.items():
        found.setdefault(rules.key(name), value)
    return found


def run_problems(
    note_id: str,
    parsed: ParsedNote,
    tolerance: float,
    rules: MetricRules = DEFAULT_METRIC_RULES,
) -> list[Problem]:
    """What the note's runs say against it, read from its run block (`runs sync` writes
    it; check itself never asks the tracker, so it stays fast and offline)."""
    named = linked_runs(parsed)
    synced = parsed.synced_runs
    if not named and not synced:  # most notes: nothing to compare
        return []
    problems = []
    lines: dict[str, int] = {}
    for url in reversed(parsed.urls):  # the first line that names each run
        for found in _RUN_ADDRESS.findall(url.url) if "/runs/" in url.url else ():
            lines[found] = url.line

    for run_id in named:
        line = lines.get(run_id)
        status = synced[run_id].status if run_id in synced else ""
        if not status:
            message = f"names run {run_id}, which is not synced yet; run `vaultkit runs sync`"
            problems.append(Problem("run-not-synced", WARNING, note_id, line, message))
        elif status == "missing":
            message = (
                f"names run {run_id}, which the tracking store did not have at the last "
                "`vaultkit runs sync`: a typo, or a run of another store"
            )
            problems.append(Problem("unknown-run", ERROR, note_id, line, message))
        elif synced[run_id].deleted:
            message = (
                f"names run {run_id}, which is deleted in MLflow (in its trash, and gone "
                "for good when the trash is emptied): restore it there "
                f"(mlflow runs restore --run-id {run_id}), or name the run that replaced it"
            )
            problems.append(Problem("run-deleted", WARNING, note_id, line, message))
        elif status in UNFINISHED and parsed.status == "done":
            message = (
                f"is done, but its run {run_id} is {status}: finish the run or reopen the note"
            )
            problems.append(Problem("run-not-finished", ERROR, note_id, line, message))
    reported: set[str] = set()
    for name, stated in parsed.metrics.items():
        key = rules.key(name)
        if key in reported:
            continue  # the first value written is the note's
        reported.add(key)
        drift = _drift(name, stated, key, synced, tolerance, rules)
        if drift:
            problems.append(Problem("metric-drift", WARNING, note_id, None, drift))
    # `batch size` written, `batch_size` logged: one setting
    params = {metric_key(k): v for run in synced.values() for k, v in run.params.items()}
    for name, stated_text in {**parsed.text_settings, **parsed.settings}.items():
        logged_text = params.get(metric_key(name))
        if logged_text is None:
            continue
        stated_number, logged_number = _number(stated_text), _number(logged_text)
        if stated_number is not None and logged_number is not None:
            drifted = differ(stated_number, logged_number, tolerance)
        else:
            drifted = stated_text.casefold() != logged_text.casefold()
        if drifted:
            message = f"states {name}: {stated_text}, but its run's parameter is {logged_text}"
            problems.append(Problem("params-drift", WARNING, note_id, None, message))
    return problems


def _drift(
    name: str,
    stated: float,
    key: str,
    synced: dict[str, SyncedRun],
    tolerance: float,
    rules: MetricRules,
) -> str | None:
    """Why the note's ``stated`` value matches no step its runs logged, or None when one
    did (the final, the best, or the step the last sync found it at)."""
    seen = []
    resync = False
    for run_id, run in synced.items():
        for logged_name, final in run.metrics.items():
            if rules.key(logged_name) != key:
                continue
            best = run.best.get(logged_name)
            if not differ(stated, final, tolerance):
                return None
            if best is not None and not differ(stated, best[0], tolerance):
                return None
            found = run.found.get(logged_name)
            compared = found is not None and not differ(stated, found[0], tolerance)
            if compared and found is not None and found[1] is not None:
                return None  # the sync found the value at a step
            resync = resync or not compared
            told = f"final {exact_number(final)}"
            if best and best[0] != final:
                told += f", best {exact_number(best[0])} at step {best[1]}"
            seen.append((run_id, told))
    if not seen:
        return None
    logged = "; ".join(f"{told} (run {run_id})" if len(seen) > 1 else told for run_id, told in seen)
    message = f"states {name} = {exact_number(stated)}, but its run logged {logged}"
    if resync:
        return message + "; `vaultkit runs sync` compares the note's value with every step"
    return message + ", and no step logged the note's value"
