"""Settings: `.vaultkit/config.toml`, vaultkit's own (the vault's link format is
Obsidian's: obsidian/links.py).

Pure: text in, settings out. ``loading.py`` reads the files (through ``disk/read.py``).
"""

from __future__ import annotations

import functools
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from vaultkit.errors import ConfigError
from vaultkit.obsidian.syntax import is_valid_tag
from vaultkit.records import SYNCED_PREFIX, is_synced

CONFIG_PATH = ".vaultkit/config.toml"


@dataclass(frozen=True)
class Config:
    """Where vaultkit writes and what it looks for. Every key is optional in the file."""

    index_note: str = "Experiment Index.md"
    lineage_folder: str = "Lineages"
    experiments_folder: str = "Experiments"
    experiment_tag: str = "model_training"
    # the metric that ranks a lineage's experiments; "" = the one most of them report
    lineage_metric: str = ""
    # an experiment alone in its lineage: a row of one "Unlinked experiments" table in the
    # index ("table"), or a lineage note of its own ("notes")
    single_lineages: str = "table"
    index_metrics: tuple[str, ...] = ()  # the index's metric columns; () = the 3 most reported
    # notes whose properties hold these values are experiments too: (name, value) pairs
    experiment_property: tuple[tuple[str, str], ...] = ()
    status_property: str = "status"  # the property read when there is no Status: line
    previous_headings: tuple[str, ...] = ("Previous experiment",)
    previous_properties: tuple[str, ...] = ("previous", "previous_experiment")
    experiment_template: str = ""  # the vault's experiment template; "" = find it
    # a folder of templates besides those Obsidian's settings name (a vault kept without
    # .obsidian/, a git clone): its notes are templates, never experiments
    templates_folder: str = ""
    statuses: tuple[str, ...] = ()  # statuses set-status accepts besides the known ones
    ignore: tuple[str, ...] = ()  # check problems to leave out: "code" or "code:note glob"
    mlflow_tracking_uri: str = ""  # the MLflow store `runs` reads; "" = MLflow's default
    runs_sync: bool = False  # build syncs the MLflow runs notes name first
    drift_tolerance: float = 0.01  # how far (relative) a note's number may be from its run's
    mlflow_timeout: int = 5  # seconds one request to a tracking server may take
    mlflow_retries: int = 1  # tries again after a request to a tracking server failed
    # names that stand for one metric: (the name shown, (other names, …))
    metric_aliases: tuple[tuple[str, tuple[str, ...]], ...] = ()
    metric_direction: tuple[tuple[str, str], ...] = ()  # (metric, "higher" or "lower")
    # build keeps vaultkit's properties (status, previous, lineage, metrics) in each
    # experiment's frontmatter (model/synced.py)
    properties_sync: bool = False
    # with properties_sync: build writes a Bases view of the experiments there (bases off:
    # not at all); once a person changes it, it is theirs
    bases: bool = True
    base_file: str = "Experiments.base"
    # build keeps a rebuild recipe note (model/recipe.py) for each lineage's best
    # experiment ("best"), for every experiment ("all"), or none ("none")
    recipes: str = "best"
    recipe_folder: str = "Recipes"
    # the keys the file sets (a default and a value written out may mean different things)
    written: frozenset[str] = frozenset()

    @property
    def base_path(self) -> str | None:
        """Where build keeps the Bases view; None when it keeps none."""
        return self.base_file if self.properties_sync and self.bases else None

    @functools.cached_property  # asked once per note of the vault
    def index_path(self) -> str:
        note = self.index_note
        return note if note.lower().endswith(".md") else note + ".md"

    @functools.cached_property
    def _lineage_prefix(self) -> str:
        return self.lineage_folder.lower() + "/"

    def in_lineage_folder(self, path: str) -> bool:
        """In the folder of lineage notes and canvases (compared without case)."""
        return path.lower().startswith(self._lineage_prefix)

    @functools.cached_property
    def _recipe_prefix(self) -> str:
        return self.recipe_folder.lower() + "/"

    def in_recipe_folder(self, path: str) -> bool:
        """In the folder of recipe notes (compared without case)."""
        return path.lower().startswith(self._recipe_prefix)

    def is_generated(self, path: str) -> bool:
        """Notes vaultkit writes: never experiments, never lineage edges."""
        return (
            path == self.index_path or self.in_lineage_folder(path) or self.in_recipe_folder(path)
        )


