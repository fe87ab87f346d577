"""Creating and editing notes: a new vault (``init``, ``demo``), a new experiment linked
into its lineage, a status changed where it is written. Reads through disk/read.py,
writes through disk/write.py; the text edits themselves are pure (output/edit.py)."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import quote

from vaultkit.disk.read import read_bytes
from vaultkit.disk.write import (
    DELETE,
    Decision,
    FileUpdate,
    LeaveAlone,
    create_folder,
    create_new,
    safe_target,
    update_file,
)
from vaultkit.errors import (
    ManagedBlockError,
    NoteExists,
    NoteNotFound,
    RefusedEdit,
    UnsafePath,
    VaultkitError,
)
from vaultkit.loading import packaged_template
from vaultkit.model.config import CONFIG_PATH, Config
from vaultkit.model.managed import block_content
from vaultkit.model.metrics import unanswered
from vaultkit.model.reading import RUN_BLOCK, run_sections
from vaultkit.model.results import metric_rules
from vaultkit.model.runs import (
    RUN_PROPERTY,
    Run,
    code_span,
    linked_runs,
    missing_line,
    run_block,
    run_section,
    stated_values,
    unchanged,
)
from vaultkit.model.snapshot import VaultSnapshot
from vaultkit.obsidian.links import format_link, link_style
from vaultkit.obsidian.note import FOOTER_KEYS
from vaultkit.obsidian.resolve import Resolver
from vaultkit.output import edit
from vaultkit.records import NEXT, Note, ParsedNote

if TYPE_CHECKING:  # the tracker is asked for only by the demo with MLflow
    from vaultkit.tracker import Tracker

DATA = Path(__file__).parent / "data"
VAULT_TEMPLATE = DATA / "vault_template"
DEMO_NOTES = DATA / "demo"


def _copy_tree(source: Path, root: Path) -> list[str]:
    created = []
    for path in sorted(p for p in source.rglob("*") if p.is_file()):
        relative = path.relative_to(source).as_posix()
        create_new(root, relative, path.read_bytes())
        created.append(relative)
    return created


def init_vault(root: Path) -> list[str]:
    """A new vault from vault_template/: Templates plugin set up, the experiment template,
    an Experiments/ folder, a welcome note, a .gitignore for Obsidian's per-device files."""
    if root.exists() and (not root.is_dir() or any(root.iterdir())):
        raise NoteExists(
            "already exists and is not empty; give a new folder (inside an existing vault, "
            "run 'vaultkit build' instead)",
            str(root),
        )
    create_folder(root)
    return _copy_tree(VAULT_TEMPLATE, root)


def demo_vault(root: Path) -> list[str]:
    """``init`` plus a small, realistic project: a defect detector's experiments."""
    return init_vault(root) + _copy_tree(DEMO_NOTES, root)


# The demo's training runs, as its notes tell them (metric histories end on the values in
# each note's Result), plus what a real store holds that notes do not: EXP-004's run logged
# a crack recall of 0.64 where its note says 0.66 (a drift `check` finds), and a sweep
# grown out of EXP-004's run that no note names yet (an orphan).
DEMO_REQUIREMENTS = "torch==2.3.0\ntorchvision==0.18.0\nultralytics==8.2.31\n"
DEMO_RUNS: list[tuple[str | None, str, dict[str, list[float]], dict[str, str]]] = [
    # (the note, or None; run name; metric histories; parameters)
    (
        "EXP-001 baseline",
        "baseline",
        {"mAP_0.5": [0.35, 0.52, 0.598, 0.612], "crack_recall": [0.2, 0.35, 0.41]},
        {"lr": "0.01", "epochs": "100", "imgsz": "1024"},
    ),
    (
        "EXP-002 mosaic augmentation",
        "mosaic",
        {"mAP_0.5": [0.4, 0.6, 0.661, 0.655], "crack_recall": [0.3, 0.52, 0.58]},
        {"lr": "0.01", "epochs": "100", "mosaic": "1.0"},
    ),
    (
        "EXP-003 focal loss",
        "focal",
        {"mAP_0.5": [0.38, 0.57, 0.634], "crack_recall": [0.25, 0.45, 0.52]},
        {"lr": "0.01", "epochs": "100", "focal_gamma": "1.5"},
    ),
    (
        "EXP-004 mosaic and focal loss",
        "mosaic focal",
        {"mAP_0.5": [0.42, 0.63, 0.671], "crack_recall": [0.33, 0.6, 0.64]},
        {"lr": "0.005", "epochs": "100", "mosaic": "1.0", "focal_gamma": "1.5"},
    ),
    (
        "EXP-010 distillation to nano",
        "distil nano",
        {"mAP_0.5": [0.41, 0.55, 0.571], "latency_ms": [10.4, 9.8]},
        {"lr": "0.01", "epochs": "60"},
    ),
    (
        None,
        "mosaic focal lr sweep",
        {"mAP_0.5": [0.45, 0.66, 0.678], "crack_recall": [0.35, 0.62, 0.67]},
        {"lr": "0.003", "epochs": "100", "mosaic": "1.0", "focal_gamma": "1.5"},
    ),
]
DEMO_TRACKING_URI = "sqlite:///mlflow.db"  # in the vault's folder (see tracker.tracking_uri);
# the runs' files go to mlartifacts/ beside it


