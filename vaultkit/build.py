"""``build``: the index, lineage notes and canvases, planned from the model and written
only where bytes change. Stale lineage notes go, unless they hold a person's text."""

from __future__ import annotations

import difflib
import itertools
import json
from dataclasses import dataclass, field

from vaultkit.disk import cache
from vaultkit.disk.read import (
    read_note,
    read_text_file,
    read_vault_settings,
    settings_digest,
    stat_keys,
    walk_files,
)
from vaultkit.disk.write import delete, save_cache, write_many
from vaultkit.model.config import link_style
from vaultkit.model.vault_model import VaultModel, is_experiment
from vaultkit.output import managed as blocks
from vaultkit.output import render

STALE_NOTICE = (
    "This lineage no longer exists: its experiments were merged into another lineage or "
    "deleted. vaultkit keeps this note because it holds your text outside this block; "
    "delete the note when you no longer need it."
)


@dataclass
class Plan:
    """What a build would do: new contents by vault path, and paths to remove."""

    writes: dict[str, bytes] = field(default_factory=dict)
    deletes: list[str] = field(default_factory=list)
    kept: set[str] = field(default_factory=set)  # generated files known to be current
    signatures: dict[str, str] = field(default_factory=dict)  # lineage note -> signature
    rows: dict[str, tuple[str, str]] = field(default_factory=dict)  # index rows (render.py)
    files: tuple = ()  # what links resolved against (render.Renderer.files)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (path, why)
    current: dict[str, bytes | None] = field(default_factory=dict)

    def changes(self) -> dict[str, bytes | None]:
        """Paths whose bytes would change -> new bytes (None = removed)."""
        changed: dict[str, bytes | None] = {
            path: data for path, data in self.writes.items() if self.current.get(path) != data
        }
        changed.update({path: None for path in self.deletes})
        return dict(sorted(changed.items()))


def _text_with_block(current: bytes | None, name: str, content: str) -> str:
    text = "" if current is None else current.decode("utf-8")
    return blocks.upsert_block(text, name, content)


def plan_build(
    model: VaultModel,
    previous: dict[str, str] | None = None,
    link_cache: dict | None = None,
    known_rows: dict | None = None,
    known_files: tuple | None = None,
) -> Plan:
    """Everything ``build`` would write, without writing it, given what was kept from
    the last build: ``previous`` lineage signatures (an unchanged lineage is not rendered
    again), ``known_rows`` of the index (likewise), the ``known_files`` both were
    rendered against (without them neither is reused), and a ``link_cache``."""
    vault = model.vault
    config = vault.config
    style = link_style(vault.app_settings)
    renderer = render.Renderer(model, style, link_cache, known_rows, known_files)
    plan = Plan(files=renderer.files)

    def read(path: str) -> bytes | None:
        if path not in plan.current:
            plan.current[path] = read_text_file(vault.root, path)
        return plan.current[path]

    def put_block(path: str, name: str, content: str):
        try:
            plan.writes[path] = _text_with_block(read(path), name, content).encode("utf-8")
        except UnicodeDecodeError:
            plan.skipped.append((path, "is not UTF-8; vaultkit leaves it alone"))
        except blocks.ManagedBlockError as exc:
            plan.skipped.append((path, exc.message))

    put_block(config.index_path, render.INDEX_BLOCK, renderer.index())
    plan.rows = renderer.rows
    for index, path in renderer.lineage_paths.items():
        canvas_path = path[:-3] + ".canvas"
        plan.signatures[path] = renderer.lineage_signature(index)
        if (
            previous is not None
            and previous.get(path) == plan.signatures[path]
            and not renderer.lineage_touched(index)
        ):
            plan.kept.update((path, canvas_path))
            continue
        put_block(path, render.LINEAGE_BLOCK, renderer.lineage_note(index))
        existing = read(canvas_path)
        try:
            old = json.loads(existing) if existing is not None else None
            if old is not None and not isinstance(old, dict):
                raise ValueError("not a JSON object")
        except ValueError:
            plan.skipped.append((canvas_path, "is not valid JSON Canvas; fix or delete it"))
            continue
        canvas = renderer.canvas(index, old)
        plan.writes[canvas_path] = render.canvas_text(canvas).encode("utf-8")
    _plan_stale(model, plan, read)
    return plan


