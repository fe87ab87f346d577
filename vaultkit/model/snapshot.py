"""The vault as read: its settings, notes and files (the model is built from it)."""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vaultkit.model.config import Config
from vaultkit.model.reading import DEFAULT_RULES
from vaultkit.records import Note, ParseRules, Problem


@dataclass
class VaultSnapshot:
    """What was read from a vault folder: its settings, notes and files. The model is
    built from this; nothing after loading reads files."""

    root: Path
    config: Config = field(default_factory=Config)
    template_settings: dict[str, Any] = field(default_factory=dict)
    app_settings: dict[str, Any] = field(default_factory=dict)
    templater_settings: dict[str, Any] = field(default_factory=dict)
    rules: ParseRules = DEFAULT_RULES
    settings_key: str = ""  # a digest of the settings and rules (``loading.read_settings``)
    notes: dict[str, Note] = field(default_factory=dict)  # by path
    files: list[str] = field(default_factory=list)  # every file, notes and attachments
    problems: list[Problem] = field(default_factory=list)  # notes that could not be read

    @functools.cached_property  # the settings are read once, before any note
    def templates_folder(self) -> str | None:
        """The core Templates plugin's folder."""
        return _folder(self.template_settings.get("folder"))

    @functools.cached_property
    def templates_folders(self) -> tuple[str, ...]:
        """Every folder of templates: the core Templates plugin's, Templater's, and the
        one `templates_folder` in the config names."""
        found = [
            self.templates_folder,
            _folder(self.templater_settings.get("templates_folder")),
            _folder(self.config.templates_folder),
        ]
        return tuple(dict.fromkeys(f for f in found if f))


def _folder(setting: Any) -> str | None:
    return setting.strip().strip("/") or None if isinstance(setting, str) else None
