"""The error contract: every public error is raised, through the public API, where the
docs say, as its own class; the base class is never raised itself."""

from __future__ import annotations

import ast
import errno
import os
import re
from collections.abc import Callable
from pathlib import Path

import pytest

import vaultkit
from vaultkit import errors

from .conftest import LINEAGE_VAULT, REPO, without_modules, write_vault


@pytest.fixture
def vault(tmp_path: Path) -> Path:
    return write_vault(tmp_path / "vault", dict(LINEAGE_VAULT))


def raised(kind: type[Exception], call: Callable[[], object]) -> Exception:
    """The error ``call()`` raises: exactly ``kind``, not a relative of it."""
    with pytest.raises(vaultkit.VaultkitError) as found:
        call()
    assert type(found.value) is kind, (type(found.value), found.value)
    return found.value


def test_a_missing_vault(tmp_path: Path) -> None:
    raised(vaultkit.VaultNotFound, lambda: vaultkit.open(tmp_path / "missing"))


def test_a_config_that_cannot_be_used(vault: Path) -> None:
    (vault / ".vaultkit").mkdir()
    (vault / ".vaultkit" / "config.toml").write_text("index_metrics = 3\n")
    raised(vaultkit.ConfigError, lambda: vaultkit.open(vault).experiments)
    (vault / ".vaultkit" / "config.toml").write_bytes(b"index_note = '\xff'\n")
    raised(vaultkit.ConfigError, lambda: vaultkit.open(vault).experiments)
    (vault / ".vaultkit" / "config.toml").write_text('experiment_template = "Nowhere.md"\n')
    raised(vaultkit.ConfigError, lambda: vaultkit.open(vault).template())


def test_note_names(vault: Path) -> None:
    opened = vaultkit.open(vault)
    raised(vaultkit.NoteNotFound, lambda: opened.experiment("EXP-999"))
    raised(vaultkit.AmbiguousNote, lambda: opened.note("Dataset"))
    raised(vaultkit.NotAnExperiment, lambda: opened.lineage("Tips"))


def test_refused_edits(vault: Path) -> None:
    opened = vaultkit.open(vault)
    raised(vaultkit.RefusedEdit, lambda: opened.set_status("EXP-003 focal", "done"))
    raised(vaultkit.RefusedEdit, lambda: opened.set_status("EXP-003 focal", "no-such-status"))
    raised(vaultkit.RefusedEdit, lambda: opened.sync_runs(["EXP-003 focal"]))


def test_new_notes(vault: Path) -> None:
    opened = vaultkit.open(vault)
    raised(vaultkit.InvalidTitle, lambda: opened.new_experiment("EXP-030\nsecond line"))
    raised(vaultkit.InvalidTitle, lambda: opened.new_experiment("CON"))
    raised(vaultkit.NoteExists, lambda: opened.new_experiment("EXP-002 mosaic"))
    raised(vaultkit.UnsafePath, lambda: opened.new_experiment("EXP-030", folder="../../etc"))
    # a file where the folder should be: the file system refuses
    raised(vaultkit.DiskError, lambda: opened.new_experiment("EXP-030", folder="Notes/Dataset.md"))


def test_a_vault_that_is_not_empty_is_not_made_again(vault: Path) -> None:
    from vaultkit.create import init_vault

    raised(vaultkit.NoteExists, lambda: init_vault(vault))


@pytest.mark.mlflow
def test_untrusted_markers(vault: Path) -> None:
    pytest.importorskip("mlflow")
    from mlflow import MlflowClient

    from vaultkit.model.managed import begin_marker, end_marker
    from vaultkit.model.reading import RUN_BLOCK

    uri = f"sqlite:///{vault.parent / 'mlflow.db'}"
    client = MlflowClient(tracking_uri=uri)
    run = client.create_run(client.create_experiment("detector")).info.run_id
    note = vault / "Experiments" / "EXP-003 focal.md"
    broken = f"{end_marker(RUN_BLOCK)}\n{begin_marker(RUN_BLOCK)}\n"  # the end before the begin
    note.write_text(f"---\nmlflow_run: {run}\n---\n" + note.read_text() + broken)
    opened = vaultkit.open(vault)
    raised(vaultkit.ManagedBlockError, lambda: opened.sync_runs([note.stem], opened.tracker(uri)))


