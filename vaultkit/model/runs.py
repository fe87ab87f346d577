"""Experiment notes and the tracker's runs (MLflow): which runs a note names, and the
block `runs sync` writes into it. Pure: notes and runs in, text and data out; reading
the tracker is ``vaultkit/tracker.py``'s business.

A note names a run by its `mlflow_run` property (one id or a list) or by an MLflow UI
address anywhere in its text (`…/#/experiments/1/runs/<run id>`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime

from vaultkit.model.metrics import exact_number, metric_key
from vaultkit.model.records import ERROR, WARNING, ParsedNote, Problem, SyncedRun
from vaultkit.model.results import DEFAULT_METRIC_RULES, MetricRules
from vaultkit.obsidian.note import RUN_METRICS_HEADER

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

    @property
    def git_commit(self) -> str | None:
        return self.tags.get(GIT_COMMIT_TAG)

    @property
    def parent_id(self) -> str | None:
        return self.tags.get(PARENT_RUN_TAG)


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
    history: tuple[tuple[int, float], ...], higher: bool
) -> tuple[float, int] | None:
    """(best value, its step) of a metric logged more than once: the first step that
    reached it."""
    if len(history) < 2:
        return None
    best_step, best_value = min(history)
    for step, value in sorted(history):
        if value > best_value if higher else value < best_value:
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


def _code(text: str) -> str:
    """Text as a code span: nothing in it is read as a tag, a link or a table cell."""
    text = " ".join(text.split()).replace("|", "\\|")
    return f"`` {text} ``" if "`" in text else f"`{text}`"


def _when(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M UTC")


def _duration(ms: int) -> str:
    minutes, seconds = divmod(round(ms / 1000), 60)
    hours, minutes = divmod(minutes, 60)
    if hours:
        return f"{hours} h {minutes} min"
    return f"{minutes} min {seconds} s" if minutes else f"{seconds} s"


def run_section(
    run: Run,
    stated: dict[str, float] | None = None,
    rules: MetricRules = DEFAULT_METRIC_RULES,
    tolerance: float = 0.01,
) -> list[str]:
    """One run, as the lines of its part of the block. ``stated``: the note's own values
    by metric key; the block says at which step the run logged each (check reads it: a
    note may state any step's value, the best epoch's or the one it kept)."""
    stated = stated or {}
    lines = [f"### MLflow run {_code(run.name or run.id)}", "", "| | |", "|---|---|"]
    lines.append(f"| run id | {_code(run.id)} |")
    lines.append(f"| status | {_code(run.status)} |")
    if run.start_ms is not None:
        lines.append(f"| started | {_when(run.start_ms)} |")
        if run.end_ms is not None:
            lines.append(f"| duration | {_duration(run.end_ms - run.start_ms)} |")
    if run.git_commit:
        lines.append(f"| git commit | {_code(run.git_commit)} |")
    if run.parent_id:
        lines.append(f"| parent run | {_code(run.parent_id)} |")
    if run.metrics:
        lines += ["", f"{RUN_METRICS_HEADER} final | best (step) | {NOTE_COLUMN} |"]
        lines.append("|---|---|---|---|")
        for name in sorted(run.metrics):
            history = run.history.get(name, ())
            best = best_of_history(history, rules.higher_is_better(name))
            shown = f"{exact_number(best[0])} (step {best[1]})" if best else "—"
            note = stated.get(rules.key(name))
            step = None if note is None else step_of(history, note, tolerance)
            checked = (
                "—"
                if note is None
                else f"{exact_number(note)} ({'no step' if step is None else f'step {step}'})"
            )
            final = exact_number(run.metrics[name])
            lines.append(f"| {_code(name)} | {final} | {shown} | {checked} |")
    if run.params:
        lines += ["", "| parameter | value |", "|---|---|"]
        lines += [f"| {_code(k)} | {_code(run.params[k])} |" for k in sorted(run.params)]
    if run.environment:
        path, text = run.environment
        fence = "~~~~" if "```" in text or "~~~" in text else "```"
        lines += ["", f"Environment logged with the run ({_code(path)}):", "", fence + "text"]
        lines += [*text.strip("\n").splitlines(), fence]
    return lines


NOTE_COLUMN = "the note's value (step)"


def run_block(
    runs: list[Run],
    missing: list[str],
    stated: dict[str, float] | None = None,
    rules: MetricRules = DEFAULT_METRIC_RULES,
    tolerance: float = 0.01,
) -> str:
    """What `runs sync` writes into a note: each run it names (``run_section``), and the
    ids the tracker does not have."""
    lines = ["## Runs", "", "Synced from MLflow by `vaultkit runs sync`; edits here are replaced."]
    for run in runs:
        lines += ["", *run_section(run, stated, rules, tolerance)]
    for run_id in missing:
        lines += ["", f"Run {_code(run_id)}: not in the tracking store."]
    return "\n".join(lines)


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
    for run_id in named:
        status = synced[run_id].status if run_id in synced else ""
        if not status:
            message = f"names run {run_id}, which is not synced yet; run `vaultkit runs sync`"
            problems.append(Problem("run-not-synced", WARNING, note_id, None, message))
        elif status == "missing":
            message = (
                f"names run {run_id}, which the tracking store did not have at the last "
                "`vaultkit runs sync`: a typo, or a run of another store"
            )
            problems.append(Problem("unknown-run", ERROR, note_id, None, message))
        elif status in UNFINISHED and parsed.status == "done":
            message = (
                f"is done, but its run {run_id} is {status}: finish the run or reopen the note"
            )
            problems.append(Problem("run-not-finished", ERROR, note_id, None, message))
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
