"""Nothing a person writes is ever lost: edits made while vaultkit writes, copies in the
lineage folder, hostile names, files and notes. Each test failed before its fix."""

from __future__ import annotations

import gc
import json
import os
import signal
import subprocess
import sys
import time
import weakref
from collections.abc import Callable
from pathlib import Path

import pytest

from vaultkit.api import Vault
from vaultkit.disk import write as write_module
from vaultkit.disk.read import cache_folder, read_file
from vaultkit.model.managed import begin_marker, block_content, end_marker
from vaultkit.model.reading import parse_note
from vaultkit.pipeline import Builder
from vaultkit.records import StatKey

from .conftest import LINEAGE_VAULT, experiment, note_per_lineage, run, write_vault

INDEX = "Experiment Index.md"
LINEAGE = "Lineages/EXP-001 baseline lineage.md"


@pytest.fixture
def vault(tmp_path: Path) -> Path:
    return write_vault(tmp_path / "vault", dict(LINEAGE_VAULT))


def edit_between_read_and_rename(
    monkeypatch: pytest.MonkeyPatch, target: Path, addition: str, times: int = 1
) -> list[str]:
    """A person saves ``target`` after vaultkit read it and before it renames its new copy
    over it: the moment a lost update happens, made deterministic."""
    real = write_module._write_temp
    done: list[str] = []

    def write_temp_then_edit(
        folder: Path, name: str, data: bytes, mode: int | None, durable: bool
    ) -> Path:
        temp = real(folder, name, data, mode, durable)
        if folder / name == target.resolve() and len(done) < times:
            done.append(name)
            with open(target, "a", encoding="utf-8") as handle:
                handle.write(addition)
        return temp

    monkeypatch.setattr(write_module, "_write_temp", write_temp_then_edit)
    return done


# -- edits made while vaultkit writes ------------------------------------------------------