def demo_runs(root: Path, tracker: Tracker) -> str:
    """Log the demo's runs with MLflow's client, name each in its note (`mlflow_run`),
    and point the vault's config at the store -> the id of the run no note names."""
    ids: dict[str | None, str] = {}
    for note, name, histories, params in DEMO_RUNS:
        tags = {"mlflow.source.git.commit": "3f2c1ab", "mlflow.note.content": f"demo: {name}"}
        if note is None:  # the sweep grew out of EXP-004's run
            tags["mlflow.parentRunId"] = ids["EXP-004 mosaic and focal loss"]
        files = {"model/requirements.txt": DEMO_REQUIREMENTS} if note else {}
        ids[note] = tracker.log_run(
            "defect detector", name, histories, params, tags, files, root / "mlartifacts"
        )
    for note, run_id in ids.items():
        if note is not None:
            path = f"Experiments/{note}.md"
            update_file(root, path, _naming_run(path, run_id))
    setting = f'mlflow_tracking_uri = "{DEMO_TRACKING_URI}"\n'.encode()
    update_file(root, CONFIG_PATH, lambda current: (current or b"") + setting)
    return ids[None]


def _naming_run(path: str, run_id: str) -> FileUpdate:
    def name_run(current: bytes | None) -> bytes:
        text = _decode(current or b"", path)
        return edit.add_property(text, RUN_PROPERTY, run_id).encode("utf-8")

    return name_run


# -- new experiment ---------------------------------------------------------------------


@dataclass
class NewExperiment:
    """A note ``new_experiment`` created, and what it did to the parents."""

    path: str
    template: str  # vault path or "packaged"
    parents_updated: list[str] = field(default_factory=list)
    parents_already_linked: list[str] = field(default_factory=list)


def _decode(data: bytes, path: str) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise RefusedEdit("is not UTF-8; vaultkit will not edit it", path) from None


def new_experiment_path(vault: VaultSnapshot, title: str, folder: str | None) -> str:
    """Where a new experiment note goes; refused when the title cannot be linked, the
    folder leaves the vault, or a note is already there."""
    edit.check_title(title)
    chosen = vault.config.experiments_folder if folder is None else folder
    cleaned = chosen.strip().replace("\\", "/").strip("/")
    if (
        chosen.strip().startswith(("/", "\\"))
        or re.match(r"^[A-Za-z]:", chosen.strip())
        or any(part in ("..", ".") for part in cleaned.split("/"))
        or any(part.startswith(".") for part in cleaned.split("/") if part)
    ):
        raise UnsafePath(
            f"--folder {chosen!r} is not a folder inside the vault; give a relative path "
            f"such as {vault.config.experiments_folder!r}"
        )
    path = f"{cleaned}/{title}.md" if cleaned else f"{title}.md"
    safe_target(vault.root, path)
    if (vault.root / path).exists() or path.lower() in {p.lower() for p in vault.files}:
        raise NoteExists("already exists; vaultkit never overwrites a note", path)
    return path