def test_a_file_that_keeps_changing(vault: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from vaultkit.disk import write

    monkeypatch.setattr(write, "_commit", lambda item: None)  # someone saves it every time
    opened = vaultkit.open(vault)
    raised(vaultkit.WriteConflict, lambda: opened.set_status("EXP-002 mosaic", "writing"))


def test_a_fifo_where_a_setting_is(vault: Path) -> None:
    (vault / ".vaultkit").mkdir()
    os.mkfifo(vault / ".vaultkit" / "config.toml")
    raised(vaultkit.NotARegularFile, lambda: vaultkit.open(vault).experiments)


def test_a_walk_that_never_ends(vault: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from vaultkit.disk import read

    monkeypatch.setattr(read, "MAX_FILES", 3)
    raised(vaultkit.VaultTooLarge, lambda: vaultkit.open(vault).experiments)


def test_the_system_cannot_watch(vault: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from vaultkit.watch import Watcher

    watcher = Watcher(vault)

    def no_watches(*args: object, **kwargs: object) -> None:
        raise OSError(errno.ENOSPC, "inotify watch limit reached")

    monkeypatch.setattr(watcher.observer, "schedule", no_watches)
    try:
        raised(vaultkit.WatchError, watcher.start)
    finally:
        watcher.close()


def test_optional_extras(vault: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    without_modules(monkeypatch, "pandas", "mlflow")
    raised(vaultkit.MissingExtra, lambda: vaultkit.open(vault).to_pandas())
    raised(vaultkit.MissingExtra, lambda: vaultkit.open(vault).tracker())


def test_a_store_that_is_not_named(vault: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("mlflow")
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    raised(vaultkit.TrackerError, lambda: vaultkit.open(vault).tracker())
    gone = vault.parent / "no-store.db"
    raised(vaultkit.TrackerError, lambda: vaultkit.open(vault).tracker(f"sqlite:///{gone}").runs())


def test_no_service_manager() -> None:
    from vaultkit.service import manager_for

    raised(vaultkit.ServiceError, lambda: manager_for(platform="win32"))


def test_every_public_error_is_tested_here_and_exported() -> None:
    public = {
        name
        for name, value in vars(errors).items()
        if isinstance(value, type) and issubclass(value, errors.VaultkitError)
    } - {"VaultkitError"}
    here = Path(__file__).read_text(encoding="utf-8")
    assert {name for name in public if f"vaultkit.{name}," not in here} == set()
    assert public <= set(vaultkit.__all__)


def test_the_base_class_is_never_raised_itself() -> None:
    raising = []
    for path in sorted((REPO / "vaultkit").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Raise) and isinstance(node.exc, ast.Call):
                called = node.exc.func
                if isinstance(called, ast.Name) and called.id == "VaultkitError":
                    raising.append(f"{path.relative_to(REPO)}:{node.lineno}")
    assert raising == []


def test_every_name_of_the_public_table_exists() -> None:
    """docs/api.md's "Every public name": each `vaultkit.x` importable from the package
    (or a module of it), each `Vault.x` an attribute of Vault, each record exported."""
    import importlib

    docs = (REPO / "docs" / "api.md").read_text(encoding="utf-8")
    table = docs[docs.index("## Every public name") :]
    named = [row[2:].split(" | ")[0] for row in table.splitlines() if row.startswith("| `")]
    missing = []
    for cell in named:
        names = re.findall(r"`([A-Za-z_][\w.]*)", cell)
        if cell.startswith("`vaultkit.") and "`:" in cell:  # a module, then names in it
            names = [f"{names[0]}.{name}" for name in names[1:]]
        for name in names:
            head, _, attribute = name.partition(".")
            if head == "vaultkit" and "." not in attribute:
                found = hasattr(vaultkit, attribute) or _is_module(f"vaultkit.{attribute}")
            elif head == "vaultkit":
                module, _, last = name.rpartition(".")
                found = _is_module(name) or hasattr(importlib.import_module(module), last)
            elif head == "Vault":
                found = hasattr(vaultkit.Vault, attribute)
            else:
                found = name in vaultkit.__all__
            if not found:
                missing.append(name)
    assert missing == []


def _is_module(name: str) -> bool:
    import importlib.util

    try:
        return importlib.util.find_spec(name) is not None
    except ModuleNotFoundError:
        return False
