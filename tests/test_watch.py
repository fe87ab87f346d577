"""``watch`` with real file-system events in tmp_path (watchdog is not mocked): every
test waits on a condition with a timeout instead of sleeping and then asserting."""

from __future__ import annotations

import errno
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from multiprocessing.context import BaseContext
from pathlib import Path

import pytest

from vaultkit.errors import VaultkitError
from vaultkit.records import Note, ParseRules, Problem
from vaultkit.watch import Update, Watcher, is_ignored

from .conftest import LINEAGE_VAULT, experiment, write_vault

INDEX = "Experiment Index.md"


def wait_until(
    predicate: Callable[[], object], timeout: float = 10.0, interval: float = 0.02
) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return bool(predicate())


@pytest.fixture(autouse=True)
def _no_thread_leaks() -> Iterator[None]:
    before = set(threading.enumerate())
    yield
    assert wait_until(lambda: set(threading.enumerate()) <= before, timeout=5), (
        set(threading.enumerate()) - before
    )


class Running:
    """A watcher running in a thread, with the updates it reported."""

    def __init__(self, root: Path, polling: bool = False, gone_grace: float = 1.0) -> None:
        self.updates: list[Update] = []
        self.errors: list[Exception] = []
        self.watcher = Watcher(
            root, polling=polling, debounce=0.15, report=self.updates.append, gone_grace=gone_grace
        )
        self.first = self.watcher.start()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        try:
            self.watcher.run()
        except Exception as exc:  # noqa: BLE001 - surfaced to the test
            self.errors.append(exc)

    def close(self) -> None:
        self.watcher.close()
        self.thread.join(timeout=5)
        assert not self.thread.is_alive()


@pytest.fixture
def vault(tmp_path: Path) -> Path:
    return write_vault(tmp_path / "vault", dict(LINEAGE_VAULT))


@pytest.fixture
def running(vault: Path) -> Iterator[Running]:
    run = Running(vault)
    yield run
    run.close()


def index_text(vault: Path) -> str:
    return (vault / INDEX).read_text(encoding="utf-8")


def test_initial_build_writes_the_generated_notes(running: Running, vault: Path) -> None:
    assert INDEX in running.first.written
    assert "[[EXP-004 merge]]" in index_text(vault)


def test_create_shows_up_in_the_index(running: Running, vault: Path) -> None:
    (vault / "Experiments" / "EXP-030 new.md").write_text(
        experiment("[[EXP-004 merge]]", "writing")
    )
    assert wait_until(lambda: "[[EXP-030 new]]" in index_text(vault))
    assert wait_until(lambda: running.updates)  # reported just after the writes
    assert running.updates[-1].changed == ["Experiments/EXP-030 new.md"]
    assert INDEX in running.updates[-1].written


def test_status_change_moves_the_note_between_tables(running: Running, vault: Path) -> None:
    note = vault / "Experiments" / "EXP-003 focal.md"
    note.write_text(note.read_text().replace("Status: #writing", "Status: #done"))
    assert wait_until(lambda: "## done (3)" in index_text(vault))


def test_the_watcher_keeps_the_properties_current_and_settles(vault: Path) -> None:
    """With properties_sync: a status changed in the footer reaches the note's property;
    the note's own save of it is read once and changes nothing more."""
    (vault / ".vaultkit").mkdir()
    (vault / ".vaultkit" / "config.toml").write_text("properties_sync = true\n")
    note = vault / "Experiments" / "EXP-003 focal.md"
    run = Running(vault)
    try:
        assert "Experiments/EXP-003 focal.md" in run.first.properties_set
        assert "vaultkit_status: writing\n" in note.read_text()
        note.write_text(note.read_text().replace("Status: #writing", "Status: #done"))
        assert wait_until(lambda: "vaultkit_status: done\n" in note.read_text())
        settled = note.read_bytes()
        time.sleep(1.5)  # the watcher sees its own write, reads the note, writes nothing
        assert note.read_bytes() == settled
        assert "Status: #done" in note.read_text() and "## done (3)" in index_text(vault)
        assert not run.updates[-1].properties_set
    finally:
        run.close()