def _vault_path(key: str, value: str) -> str:
    """A path inside the vault that Obsidian shows: relative, no `.` or `..` parts, no
    hidden parts (Obsidian hides them), no control characters."""
    cleaned = value.strip().replace("\\", "/").strip("/")
    parts = cleaned.split("/")
    if not cleaned or any(not part.strip() for part in parts):
        raise ConfigError(f"{key} must name a path inside the vault, not {value!r}", CONFIG_PATH)
    if value.strip().startswith("/") or any(part in (".", "..") for part in parts):
        raise ConfigError(
            f"{key} must be a path inside the vault, relative to its root, not {value!r}",
            CONFIG_PATH,
        )
    if any(part.startswith(".") for part in parts):
        raise ConfigError(
            f"{key} = {value!r} starts a part with '.', which Obsidian hides; choose a "
            "visible name",
            CONFIG_PATH,
        )
    if any(ord(char) < 32 or char == "\x7f" for char in cleaned):
        raise ConfigError(f"{key} holds a control character; use a plain name", CONFIG_PATH)
    return cleaned


def _tag(key: str, value: str) -> str:
    tag = value.strip().removeprefix("#").lower()
    if not is_valid_tag(tag):
        raise ConfigError(
            f"{key} = {value!r} is not a tag Obsidian can read; write it like "
            "'model_training' (letters, digits, '_', '-', '/')",
            CONFIG_PATH,
        )
    return tag


def _string(key: str, value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"{key} must be a non-empty string, not {value!r}", CONFIG_PATH)
    if any(ord(char) < 32 or char == "\x7f" for char in value):
        raise ConfigError(f"{key} holds a control character; use plain text", CONFIG_PATH)
    return value.strip()


def _one_of(*choices: str) -> Callable[[str, Any], str]:
    def check(key: str, value: Any) -> str:
        if value not in choices:
            shown = " or ".join(repr(c) for c in choices)
            raise ConfigError(f"{key} must be {shown}, not {value!r}", CONFIG_PATH)
        return str(value)

    return check


def _texts(key: str, value: Any) -> tuple[str, ...]:
    if not isinstance(value, list) or not value:
        raise ConfigError(
            f'{key} must be a list of strings, like {key} = ["a", "b"], not {value!r}',
            CONFIG_PATH,
        )
    return tuple(_string(key, item) for item in value)