def new_experiment(
    vault: VaultSnapshot,
    path: str,
    previous: list[Note],
    related: list[Note],
    template_path: str | None,
    now: datetime,
    run: Run | None = None,
) -> NewExperiment:
    """Create the note at ``path`` (see ``new_experiment_path``) from the template and
    link it into each parent's Next-experiment section; ``run`` fills it."""
    title = path.rpartition("/")[2][:-3]
    if template_path:
        text = _decode(read_bytes(vault.root, template_path) or b"", template_path)
    else:
        text = packaged_template()
    settings = vault.template_settings
    text = edit.fill_template(
        text,
        title,
        now,
        settings.get("dateFormat") or "YYYY-MM-DD",
        settings.get("timeFormat") or "HH:mm",
    )
    text = edit.set_status(edit.drop_template_tags(text), "writing", vault.rules)

    style = link_style(vault.app_settings)
    resolver = Resolver([*vault.files, path])
    text = edit.add_previous_links(
        text,
        [format_link(p.path, path, style, resolver) for p in previous],
        vault.config.previous_headings[0],
    )
    text = edit.add_related_links(
        text, [format_link(r.path, path, style, resolver) for r in related]
    )
    if run is not None:
        text = from_run(text, run)
    result = NewExperiment(path, template_path or "packaged")
    links: dict[str, FileUpdate] = {}  # each parent's one change: a link to the new note
    for parent in previous:
        already = any(  # resolved again: the link may have waited for this very note
            link.role == NEXT and resolver.resolve(link.target, parent.path).path == path
            for link in parent.parsed.links
        )
        if already:
            result.parents_already_linked.append(parent.path)
            continue
        links[parent.path] = _next_link_added(
            parent.path, format_link(path, parent.path, style, resolver)
        )
    for where, update in links.items():  # all or nothing: every parent can take its link
        update(read_bytes(vault.root, where))
        if not os.access(vault.root / where, os.W_OK):
            raise RefusedEdit("cannot be written, so the new note was not created either", where)
    created = text.encode("utf-8")
    create_new(vault.root, path, created)
    for where, update in links.items():
        try:
            update_file(vault.root, where, update)
        except VaultkitError as exc:
            kept = _undo_new_note(vault.root, path, created)
            outcome = (
                f"the new note {path} stays (it changed meanwhile)"
                if kept
                else ("the new note was not kept, so nothing changed")
            )
            raise type(exc)(f"{exc.message}; {outcome}", exc.path) from None
        result.parents_updated.append(where)
    return result


def _undo_new_note(root: Path, path: str, created: bytes) -> bool:
    """Remove the note new_experiment just made, while it holds exactly what it wrote ->
    True when it stays (someone changed it meanwhile)."""

    def remove(current: bytes | None) -> Decision:
        return DELETE if current == created else LeaveAlone("it changed since it was made")

    try:
        update_file(root, path, remove)
    except VaultkitError:
        return True
    return False


def _next_link_added(where: str, link: str) -> FileUpdate:
    """A parent's only change: one link in its Next-experiment section."""

    def update(current: bytes | None) -> bytes:
        if current is None:
            raise NoteNotFound("is gone; vaultkit did not link the new note from it", where)
        return edit.add_next_link(_decode(current, where), link).encode("utf-8")

    return update


def change_status(
    vault: VaultSnapshot, note: Note, experiment: bool, status: str, force: bool
) -> None:
    """Write ``status`` where the note keeps it. A done experiment must let someone
    rebuild the model, so `done` is refused while template sections are unanswered."""
    if status == "done" and experiment and not force:
        missing = unanswered(note.parsed.sections)
        if missing:
            raise RefusedEdit(
                f"not marked done: {len(missing)} template section"
                f"{'s are' if len(missing) > 1 else ' is'} not answered yet: "
                f"{', '.join(missing)}. Answer them, or use --force",
                note.path,
            )

    def set_status(current: bytes | None) -> bytes:
        if current is None:
            raise NoteNotFound("is gone; its status was not changed", note.path)
        return edit.set_status(_decode(current, note.path), status, vault.rules).encode("utf-8")

    update_file(vault.root, note.path, set_status)


def obsidian_uri(vault_root: Path, path: str) -> str:
    """``obsidian://open?vault=…&file=…`` with everything encoded."""
    file = path[:-3] if path.lower().endswith(".md") else path
    return f"obsidian://open?vault={quote(vault_root.name, safe='')}&file={quote(file, safe='')}"