def test_the_watcher_keeps_the_recipe_note_current(running: Running, vault: Path) -> None:
    recipe = vault / "Recipes" / "EXP-002 mosaic recipe.md"  # the best of its lineage
    assert "Seed: not stated" in recipe.read_text()
    root = vault / "Experiments" / "EXP-001 baseline.md"  # the root of its chain
    root.write_text("# Model\n\n- seed: 5\n\n" + root.read_text())
    assert wait_until(lambda: "| seed | 5 | [[EXP-001 baseline]]" in recipe.read_text())


def test_delete_removes_it_from_the_index(running: Running, vault: Path) -> None:
    note = vault / "Experiments" / "EXP-005 dangling.md"
    assert "[[EXP-005 dangling]]" in index_text(vault)
    note.unlink()
    assert wait_until(lambda: "EXP-005" not in index_text(vault))


def test_rename_follows_into_index_and_lineage(running: Running, vault: Path) -> None:
    source = vault / "Experiments" / "EXP-004 merge.md"
    source.rename(vault / "Experiments" / "EXP-004 merged.md")
    lineage = vault / "Lineages" / "EXP-001 baseline lineage.md"
    assert wait_until(lambda: "[[EXP-004 merged]]" in lineage.read_text())
    assert "[[EXP-004 merge]]" not in index_text(vault)


def test_atomic_save_by_an_editor(running: Running, vault: Path) -> None:
    note = vault / "Experiments" / "EXP-002 mosaic.md"
    temp = vault / "Experiments" / ".EXP-002 mosaic.md.tmp123"
    temp.write_text(note.read_text().replace("Status: #done", "Status: #writing"))
    os.replace(temp, note)
    assert wait_until(lambda: "## writing (6)" in index_text(vault))


def test_obsidian_create_then_fill(running: Running, vault: Path) -> None:
    note = vault / "Experiments" / "Untitled.md"
    note.write_text("")
    note.write_text(experiment("[[EXP-001 baseline]]", "writing"))
    assert wait_until(lambda: "[[Untitled]]" in index_text(vault))


def test_burst_of_200_files_gives_few_rebuilds(running: Running, vault: Path) -> None:
    count = len(running.updates)
    for i in range(200):
        (vault / "Burst" / f"n{i:03d}.md").parent.mkdir(exist_ok=True)
        (vault / "Burst" / f"n{i:03d}.md").write_text(experiment("[[EXP-001 baseline]]", "done"))
    assert wait_until(lambda: "[[n199]]" in index_text(vault))
    assert len(running.updates) - count <= 3  # debounced: not 200 rebuilds


def test_nothing_is_written_over_a_quiet_period_after_a_change(
    running: Running, vault: Path
) -> None:
    (vault / "Experiments" / "EXP-031 q.md").write_text(experiment("[[EXP-004 merge]]", "done"))
    assert wait_until(lambda: "[[EXP-031 q]]" in index_text(vault))
    # reported just after its writes
    assert wait_until(lambda: any("EXP-031 q" in str(u.changed) for u in running.updates))
    generated = [
        p for p in vault.rglob("*") if p.is_file() and ("Lineages" in p.parts or p.name == INDEX)
    ]
    stamps = {p: p.stat().st_mtime_ns for p in generated}
    updates = len(running.updates)
    deadline = time.monotonic() + 1.5  # a quiet period: our own writes must not echo
    assert not wait_until(lambda: len(running.updates) > updates, timeout=1.5)
    assert time.monotonic() >= deadline - 0.1
    assert {p: p.stat().st_mtime_ns for p in generated} == stamps


def test_invalid_yaml_is_reported_and_the_watcher_keeps_going(
    running: Running, vault: Path
) -> None:
    (vault / "Bad.md").write_text("---\na: [1\n---\n#model_training #document\n")
    assert wait_until(lambda: any("Bad.md" in u.changed for u in running.updates))
    (vault / "Experiments" / "EXP-032 after.md").write_text(experiment("x", "done"))
    assert wait_until(lambda: "[[EXP-032 after]]" in index_text(vault))
    assert running.errors == []


