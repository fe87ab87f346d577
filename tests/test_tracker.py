"""The MLflow bridge under real conditions: no store made or changed by a read, bounded
waits on a dead or silent server, deleted runs, runs a store does not have, incremental
syncs, and tracker text that cannot change what a note says. Real stores made by MLflow's
own client (and, with `make test`, by an older MLflow); no MLflow code is mocked."""

from __future__ import annotations

import hashlib
import json
import socket
import sqlite3
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from vaultkit.model.reading import parse_note
from vaultkit.model.runs import Run, run_block, run_section
from vaultkit.output.edit import set_run_block
from vaultkit.watch import Update

pytest.importorskip("mlflow", reason="the mlflow extra: pip install 'vaultkit[mlflow]'")
pytestmark = pytest.mark.mlflow

from .conftest import run, spy  # noqa: E402
from .test_mlflow import SERVER, check_codes, linked_vault, make_store  # noqa: E402


def digests(root: Path) -> dict[str, str]:
    """Every file's digest: what a command must leave as it is."""
    return {
        str(p.relative_to(root)): hashlib.sha1(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file() and ".vaultkit" not in p.parts
    }


@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    folder = tmp_path_factory.mktemp("store")
    return folder, make_store(f"sqlite:///{folder / 'mlflow.db'}", folder / "artifacts")


@pytest.fixture
def store(made: tuple[Path, dict[str, str]], tmp_path: Path) -> tuple[str, dict[str, str]]:
    import shutil

    copy = tmp_path / "store"
    shutil.copytree(made[0], copy)
    return f"sqlite:///{copy / 'mlflow.db'}", made[1]


# -- the store is explicit, and never made by a read ----------


def test_a_stray_sync_names_no_store_and_changes_nothing(
    tmp_path: Path, made: tuple[Path, dict[str, str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    root = linked_vault(tmp_path / "vault", made[1])
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    before = digests(root)
    for command in (["runs", "sync"], ["runs", "list"], ["runs", "tag"]):
        result = run(root, *command)
        assert result.exit_code == 1, result.output
        assert "no MLflow tracking store is named: give --tracking-uri" in result.output
    assert list(elsewhere.iterdir()) == []  # no mlflow.db, no mlruns/
    assert digests(root) == before


def test_a_store_that_is_not_there_is_not_made(
    tmp_path: Path, made: tuple[Path, dict[str, str]]
) -> None:
    root = linked_vault(tmp_path / "vault", made[1])
    for uri in (f"sqlite:///{tmp_path / 'typo.db'}", (tmp_path / "mlruns").as_uri()):
        result = run(root, "runs", "list", "--tracking-uri", uri)
        assert result.exit_code == 1
        assert "no MLflow store at" in result.output and "never creates a store" in result.output
    assert not (tmp_path / "typo.db").exists() and not (tmp_path / "mlruns").exists()


def test_every_runs_command_says_which_store_it_used(
    tmp_path: Path, store: tuple[str, dict[str, str]]
) -> None:
    uri, runs = store
    root = linked_vault(tmp_path / "vault", runs)
    listed = run(root, "runs", "list", "--tracking-uri", uri)
    assert listed.exit_code == 0
    assert f"MLflow store: {uri}\n" in listed.output
    from vaultkit.tracker import shown_uri

    assert shown_uri("https://me:s3cret@mlflow.example/") == "https://me:***@mlflow.example/"


def revision(database: Path) -> str:
    with sqlite3.connect(database) as connection:
        found: str = connection.execute("SELECT version_num FROM alembic_version").fetchone()[0]
        return found


def test_a_store_of_another_schema_is_refused_and_left_as_it_is(
    tmp_path: Path, store: tuple[str, dict[str, str]]
) -> None:
    uri, runs = store
    database = Path(uri.removeprefix("sqlite:///"))
    with sqlite3.connect(database) as connection:  # as an MLflow of another version left it
        connection.execute("UPDATE alembic_version SET version_num = '0123456789ab'")
    before = database.read_bytes()
    root = linked_vault(tmp_path / "vault", runs)
    for command in (["runs", "list"], ["runs", "sync"], ["runs", "tag"]):
        result = run(root, *command, "--tracking-uri", uri)
        assert result.exit_code == 1
        assert "has MLflow schema 0123456789ab, and the MLflow vaultkit uses" in result.output
        assert "vaultkit never upgrades a store" in result.output
    assert database.read_bytes() == before


OLD_STORE = """
import sys
from mlflow import MlflowClient
client = MlflowClient(tracking_uri=sys.argv[1])
experiment = client.create_experiment("old", artifact_location=sys.argv[2])
run = client.create_run(experiment, run_name="made by an older MLflow")
client.log_metric(run.info.run_id, "mAP_0.5", 0.6, step=0)
client.set_terminated(run.info.run_id, "FINISHED")
print(run.info.run_id)
"""


@pytest.mark.slow
def test_a_store_made_by_an_older_mlflow_is_never_migrated(tmp_path: Path) -> None:
    if not SERVER:
        pytest.skip("`make test-slow` installs an older, full MLflow (VAULTKIT_MLFLOW_SERVER)")
    database = tmp_path / "team.db"
    python = Path(SERVER).parent / "python"
    made = subprocess.run(
        [str(python), "-c", OLD_STORE, f"sqlite:///{database}", (tmp_path / "a").as_uri()],
        capture_output=True,
        text=True,
        check=True,
    )
    run_id = made.stdout.strip().splitlines()[-1]
    made_revision = revision(database)
    root = linked_vault(tmp_path / "vault", {"baseline": run_id, "failed": run_id, "child": run_id})
    for command in (["runs", "list"], ["runs", "sync"], ["check"], ["runs", "tag"]):
        run(root, *command, "--tracking-uri", f"sqlite:///{database}")
        assert revision(database) == made_revision  # the team's MLflow can still open it
    opened = subprocess.run(
        [
            str(python),
            "-c",
            f"from mlflow import MlflowClient; MlflowClient('sqlite:///{database}').get_run('{run_id}')",
        ],
        capture_output=True,
        text=True,
    )
    assert opened.returncode == 0, opened.stderr


# -- bounded waits ----------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.fixture
def silent_server() -> Iterator[str]:
    """A socket on 127.0.0.1 that accepts connections and never answers (at most 60 s)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    listener.settimeout(0.5)
    held, stop = [], threading.Event()

    def accept() -> None:
        deadline = time.monotonic() + 60
        while not stop.is_set() and time.monotonic() < deadline:
            try:
                held.append(listener.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    stop.set()
    thread.join()
    for connection in held:
        connection.close()
    listener.close()


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["dead port", "silent server"])
def test_a_dead_or_silent_server_fails_in_seconds(
    tmp_path: Path, made: tuple[Path, dict[str, str]], kind: str, request: pytest.FixtureRequest
) -> None:
    uri = (
        f"http://127.0.0.1:{free_port()}"
        if kind == "dead port"
        else request.getfixturevalue("silent_server")
    )
    root = linked_vault(tmp_path / "vault", made[1])
    (root / ".vaultkit").mkdir(exist_ok=True)
    (root / ".vaultkit" / "config.toml").write_text("mlflow_timeout = 2\n", encoding="utf-8")
    before = digests(root)
    for command in (["runs", "list"], ["runs", "sync"]):
        began = time.monotonic()
        result = run(root, *command, "--tracking-uri", uri)
        assert result.exit_code == 1, result.output
        assert time.monotonic() - began < 20, command  # 2 s a request, tried twice
    assert digests(root) == before


def down_vault(tmp_path: Path, runs: dict[str, str]) -> Path:
    """The linked vault, syncing its runs from a server that is down."""
    root = linked_vault(tmp_path / "vault", runs)
    (root / ".vaultkit").mkdir(exist_ok=True)
    (root / ".vaultkit" / "config.toml").write_text(
        f'runs_sync = true\nmlflow_tracking_uri = "http://127.0.0.1:{free_port()}"\n'
        "mlflow_timeout = 2\n",
        encoding="utf-8",
    )
    return root


def test_build_with_runs_sync_goes_on_when_the_server_is_down(
    tmp_path: Path, made: tuple[Path, dict[str, str]]
) -> None:
    root = down_vault(tmp_path, made[1])
    began = time.monotonic()
    built = run(root, "build")
    assert built.exit_code == 0, built.output
    assert time.monotonic() - began < 20
    assert "runs_sync: " in built.output and "built from the notes as they are" in built.output
    assert (root / "Experiment Index.md").is_file()


def test_watch_never_waits_on_a_tracker_that_is_down(
    tmp_path: Path, made: tuple[Path, dict[str, str]]
) -> None:
    from vaultkit.watch import Watcher

    root = down_vault(tmp_path, made[1])
    reports: list[Update] = []
    watcher = Watcher(root, report=reports.append)
    try:
        watcher.start()
        baseline = root / "Experiments" / "EXP-001 baseline.md"
        for attempt in range(2):  # two saves of a note that names a run, while it is down
            baseline.write_text(baseline.read_text("utf-8") + f"\n- note {attempt}\n", "utf-8")
            watcher.inbox.changed.add("Experiments/EXP-001 baseline.md")
            began = time.monotonic()
            update = watcher.step()
            assert time.monotonic() - began < 1.5  # the build does not wait on the tracker
            assert update is not None and update.error is None
        assert watcher.syncer.wait_idle(30)
        said = [n for r in reports if r.result for n in r.result.notices if "runs_sync" in n]
        assert len(said) == 1, said  # once
        assert "the runs wait, tried again every 60 s and at the next change" in said[0]
    finally:
        watcher.close()


# -- run lifecycle ----------


def test_a_deleted_run_is_shown_checked_refused_and_skipped(
    tmp_path: Path, store: tuple[str, dict[str, str]]
) -> None:
    from mlflow import MlflowClient

    uri, runs = store
    MlflowClient(tracking_uri=uri).delete_run(runs["baseline"])
    root = linked_vault(tmp_path / "vault", runs)
    assert run(root, "runs", "sync", "--tracking-uri", uri).exit_code == 0
    text = (root / "Experiments" / "EXP-001 baseline.md").read_text("utf-8")
    assert "| deleted | yes: in MLflow's trash; restore it there" in text
    assert ("EXP-001 baseline", "run-deleted") in [(n, c) for n, c, _ in check_codes(root)]
    refused = run(
        root, "new-experiment", "EXP-009 x", "--from-run", runs["baseline"], "--tracking-uri", uri
    )
    assert refused.exit_code == 1 and "is deleted (in MLflow's trash)" in refused.output
    tagged = run(root, "runs", "tag", "--tracking-uri", uri)
    assert tagged.exit_code == 1
    lines = tagged.output.splitlines()
    assert f"deleted          {runs['baseline']}  Experiments/EXP-001 baseline.md" in lines
    assert f"tagged           {runs['child']}  Experiments/EXP-002 mosaic.md" in lines
    assert "could not be tagged" in tagged.output


def test_a_run_the_store_no_longer_has_keeps_what_the_block_showed(
    tmp_path: Path, store: tuple[str, dict[str, str]], made: tuple[Path, dict[str, str]]
) -> None:
    uri, runs = store
    root = linked_vault(tmp_path / "vault", runs)
    assert run(root, "runs", "sync", "--tracking-uri", uri).exit_code == 0
    baseline = root / "Experiments" / "EXP-001 baseline.md"
    synced = baseline.read_text("utf-8")
    other = tmp_path / "other.db"
    make_store(f"sqlite:///{other}", tmp_path / "other")  # the same runs, other ids
    assert run(root, "runs", "sync", "--tracking-uri", f"sqlite:///{other}").exit_code == 0
    text = baseline.read_text("utf-8")
    section = synced[
        synced.index("### MLflow run") : synced.index("<!-- vaultkit:end run")
    ].rstrip()
    assert section in text  # every line of it kept
    assert (
        f"Run `{runs['baseline']}`: not in the tracking store `sqlite:///{other}` at the last sync"
        in text
    )
    codes = [(n, c) for n, c, _ in check_codes(root)]
    assert ("EXP-001 baseline", "unknown-run") in codes
    assert parse_note(text).run_metrics["mAP50"] == 0.612  # what it showed still counts


def test_an_unchanged_resync_reads_no_run_in_full(
    tmp_path: Path, store: tuple[str, dict[str, str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    from vaultkit.tracker import Tracker

    uri, runs = store
    root = linked_vault(tmp_path / "vault", runs)
    assert run(root, "runs", "sync", "--tracking-uri", uri).exit_code == 0
    before = digests(root)
    read: list[str] = []
    original = Tracker.run
    monkeypatch.setattr(Tracker, "run", spy(original, lambda self, i: read.append(i)))
    again = run(root, "runs", "sync", "--tracking-uri", uri)
    assert again.exit_code == 0
    assert read == []  # summaries only: no history, no file read again
    assert digests(root) == before
    baseline = root / "Experiments" / "EXP-001 baseline.md"  # the note's value changes
    baseline.write_text(
        baseline.read_text("utf-8").replace("| mAP50 | 0.612 |", "| mAP50 | 0.615 |"), "utf-8"
    )
    assert run(root, "runs", "sync", "--tracking-uri", uri).exit_code == 0
    assert read == [runs["baseline"]]
    assert "| 0.615 (step 2) |" in baseline.read_text("utf-8")


def test_orphans_say_which_are_the_children_of_a_documented_run(
    tmp_path: Path, store: tuple[str, dict[str, str]]
) -> None:
    uri, runs = store
    root = linked_vault(tmp_path / "vault", {**runs, "child": "0" * 32})  # the retry unnamed
    listed = run(root, "runs", "list", "--orphans", "--format", "json", "--tracking-uri", uri)
    found = {r["id"]: (r["parent"], r["parent_notes"]) for r in json.loads(listed.stdout)}
    assert found[runs["child"]] == (runs["failed"], ["Experiments/EXP-002 mosaic"])
    assert found[runs["orphan"]] == (None, [])
    table = run(root, "runs", "list", "--orphans", "--tracking-uri", uri).stdout
    assert f"- (a child of run {runs['failed']}, which Experiments/EXP-002 mosaic names)" in table


# -- tracker text is data, never Markdown ----------

NOTE = (
    "# Previous experiment\n\n- [[EXP-000]]\n\n# Result\n\n- mAP: 0.5\n\n"
    "---\nStatus: #writing\n\nTags: #model_training #document\n"
)


def meaning(
    text: str,
) -> tuple[str | None, list[str], list[str], list[str], dict[str, float]]:
    parsed = parse_note(text)
    return (
        parsed.status,
        parsed.tag_names,
        [link.target for link in parsed.links],
        [h.text for h in parsed.headings if not h.text.startswith(("Runs", "MLflow run"))],
        parsed.metrics,
    )


PIECES = [*"`~|#[]!\n\r<>-:* abcdS01"]
PIECES += ["Status: #done", "<!-- vaultkit:end run -->", "```", "~~~~", "[[x]]", "#tag", "\n---\n"]
hostile = st.lists(st.sampled_from(PIECES), max_size=12).map("".join)


@hypothesis_settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow])
@given(name=hostile, param=hostile, value=hostile, file=hostile)
def test_no_tracker_text_changes_what_the_note_says(
    name: str, param: str, value: str, file: str
) -> None:
    run_record = Run(
        "a" * 32,
        name,
        "1",
        "FINISHED",
        None,
        None,
        {"m": 0.5},
        {},
        {param.strip() or "p": value},
        environment=("requirements.txt", file),
        experiment_name=name,
    )
    synced = set_run_block(NOTE, run_block([run_section(run_record)]))
    assert meaning(synced) == meaning(NOTE)
    assert parse_note(synced).synced_runs["a" * 32].params == {
        " ".join((param.strip() or "p").split()): " ".join(value.split())
    }
    from vaultkit.create import from_run

    made = from_run(NOTE, run_record)
    assert meaning(made)[:2] == meaning(NOTE)[:2]  # no status, no tag added
    assert meaning(made)[2] == ["EXP-000"]


def test_a_parameter_named_like_a_footer_field_is_no_field() -> None:
    from vaultkit.create import from_run

    run_record = Run("a" * 32, "r", "1", "FINISHED", None, None, params={"Status": "done"})
    assert meaning(from_run(NOTE, run_record))[:3] == meaning(NOTE)[:3]


def test_a_long_logged_file_is_cut_and_says_so() -> None:
    text = "\n".join(f"package{i}==1.0" for i in range(500))
    lines = run_section(
        Run("a" * 32, "r", "1", "FINISHED", None, None, environment=("requirements.txt", text))
    )
    assert (
        lines[-1]
        == "(cut after 200 of 500 lines; the whole file is the run's artifact `requirements.txt`)"
    )
    assert "package199==1.0" in lines and "package200==1.0" not in lines