def test_text_typed_into_the_index_while_a_build_writes_it_is_kept(
    vault: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    Builder(vault).build()
    index = vault / INDEX
    (vault / "Experiments" / "EXP-009 new.md").write_text(experiment("[[EXP-004 merge]]", "done"))
    done = edit_between_read_and_rename(monkeypatch, index, "\nMy note, typed just now.\n")
    result = Builder(vault).build()
    assert done and INDEX in result.written
    text = index.read_text(encoding="utf-8")
    assert text.endswith("\nMy note, typed just now.\n")
    assert "[[EXP-009 new]]" in text


def test_a_line_appended_between_the_check_and_the_rename_is_kept(
    vault: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The last window: the file is still the one read at the check, and a person's
    append lands before the rename (the 2 ms appender that lost 13 lines in 36,192)."""
    Builder(vault).build()
    index = vault / INDEX
    (vault / "Experiments" / "EXP-009 new.md").write_text(experiment("[[EXP-004 merge]]", "done"))
    real_replace = os.replace
    appended: list[Path] = []

    def append_then_replace(source: Path, target: Path) -> None:
        if Path(target) == index.resolve() and not appended:
            appended.append(target)
            with open(target, "a", encoding="utf-8") as handle:
                handle.write("\nTyped in the window.\n")
        return real_replace(source, target)

    monkeypatch.setattr(os, "replace", append_then_replace)
    result = Builder(vault).build()
    assert appended and INDEX in result.written and not result.failed
    text = index.read_text(encoding="utf-8")
    assert text.endswith("\nTyped in the window.\n")
    assert "[[EXP-009 new]]" in text
    assert not list(vault.rglob("*.vaultkit-tmp"))


def test_a_file_that_vanishes_between_read_and_stat_is_decided_again(
    vault: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    Builder(vault).build()
    index = vault / INDEX
    (vault / "Experiments" / "EXP-009 new.md").write_text(experiment("[[EXP-004 merge]]", "done"))
    real = read_file
    gone: list[str] = []

    def read_then_vanish(
        root: Path, path: str
    ) -> tuple[bytes, StatKey] | None:  # another build removes it just after this one read it
        found = real(root, path)
        if path == INDEX and not gone:
            gone.append(path)
            index.unlink()
        return found

    monkeypatch.setattr(write_module, "read_file", read_then_vanish)
    result = Builder(vault).build()
    assert gone and INDEX in result.written and not result.failed
    assert "[[EXP-009 new]]" in index.read_text(encoding="utf-8")


def test_a_file_that_keeps_changing_is_left_as_it_is_and_reported(
    vault: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    Builder(vault).build()
    index = vault / INDEX
    (vault / "Experiments" / "EXP-009 new.md").write_text(experiment("[[EXP-004 merge]]", "done"))
    edit_between_read_and_rename(monkeypatch, index, "\nagain", times=99)
    result = Builder(vault).build()
    assert dict(result.failed)[INDEX].startswith("kept changing while vaultkit tried to update it")
    assert index.read_text(encoding="utf-8").endswith("\nagain" * write_module.ATTEMPTS)
    assert not list(vault.rglob("*.vaultkit-tmp"))


def test_set_status_keeps_an_edit_made_while_it_writes(
    vault: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    note = vault / "Experiments" / "EXP-003 focal.md"
    edit_between_read_and_rename(monkeypatch, note, "\nA line typed meanwhile.\n")
    assert run(vault, "set-status", "EXP-003 focal", "postpone").exit_code == 0
    text = note.read_text(encoding="utf-8")
    assert "Status: #postpone" in text and text.endswith("\nA line typed meanwhile.\n")


def test_new_experiment_keeps_an_edit_made_to_a_parent_while_it_writes(
    vault: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    parent = vault / "Experiments" / "EXP-004 merge.md"
    edit_between_read_and_rename(monkeypatch, parent, "\nThe parent, edited meanwhile.\n")
    result = run(vault, "new-experiment", "EXP-030 child", "--previous", "EXP-004 merge")
    assert result.exit_code == 0, result.output
    text = parent.read_text(encoding="utf-8")
    assert "[[EXP-030 child]]" in text and text.endswith("\nThe parent, edited meanwhile.\n")


def test_watch_keeps_text_typed_into_the_index_while_it_writes(
    vault: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from vaultkit.watch import Watcher

    watcher = Watcher(vault)
    watcher.start()
    try:
        index = vault / INDEX
        note = vault / "Experiments" / "EXP-003 focal.md"
        note.write_text(note.read_text().replace("Status: #writing", "Status: #done"))
        edit_between_read_and_rename(monkeypatch, index, "\nTyped while watch wrote.\n")
        watcher.inbox.changed.add("Experiments/EXP-003 focal.md")
        update = watcher.step()
        assert update is not None and INDEX in update.written
        text = index.read_text(encoding="utf-8")
        assert "## done (3)" in text and text.endswith("\nTyped while watch wrote.\n")
    finally:
        watcher.close()


# -- copies and edits in the lineage folder --------------------------------------------------


def test_copies_in_the_lineage_folder_survive_any_number_of_builds(vault: Path) -> None:
    Builder(vault).build()
    folder = vault / "Lineages"
    note_copy = folder / "EXP-001 baseline lineage 1.md"  # Obsidian's "Make a copy"
    note_copy.write_bytes((vault / LINEAGE).read_bytes())
    canvas_copy = folder / "My layout.canvas"
    canvas = json.loads((folder / "EXP-001 baseline lineage.canvas").read_text())
    canvas["nodes"][0]["x"] = 999
    canvas_copy.write_text(json.dumps(canvas))
    copies = {p: p.read_bytes() for p in (note_copy, canvas_copy)}
    (vault / "Experiments" / "EXP-005 dangling.md").unlink()  # a build that removes files
    for _ in range(3):
        Builder(vault).build()
        assert {p: p.read_bytes() for p in copies} == copies
    first = run(vault, "build")
    assert first.exit_code == 0
    assert "Nothing changed since the last build." in first.output


def test_copies_are_reported_as_left_alone_by_build_and_check(vault: Path) -> None:
    Builder(vault).build()
    (vault / "Lineages" / "old lineage copy.md").write_bytes((vault / LINEAGE).read_bytes())
    result = run(vault, "build")
    why = "looks generated but vaultkit did not write it here (a copy?)"
    assert f"Left alone: Lineages/old lineage copy.md: {why}" in result.output
    problems = json.loads(run(vault, "check", "--format", "json").output)["problems"]
    assert {
        "code": "left-alone",
        "severity": "warning",
        "note": "Lineages/old lineage copy",
        "line": None,
        "message": f"vaultkit left it alone: {why}, so it leaves it as it is; delete it if "
        "you do not need it",
    } in problems


@pytest.mark.parametrize("where", ["outside", "inside"])
def test_a_stale_generated_note_a_person_edited_is_never_deleted(vault: Path, where: str) -> None:
    note_per_lineage(vault)
    Builder(vault).build()
    stale = vault / "Lineages" / "EXP-005 dangling lineage.md"
    text = stale.read_text(encoding="utf-8")
    if where == "outside":
        text = "Why this line died.\n\n" + text
    else:
        text = text.replace("## Tree", "## Tree, annotated by me")
    stale.write_text(text, encoding="utf-8")
    (vault / "Experiments" / "EXP-005 dangling.md").unlink()
    result = Builder(vault).build()
    assert stale.exists()
    assert "Lineages/EXP-005 dangling lineage.md" not in result.removed
    if where == "outside":
        assert stale.read_text(encoding="utf-8").startswith("Why this line died.\n\n")
    else:
        assert stale.read_text(encoding="utf-8") == text  # left exactly as the person has it


def test_a_read_only_lineage_note_is_left_alone_and_said_so(vault: Path) -> None:
    Builder(vault).build()
    note = vault / LINEAGE
    note.chmod(0o444)
    try:
        before = note.read_bytes()
        (vault / "Experiments" / "EXP-003 focal.md").write_text(
            experiment("[[EXP-001 baseline]]", "done")
        )
        result = run(vault, "build")
        assert note.read_bytes() == before
        assert f"Left alone: {LINEAGE}: is read-only" in result.output
    finally:
        note.chmod(0o644)


# -- watch and build agree --------------------------------------------------------------------


@pytest.mark.parametrize(
    "damage",
    ["delete lineage note", "delete canvas", "edit inside the block", "delete index"],
)
def test_watch_restores_generated_notes_as_build_does(
    vault: Path, tmp_path: Path, damage: str
) -> None:
    from vaultkit.watch import Watcher

    watcher = Watcher(vault)
    watcher.start()
    try:
        expected = {p: (vault / p).read_bytes() for p in (INDEX, LINEAGE)}
        canvas = vault / "Lineages" / "EXP-001 baseline lineage.canvas"
        expected_canvas = canvas.read_bytes()
        if damage == "delete lineage note":
            (vault / LINEAGE).unlink()
            changed = LINEAGE
        elif damage == "delete canvas":
            canvas.unlink()
            changed = "Lineages/EXP-001 baseline lineage.canvas"
        elif damage == "edit inside the block":
            note = vault / LINEAGE
            note.write_text(note.read_text().replace("## Tree", "## Tree (mine)"))
            changed = LINEAGE
        else:
            (vault / INDEX).unlink()
            changed = INDEX
        watcher.inbox.changed.add(changed)
        update = watcher.step()
        assert update is not None and changed in update.written
        assert {p: (vault / p).read_bytes() for p in (INDEX, LINEAGE)} == expected
        assert canvas.read_bytes() == expected_canvas
    finally:
        watcher.close()


# -- memory and size ----------------------------------------------------------------------------


def test_watch_keeps_no_old_note_alive(vault: Path) -> None:
    from vaultkit.watch import Watcher

    watcher = Watcher(vault)
    watcher.start()
    try:
        note = vault / "Experiments" / "EXP-003 focal.md"
        path = "Experiments/EXP-003 focal.md"
        assert watcher.model is not None
        old = weakref.ref(watcher.model.notes["Experiments/EXP-003 focal"])
        for round_ in range(3):
            note.write_text(note.read_text() + f"\nEdit {round_}.\n")
            watcher.inbox.changed.add(path)
            watcher.step()
        import gc

        gc.collect()
        assert old() is None
    finally:
        watcher.close()


def chain_vault(root: Path, length: int) -> Path:
    files = {"Experiments/EXP-00000 root.md": experiment("none", "done")}
    for number in range(1, length):
        files[f"Experiments/EXP-{number:05d} step.md"] = experiment(
            f"[[EXP-{number - 1:05d} {'root' if number == 1 else 'step'}]]", "writing"
        )
    return write_vault(root, files)


@pytest.mark.slow
def test_a_chain_of_5000_experiments_builds_lists_and_is_watched(tmp_path: Path) -> None:
    from vaultkit.watch import Watcher

    root = chain_vault(tmp_path / "chain", 5000)
    result = run(root, "build")
    assert result.exit_code == 0, result.output
    lineage = (root / "Lineages" / "EXP-00000 root lineage.md").read_text(encoding="utf-8")
    assert "generation 4999" in lineage
    outline = [line for line in lineage.splitlines() if line.lstrip().startswith("- [[")]
    assert len(outline) == 5000
    assert max(len(line) for line in outline) < 200  # indentation is capped
    tree = run(root, "lineage", "EXP-02500")
    assert tree.exit_code == 0 and "<- this note" in tree.output
    assert len(tree.output) < 1_000_000
    watcher = Watcher(root)
    watcher.start()
    try:
        last = root / "Experiments" / "EXP-04999 step.md"
        last.write_text(last.read_text().replace("#writing", "#done"))
        watcher.inbox.changed.add("Experiments/EXP-04999 step.md")
        update = watcher.step()
        assert update is not None and update.error is None
    finally:
        watcher.close()


def parse_seconds(*texts: str) -> list[float]:
    """The least time of five to parse each text, taken in turns: a shared machine's
    noise only adds, and a busy spell then slows every text alike. The garbage collector
    is off, as in the command line: its passes over the whole test session's objects
    would be timed too."""
    best = [float("inf")] * len(texts)
    gc.collect()
    gc.disable()
    try:
        for _ in range(5):
            for index, text in enumerate(texts):
                began = time.perf_counter()
                parse_note(text)
                best[index] = min(best[index], time.perf_counter() - began)
    finally:
        gc.enable()
    return best


@pytest.mark.slow
@pytest.mark.parametrize(
    "note_of",
    [
        lambda n: "".join(f"# Heading {i}\n\ntext\n\n" for i in range(n)),
        lambda n: "---\ntags:\n" + "".join(f"  - tag{i}\n" for i in range(n)) + "---\n",
        lambda n: "---\nrelated:\n" + "".join(f'  - "[[N{i}]]"\n' for i in range(n)) + "---\n",
        lambda n: "lr: 1 " * n + "\n",
        lambda n: "`a`` #t " * n + "\n",  # a tag: the line is scanned
        lambda n: "x <!-- #t " * n + "\n",  # no comment ever closes
        lambda n: "$$ #t " * n + "\n",
        lambda n: "[a:: " * n + "\n",  # Dataview fields never closed
        lambda n: "# Result\n\n- " + "mAP@0.5 = 0.5, " * n + "\n",  # result pairs
        lambda n: "# Result\n\n- " + "a b: c = " * n + "\n",  # names, no value
        lambda n: "# Metrics\n\n- threshold " + "x ≥ " * n + "\n",
    ],
    ids=[
        "headings",
        "tag items",
        "property links",
        "settings",
        "backticks",
        "comments",
        "math",
        "inline fields",
        "result pairs",
        "result names",
        "thresholds",
    ],
)
def test_parse_time_grows_linearly_with_the_note(note_of: Callable[[int], str]) -> None:
    size = 1000
    while parse_seconds(note_of(size))[0] < 0.05 and size < 256_000:
        size *= 2
    # eight times the text: linear gives 8, quadratic 64; a bound between them far from
    # both, as a loaded machine stretches one measurement more than the other
    small, large = parse_seconds(note_of(size), note_of(size * 8))
    assert large / small < 24, (size, small, large)


# -- hostile settings, names and files --------------------------------------------------------


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ('lineage_folder = "."', "lineage_folder must be a path inside the vault"),
        ('lineage_folder = ".lineages"', "lineage_folder = '.lineages' starts a part with '.'"),
        ('index_note = "a\\u0000b"', "index_note holds a control character"),
        ('experiment_tag = "#"', "experiment_tag = '#' is not a tag Obsidian can read"),
        ('index_note = "Lineages/Index"', "index_note 'Lineages/Index' is inside lineage_folder"),
    ],
)
def test_settings_that_cannot_work_are_refused_naming_the_key(
    vault: Path, config: str, message: str
) -> None:
    write_vault(vault, {".vaultkit/config.toml": config + "\n"})
    result = run(vault, "build")
    assert result.exit_code == 1
    assert result.output.startswith(f"Error: .vaultkit/config.toml: {message}")
    assert "Traceback" not in result.output and "Error: Value" not in result.output


MARKER_NAMES = [
    f"x {end_marker('index')}",
    f"x {begin_marker('lineage')} y",
    "a\nb",
    f"a\n{end_marker('index')}",
    "pipe | name",
    "hash # and ^ caret",
]


@pytest.mark.skipif(sys.platform == "win32", reason="such names are legal on Linux and macOS")
def test_no_note_name_can_break_the_generated_notes(tmp_path: Path) -> None:
    files = {f"Experiments/{name}.md": experiment("none", "writing") for name in MARKER_NAMES}
    files["Experiments/EXP-001 base.md"] = experiment("none", "done")
    root = note_per_lineage(write_vault(tmp_path / "v", files))
    for _ in range(2):
        result = run(root, "build")
        assert result.exit_code == 0, result.output
    index = (root / INDEX).read_text(encoding="utf-8")
    assert block_content(index, "index") is not None  # one begin line, one end line
    rows = [line for line in index.splitlines() if line.startswith("| [")]
    # each note is a lineage of its own: a row in the table of lineages (seven cells) and
    # one in its status's table (eight cells: mAP is a column); no name split a row
    cells = sorted(line.count(" | ") + 1 for line in rows)
    assert cells == [7] * (len(MARKER_NAMES) + 1) + [8] * (len(MARKER_NAMES) + 1)
    (root / "Experiments" / "EXP-002 new.md").write_text(experiment("[[EXP-001 base]]", "done"))
    assert run(root, "build").exit_code == 0
    assert "EXP-002 new" in (root / INDEX).read_text(encoding="utf-8")
    model = Vault(root).model
    linked = {r.target for r in model.links["Experiment Index"]}
    for name in MARKER_NAMES:  # every row links to its note
        assert f"Experiments/{name}" in model.experiments
        assert f"Experiments/{name}" in linked, name


@pytest.mark.parametrize(
    "where",
    [
        INDEX,
        LINEAGE,
        "Lineages/EXP-001 baseline lineage.canvas",
        ".vaultkit/config.toml",
        ".obsidian/templates.json",
        ".vaultkit/generated.json",
        ".obsidian/app.json",
        "cache:parse-00.pickle",
        "cache:state.pickle",
    ],
)
def test_a_fifo_never_blocks_vaultkit(vault: Path, where: str) -> None:
    Builder(vault).build()
    in_cache = where.startswith("cache:")
    fifo = cache_folder(vault) / where[6:] if in_cache else vault / where
    fifo.unlink(missing_ok=True)
    fifo.parent.mkdir(parents=True, exist_ok=True)
    os.mkfifo(fifo)
    note = vault / "Experiments" / "EXP-003 focal.md"  # a change: the build has work to do
    note.write_text(note.read_text().replace("#writing", "#done"))
    process = subprocess.run(
        [sys.executable, "-m", "vaultkit", "--vault", str(vault), "build"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert "Traceback" not in process.stderr
    if not in_cache:  # a cache is simply done without (or replaced: the folder is vaultkit's)
        assert fifo.exists() and not fifo.is_file()  # not replaced either
        assert process.returncode == 1
        assert f"{where}: is not a regular file" in process.stderr


def test_a_link_to_a_folder_above_the_vault_is_not_followed(tmp_path: Path) -> None:
    root = write_vault(tmp_path / "outer" / "vault", {"Home.md": "# Home\n"})
    write_vault(tmp_path / "outer", {"Elsewhere.md": "# not in the vault\n"})
    os.symlink(tmp_path, root / "up")
    os.symlink("/", root / "slash")
    assert Vault(root).note_ids == ["Home"]


def test_killing_a_cold_build_leaves_no_worker_behind(tmp_path: Path) -> None:
    files = {f"N/n{i:04d}.md": experiment("none", "done") * 20 for i in range(3000)}
    root = write_vault(tmp_path / "big", files)
    for sig in (signal.SIGTERM, signal.SIGKILL):
        process = subprocess.Popen(
            [sys.executable, "-m", "vaultkit", "--vault", str(root), "build"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        workers: set[int] = set()
        deadline = time.monotonic() + 30
        while not workers and time.monotonic() < deadline:
            workers = _children(process.pid)
            time.sleep(0.02)
        assert workers, "the build started no worker"
        process.send_signal(sig)
        process.wait(timeout=10)
        deadline = time.monotonic() + 10
        while any(_alive(pid) for pid in workers) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not any(_alive(pid) for pid in workers), (sig, workers)
        import shutil

        shutil.rmtree(root / ".vaultkit", ignore_errors=True)


def _children(pid: int) -> set[int]:
    found = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                found.add(int(entry.name))
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_temporary_files_of_a_killed_run_are_removed_by_the_next_build(vault: Path) -> None:
    Builder(vault).build()
    left = vault / "Lineages" / ".EXP-001 baseline lineage.md.999999-3.vaultkit-tmp"
    left.write_text("half a note")
    old = time.time() - 3600
    os.utime(left, (old, old))
    mine = vault / "Notes" / ".my.draft.vaultkit-tmp.md"  # not vaultkit's name: kept
    mine.write_text("mine")
    result = run(vault, "build")
    assert not left.exists() and mine.exists()
    assert "removed Lineages/.EXP-001 baseline lineage.md.999999-3.vaultkit-tmp" in result.output


def test_temporary_files_in_vaultkit_s_own_folder_are_removed_too(vault: Path) -> None:
    Builder(vault).build()
    left = vault / ".vaultkit" / ".generated.json.999999-4.vaultkit-tmp"
    left.write_bytes(b"half a list")
    old = time.time() - 3600
    os.utime(left, (old, old))
    result = run(vault, "build")
    assert not left.exists()
    assert "removed .vaultkit/.generated.json.999999-4.vaultkit-tmp" in result.output


def test_a_watcher_survives_a_bug_in_a_rebuild_and_says_which_files(
    vault: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from vaultkit.output import render
    from vaultkit.watch import Watcher

    watcher = Watcher(vault)
    watcher.start()
    try:
        real = render.index_note

        def broken(*args: object, **kwargs: object) -> None:
            raise ZeroDivisionError("a bug")

        monkeypatch.setattr(render, "index_note", broken)
        note = vault / "Experiments" / "EXP-003 focal.md"
        note.write_text(note.read_text() + "\nEdit.\n")
        watcher.inbox.changed.add("Experiments/EXP-003 focal.md")
        failed = watcher.step()
        assert failed is not None
        assert failed.error == (
            "vaultkit did not expect this (a bug); please report it. The next change "
            "rebuilds from scratch"
        )
        assert "Experiments/EXP-003 focal.md: rebuild failed" in failed.line()
        monkeypatch.setattr(render, "index_note", real)
        note.write_text(note.read_text().replace("#writing", "#done"))
        watcher.inbox.changed.add("Experiments/EXP-003 focal.md")
        recovered = watcher.step()
        assert recovered is not None and recovered.error is None
        assert "## done (3)" in (vault / INDEX).read_text(encoding="utf-8")
    finally:
        watcher.close()


def test_no_exception_class_name_reaches_the_person(
    vault: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def full_disk(*args: object, **kwargs: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", full_disk)
    result = run(vault, "build")
    assert result.exit_code == 1
    assert "Error: Experiment Index.md: could not be written: the disk is full" in result.output
    assert "OSError" not in result.output and "Errno" not in result.output
