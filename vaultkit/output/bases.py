"""The Bases view of the experiments (`Experiments.base`): a file Obsidian (1.9 and later)
opens as a live table that can be sorted, filtered and grouped. It reads the properties
vaultkit keeps in each experiment (model/synced.py), so it comes with `properties_sync`.

Pure: the synced properties' names in, the file's YAML out. Its syntax is Obsidian's
(docs/bases.md says which parts are used and why).
"""

from __future__ import annotations

from typing import Any

import yaml

from vaultkit.model.synced import LINEAGE, PREVIOUS, STATUS, SyncedProperties

WRITING = "writing"  # the status of the notes still being written (the template's first)


def _note(name: str) -> str:
    return f"note.{name}"


class _Dumper(yaml.SafeDumper):
    """YAML as Obsidian writes a `.base`: lists indented under their key, no anchors."""

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        super().increase_indent(flow, False)

    def ignore_aliases(self, data: Any) -> bool:
        return True


def base_file(synced: SyncedProperties) -> str:
    """The `.base` file's text: every experiment grouped by status, the writing queue, and
    the experiments ranked by the main metric with the best of it summed up."""
    metrics = synced.metrics
    columns = [
        "file.name",
        _note(STATUS),
        _note(PREVIOUS),
        _note(LINEAGE),
        *(_note(name) for name in metrics.values()),
        "file.mtime",
    ]
    shown = {STATUS: "Status", PREVIOUS: "Previous experiment", LINEAGE: "Lineage"}
    shown |= {name: metric for metric, name in metrics.items()}
    views: list[dict[str, Any]] = [
        {
            "type": "table",
            "name": "By status",
            "groupBy": {"property": _note(STATUS), "direction": "ASC"},
            "order": columns,
            "sort": [{"property": "file.name", "direction": "ASC"}],
        },
        {
            "type": "table",
            "name": "Writing queue",
            "filters": {"and": [f'{_note(STATUS)} == "{WRITING}"']},
            "order": columns,
            "sort": [{"property": "file.mtime", "direction": "DESC"}],
        },
    ]
    main = synced.main_metric
    if main is not None:
        name = metrics[main]
        higher = synced.results.rules.higher_is_better(main)
        views.append(
            {
                "type": "table",
                "name": f"Ranked by {main}",
                "filters": {"and": [f'file.hasProperty("{name}")']},
                "order": columns,
                "sort": [{"property": _note(name), "direction": "DESC" if higher else "ASC"}],
                "summaries": {_note(name): "Max" if higher else "Min"},
            }
        )
    data = {
        "filters": {"and": [f'file.hasProperty("{LINEAGE}")']},
        "properties": {name: {"displayName": text} for name, text in shown.items()},
        "views": views,
    }
    return yaml.dump(data, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=200)
