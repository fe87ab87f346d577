"""What changed from one experiment to the next (sections, settings, metrics), and any
number of experiments side by side. Pure."""

from __future__ import annotations

import difflib
from collections.abc import Callable
from typing import Literal, NamedTuple, TypedDict

from vaultkit.model.results import MetricRules, most_reported


class SettingChange(TypedDict):
    name: str
    old: str | None  # None: not in force before
    new: str | None  # None: no longer in force


class MetricChange(TypedDict):
    name: str
    old: float | None
    new: float | None
    delta: float | None  # None unless both notes report it
    direction: Literal["better", "worse", "same"] | None


class SectionChange(TypedDict):
    section: str
    added: list[str]
    removed: list[str]


# One comparison: the JSON of `vaultkit diff` (`from` is a Python keyword, hence this form)
Comparison = TypedDict(
    "Comparison",
    {
        "from": str,
        "to": str,
        "sections": list[SectionChange],
        "settings": list[SettingChange],
        "metrics": list[MetricChange],
    },
)


def settings_changes(old: dict[str, str], new: dict[str, str]) -> list[SettingChange]:
    """Each setting whose value differs: {"name", "old", "new"} (None when absent)."""
    return [
        {"name": name, "old": old.get(name), "new": new.get(name)}
        for name in sorted(set(old) | set(new))
        if old.get(name) != new.get(name)
    ]


def settings_in_force(
    order: list[str], parents: Callable[[str], list[str]], own: Callable[[str], dict[str, str]]
) -> dict[str, dict[str, str]]:
    """The settings in force at each note of ``order`` (parents before children): the
    ones it states, and those in force at its parents that it does not state (the first
    parent's first, at a merge). A note that does not repeat its parent's `lr` keeps it."""
    found: dict[str, dict[str, str]] = {}
    for note in order:
        merged: dict[str, str] = {}
        for parent in reversed(parents(note)):
            merged.update(found.get(parent, {}))  # none from a parent later in a cycle
        merged.update(own(note))
        found[note] = merged
    return found


def metric_changes(
    old: dict[str, float], new: dict[str, float], rules: MetricRules
) -> list[MetricChange]:
    """Each metric of either note: values, delta and whether it went the right way."""
    changes = []
    for name in sorted(set(old) | set(new)):
        before, after = old.get(name), new.get(name)
        entry: MetricChange = {
            "name": name,
            "old": before,
            "new": after,
            "delta": None,
            "direction": None,
        }
        if before is not None and after is not None:
            delta = round(after - before, 10)
            entry["delta"] = delta
            if delta == 0:
                entry["direction"] = "same"
            else:
                improved = (delta > 0) == rules.higher_is_better(name)
                entry["direction"] = "better" if improved else "worse"
        changes.append(entry)
    return changes


def section_changes(
    old: dict[str, list[str]], new: dict[str, list[str]], order: list[str]
) -> list[SectionChange]:
    """Per section (the template's ``order`` first): lines added and removed, blank lines
    aside."""
    names = [n for n in order if n in old or n in new]
    names += sorted((set(old) | set(new)) - set(names))
    changes: list[SectionChange] = []
    for name in names:
        before = [line.rstrip() for line in old.get(name, []) if line.strip()]
        after = [line.rstrip() for line in new.get(name, []) if line.strip()]
        added: list[str] = []
        removed: list[str] = []
        for line in difflib.ndiff(before, after):
            if line.startswith("+ "):
                added.append(line[2:])
            elif line.startswith("- "):
                removed.append(line[2:])
        if added or removed:
            changes.append({"section": name, "added": added, "removed": removed})
    return changes


class Side(NamedTuple):
    """One note of a comparison."""

    id: str
    bodies: dict[str, list[str]]  # section -> its lines
    settings: dict[str, str]  # in force (``settings_in_force``)
    metrics: dict[str, float]  # as ``Results`` resolves them


def compare(old: Side, new: Side, order: list[str], rules: MetricRules) -> Comparison:
    """Everything that changed from ``old`` to ``new`` (the JSON of ``vaultkit diff``);
    ``order``: the template's sections."""
    return {
        "from": old.id,
        "to": new.id,
        "sections": section_changes(old.bodies, new.bodies, order),
        "settings": settings_changes(old.settings, new.settings),
        "metrics": metric_changes(old.metrics, new.metrics, rules),
    }


def one_line(old: dict[str, str], new: dict[str, str], limit: int = 3) -> str:
    """A step of a lineage in a few words: the settings in force that changed."""
    parts = []
    for change in settings_changes(old, new):
        if change["old"] is None:
            parts.append(f"{change['name']} {change['new']}")
        elif change["new"] is None:
            parts.append(f"no {change['name']}")
        else:
            parts.append(f"{change['name']} {change['old']}→{change['new']}")
    if len(parts) > limit:
        parts = parts[:limit] + [f"+{len(parts) - limit} more"]
    return "; ".join(parts)


# -- many experiments side by side (`vaultkit compare`) -----------------------------------


class Column(NamedTuple):
    """One experiment of a side-by-side comparison."""

    id: str
    status: str | None
    sections: str | None  # answered of asked, `9/10`
    metrics: dict[str, float]  # as ``Results`` resolves them
    settings: dict[str, str]  # in force (``settings_in_force``)


class ColumnJson(TypedDict):
    id: str
    status: str | None
    sections: str | None


class MetricRow(TypedDict):
    name: str
    better: Literal["higher", "lower"]
    values: list[float | None]  # one per experiment, in their order
    best: str | None  # the experiment with the best finite value (the first, on a tie)


class SettingRow(TypedDict):
    name: str
    values: list[str | None]  # None: not in force there


class SideBySide(TypedDict):
    """The JSON of `vaultkit compare`."""

    experiments: list[ColumnJson]
    metrics: list[MetricRow]
    settings: list[SettingRow]


def side_by_side(columns: list[Column], rules: MetricRules) -> SideBySide:
    """Every metric any of the experiments reports (most reported first), each with its
    best experiment, and the settings in force that are not the same in all of them."""
    metrics: list[MetricRow] = []
    for name in most_reported(column.metrics for column in columns):
        values = [column.metrics.get(name) for column in columns]
        best = rules.best(name, zip((column.id for column in columns), values, strict=True))
        better: Literal["higher", "lower"] = "higher" if rules.higher_is_better(name) else "lower"
        metrics.append(
            {"name": name, "better": better, "values": values, "best": best[0] if best else None}
        )
    settings: list[SettingRow] = []
    for name in sorted({name for column in columns for name in column.settings}):
        written = [column.settings.get(name) for column in columns]
        if len(set(written)) > 1:
            settings.append({"name": name, "values": written})
    return {
        "experiments": [
            {"id": column.id, "status": column.status, "sections": column.sections}
            for column in columns
        ],
        "metrics": metrics,
        "settings": settings,
    }