def from_run(text: str, run: Run) -> str:
    """A new note filled from its run: the run named (`mlflow_run`), its parameters as
    the Model's settings, the metrics it logged under Metrics, its environment file's
    pins under Environment setup, and the run block (values and all) in Result. Text
    from the tracker goes in as plain words only where it is one (`lr: 0.01`); anything
    else is a code span, so no value can add a status, a tag, a link or a line."""
    text = edit.add_property(text, RUN_PROPERTY, run.id)
    settings = [
        f"{code_span(name) if name.strip().lower() in FOOTER_KEYS else as_text(name)}: "
        f"{as_text(value)}"
        for name, value in sorted(run.params.items())
    ]  # a parameter named `status` must not become the note's Status line
    text = edit.add_links_to_section(text, "Model", settings)
    if run.metrics:
        logged = ", ".join(code_span(name) for name in sorted(run.metrics))
        text = edit.add_links_to_section(text, "Metrics", [f"Logged by the run: {logged}"])
    if run.environment:
        file, content = run.environment
        lines = [line.strip() for line in content.splitlines()]
        pins = [code_span(line) for line in lines if line and not line.startswith("#")]
        text = edit.add_links_to_section(
            text, "Environment setup", [f"Logged with the run: {code_span(file)}", *pins]
        )
    return edit.set_run_block(text, run_block([run_section(run)]))


_PLAIN = re.compile(r"[\w.+-]+(?: [\w.+-]+)*")  # words: nothing Markdown or Obsidian reads


def as_text(value: str) -> str:
    """A tracker's value as it reads in a note: plain when it is words and numbers
    (`0.01`, `batch size`), else a code span."""
    return value if _PLAIN.fullmatch(value) and "__" not in value else code_span(value)


@dataclass(frozen=True)
class RunSync:
    """What syncing one note's runs did."""

    path: str
    runs: list[str]  # the run ids the note names
    missing: list[str]  # those the tracking store does not have
    written: bool  # False: the block already held exactly this


def sync_note_runs(
    root: Path,
    path: str,
    parsed: ParsedNote,
    config: Config,
    tracker: Tracker,
    known: dict[str, Run | None],
    summaries: dict[str, Run] | None = None,
) -> RunSync:
    """Write the runs the note names into its run block, with the step that logged each
    of the note's values (a second sync of unchanged runs writes nothing). ``known``:
    runs already read, shared between notes. ``summaries``: the store's summaries of
    the runs (``Tracker.summaries``): a run whose summary matches what the block says
    keeps its section and is not read again, and a run the store does not have keeps
    what the block showed of it."""
    ids = linked_runs(parsed)
    rules = metric_rules(config)
    stated = stated_values(parsed, rules)
    current = read_bytes(root, path)
    if current is None:
        raise NoteNotFound("is gone; its runs were not synced", path)
    try:
        block = block_content(_decode(current, path), RUN_BLOCK)
    except ManagedBlockError:
        block = None  # broken markers: set_run_block says so
    kept = run_sections(block.splitlines()) if block else {}
    sections, missing = [], []
    for run_id in ids:
        synced = parsed.synced_runs.get(run_id)
        if summaries is not None and run_id not in summaries:
            known[run_id] = None
        summary = summaries.get(run_id) if summaries is not None else None
        if (
            summary is not None
            and synced is not None
            and run_id in kept
            and unchanged(summary, synced, stated, rules)
        ):
            sections.append(kept[run_id])
            continue
        if run_id not in known:
            known[run_id] = tracker.run(run_id)
        run = known[run_id]
        if run is None:  # what the block showed of it stays
            missing.append(run_id)
            before = kept.get(run_id, [])
            gone = missing_line(run_id, tracker.shown, bool(before))
            sections.append([*before, "", gone] if before else [gone])
        else:
            sections.append(run_section(run, stated, rules, config.drift_tolerance))
    content = run_block(sections)

    def set_block(current: bytes | None) -> bytes:
        if current is None:
            raise NoteNotFound("is gone; its runs were not synced", path)
        return edit.set_run_block(_decode(current, path), content).encode("utf-8")

    return RunSync(path, ids, missing, update_file(root, path, set_block))