def _plan_stale(model: VaultModel, plan: Plan, read) -> None:
    """Lineage notes and canvases from lineages that no longer exist."""
    config = model.vault.config
    for path in model.vault.files:
        if not config.in_lineage_folder(path) or path in plan.writes or path in plan.kept:
            continue
        if path.lower().endswith(".md"):
            data = read(path)
            try:
                text = data.decode("utf-8") if data is not None else ""
                if blocks.block_content(text, render.LINEAGE_BLOCK) is None:
                    continue  # a person's own note in the lineage folder
                if blocks.outside_text(text, render.LINEAGE_BLOCK).strip():
                    plan.writes[path] = blocks.upsert_block(
                        text, render.LINEAGE_BLOCK, STALE_NOTICE
                    ).encode("utf-8")
                else:
                    plan.deletes.append(path)
            except (UnicodeDecodeError, blocks.ManagedBlockError):
                continue
        elif path.lower().endswith(".canvas"):
            data = read(path)
            try:
                canvas = json.loads(data) if data is not None else None
            except ValueError:
                continue
            if not isinstance(canvas, dict):
                continue
            items = [*canvas.get("nodes", []), *canvas.get("edges", [])]
            if not any(isinstance(i, dict) and render.is_generated_canvas_item(i) for i in items):
                continue
            kept = render.merge_canvas(canvas, [], [])
            if kept["nodes"] or kept["edges"]:
                plan.writes[path] = render.canvas_text(kept).encode("utf-8")
            else:
                plan.deletes.append(path)


def diff(plan: Plan) -> str:
    """A unified diff of every change the plan makes."""
    out = []
    for path, new in plan.changes().items():
        old = plan.current.get(path)
        old_lines = old.decode("utf-8", "replace").splitlines(keepends=True) if old else []
        new_lines = new.decode("utf-8").splitlines(keepends=True) if new is not None else []
        out.extend(
            difflib.unified_diff(
                old_lines,
                new_lines,
                fromfile=f"a/{path}" if old is not None else "/dev/null",
                tofile=f"b/{path}" if new is not None else "/dev/null",
            )
        )
    return "".join(line if line.endswith("\n") else line + "\n" for line in out)


@dataclass
class BuildReport:
    written: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    unchanged: int = 0
    skipped: list[tuple[str, str]] = field(default_factory=list)


def apply(model: VaultModel, plan: Plan) -> BuildReport:
    """Carry out a plan: atomic writes where bytes differ, removals of stale files."""
    report = BuildReport(skipped=list(plan.skipped))
    changed = {path: data for path, data in plan.writes.items() if plan.current.get(path) != data}
    report.unchanged = len(plan.writes) - len(changed)
    report.written = write_many(model.vault.root, dict(sorted(changed.items())))
    report.unchanged += len(changed) - len(report.written)
    for path in sorted(plan.deletes):
        if delete(model.vault.root, path):
            report.deleted.append(path)
    return report


# -- between builds: what the last one left (in `.vaultkit/cache/`) ----------------------


def _last_build(root) -> dict:
    """What the last complete build read: ``settings`` (a digest), ``listing`` (every
    file's stat key) and ``experiments`` (their paths); {} when there is none."""
    state = cache.decode(read_text_file(root, cache.BUILD_STATE_PATH)).get("state")
    return state if isinstance(state, dict) else {}


def _build_state(root, listing: dict, experiments) -> dict[str, bytes]:
    """The cache file that tells the next build what this one read (see ``_last_build``)."""
    state = {"settings": settings_digest(root), "listing": listing, "experiments": experiments}
    return {cache.BUILD_STATE_PATH: cache.encode({"state": state})}


@dataclass
class SinceLastBuild:
    """What changed since the last complete build, and what it found."""

    changed: list[str]  # files whose stat key is not the one the last build read
    came_or_went: bool  # a file appeared or disappeared
    experiments: frozenset[str]  # the paths of the experiments it found


def since_last_build(root, listing: dict) -> SinceLastBuild | None:
    """None when there is no last build to go by (none, other settings, a damaged
    record). ``listing``: see ``list_vault``."""
    last = _last_build(root)
    before, experiments = last.get("listing"), last.get("experiments")
    if not isinstance(before, dict) or not isinstance(experiments, frozenset):
        return None
    if last.get("settings") != settings_digest(root):
        return None
    changed = [path for path, key in listing.items() if key is None or key != before.get(path)]
    came_or_went = before.keys() != {p for p, key in listing.items() if key is not None}
    return SinceLastBuild(changed, came_or_went, experiments)


