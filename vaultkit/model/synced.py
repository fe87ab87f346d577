"""The properties vaultkit keeps in each experiment's frontmatter when the config turns
``properties_sync`` on: what a property reader (Obsidian's Bases, Dataview, any script)
can see of what vaultkit reads from the note's text. The note stays the source: these
values are derived from it, and vaultkit never reads them back as input.

Pure: model in, values out. The build writes them (output/edit.set_properties), check
reports a note whose properties say something else (``property-drift``), and the Bases
view (output/bases.py) shows them.
"""

from __future__ import annotations

import math
import re
from typing import Any

from vaultkit.model.results import Results, index_metrics, main_metric
from vaultkit.model.vault_model import Lineage, VaultModel
from vaultkit.records import is_synced

STATUS = "vaultkit_status"
PREVIOUS = "vaultkit_previous"
LINEAGE = "vaultkit_lineage"
METRIC_PREFIX = "vaultkit_metric_"


def metric_properties(metrics: list[str]) -> dict[str, str]:
    """Each metric's property name: `vaultkit_metric_` and the name in lower-case letters,
    digits and `_` (`mAP@0.5` -> `vaultkit_metric_map_0_5`); two that would meet get
    `_2`, `_3`, …"""
    names: dict[str, str] = {}
    taken: set[str] = set()
    for metric in metrics:
        base = METRIC_PREFIX + (re.sub(r"[^a-z0-9]+", "_", metric.lower()).strip("_") or "value")
        name, counter = base, 2
        while name in taken:
            name, counter = f"{base}_{counter}", counter + 1
        taken.add(name)
        names[metric] = name
    return names


class SyncedProperties:
    """The values each experiment's vaultkit properties should hold, for one model."""

    def __init__(self, model: VaultModel, results: Results, lineages: list[Lineage]) -> None:
        self.model = model
        self.results = results
        config = model.vault.config
        shown = index_metrics(config, results)
        self.main_metric = main_metric(config, results)
        if self.main_metric is not None and self.main_metric not in shown:
            shown.append(self.main_metric)
        self.metrics = metric_properties(shown)  # metric -> property name
        self._root = {
            member: (lineage.roots or lineage.members)[0]
            for lineage in lineages
            for member in lineage.members
        }

    def wanted(self, note: str) -> dict[str, Any]:
        """The experiment's vaultkit properties; a name it has no value for is None (the
        property is left out of the note)."""
        model = self.model
        parents = [f"[[{model.link_name(parent)}]]" for parent in model.parents(note)]
        root = self._root.get(note, note)
        values: dict[str, Any] = {
            STATUS: model.status(note),
            PREVIOUS: parents or None,
            LINEAGE: f"[[{model.link_name(root)}]]",
        }
        for metric, name in self.metrics.items():
            value = self.results.value(note, metric)
            values[name] = value if value is not None and math.isfinite(value) else None
        return values


def drift(properties: dict[str, Any], wanted: dict[str, Any]) -> list[tuple[str, Any, Any]]:
    """(property, what the note's properties say, what the note says) for each vaultkit
    property that differs (None: absent); what a build changes."""
    found = []
    for name, value in wanted.items():
        if properties.get(name) != value:
            found.append((name, properties.get(name), value))
    for name, value in properties.items():
        if is_synced(name) and name not in wanted:
            found.append((name, value, None))
    return found
