"""Creating things in a vault: a new vault (``init``, ``demo``) and a new experiment note
linked into its lineage. Reads through ``vault.py``, writes through ``write.py``."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from vaultkit.disk.read import read_text_file
from vaultkit.disk.write import NoteExists, create_new, safe_target, write_if_changed
from vaultkit.errors import VaultkitError
from vaultkit.model.config import link_style
from vaultkit.model.metrics import unanswered
from vaultkit.model.records import NEXT
from vaultkit.model.vault_model import VaultModel, has_tag, has_template_tag, in_folder
from vaultkit.obsidian.links import format_link
from vaultkit.obsidian.resolve import Resolver
from vaultkit.output import edit

DATA = Path(__file__).parent / "data"
VAULT_TEMPLATE = DATA / "vault_template"
DEMO_NOTES = DATA / "demo"
TEMPLATE_NAME = "Model Training"


def _copy_tree(source: Path, root: Path) -> list[str]:
    created = []
    for path in sorted(p for p in source.rglob("*") if p.is_file()):
        relative = path.relative_to(source).as_posix()
        create_new(root, relative, path.read_bytes())
        created.append(relative)
    return created


def init_vault(root: Path) -> list[str]:
    """A new vault from vault_template/: Templates plugin set up, the experiment template,
    an Experiments/ folder, a welcome note, a .gitignore for vaultkit's cache."""
    if root.exists() and (not root.is_dir() or any(root.iterdir())):
        raise VaultkitError(
            "already exists and is not empty; give a new folder (inside an existing vault, "
            "run 'vaultkit build' instead)",
            str(root),
        )
    root.mkdir(parents=True, exist_ok=True)
    return _copy_tree(VAULT_TEMPLATE, root)


def demo_vault(root: Path) -> list[str]:
    """``init`` plus a small, realistic project: a defect detector's experiments."""
    return init_vault(root) + _copy_tree(DEMO_NOTES, root)


# -- new experiment ---------------------------------------------------------------------

_VERSION = re.compile(r"v\.?\s*(\d+(?:\.\d+)*)", re.IGNORECASE)


def _version(name: str) -> tuple[int, ...]:
    match = _VERSION.search(name)
    return tuple(int(part) for part in match.group(1).split(".")) if match else ()


def find_template(model: VaultModel) -> str | None:
    """The vault's experiment template: a note tagged #model_training and #template or
    #document_template (highest version in its name, then newest); else a note named
    'Model Training' in the Templates folder; else None (use the packaged one)."""
    tag = model.vault.config.experiment_tag
    tagged = [
        note
        for note in model.notes.values()
        if has_tag(note.parsed.tag_names, tag) and has_template_tag(note.parsed.tag_names)
    ]
    if tagged:
        best = max(tagged, key=lambda n: (_version(n.title), n.mtime_ns, n.path))
        return best.path
    folder = model.vault.templates_folder
    for note in sorted(model.notes.values(), key=lambda n: n.path):
        if note.title.lower() == TEMPLATE_NAME.lower() and in_folder(note.path, folder):
            return note.path
    return None


@dataclass
class NewExperiment:
    path: str
    template: str  # vault path or "packaged"
    parents_updated: list[str] = field(default_factory=list)
    parents_already_linked: list[str] = field(default_factory=list)


def _decode(data: bytes, path: str) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise VaultkitError("is not UTF-8; vaultkit will not edit it", path) from None


def new_experiment(
    model: VaultModel,
    title: str,
    previous: list[str],
    related: list[str],
    folder: str | None,
    template: str | None,
    now: datetime,
) -> NewExperiment:
    """Create the note and link it into each parent's Next-experiment section.
    ``previous``, ``related`` and ``template`` are note ids already resolved."""
    edit.check_title(title)
    vault = model.vault
    folder = (folder if folder is not None else vault.config.experiments_folder).strip("/")
    path = f"{folder}/{title}.md" if folder else f"{title}.md"
    safe_target(vault.root, path)
    if (vault.root / path).exists() or path.lower() in {p.lower() for p in vault.files}:
        raise NoteExists("already exists; vaultkit never overwrites a note", path)

    template_path = model.notes[template].path if template else find_template(model)
    if template_path:
        text = _decode(read_text_file(vault.root, template_path) or b"", template_path)
    else:
        text = (VAULT_TEMPLATE / "Templates" / f"{TEMPLATE_NAME}.md").read_text(encoding="utf-8")
    settings = vault.template_settings
    text = edit.fill_template(
        text,
        title,
        now,
        settings.get("dateFormat") or "YYYY-MM-DD",
        settings.get("timeFormat") or "HH:mm",
    )
    text = edit.set_status(edit.drop_template_tags(text), "writing")

    style = link_style(vault.app_settings)
    resolver = Resolver([*vault.files, path])

    def link(note_id: str, source: str) -> str:
        return format_link(model.notes[note_id].path, source, style, resolver)

    text = edit.add_previous_links(text, [link(p, path) for p in previous])
    text = edit.add_related_links(text, [link(r, path) for r in related])
    create_new(vault.root, path, text.encode("utf-8"))

    result = NewExperiment(path, template_path or "packaged")
    for parent in previous:
        parent_path = model.notes[parent].path
        already = any(  # resolved again: the link may have waited for this very note
            r.link.role == NEXT and resolver.resolve(r.link.target, parent_path).path == path
            for r in model.links.get(parent, [])
        )
        if already:
            result.parents_already_linked.append(parent_path)
            continue
        current = _decode(read_text_file(vault.root, parent_path) or b"", parent_path)
        new_link = format_link(path, parent_path, style, resolver)
        write_if_changed(
            vault.root, parent_path, edit.add_next_link(current, new_link).encode("utf-8")
        )
        result.parents_updated.append(parent_path)
    return result


def change_status(model: VaultModel, note_id: str, status: str, force: bool) -> None:
    """Write ``status`` where the note keeps it. A done experiment must let someone
    rebuild the model, so `done` is refused while template sections are unanswered."""
    note = model.notes[note_id]
    if status == "done" and note_id in model.experiments and not force:
        missing = unanswered(note.parsed.sections)
        if missing:
            raise VaultkitError(
                f"not marked done: {len(missing)} template section"
                f"{'s are' if len(missing) > 1 else ' is'} not answered yet: "
                f"{', '.join(missing)}. Answer them, or use --force",
                note.path,
            )
    root = model.vault.root
    text = _decode(read_text_file(root, note.path) or b"", note.path)
    write_if_changed(root, note.path, edit.set_status(text, status).encode("utf-8"))


def obsidian_uri(vault_root: Path, path: str) -> str:
    """``obsidian://open?vault=…&file=…`` with everything encoded (OBSIDIAN_SPEC §9)."""
    from urllib.parse import quote

    file = path[:-3] if path.lower().endswith(".md") else path
    return f"obsidian://open?vault={quote(vault_root.name, safe='')}&file={quote(file, safe='')}"