def notes_build_reads(listing: dict, since: SinceLastBuild | None) -> set[str] | None:
    """The notes a build must read, or None for all: the last build's experiments and
    every note changed since. A note that was no experiment and did not change is no
    experiment now (same bytes, same settings), and nothing else of it matters to build."""
    if since is None:
        return None
    return {p for p in [*since.changed, *since.experiments] if p in listing}


def changes_that_write_nothing(root, listing: dict, since: SinceLastBuild | None):
    """The files changed since the last complete build, when none of them can change
    what build writes: [] when nothing changed; else notes and attachments that neither
    are nor were experiments, with no file come or gone (everything build writes is made
    of the experiments, the file names and the settings). None when a build is needed."""
    if since is None or since.came_or_went:
        return None
    vault = read_vault_settings(root)
    for path in since.changed:
        if path in since.experiments or vault.config.is_generated(path):
            return None
        if path.lower().endswith(".md"):
            note, _ = read_note(vault.root, path)
            if note is not None and is_experiment(note, vault):
                return None
    if since.changed:
        save_cache(root, _build_state(root, listing, since.experiments))
    return since.changed


def rendered_index_rows(root) -> tuple[dict[str, tuple[str, str]], tuple | None]:
    """The index rows the last build rendered, by experiment: (signature, text); and the
    files it rendered them against (``Plan.files``), or None."""
    kept = cache.decode(read_text_file(root, cache.INDEX_ROWS_PATH))
    rows, files = kept.get("rows"), kept.get("files")
    if not isinstance(rows, dict) or not _is_files(files):
        return {}, None
    rows = {
        note: row
        for note, row in rows.items()
        if isinstance(row, tuple)
        and len(row) == 2
        and isinstance(row[0], str)
        and isinstance(row[1], str)
    }
    return rows, files


def _is_files(files) -> bool:
    return (
        isinstance(files, tuple)
        and len(files) == 2
        and all(isinstance(part, tuple) and all(isinstance(p, str) for p in part) for part in files)
    )


def rendered_lineages(root) -> dict[str, str]:
    """Signatures of the lineage notes the last build wrote and nobody touched since."""
    rendered = cache.decode(read_text_file(root, cache.LINEAGES_PATH))
    now = stat_keys(root, [p for _, outputs in rendered.values() for p in outputs])
    return {
        path: signature
        for path, (signature, outputs) in rendered.items()
        if all(key is not None and now.get(p) == key for p, key in outputs.items())
    }


def _hidden(path: str) -> bool:
    """A path the vault walk never lists (a dot-folder such as `.lineages/`)."""
    return any(part.startswith(".") for part in path.split("/"))


def remember_build(root, plan: Plan, listing: dict, experiments) -> None:
    """Leave what the build read (``listing``, the paths of the ``experiments``) and the
    lineage signatures for the next build. The files the build wrote or removed are
    looked at again; a note edited while the build ran keeps its old key here, so the
    next build reads it."""
    outputs = {path: [path, path[:-3] + ".canvas"] for path in plan.signatures}
    now = stat_keys(root, {*plan.writes, *plan.deletes, *itertools.chain(*outputs.values())})
    state = {}
    if not plan.skipped:  # a build with nothing left undone can be skipped next time
        touched = [*plan.writes, *plan.deletes]
        after = {**listing, **{path: now[path] for path in touched}}
        visible = set(walk_files(root)) if any(_hidden(p) for p in touched) else None
        after = {
            path: key
            for path, key in after.items()
            if key is not None and (visible is None or path in visible)
        }
        state = _build_state(root, after, frozenset(experiments))
    rendered = {
        path: (plan.signatures[path], {p: now[p] for p in pair}) for path, pair in outputs.items()
    }
    save_cache(
        root,
        {
            **state,
            cache.LINEAGES_PATH: cache.encode(rendered),
            cache.INDEX_ROWS_PATH: cache.encode({"rows": plan.rows, "files": plan.files}),
        },
    )