def test_note_deleted_while_being_read(
    running: Running, vault: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from vaultkit import loading as read_module

    real_read = read_module.read_note

    def vanishing_read(
        root: Path, path: str, *rules: ParseRules
    ) -> tuple[Note | None, Problem | None]:
        if path.endswith("Ghost.md"):
            (root / path).unlink(missing_ok=True)
        return real_read(root, path, *rules)

    monkeypatch.setattr(read_module, "read_note", vanishing_read)
    (vault / "Ghost.md").write_text("#model_training #document\nStatus: #done\n")
    (vault / "Experiments" / "EXP-033 alive.md").write_text(experiment("x", "done"))
    assert wait_until(lambda: "[[EXP-033 alive]]" in index_text(vault))
    assert "Ghost" not in index_text(vault)
    assert running.errors == []


@pytest.mark.parametrize(
    ("path", "ignored"),
    [
        (".obsidian/workspace.json", True),
        ("Notes/.EXP-1.md.abc.vaultkit-tmp", True),
        ("Notes/EXP-1.md~", True),
        ("Notes/.EXP-1.md.swp", True),
        ("Notes/4913", True),
        ("Notes/#EXP-1.md#", True),
        ("Notes/sedAb12Cd", True),  # sed -i
        ("Notes/EXP-1.md___jb_tmp___", True),
        ("Notes/EXP-1.md", False),
        ("Notes/sedation notes.md", False),
        ("Notes/sed.md", False),
    ],
)
def test_own_writes_dot_paths_and_editors_temporary_files_are_ignored(
    path: str, ignored: bool
) -> None:
    assert is_ignored(path) is ignored


def test_sed_in_place_reports_the_note_it_edited_only(running: Running, vault: Path) -> None:
    note = vault / "Experiments" / "EXP-003 focal.md"
    subprocess.run(["sed", "-i", "s/#writing/#done/", str(note)], check=True)
    assert wait_until(lambda: "## done (" in index_text(vault) and running.updates)
    time.sleep(0.5)  # any later batch (the temporary file's own events) has come by now
    changed = {path for update in running.updates for path in update.changed}
    assert changed == {"Experiments/EXP-003 focal.md"}


def test_polling_observer_works_too(vault: Path) -> None:
    run = Running(vault, polling=True)
    try:
        (vault / "Experiments" / "EXP-034 polled.md").write_text(experiment("x", "done"))
        assert wait_until(lambda: "[[EXP-034 polled]]" in index_text(vault))
    finally:
        run.close()


def test_vault_folder_disappearing_stops_with_an_error(vault: Path, tmp_path: Path) -> None:
    run = Running(vault)
    try:
        moved = tmp_path / "elsewhere"
        vault.rename(moved)
        assert wait_until(lambda: run.errors, timeout=10)
        assert isinstance(run.errors[0], VaultkitError)
        assert "the vault folder disappeared and did not come back within 1 s" in (
            run.errors[0].message
        )
        assert run.updates[-1].error == "the vault folder is gone; waiting 1 s for it to come back"
    finally:
        run.close()


def test_a_vault_folder_replaced_while_watched_is_watched_again(
    vault: Path, tmp_path: Path
) -> None:
    import shutil

    backup = tmp_path / "backup"
    shutil.copytree(vault, backup)
    run = Running(vault, gone_grace=30)
    try:
        shutil.rmtree(vault)  # restored from a backup, as a clone or a sync tool does
        shutil.copytree(backup, vault)
        assert wait_until(
            lambda: any(
                u.result and "the vault folder came back: watching it again" in u.result.notices
                for u in run.updates
            ),
            timeout=15,
        )
        note = vault / "Experiments" / "EXP-030 after restore.md"
        note.write_text(
            "# Previous experiment\n\n- [[EXP-002 mosaic]]\n\n---\nStatus: #writing\n\n"
            "Tags: #model_training #document\n",
            encoding="utf-8",
        )
        assert wait_until(lambda: "EXP-030 after restore" in index_text(vault), timeout=15)
        assert not run.errors
    finally:
        run.close()


def test_the_watcher_starts_worker_processes_from_a_fork_server(
    vault: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A fork beside the observer thread can deadlock: once the watcher runs threads, a
    build that reads many notes starts its workers from a fork server."""
    import multiprocessing
    import shutil

    from vaultkit import loading as read_module

    monkeypatch.setattr(read_module, "PARALLEL_THRESHOLD", 2)  # this vault is "big"
    methods: list[str | None] = []
    real = multiprocessing.get_context

    def recording(method: str | None = None) -> BaseContext:
        methods.append(method)
        return real(method)

    monkeypatch.setattr(multiprocessing, "get_context", recording)
    backup = tmp_path / "backup"
    shutil.copytree(vault, backup)
    # a thread another test left in this process (a library's own) makes even the first
    # build use the fork server
    alone = threading.active_count() == 1
    run = Running(vault, gone_grace=30)
    try:
        # the first build, before the observer starts
        assert methods == ["fork" if alone else "forkserver"]
        shutil.rmtree(vault)  # the folder replaced: every note is read again
        shutil.copytree(backup, vault)
        assert wait_until(lambda: len(methods) > 1, timeout=15)
        assert not run.errors
    finally:
        run.close()
    assert methods[1:] == ["forkserver"] * len(methods[1:])


def start_cli(vault: Path) -> subprocess.Popen[str]:
    process = subprocess.Popen(
        [sys.executable, "-m", "vaultkit", "--vault", str(vault), "watch"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    line = process.stdout.readline()
    assert "initial build" in line
    assert "Watching" in process.stdout.readline()
    return process


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_ctrl_c_and_sigterm_exit_0_within_a_second(vault: Path, sig: signal.Signals) -> None:
    process = start_cli(vault)
    began = time.monotonic()
    process.send_signal(sig)
    out, err = process.communicate(timeout=10)
    assert time.monotonic() - began < 1.0
    assert process.returncode == 0
    assert out.endswith("Stopped watching.\n")
    assert "Traceback" not in err
    assert not list(vault.rglob("*.vaultkit-tmp"))


@pytest.mark.slow
def test_cli_exits_1_when_the_vault_disappears(vault: Path, tmp_path: Path) -> None:
    process = start_cli(vault)
    vault.rename(tmp_path / "gone")
    out, err = process.communicate(timeout=30)  # it waits 10 s for the folder to come back
    assert process.returncode == 1
    assert "the vault folder is gone; waiting 10 s for it to come back" in out
    assert "the vault folder disappeared and did not come back within 10 s" in err


def test_moving_a_folder_is_followed(running: Running, vault: Path) -> None:
    (vault / "Cycle").rename(vault / "Loops")
    lineage = vault / "Lineages" / "EXP-020 loop a lineage.md"
    assert wait_until(lambda: lineage.exists() and "[[EXP-020 loop a]]" in lineage.read_text())
    assert wait_until(
        lambda: "Loops/EXP-020 loop a.md" in lineage.with_suffix(".canvas").read_text()
    )


@pytest.mark.parametrize(
    ("code", "said"),
    [
        (errno.ENOSPC, "sudo sysctl fs.inotify.max_user_watches=524288"),
        (errno.EMFILE, "sudo sysctl fs.inotify.max_user_instances=1024"),
    ],
)
def test_an_inotify_limit_is_said_in_words_with_the_fix(
    vault: Path, monkeypatch: pytest.MonkeyPatch, code: int, said: str
) -> None:
    from watchdog.observers import Observer

    def at_the_limit(self: object, *args: object, **kwargs: object) -> None:
        raise OSError(code, "inotify limit reached")  # what the kernel answers at its limits

    monkeypatch.setattr(Observer, "schedule", at_the_limit)
    watcher = Watcher(vault)
    with pytest.raises(VaultkitError) as raised:
        watcher.start()
    watcher.close()
    assert said in raised.value.message and "vaultkit watch --polling" in raised.value.message


def test_a_save_that_makes_or_breaks_a_lineage_cycle_is_reported(
    running: Running, vault: Path
) -> None:
    loop_b = vault / "Cycle" / "EXP-021 loop b.md"
    loop_b.write_text(experiment("none", "writing"))  # the circle a <-> b is broken
    assert wait_until(lambda: any(u.fixed for u in running.updates))
    fixed = [f for u in running.updates for f in u.fixed]
    assert [(note, code) for note, code, _ in fixed] == [("Cycle/EXP-020 loop a", "lineage-cycle")]
    running.updates.clear()
    baseline = vault / "Experiments" / "EXP-001 baseline.md"
    baseline.write_text(experiment("[[EXP-004 merge]]", "done"))  # 1 <- 2 <- 4 <- 1
    assert wait_until(lambda: any(u.introduced for u in running.updates))
    found = [i for u in running.updates for i in u.introduced if i[1] == "lineage-cycle"]
    assert len(found) == 1
    assert "Previous experiment links go round in a circle" in found[0][2]
    shown = "\n".join(u.line() for u in running.updates)
    assert "new problem in " in shown and ": lineage-cycle: Previous experiment links go" in shown
