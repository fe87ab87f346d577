"""Notes and MLflow runs, against real local stores that MLflow's own client
creates in tmp_path: a SQLite store (MLflow's default since 3.7) and the legacy `mlruns`
file store. No MLflow code is mocked.

Cost: about a minute in all, 20 s of it starting `mlflow server`; each SQLite store takes
2-4 s to create its schema. Marked `mlflow`: `pytest -m "not mlflow"` leaves them out."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

import vaultkit
from vaultkit.cli import cli
from vaultkit.model.reading import parse_note
from vaultkit.watch import Update, Watcher

from .conftest import run, without_modules, write_vault

pytest.importorskip("mlflow", reason="the mlflow extra: pip install 'vaultkit[mlflow]'")
pytestmark = pytest.mark.mlflow

GOLDEN = Path(__file__).parent / "golden" / "mlflow"
START = 1_764_590_400_000  # 2025-12-01 12:00 UTC, in ms


def make_store(uri: str, artifacts: Path | None = None) -> dict[str, str]:
    """Runs as a team's training scripts leave them: a finished run with metric
    histories, parameters, a git commit and its requirements; a failed run; a child of
    the first; a run no note names. -> their ids by role. ``artifacts``: the folder for
    their files (a server keeps its own)."""
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=uri)
    location = artifacts.as_uri() if artifacts else None
    experiment = client.create_experiment("defect detector", artifact_location=location)

    def run(name: str, status: str, minutes: int, tags: dict[str, str] | None = None) -> str:
        made = client.create_run(experiment, start_time=START, tags=tags or {}, run_name=name)
        client.set_terminated(made.info.run_id, status, end_time=START + minutes * 60_000)
        run_id: str = made.info.run_id
        return run_id

    baseline = run("baseline", "FINISHED", 72, {"mlflow.source.git.commit": "3f2c1ab"})
    for step, value in enumerate([0.41, 0.598, 0.615, 0.612]):
        client.log_metric(baseline, "mAP50", value, timestamp=START + step, step=step)
    for step, value in enumerate([1.9, 1.2, 0.95, 0.97]):
        client.log_metric(baseline, "val loss", value, timestamp=START + step, step=step)
    client.log_param(baseline, "lr", "0.01")
    client.log_param(baseline, "epochs", "50")
    # a model logged the MLflow 3 way: its files are the model's, not the run's
    model = client.create_logged_model(experiment, name="yolov8n", source_run_id=baseline)
    requirements = Path(tempfile.mkdtemp()) / "requirements.txt"
    requirements.write_text("torch==2.3.0\nultralytics==8.2.31\n", encoding="utf-8")
    client.log_model_artifact(model.model_id, str(requirements))
    client.finalize_logged_model(model.model_id, "READY")
    failed = run("mosaic", "FAILED", 3)
    client.log_metric(failed, "mAP50", 0.2, timestamp=START, step=0)
    child = run("mosaic retry", "FINISHED", 65, {"mlflow.parentRunId": failed})
    client.log_metric(child, "mAP50", 0.655, timestamp=START, step=0)
    client.log_text(child, "torch==2.3.1\n", "model/requirements.txt")  # the older way
    orphan = run("forgotten sweep", "FINISHED", 12)
    return {"baseline": baseline, "failed": failed, "child": child, "orphan": orphan}


@pytest.fixture(scope="module")
def made_stores(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, dict[str, str]]]:
    """Each kind of store made once (a SQLite store's schema takes seconds): kind ->
    (its folder, run ids)."""
    made = {}
    for kind in ("sqlite", "file"):
        folder = tmp_path_factory.mktemp(kind)
        if kind == "sqlite":
            uri = f"sqlite:///{folder / 'mlflow.db'}"
        else:  # MLflow 3.7+ refuses to create a file store unless asked
            os.environ["MLFLOW_ALLOW_FILE_STORE"] = "true"
            uri = (folder / "mlruns").as_uri()
        try:
            made[kind] = (folder, make_store(uri, folder / "artifacts"))
        finally:
            os.environ.pop("MLFLOW_ALLOW_FILE_STORE", None)
    return made


@pytest.fixture(params=["sqlite", "file"])
def store(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    made_stores: dict[str, tuple[Path, dict[str, str]]],
) -> tuple[str, dict[str, str]]:
    """A copy of a store made once, for a test to change (tags, runs) as it likes."""
    folder, runs = made_stores[request.param]
    copy = tmp_path / "store"
    shutil.copytree(folder, copy)
    if request.param == "sqlite":
        return f"sqlite:///{copy / 'mlflow.db'}", runs
    return (copy / "mlruns").as_uri(), runs


def experiment_note(
    previous: str, extra: str = "", properties: str = "", value: str = "0.612"
) -> str:
    front = f"---\n{properties}---\n" if properties else ""
    return (
        f"{front}# Previous experiment\n\n- {previous}\n\n# Result\n\n"
        f"| metric | value |\n|---|---|\n| mAP50 | {value} |\n\n# Conclusion\n\n- fine\n\n"
        f"---\nStatus: #done\n\nTags: #model_training\n\nReferences:\n{extra}\n"
    )


@pytest.fixture
def vault(tmp_path: Path, store: tuple[str, dict[str, str]]) -> tuple[Path, str, dict[str, str]]:
    uri, runs = store
    return linked_vault(tmp_path / "vault", runs), uri, runs


def linked_vault(root: Path, runs: dict[str, str]) -> Path:
    """Four experiments: one names its run by property, one two runs by UI address, one
    a run that does not exist, one none."""
    return write_vault(
        root,
        {
            ".obsidian/app.json": "{}",
            "Experiments/EXP-001 baseline.md": experiment_note(
                "None", properties=f"mlflow_run: {runs['baseline']}\n"
            ),
            "Experiments/EXP-002 mosaic.md": experiment_note(
                "[[EXP-001 baseline]]",
                f"- http://127.0.0.1:5000/#/experiments/1/runs/{runs['failed']}\n"
                f"- [retry](http://127.0.0.1:5000/#/experiments/1/runs/{runs['child']}/metrics)",
                value="0.655",  # the retry's: no drift, though the failed run logged 0.2
            ),
            "Experiments/EXP-003 typo.md": experiment_note(
                "[[EXP-002 mosaic]]", properties="mlflow_run: [no-such-run]\n"
            ),
            "Experiments/EXP-004 plain.md": experiment_note("[[EXP-003 typo]]"),
        },
    )


def with_ids(text: str, runs: dict[str, str]) -> str:
    """Run ids are random: the golden files name them by role."""
    for role, run_id in runs.items():
        text = text.replace(run_id, f"<{role} run id>")
    return text


def test_sync_writes_the_run_block_and_keeps_the_rest_byte_for_byte(
    vault: tuple[Path, str, dict[str, str]],
) -> None:
    root, uri, runs = vault
    path = root / "Experiments" / "EXP-001 baseline.md"
    before = path.read_text(encoding="utf-8")
    result = run(root, "runs", "sync", "--tracking-uri", uri)
    assert result.exit_code == 0, result.output
    assert result.stderr == f"MLflow store: {uri}\n"  # which store, always said
    assert result.stdout.splitlines() == [
        "wrote   Experiments/EXP-001 baseline.md  1 run",
        "wrote   Experiments/EXP-002 mosaic.md  2 runs",
        "wrote   Experiments/EXP-003 typo.md  0 runs  (not in the store: no-such-run)",
        "",
        "3 of 3 notes written",
    ]
    after = path.read_text(encoding="utf-8")
    golden = GOLDEN / "EXP-001 baseline.md"
    if os.environ.get("VAULTKIT_UPDATE_GOLDEN"):
        golden.parent.mkdir(parents=True, exist_ok=True)
        golden.write_text(with_ids(after, runs), encoding="utf-8")
    assert with_ids(after, runs) == golden.read_text(encoding="utf-8")
    # outside the block, the note is what it was: the block went in after the Result table
    start, end = (
        after.index("<!-- vaultkit:begin run -->"),
        after.index("<!-- vaultkit:end run -->"),
    )
    assert after[:start] + after[end + len("<!-- vaultkit:end run -->\n\n") :] == before
    # the note's own numbers stay its own; the run's are read as run metrics
    parsed = parse_note(after)
    assert parsed.metrics == {"mAP50": 0.612}
    assert parsed.run_metrics == {"mAP50": 0.612, "val loss": 0.97}
    # a requirements file among the run's own artifacts (MLflow 2's way) is found too
    mosaic = (root / "Experiments" / "EXP-002 mosaic.md").read_text(encoding="utf-8")
    assert (
        "Environment logged with the run (`model/requirements.txt`):\n\n~~~~text\ntorch==2.3.1\n"
        in mosaic
    )
    again = run(root, "runs", "sync", "--tracking-uri", uri)
    assert again.output.endswith("\n0 of 3 notes written\n")
    assert path.read_text(encoding="utf-8") == after


def test_sync_of_a_note_that_names_no_run_says_how_to_name_one(
    vault: tuple[Path, str, dict[str, str]],
) -> None:
    root, uri, _ = vault
    result = run(root, "runs", "sync", "EXP-004", "--tracking-uri", uri)
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr.splitlines()[-1] == (
        "Error: Experiments/EXP-004 plain.md: names no MLflow run: add an mlflow_run "
        "property with the run id, or the run's address from the MLflow UI under References"
    )


def test_runs_list_shows_each_run_with_its_notes_and_finds_the_orphans(
    vault: tuple[Path, str, dict[str, str]],
) -> None:
    root, uri, runs = vault
    listed = json.loads(run(root, "runs", "list", "--tracking-uri", uri, "--format", "json").stdout)
    assert {r["name"]: r["notes"] for r in listed} == {
        "baseline": ["Experiments/EXP-001 baseline"],
        "mosaic": ["Experiments/EXP-002 mosaic"],
        "mosaic retry": ["Experiments/EXP-002 mosaic"],
        "forgotten sweep": [],
    }
    orphans = run(root, "runs", "list", "--orphans", "--tracking-uri", uri)
    assert orphans.exit_code == 0, orphans.output
    assert with_ids(orphans.stdout, runs).splitlines() == [
        f"{'RUN':<32}  STATUS    NAME             NOTES",
        "<orphan run id>  FINISHED  forgotten sweep  -",
        "",
        "1 run, 1 without a note",
    ]


def test_without_the_extra_the_run_commands_say_how_to_install_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    without_modules(monkeypatch, "mlflow")
    root = write_vault(tmp_path / "v", {".obsidian/app.json": "{}"})
    for args in (["runs", "sync"], ["runs", "list"]):
        result = run(root, *args)
        assert result.exit_code == 1
        assert result.output == (
            "Error: MLflow is not installed; install it with: pip install 'vaultkit[mlflow]'\n"
        )
    assert run(root, "list").exit_code == 0  # every other command works as before


def check_codes(root: Path) -> list[tuple[str, str, str]]:
    result = run(root, "check", "--format", "json")
    return [
        (p["note"].rpartition("/")[2], p["code"], p["message"])
        for p in json.loads(result.output)["problems"]
        if p["code"] in RUN_CODES
    ]


RUN_CODES = {
    "run-not-synced",
    "unknown-run",
    "run-not-finished",
    "run-deleted",
    "metric-drift",
    "params-drift",
}


def test_check_reads_the_synced_runs_unknown_unfinished_and_drift(
    vault: tuple[Path, str, dict[str, str]],
) -> None:
    root, uri, runs = vault
    assert [(n, c) for n, c, _ in check_codes(root)] == [
        ("EXP-001 baseline", "run-not-synced"),
        ("EXP-002 mosaic", "run-not-synced"),
        ("EXP-002 mosaic", "run-not-synced"),
        ("EXP-003 typo", "run-not-synced"),
    ]
    assert run(root, "runs", "sync", "--tracking-uri", uri).exit_code == 0
    # the note states mAP50 0.612 and lr 1e-2: the run logged the same, no drift
    baseline = root / "Experiments" / "EXP-001 baseline.md"
    baseline.write_text(
        baseline.read_text(encoding="utf-8").replace("- fine", "- lr: 1e-2"), encoding="utf-8"
    )
    assert check_codes(root) == [
        (
            "EXP-002 mosaic",
            "run-not-finished",
            f"is done, but its run {runs['failed']} is FAILED: finish the run or reopen the note",
        ),
        (
            "EXP-003 typo",
            "unknown-run",
            "names run no-such-run, which the tracking store did not have at the last "
            "`vaultkit runs sync`: a typo, or a run of another store",
        ),
    ]
    # a planted drift: the note's table says 0.7 and lr 0.02; the run logged 0.612, 0.01
    baseline.write_text(
        baseline.read_text(encoding="utf-8")
        .replace("| mAP50 | 0.612 |", "| mAP50 | 0.7 |")
        .replace("- lr: 1e-2", "- lr: 0.02"),
        encoding="utf-8",
    )
    told = "states mAP50 = 0.7, but its run logged final 0.612, best 0.615 at step 2"
    assert check_codes(root)[:2] == [
        (
            "EXP-001 baseline",
            "metric-drift",
            f"{told}; `vaultkit runs sync` compares the note's value with every step",
        ),
        ("EXP-001 baseline", "params-drift", "states lr: 0.02, but its run's parameter is 0.01"),
    ]
    # synced again: no step of the run logged 0.7
    assert run(root, "runs", "sync", "--tracking-uri", uri).exit_code == 0
    assert check_codes(root)[0][2] == f"{told}, and no step logged the note's value"
    # the note states the value of a step that is neither the final nor the best: no drift
    baseline.write_text(
        baseline.read_text(encoding="utf-8").replace("| mAP50 | 0.7 |", "| mAP50 | 0.598 |"),
        encoding="utf-8",
    )
    assert run(root, "runs", "sync", "--tracking-uri", uri).exit_code == 0
    synced = baseline.read_text("utf-8")
    assert "| `mAP50` | 0.612 (step 3) | 0.615 (step 2) | 0.598 (step 1) |" in synced
    assert [c for _, c, _ in check_codes(root)][:1] == ["params-drift"]


def test_the_index_shows_the_notes_values_and_the_runs_where_the_note_states_none(
    vault: tuple[Path, str, dict[str, str]],
) -> None:
    root, uri, _ = vault
    assert run(root, "runs", "sync", "--tracking-uri", uri).exit_code == 0
    # EXP-002 names a failed run (0.2) and its finished retry (0.655), and states no value
    mosaic = root / "Experiments" / "EXP-002 mosaic.md"
    mosaic.write_text(
        mosaic.read_text(encoding="utf-8").replace("| mAP50 | 0.655 |\n", ""), encoding="utf-8"
    )
    assert run(root, "build").exit_code == 0
    index = (root / "Experiment Index.md").read_text(encoding="utf-8")
    assert "A value marked (run) is what a synced MLflow run logged" in index
    rows = {line.split(" | ")[0]: line for line in index.splitlines() if "| [[EXP-00" in line}
    assert " | 0.655 (run) | — | " in rows["| [[EXP-002 mosaic]]"]  # the finished run's
    # the note's own mAP50 (the run logged 0.612 too); val loss only the run logged
    assert " | 0.612 | 0.97 (run) | " in rows["| [[EXP-001 baseline]]"]
    assert " | 0.612 | — | " in rows["| [[EXP-004 plain]]"]  # no run: the note's own value


def test_new_experiment_from_a_run_names_it_and_follows_its_parent_run(
    vault: tuple[Path, str, dict[str, str]],
) -> None:
    root, uri, runs = vault
    result = run(
        root, "new-experiment", "EXP-005 retry", "--from-run", runs["child"], "--tracking-uri", uri
    )
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[0] == "Experiments/EXP-005 retry.md"
    # the retry's parent run is the failed run, which EXP-002 names: EXP-002 is previous
    created = vaultkit.open(root).experiment("EXP-005 retry")
    assert created.previous == ["Experiments/EXP-002 mosaic"]
    text = (root / created.path).read_text(encoding="utf-8")
    assert text.startswith(f"---\nmlflow_run: {runs['child']}\n")
    assert parse_note(text).run_metrics == {"mAP50": 0.655}
    # a second sync finds the block the note was born with already current
    assert (
        "same    Experiments/EXP-005 retry.md"
        in run(root, "runs", "sync", "EXP-005", "--tracking-uri", uri).output
    )


def test_new_experiment_from_a_run_fills_model_and_environment(
    vault: tuple[Path, str, dict[str, str]],
) -> None:
    root, uri, runs = vault
    result = run(
        root,
        "new-experiment",
        "EXP-006 again",
        "--from-run",
        runs["baseline"],
        "--tracking-uri",
        uri,
    )
    assert result.exit_code == 0, result.output
    text = (root / "Experiments" / "EXP-006 again.md").read_text(encoding="utf-8")
    assert "- Logged by the run: `mAP50`, `val loss`\n" in text  # under Metrics
    parsed = parse_note(text)
    assert parsed.settings == {
        "epochs": "50",
        "lr": "0.01",
        "torch": "2.3.0",
        "ultralytics": "8.2.31",
    }
    unknown = run(
        root, "new-experiment", "EXP-007 x", "--from-run", "0" * 32, "--tracking-uri", uri
    )
    assert unknown.exit_code == 1
    assert unknown.stderr.splitlines()[-1] + "\n" == (
        f"Error: the tracking store has no run '{'0' * 32}'; 'vaultkit runs list' shows its runs\n"
    )


def test_runs_tag_sets_the_note_on_each_run_once(vault: tuple[Path, str, dict[str, str]]) -> None:
    root, uri, runs = vault
    first = run(root, "runs", "tag", "--tracking-uri", uri)
    assert first.exit_code == 1, first.output  # a run could not be tagged: said at the end
    assert with_ids(first.stdout, runs).splitlines() == [
        "tagged           <baseline run id>  Experiments/EXP-001 baseline.md",
        "tagged           <failed run id>  Experiments/EXP-002 mosaic.md",
        "tagged           <child run id>  Experiments/EXP-002 mosaic.md",
        "not in the store no-such-run  Experiments/EXP-003 typo.md",
        "",
        "3 of 4 runs tagged",
    ]
    assert (
        first.stderr.splitlines()[-1] == "1 run could not be tagged: no-such-run (not in the store)"
    )
    from mlflow import MlflowClient

    tags = MlflowClient(tracking_uri=uri).get_run(runs["baseline"]).data.tags
    assert tags["vaultkit.note_title"] == "EXP-001 baseline"
    assert tags["vaultkit.note"] == (
        "obsidian://open?vault=vault&file=Experiments%2FEXP-001%20baseline"
    )
    again = run(root, "runs", "tag", "--tracking-uri", uri)
    assert again.stdout.endswith("\n0 of 4 runs tagged\n")  # idempotent: nothing set again
    assert "already tagged   " in again.stdout


SERVER = os.environ.get("VAULTKIT_MLFLOW_SERVER")  # `mlflow` of a full MLflow install


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`mlflow server` on 127.0.0.1 with a SQLite store, serving artifacts too."""
    if not SERVER:
        pytest.skip(
            "`make test-slow` installs a full MLflow for the server (VAULTKIT_MLFLOW_SERVER)"
        )
    folder = tmp_path_factory.mktemp("server")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    log = (folder / "server.log").open("w")
    process = subprocess.Popen(
        [
            SERVER,
            "server",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            "1",
            "--backend-store-uri",
            f"sqlite:///{folder / 'mlflow.db'}",
            "--artifacts-destination",
            str(folder / "artifacts"),
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    uri = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180
        while True:
            try:
                with urllib.request.urlopen(f"{uri}/health", timeout=2) as answer:
                    if answer.status == 200:
                        break
            except OSError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail("mlflow server did not start: " + (folder / "server.log").read_text())
            time.sleep(0.5)
        yield uri
    finally:
        process.terminate()
        process.wait(timeout=30)
        log.close()


@pytest.mark.slow
def test_a_tracking_server_over_http_is_read_like_a_local_store(
    server: str, tmp_path: Path
) -> None:
    runs = make_store(server)
    root = linked_vault(tmp_path / "vault", runs)
    synced = run(root, "runs", "sync", "--tracking-uri", server)
    assert synced.exit_code == 0, synced.output
    assert synced.output.endswith("\n3 of 3 notes written\n")
    note = (root / "Experiments" / "EXP-001 baseline.md").read_text(encoding="utf-8")
    # a server's run has a page in the MLflow UI: the one line a local store's has not
    page = f"| in MLflow | <{server}/#/experiments/1/runs/{runs['baseline']}> |\n"
    assert page in note
    golden = (GOLDEN / "EXP-001 baseline.md").read_text(encoding="utf-8")
    assert with_ids(note.replace(page, ""), runs) == golden
    orphans = run(root, "runs", "list", "--orphans", "--format", "json", "--tracking-uri", server)
    assert [r["name"] for r in json.loads(orphans.stdout)] == ["forgotten sweep"]


def test_the_demo_with_mlflow_shows_the_whole_loop(tmp_path: Path) -> None:
    """The issue's "done when": sync fills every linked note, check reports the planted
    drift, the orphan run is found, and a note from it links its run and its previous."""
    root = tmp_path / "demo"
    made = CliRunner().invoke(cli, ["demo", str(root), "--with-mlflow"])
    assert made.exit_code == 0, made.output
    notes = sorted((root / "Experiments").glob("*.md"))
    synced = [n.stem for n in notes if "<!-- vaultkit:begin run -->" in n.read_text("utf-8")]
    assert synced == [
        "EXP-001 baseline",
        "EXP-002 mosaic augmentation",
        "EXP-003 focal loss",
        "EXP-004 mosaic and focal loss",
        "EXP-010 distillation to nano",
    ]
    assert check_codes(root) == [
        (
            "EXP-004 mosaic and focal loss",
            "metric-drift",
            # crack_recall in MLflow
            "states crack recall = 0.66, but its run logged final 0.64, and no step logged "
            "the note's value",
        )
    ]
    orphans = json.loads(run(root, "runs", "list", "--orphans", "--format", "json").stdout)
    assert [r["name"] for r in orphans] == ["mosaic focal lr sweep"]
    created = run(root, "new-experiment", "EXP-005 lr sweep", "--from-run", orphans[0]["id"])
    assert created.exit_code == 0, created.output
    note = vaultkit.open(root).experiment("EXP-005 lr sweep")
    assert note.previous == ["Experiments/EXP-004 mosaic and focal loss"]
    # the store is found from the vault's config, relative to the vault, from any folder
    assert (
        (root / ".vaultkit" / "config.toml")
        .read_text()
        .endswith('mlflow_tracking_uri = "sqlite:///mlflow.db"\n')
    )


def test_runs_sync_in_the_config_makes_build_sync_first(
    vault: tuple[Path, str, dict[str, str]],
) -> None:
    root, uri, _ = vault
    (root / ".vaultkit").mkdir(exist_ok=True)
    (root / ".vaultkit" / "config.toml").write_text(
        f'runs_sync = true\nmlflow_tracking_uri = "{uri}"\n', encoding="utf-8"
    )
    built = run(root, "build")
    assert built.exit_code == 0, built.output
    assert "runs_sync: wrote the run blocks of Experiments/EXP-001 baseline.md" in built.output
    index = (root / "Experiment Index.md").read_text(encoding="utf-8")
    assert " | 0.612 | 0.97 (run) | " in index
    lineage = (root / "Lineages" / "EXP-001 baseline lineage.md").read_text(encoding="utf-8")
    assert "## Metrics\n\nA value marked (run) is what a synced MLflow run logged" in lineage


def test_watch_with_runs_sync_syncs_at_start_and_when_a_note_names_a_new_run(
    vault: tuple[Path, str, dict[str, str]],
) -> None:
    root, uri, runs = vault
    (root / ".vaultkit").mkdir(exist_ok=True)
    (root / ".vaultkit" / "config.toml").write_text(
        f'runs_sync = true\nmlflow_tracking_uri = "{uri}"\n', encoding="utf-8"
    )
    reports: list[Update] = []
    watcher = Watcher(root, report=reports.append)
    try:
        watcher.start()  # built from the notes as they are; the runs are synced aside
        assert watcher.syncer.wait_idle(60)
        notices = [n for r in reports if r.result for n in r.result.notices]
        assert "runs_sync: wrote the run block of Experiments/EXP-001 baseline.md" in notices
        plain = root / "Experiments" / "EXP-004 plain.md"
        plain.write_text(
            f"---\nmlflow_run: {runs['orphan']}\n---\n" + plain.read_text(encoding="utf-8"),
            encoding="utf-8",
        )
        watcher.inbox.changed.add("Experiments/EXP-004 plain.md")
        update = watcher.step()
        assert update is not None and update.error is None, update
        assert watcher.syncer.wait_idle(60)
        notices = [n for r in reports if r.result for n in r.result.notices]
        assert "runs_sync: wrote the run block of Experiments/EXP-004 plain.md" in notices
        assert "### MLflow run `forgotten sweep`" in plain.read_text(encoding="utf-8")
    finally:
        watcher.close()
