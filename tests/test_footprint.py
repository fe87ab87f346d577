"""What vaultkit leaves in a vault: a file-syncing tool (iCloud Drive, Dropbox, OneDrive,
Syncthing) must see no change but the generated notes. Caches live outside the vault."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

import vaultkit
from vaultkit.cli import cli
from vaultkit.disk import cache
from vaultkit.disk.read import cache_folder

from .conftest import LINEAGE_VAULT, experiment, note_per_lineage, write_vault

INDEX = "Experiment Index.md"


FileState = tuple[bytes | None, int, int]  # content (None for a folder or link), mtime, mode


def snapshot(root: Path) -> dict[str, FileState]:
    """Every file and folder under ``root``, hidden ones too: bytes, mtime and mode."""
    found: dict[str, FileState] = {}
    for folder, folders, files in os.walk(root):
        for name in folders + files:
            path = Path(folder, name)
            info = path.lstat()
            content = path.read_bytes() if path.is_file() and not path.is_symlink() else None
            found[path.relative_to(root).as_posix()] = (content, info.st_mtime_ns, info.st_mode)
    return found


def changes(before: dict[str, FileState], after: dict[str, FileState]) -> set[str]:
    return {p for p in before.keys() | after.keys() if before.get(p) != after.get(p)}


READ_ONLY = [
    ["list"],
    ["list", "--format", "json"],
    ["list", "--sort", "metric:mAP"],
    ["lineage"],
    ["lineage", "EXP-002 mosaic"],
    ["lineage", "--format", "mermaid"],
    ["check"],
    ["check", "--format", "json"],
    ["graph"],
    ["diff", "EXP-004 merge"],
    ["build", "--dry-run"],
    ["build", "--check"],
    ["cache", "path"],
]


@pytest.fixture(params=["built vault", "vault never built", "folder that is no vault"])
def folder(request: pytest.FixtureRequest, tmp_path: Path) -> Path:
    files = dict(LINEAGE_VAULT)
    if request.param == "folder that is no vault":
        files.pop(".obsidian/templates.json")
    root = write_vault(tmp_path / "vault", files)
    if request.param == "built vault":
        assert CliRunner().invoke(cli, ["--vault", str(root), "build"]).exit_code == 0
    return root


@pytest.mark.parametrize("command", READ_ONLY, ids=" ".join)
def test_a_read_only_command_changes_nothing_under_the_vault(
    folder: Path, command: list[str]
) -> None:
    before = snapshot(folder)
    result = CliRunner().invoke(cli, ["--vault", str(folder), *command])
    assert "Traceback" not in result.output, result.output
    assert changes(before, snapshot(folder)) == set()
    again = CliRunner().invoke(cli, ["--vault", str(folder), *command])  # from the caches
    assert again.output == result.output
    assert changes(before, snapshot(folder)) == set()


def test_a_read_only_command_from_inside_a_folder_that_is_no_vault(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = write_vault(tmp_path / "notes", {"A.md": experiment("None", "writing")})
    monkeypatch.chdir(root)
    before = snapshot(root)
    for command in (["list"], ["check"], ["lineage"]):
        CliRunner().invoke(cli, command)
    assert changes(before, snapshot(root)) == set()
    assert (cache_folder(root) / cache.STATE_NAME).exists() is False  # no build ran
    assert list(cache_folder(root).glob("parse-*.pickle"))  # the parses went to the cache


GENERATED_FOLDERS = ("Lineages", "Recipes")


def generated_of(paths: set[str]) -> set[str]:
    """The paths among ``paths`` that vaultkit generates: the index, and its folders and
    what is in them."""
    return {p for p in paths if p == INDEX or p.split("/")[0] in GENERATED_FOLDERS}


def test_a_build_keeps_in_the_vault_only_the_generated_notes_and_their_list(tmp_path: Path) -> None:
    root = write_vault(tmp_path / "vault", dict(LINEAGE_VAULT))
    before = snapshot(root)
    result = CliRunner().invoke(cli, ["--vault", str(root), "build"])
    assert result.exit_code == 0, result.output
    new = changes(before, snapshot(root))
    generated = generated_of(new)
    assert new - generated == {".vaultkit", ".vaultkit/generated.json"}
    listed = cache.generated_from_json((root / cache.GENERATED_PATH).read_bytes())
    assert listed is not None and set(listed) == generated - set(GENERATED_FOLDERS)
    assert (cache_folder(root) / cache.STATE_NAME).exists()
    # an unchanged build, and one after a change that no generated note shows, write nothing
    settled = snapshot(root)
    CliRunner().invoke(cli, ["--vault", str(root), "build"])
    (root / "Notes" / "Dataset.md").write_text("# Dataset v4\n")
    settled = snapshot(root)
    CliRunner().invoke(cli, ["--vault", str(root), "build"])
    assert changes(settled, snapshot(root)) == set()


def test_the_generated_notes_list_changes_only_when_a_generated_note_does(tmp_path: Path) -> None:
    root = write_vault(tmp_path / "vault", dict(LINEAGE_VAULT))
    runner = CliRunner()
    runner.invoke(cli, ["--vault", str(root), "build"])
    edits = [
        ("Notes/Dataset.md", "# Dataset v4\n"),  # no generated note shows it
        ("Experiments/EXP-003 focal.md", experiment("[[EXP-001 baseline]]", "done")),
        # a blank line at the end: no row shows it
        ("Experiments/EXP-003 focal.md", experiment("[[EXP-001 baseline]]", "done") + "\n"),
        ("Experiments/EXP-005 dangling.md", None),  # its lineage note goes
    ]
    seen = []
    for relative, text in edits:
        before = snapshot(root)
        if text is None:
            (root / relative).unlink()
        else:
            (root / relative).write_text(text)
        runner.invoke(cli, ["--vault", str(root), "build"])
        changed = changes(before, snapshot(root)) - {relative, relative.rpartition("/")[0]}
        generated = generated_of(changed)
        assert changed - generated <= {".vaultkit", cache.GENERATED_PATH}
        seen.append((bool(generated), cache.GENERATED_PATH in changed))
    assert seen == [(False, False), (True, True), (False, False), (True, True)]
    listed = (root / cache.GENERATED_PATH).read_text()
    assert "Lineages/EXP-005 dangling lineage.md" not in listed


def test_a_second_machine_removes_a_stale_lineage_note_the_first_one_wrote(tmp_path: Path) -> None:
    """The list of generated notes travels with the vault; the caches do not."""
    root = note_per_lineage(write_vault(tmp_path / "vault", dict(LINEAGE_VAULT)))
    CliRunner().invoke(cli, ["--vault", str(root), "build"])
    vaultkit.open(root).clear_cache()  # the other machine has no cache of this vault
    (root / "Experiments" / "EXP-005 dangling.md").unlink()
    result = CliRunner().invoke(cli, ["--vault", str(root), "build"])
    assert "removed Lineages/EXP-005 dangling lineage.md" in result.output
    assert not (root / "Lineages" / "EXP-005 dangling lineage.md").exists()


def test_caches_an_older_version_kept_in_the_vault_are_moved_out_by_a_build(tmp_path: Path) -> None:
    root = note_per_lineage(write_vault(tmp_path / "vault", dict(LINEAGE_VAULT)))
    CliRunner().invoke(cli, ["--vault", str(root), "build"])
    # the vault as version 0.2 left it: caches in .vaultkit/cache/, which also listed the
    # generated notes; no generated.json
    written = cache.generated_from_json((root / cache.GENERATED_PATH).read_bytes())
    (root / cache.GENERATED_PATH).unlink()
    legacy = root / cache.LEGACY_FOLDER
    legacy.mkdir()
    (legacy / ".gitignore").write_text("# vaultkit's cache\n*\n")
    (legacy / "state.pickle").write_bytes(cache.encode({"written": written, "listing": {}}))
    (legacy / "parse-00.pickle").write_bytes(cache.encode(("rules", {})))
    (legacy / "my notes.txt").write_text("not vaultkit's")  # a person's file stays
    vaultkit.open(root).clear_cache()
    (root / "Experiments" / "EXP-005 dangling.md").unlink()
    result = CliRunner().invoke(cli, ["--vault", str(root), "build"])
    assert "removed Lineages/EXP-005 dangling lineage.md" in result.output  # the list moved
    assert "removed .vaultkit/cache/ (" in result.output
    assert f"outside the vault, in {cache_folder(root)}" in result.output
    assert sorted(p.name for p in legacy.iterdir()) == ["my notes.txt"]
    assert (root / cache.GENERATED_PATH).exists()


def test_cache_path_and_clear(tmp_path: Path, cache_base: Path) -> None:
    root = write_vault(tmp_path / "vault", dict(LINEAGE_VAULT))
    other = write_vault(tmp_path / "other", dict(LINEAGE_VAULT))
    runner = CliRunner()
    path = runner.invoke(cli, ["--vault", str(root), "cache", "path"]).output.strip()
    assert path == str(cache_folder(root))
    assert Path(path).parent == cache_base / "vaults"
    empty = runner.invoke(cli, ["--vault", str(root), "cache", "clear"])
    assert empty.output == f"No caches of {root} to remove (they would be in {path}).\n"
    for vault in (root, other):
        runner.invoke(cli, ["--vault", str(vault), "build"])
    before = snapshot(root)
    cleared = runner.invoke(cli, ["--vault", str(root), "cache", "clear"])
    assert cleared.output.startswith("Removed ")
    assert cleared.output.endswith(f" kB of caches of {root} ({path}).\n")
    assert not Path(path).exists() and cache_folder(other).exists()
    assert changes(before, snapshot(root)) == set()  # nothing in the vault
    rebuilt = runner.invoke(cli, ["--vault", str(root), "build"])
    assert rebuilt.exit_code == 0 and "0 written" in rebuilt.output
    every = runner.invoke(cli, ["cache", "clear", "--all"]).output.splitlines()
    assert sorted(line.split(" of caches of ")[1] for line in every) == sorted(
        [str(root), str(other)]
    )
    assert all(line.startswith("removed ") and line.split()[2] == "kB" for line in every)
    assert not list((cache_base / "vaults").iterdir())


@pytest.mark.slow
def test_the_watcher_changes_nothing_but_the_generated_notes_in_60_seconds(tmp_path: Path) -> None:
    root = write_vault(tmp_path / "vault", dict(LINEAGE_VAULT))
    before = snapshot(root)
    process = subprocess.Popen(
        [sys.executable, "-m", "vaultkit", "--vault", str(root), "watch"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    assert "initial build" in process.stdout.readline()
    mine: set[str] = set()

    def edit(relative: str, text: str | None) -> None:
        mine.update({relative, relative.rpartition("/")[0]})  # the note and its folder
        path = root / relative
        if text is None:
            path.unlink()
        else:
            path.write_text(text)

    began = time.monotonic()
    step = 0
    while time.monotonic() - began < 60:
        step += 1
        status = ("done", "writing")[step % 2]
        edit("Experiments/EXP-003 focal.md", experiment("[[EXP-001 baseline]]", status))
        edit(f"Experiments/EXP-1{step:02d} try.md", experiment("[[EXP-002 mosaic]]", "writing"))
        if step > 1:
            edit(f"Experiments/EXP-1{step - 1:02d} try.md", None)
        edit("Notes/Dataset.md", f"# Dataset v{step}\n")
        time.sleep(3)
    process.send_signal(signal.SIGTERM)
    out, err = process.communicate(timeout=30)
    assert process.returncode == 0, err
    assert "Traceback" not in err
    changed = changes(before, snapshot(root)) - mine
    assert changed - generated_of(changed) == {".vaultkit", ".vaultkit/generated.json"}
    assert "wrote" in out  # the watcher did keep the notes current
    assert (cache_folder(root) / cache.STATE_NAME).exists()
