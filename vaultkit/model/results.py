"""Where the team stands: which metrics matter, which experiment is best, and whether it
meets the thresholds the team wrote down. Pure: metric values in, answers out.

The index and the lineage notes ask the same questions, so they ask them here.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable

from vaultkit.model.metrics import higher_is_better

Metrics = dict[str, float]  # one experiment's reported values, by metric name


def most_reported(reports: Iterable[Metrics], limit: int | None = None) -> list[str]:
    """The metrics most experiments report (at most ``limit``); among equally reported
    ones, the first written first (a team writes its main metric at the top)."""
    counts: dict[str, int] = {}
    for metrics in reports:
        for name in metrics:
            counts[name] = counts.get(name, 0) + 1
    first_seen = {name: order for order, name in enumerate(counts)}
    return sorted(counts, key=lambda name: (-counts[name], first_seen[name]))[:limit]


def better(metric: str, value: float, than: float) -> bool:
    """Strictly better: higher, or lower for a loss, an error or a latency."""
    return value > than if higher_is_better(metric) else value < than


def best(metric: str, points: Iterable[tuple[str, float | None]]) -> tuple[str, float] | None:
    """The experiment with the best finite value of ``metric``; on a tie, the first."""
    found: tuple[str, float] | None = None
    for experiment, value in points:
        if value is None or not math.isfinite(value):
            continue
        if found is None or better(metric, value, found[1]):
            found = (experiment, value)
    return found


def meets(metric: str, value: float, threshold: float) -> bool:
    """At or above the threshold; at or below it for a metric where lower is better."""
    return value >= threshold if higher_is_better(metric) else value <= threshold


def thresholds_met(metrics: Metrics, thresholds: Metrics) -> tuple[int, int]:
    """(met, judged): of the thresholds whose metric the experiment reports, how many it
    meets. A threshold with no value yet is not judged."""
    judged = [name for name in thresholds if name in metrics]
    met = sum(meets(name, metrics[name], thresholds[name]) for name in judged)
    return met, len(judged)


def path_to(
    experiment: str,
    parents: Callable[[str], list[str]],
    value: Callable[[str], float | None],
    metric: str,
) -> list[str]:
    """The chain from a root down to ``experiment``, one parent per step: at a merge, the
    parent with the best value of ``metric`` (else the first). A cycle ends the walk."""
    path = [experiment]
    seen = {experiment}
    while True:
        candidates = [p for p in parents(path[-1]) if p not in seen]
        if not candidates:
            return path[::-1]
        chosen = best(metric, ((p, value(p)) for p in candidates))
        step = chosen[0] if chosen else candidates[0]
        path.append(step)
        seen.add(step)
