"""``make bench``'s MLflow part: `vaultkit runs sync` of 2,000 runs named by 500 notes,
the first sync and an unchanged re-sync, on a SQLite store and (given a full MLflow's
`mlflow` command) over HTTP from a `mlflow server` on 127.0.0.1.

    python benchmarks/runs_sync.py [--runs 2000] [--notes 500] [--server PATH/TO/mlflow]

Each figure is one whole `vaultkit runs sync` process (a first sync cannot be repeated);
read the ratio, not the seconds.
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

# Made by the MLflow that will read the store: vaultkit refuses a store of another
# schema, and a server refuses a store newer than itself.
MAKE_STORE = """
import sys
from mlflow import MlflowClient
from mlflow.entities import Metric, Param
uri, runs = sys.argv[1], int(sys.argv[2])
client = MlflowClient(tracking_uri=uri)
experiment = client.create_experiment("bench", artifact_location=sys.argv[3])
for number in range(runs):
    run = client.create_run(experiment, run_name=f"run {number}")
    metrics = [
        Metric(name, value * (1 + step) / 10, 1_764_590_400_000 + step, step)
        for name, value in (("mAP_0.5", 0.5), ("val_loss", 1.2), ("recall", 0.4))
        for step in range(10)
    ]
    params = [Param("lr", "0.01"), Param("batch_size", str(16 + number % 4))]
    client.log_batch(run.info.run_id, metrics=metrics, params=params)
    client.set_terminated(run.info.run_id, "FINISHED")
    print(run.info.run_id)
"""

NOTE = """---
mlflow_run: [{ids}]
---
# Previous experiment

- {previous}

# Result

- mAP@0.5: 0.5

---
Status: #writing

Tags: #model_training #document
"""


def make_store(python: str, uri: str, runs: int, folder: Path) -> list[str]:
    made = subprocess.run(
        [python, "-c", MAKE_STORE, uri, str(runs), (folder / "artifacts").as_uri()],
        capture_output=True,
        text=True,
        check=True,
    )
    return made.stdout.split()


def make_vault(root: Path, ids: list[str], notes: int) -> None:
    per_note = max(1, len(ids) // notes)
    for number in range(notes):
        chosen = ids[number * per_note : (number + 1) * per_note]
        previous = f"[[EXP-{number - 1:04}]]" if number else "None"
        path = root / "Experiments" / f"EXP-{number:04}.md"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(NOTE.format(ids=", ".join(chosen), previous=previous), encoding="utf-8")
    (root / ".obsidian").mkdir(exist_ok=True)


def sync(root: Path, uri: str) -> float:
    began = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "vaultkit", "--vault", str(root), "runs", "sync"],
        env={**os.environ, "MLFLOW_TRACKING_URI": uri},
        check=True,
        capture_output=True,
    )
    return time.perf_counter() - began


def first_and_again(root: Path, uri: str) -> tuple[float, float]:
    return sync(root, uri), sync(root, uri)


def serve(mlflow: str, database: Path, folder: Path) -> tuple[subprocess.Popen, str]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = subprocess.Popen(
        [mlflow, "server", "--host", "127.0.0.1", "--port", str(port), "--workers", "1"]
        + ["--backend-store-uri", f"sqlite:///{database}"]
        + ["--artifacts-destination", str(folder / "artifacts")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    uri = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{uri}/health", timeout=2):
                return process, uri
        except OSError:
            time.sleep(1)
    process.kill()
    raise RuntimeError("mlflow server did not start in 3 minutes")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=2000)
    parser.add_argument("--notes", type=int, default=500)
    parser.add_argument("--server", metavar="MLFLOW", help="a full MLflow's `mlflow` command")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="vaultkit-runs-bench-"))
    rows = []
    try:
        store = work / "sqlite"
        store.mkdir()
        ids = make_store(sys.executable, f"sqlite:///{store / 'mlflow.db'}", args.runs, store)
        make_vault(work / "vault-sqlite", ids, args.notes)
        rows.append(
            ("SQLite", *first_and_again(work / "vault-sqlite", f"sqlite:///{store / 'mlflow.db'}"))
        )
        if args.server:
            served = work / "server"
            served.mkdir()
            python = str(Path(args.server).parent / "python")
            ids = make_store(python, f"sqlite:///{served / 'mlflow.db'}", args.runs, served)
            make_vault(work / "vault-http", ids, args.notes)
            process, uri = serve(args.server, served / "mlflow.db", served)
            try:
                rows.append(("HTTP", *first_and_again(work / "vault-http", uri)))
            finally:
                process.terminate()
                process.wait(timeout=30)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"vaultkit runs sync: {args.runs:,} runs named by {args.notes:,} notes, one process each")
    print()
    print("| store | first sync | unchanged re-sync | re-sync / first |")
    print("|---|---:|---:|---:|")
    for store_kind, first, again in rows:
        print(f"| {store_kind} | {first:.1f} s | {again:.1f} s | {again / first:.2f} |")


if __name__ == "__main__":
    main()
