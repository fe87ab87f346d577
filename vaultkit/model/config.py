"""Settings: `.vaultkit/config.toml` (vaultkit's own) and `.obsidian/app.json` link format.

Pure: text in, settings out. ``vault.py`` reads the files.
"""

from __future__ import annotations

import functools
import tomllib
from dataclasses import dataclass, fields

CONFIG_PATH = ".vaultkit/config.toml"


class ConfigError(ValueError):
    """The config file is not usable; the message says which key and why."""


@dataclass(frozen=True)
class Config:
    """Where vaultkit writes and what it looks for. Every key is optional in the file."""

    index_note: str = "Experiment Index.md"
    lineage_folder: str = "Lineages"
    experiments_folder: str = "Experiments"
    experiment_tag: str = "model_training"
    lineage_metric: str = ""  # the metric charted in lineage notes; "" = the most shared

    @functools.cached_property  # asked once per note of the vault
    def index_path(self) -> str:
        note = self.index_note.strip("/")
        return note if note.lower().endswith(".md") else note + ".md"

    @functools.cached_property
    def _lineage_prefix(self) -> str:
        return self.lineage_folder.strip("/").lower() + "/"

    def in_lineage_folder(self, path: str) -> bool:
        """In the folder of lineage notes and canvases (compared without case)."""
        return path.lower().startswith(self._lineage_prefix)

    def is_generated(self, path: str) -> bool:
        """Notes vaultkit writes: never experiments, never lineage edges."""
        return path == self.index_path or self.in_lineage_folder(path)


def parse_config(text: str) -> Config:
    """Read config.toml text; unknown keys and wrong types are errors that name the key."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"not valid TOML: {exc}") from None
    known = {f.name for f in fields(Config)}
    unknown = sorted(set(data) - known)
    if unknown:
        raise ConfigError(f"unknown key {unknown[0]!r}; known keys: {', '.join(sorted(known))}")
    for key, value in data.items():
        if not isinstance(value, str) or not value.strip():
            raise ConfigError(f"{key} must be a non-empty string, not {value!r}")
        if value.startswith("/") or ".." in value.replace("\\", "/").split("/"):
            raise ConfigError(f"{key} must be a path inside the vault, not {value!r}")
    cleaned = {
        k: v.strip().lstrip("#") if k == "experiment_tag" else v.strip() for k, v in data.items()
    }
    if "experiment_tag" in cleaned:
        cleaned["experiment_tag"] = cleaned["experiment_tag"].lower()
    return Config(**cleaned)


@dataclass(frozen=True)
class LinkStyle:
    """How the vault writes links (Settings → Files and links)."""

    format: str = "shortest"  # shortest | relative | absolute
    markdown: bool = False


def link_style(app_settings: dict) -> LinkStyle:
    chosen = app_settings.get("newLinkFormat")
    return LinkStyle(
        chosen if chosen in ("shortest", "relative", "absolute") else "shortest",
        app_settings.get("useMarkdownLinks") is True,
    )