def _whole(key: str, value: Any, least: int, most: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not least <= value <= most:
        raise ConfigError(
            f"{key} must be a whole number from {least} to {most}, not {value!r}", CONFIG_PATH
        )
    return value


def _table(key: str, value: Any, what: str, example: str) -> dict[str, Any]:
    """A TOML table, else an error that shows one (``what`` it maps, an ``example``)."""
    if not isinstance(value, dict) or not value:
        raise ConfigError(
            f"{key} must be a table of {what}, like {key} = {example}, not {value!r}",
            CONFIG_PATH,
        )
    return value


def _pairs(key: str, value: Any) -> tuple[tuple[str, str], ...]:
    table = _table(key, value, "property names and values", '{ type = "experiment" }')
    return tuple(sorted((name.lower(), _string(key, v).lower()) for name, v in table.items()))


def _flag(key: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise ConfigError(f"{key} must be true or false, not {value!r}", CONFIG_PATH)
    return value


def _fraction(key: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value < 1:
        raise ConfigError(
            f"{key} must be a number from 0 to 1, like 0.01, not {value!r}", CONFIG_PATH
        )
    return float(value)


def _aliases(key: str, value: Any) -> tuple[tuple[str, tuple[str, ...]], ...]:
    example = '{ "mAP@0.5" = ["mAP50", "metrics/mAP50(B)"] }'
    table = _table(key, value, "metric names and lists of other names", example)
    return tuple(
        (
            _string(key, name),
            _texts(f"{key}.{name}", [others] if isinstance(others, str) else others),
        )
        for name, others in table.items()
    )


def _directions(key: str, value: Any) -> tuple[tuple[str, str], ...]:
    table = _table(key, value, 'metric names and "higher" or "lower"', '{ "my_score" = "lower" }')
    for name, way in table.items():
        if way not in ("higher", "lower"):
            raise ConfigError(
                f'{key}: {name!r} must be "higher" or "lower" (which way is better), not {way!r}',
                CONFIG_PATH,
            )
    return tuple((_string(key, name), way) for name, way in table.items())


def _not_synced(key: str, name: str) -> str:
    """A property vaultkit reads: never one of those it writes."""
    if is_synced(name):
        raise ConfigError(
            f"{key} names {name!r}, a property vaultkit writes ({SYNCED_PREFIX}…) and never "
            "reads; name the property your notes hold",
            CONFIG_PATH,
        )
    return name


def _base_file(key: str, value: Any) -> str:
    path = _vault_path(key, _string(key, value))
    return path if path.lower().endswith(".base") else path + ".base"


def _statuses(key: str, value: Any) -> tuple[str, ...]:
    return tuple(_tag(key, status) for status in _texts(key, value))


_KEYS: dict[str, Callable[[str, Any], Any]] = {
    "index_note": lambda k, v: _vault_path(k, _string(k, v)),
    "lineage_folder": lambda k, v: _vault_path(k, _string(k, v)),
    "experiments_folder": lambda k, v: _vault_path(k, _string(k, v)),
    "experiment_tag": lambda k, v: _tag(k, _string(k, v)),
    "lineage_metric": _string,
    "single_lineages": _one_of("table", "notes"),
    "index_metrics": _texts,
    "experiment_property": _pairs,
    "status_property": lambda k, v: _not_synced(k, _string(k, v).lower()),
    "previous_headings": lambda k, v: tuple(" ".join(h.split()) for h in _texts(k, v)),
    "previous_properties": lambda k, v: tuple(_not_synced(k, n.lower()) for n in _texts(k, v)),
    "experiment_template": lambda k, v: _vault_path(k, _string(k, v)),
    "templates_folder": lambda k, v: _vault_path(k, _string(k, v)),
    "statuses": _statuses,
    "ignore": _texts,
    "mlflow_tracking_uri": _string,
    "drift_tolerance": _fraction,
    "runs_sync": _flag,
    "mlflow_timeout": lambda k, v: _whole(k, v, 1, 600),
    "mlflow_retries": lambda k, v: _whole(k, v, 0, 10),
    "metric_aliases": _aliases,
    "metric_direction": _directions,
    "properties_sync": _flag,
    "bases": _flag,
    "base_file": _base_file,
    "recipes": _one_of("best", "all", "none"),
    "recipe_folder": lambda k, v: _vault_path(k, _string(k, v)),
}
CONFIG_KEYS = tuple(sorted(_KEYS))  # what `.vaultkit/config.toml` may set


def parse_config(text: str) -> Config:
    """Read config.toml text; unknown keys and bad values are errors that name the key."""
    try:
        data: dict[str, Any] = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"is not valid TOML: {exc}", CONFIG_PATH) from None
    known = CONFIG_KEYS
    unknown = sorted(set(data) - set(known))
    if unknown:
        raise ConfigError(
            f"unknown key {unknown[0]!r}; known keys: {', '.join(known)}", CONFIG_PATH
        )
    values = {key: _KEYS[key](key, value) for key, value in data.items()}
    config = Config(**values, written=frozenset(data))
    for key, folder, holds in (
        ("lineage_folder", config.lineage_folder, config.in_lineage_folder),
        ("recipe_folder", config.recipe_folder, config.in_recipe_folder),
    ):
        if holds(config.index_path):
            raise ConfigError(
                f"index_note {config.index_note!r} is inside {key} {folder!r}, whose files "
                "vaultkit manages; put it elsewhere",
                CONFIG_PATH,
            )
    return config
