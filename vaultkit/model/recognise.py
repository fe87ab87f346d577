"""What a note is: an experiment, a template, or neither, and why. The rules, with a
table of cases, are in the README ("What counts as an experiment"). Pure."""

from __future__ import annotations

import itertools

from vaultkit.model.snapshot import VaultSnapshot
from vaultkit.records import PREVIOUS, Note

DOCUMENT_TAG = "document"
TEMPLATE_TAGS = ("template", "document_template")


def has_tag(tags: list[str], wanted: str) -> bool:
    """``#wanted`` or a nested ``#wanted/…`` among lower-cased tags."""
    # (C-level scans: asked several times for every note of the vault)
    return wanted in tags or any(map(str.startswith, tags, itertools.repeat(wanted + "/")))


def in_folder(path: str, folder: str | None) -> bool:
    return folder is not None and path.lower().startswith(folder.lower().rstrip("/") + "/")


def in_templates_folder(path: str, vault: VaultSnapshot) -> bool:
    """In the folder of the core Templates plugin or of Templater, or the template the
    config names."""
    template = vault.config.experiment_template
    if template and path.lower() in (template.lower(), template.lower() + ".md"):
        return True
    return any(in_folder(path, folder) for folder in vault.templates_folders)


def has_template_tag(tags: list[str]) -> bool:
    return any(has_tag(tags, t) for t in TEMPLATE_TAGS)


def filled_in(note: Note) -> bool:
    """A section of the template holds an answer, or a previous experiment is named."""
    parsed = note.parsed
    answered = any(state == "answered" for state in parsed.sections.values())
    return answered or any(link.role == PREVIOUS and link.target for link in parsed.links)


def is_template(note: Note, vault: VaultSnapshot) -> bool:
    """In a templates folder; or, anywhere else, tagged #template or #document_template
    and not filled in (a note made from the template keeps its tags until someone
    removes them: once it holds an answer, it is the note, not the template)."""
    if in_templates_folder(note.path, vault):
        return True
    return has_template_tag(note.parsed.tag_names) and not filled_in(note)


def has_experiment_property(note: Note, vault: VaultSnapshot) -> bool:
    """The properties hold every value ``experiment_property`` asks for (without case;
    a list holds it when one of its items does)."""
    wanted = vault.config.experiment_property
    if not wanted:
        return False
    properties = {str(k).lower(): v for k, v in note.parsed.properties.items()}
    for name, value in wanted:
        found = properties.get(name)
        items = found if isinstance(found, list) else [found]
        if not any(isinstance(item, str) and item.strip().lower() == value for item in items):
            return False
    return True


def _selected(note: Note, vault: VaultSnapshot) -> str | None:
    """None when the note is selected as an experiment, else why not."""
    tags = note.parsed.tag_names
    tag = vault.config.experiment_tag
    if has_experiment_property(note, vault):
        return None
    if not has_tag(tags, tag):
        if vault.config.experiment_property:
            wanted = ", ".join(f"{k}: {v}" for k, v in vault.config.experiment_property)
            return f"it has neither the #{tag} tag nor the property {wanted}"
        return f"it has no #{tag} tag"
    if has_tag(tags, DOCUMENT_TAG) or note.parsed.previous_heading:
        return None
    heading = vault.config.previous_headings[0]
    return f"it has #{tag} but neither #{DOCUMENT_TAG} nor a '{heading}' heading"


def is_experiment(note: Note, vault: VaultSnapshot) -> bool:
    """Selected (by tag and document, or by property), not a template, and not a note
    vaultkit generates."""
    if vault.config.is_generated(note.path):
        return False
    return _selected(note, vault) is None and not is_template(note, vault)


def why_not_an_experiment(note: Note, vault: VaultSnapshot) -> str:
    """Why a note that is no experiment is none, in a few words."""
    if vault.config.is_generated(note.path):
        return "vaultkit generates it"
    why = _selected(note, vault)
    if why is not None:
        return why
    if in_templates_folder(note.path, vault):
        return "it is in a templates folder"
    return "it is a template (tagged #template, with no section answered yet)"


def is_experiment_template(note: Note, vault: VaultSnapshot) -> bool:
    """A template for experiments: tagged with the experiment tag and a template tag."""
    tags = note.parsed.tag_names
    return has_tag(tags, vault.config.experiment_tag) and has_template_tag(tags)


def near_miss(note: Note, vault: VaultSnapshot) -> tuple[str, str] | None:
    """(problem code, why) for a note that looks like an experiment and is not one: in
    the experiments folder, or with a heading that names a previous experiment. None for
    an experiment, a template in a templates folder, a generated note, or a note that
    looks like none."""
    path = note.path
    if vault.config.is_generated(path) or in_templates_folder(path, vault):
        return None
    in_experiments = in_folder(path, vault.config.experiments_folder)
    if not (in_experiments or note.parsed.previous_heading) or is_experiment(note, vault):
        return None
    why = _selected(note, vault)
    if why is not None:
        return "not-an-experiment", f"looks like an experiment but is not one: {why}"
    if not in_experiments:
        return None  # a template kept among the notes, as some teams keep theirs
    return (
        "template-copy",
        "a copy of the template, not filled in yet: it counts as an experiment once a "
        "section holds an answer or a previous experiment is named",
    )
