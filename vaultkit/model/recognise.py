"""What a note is: an experiment, a template, or neither. The rules are in the README
("What counts as an experiment") and docs/obsidian-rules.md. Pure."""

from __future__ import annotations

import itertools

from vaultkit.model.records import Note, VaultSnapshot
from vaultkit.obsidian.note import PREVIOUS_SECTION

DOCUMENT_TAG = "document"
TEMPLATE_TAGS = ("template", "document_template")


def has_tag(tags: list[str], wanted: str) -> bool:
    """``#wanted`` or a nested ``#wanted/…`` among lower-cased tags."""
    # (C-level scans: asked several times for every note of the vault)
    return wanted in tags or any(map(str.startswith, tags, itertools.repeat(wanted + "/")))


def in_folder(path: str, folder: str | None) -> bool:
    return folder is not None and path.lower().startswith(folder.lower().rstrip("/") + "/")


def has_template_tag(tags: list[str]) -> bool:
    return any(has_tag(tags, t) for t in TEMPLATE_TAGS)


def is_template(note: Note, templates_folder: str | None) -> bool:
    """Tagged as a template, or in the Templates plugin's folder."""
    return has_template_tag(note.parsed.tag_names) or in_folder(note.path, templates_folder)


def is_experiment(note: Note, vault: VaultSnapshot) -> bool:
    """Tagged #model_training, a document (#document or a Previous-experiment heading),
    not a template (tag or templates folder), and not a note vaultkit generates."""
    tags = note.parsed.tag_names
    if not has_tag(tags, vault.config.experiment_tag) or is_template(note, vault.templates_folder):
        return False
    if vault.config.is_generated(note.path):
        return False
    if has_tag(tags, DOCUMENT_TAG):
        return True
    # the template section's state says whether the heading is there (see note._report)
    return note.parsed.sections.get(PREVIOUS_SECTION, "missing") != "missing"


def is_experiment_template(note: Note, vault: VaultSnapshot) -> bool:
    """A template for experiments: tagged with the experiment tag and a template tag."""
    tags = note.parsed.tag_names
    return has_tag(tags, vault.config.experiment_tag) and has_template_tag(tags)
