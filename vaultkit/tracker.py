"""The experiment tracker's side: MLflow runs read (and, when asked, tagged) through
MLflow's own client, as plain ``Run`` records. The only module that imports MLflow, and
only when a command needs it: every other command works without the `mlflow` extra.

The tracking address: ``--tracking-uri``, else `MLFLOW_TRACKING_URI`, else
`mlflow_tracking_uri` in `.vaultkit/config.toml`, else MLflow's own default.
"""

from __future__ import annotations

import functools
import math
import os
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from vaultkit.errors import MissingExtra, VaultkitError
from vaultkit.model.runs import Run

INSTALL_HINT = "MLflow is not installed; install it with: pip install 'vaultkit[mlflow]'"
# Files that say how a run's environment was built, as MLflow logs them with a model
ENVIRONMENT_FILES = ("requirements.txt", "conda.yaml", "python_env.yaml")
_NOT_FOUND = {"RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE"}


class TrackerError(VaultkitError):
    """The tracking store could not be read or written."""


def tracking_uri(option: str | None, configured: str, vault_root: Path) -> str | None:
    """The address to use; None: MLflow's own default. A relative path in the config's
    value is read from the vault's folder (`sqlite:///mlflow.db`, `mlruns`), so the
    setting means the same from any working folder."""
    given = option or os.environ.get("MLFLOW_TRACKING_URI")
    if given or not configured:
        return given or None
    if configured.startswith("sqlite:///") and not configured.startswith("sqlite:////"):
        return "sqlite:///" + str(vault_root / configured.removeprefix("sqlite:///"))
    if "://" not in configured and ":" not in configured[:2]:
        return (vault_root / configured).resolve().as_uri()
    return configured


class Tracker:
    """Runs of one tracking store."""

    def __init__(self, uri: str | None):
        try:
            from mlflow.exceptions import MlflowException
            from mlflow.tracking import MlflowClient
        except ImportError:
            raise MissingExtra(INSTALL_HINT) from None
        self._error = MlflowException
        if uri is None or "://" not in uri or uri.startswith("file:"):
            # MLflow 3.7+ opens a legacy `mlruns` file store only when allowed; reading
            # one is what a team with such a store asks vaultkit to do
            os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")
        try:
            self.client = MlflowClient(tracking_uri=uri)
        except MlflowException as exc:
            raise TrackerError(f"cannot open the tracking store {uri!r}: {exc.message}") from None
        self.uri = self.client.tracking_uri

    def _call(self, what: str, call, *args, **kwargs) -> Any:
        try:
            return call(*args, **kwargs)
        except self._error as exc:
            raise TrackerError(f"{what} in {self.uri}: {exc.message}") from None

    def _get_run(self, run_id: str) -> Any:
        """MLflow's run, or None when the store has no run of that id."""
        try:
            return self.client.get_run(run_id)
        except self._error as exc:
            if exc.error_code in _NOT_FOUND:
                return None
            raise TrackerError(f"reading run {run_id} in {self.uri}: {exc.message}") from None

    def run(self, run_id: str) -> Run | None:
        """The run, or None when the store has no run of that id."""
        found = self._get_run(run_id)
        return None if found is None else self._record(found)

    def runs(self) -> list[Run]:
        """Every active run of every experiment, newest first (without their metric
        histories and environments: ``run`` reads those)."""
        experiments = self._call("listing experiments", self.client.search_experiments)
        ids = [e.experiment_id for e in experiments]
        found: list[Any] = []
        token = None
        while ids:
            page = self._call(
                "listing runs",
                self.client.search_runs,
                ids,
                max_results=1000,
                order_by=["attributes.start_time DESC"],
                page_token=token,
            )
            found += page
            token = page.token
            if not token:
                break
        return [self._record(run, details=False) for run in found]

    def set_tags(self, run_id: str, tags: dict[str, str]) -> bool | None:
        """Set ``tags`` on the run, those it does not hold already: True when any was
        set, False when it held them all, None when the store has no such run."""
        found = self._get_run(run_id)
        if found is None:
            return None
        changed = {k: v for k, v in tags.items() if found.data.tags.get(k) != v}
        for key, value in changed.items():
            self._call(f"tagging run {run_id}", self.client.set_tag, run_id, key, value)
        return bool(changed)

    def log_run(
        self,
        experiment: str,
        name: str,
        histories: dict[str, list[float]],
        params: dict[str, str],
        tags: dict[str, str],
        files: dict[str, str],
        artifacts: Path,
    ) -> str:
        """A finished run with these metric histories (one value per step), parameters,
        tags and text artifacts, in ``experiment`` (made when missing, its artifacts kept
        in the folder ``artifacts``) -> its id."""
        found = self._call("finding an experiment", self.client.get_experiment_by_name, experiment)
        experiment_id = (
            found.experiment_id
            if found
            else self._call(
                "creating an experiment",
                self.client.create_experiment,
                experiment,
                artifact_location=artifacts.resolve().as_uri(),
            )
        )
        made = self._call(
            "creating a run", self.client.create_run, experiment_id, tags=tags, run_name=name
        )
        run_id = made.info.run_id
        for metric, values in histories.items():
            for step, value in enumerate(values):
                self._call(
                    "logging a metric", self.client.log_metric, run_id, metric, value, step=step
                )
        for key, setting in params.items():
            self._call("logging a parameter", self.client.log_param, run_id, key, setting)
        for path, text in files.items():
            self._call("logging an artifact", self.client.log_text, run_id, text, path)
        self._call("ending a run", self.client.set_terminated, run_id, "FINISHED")
        return run_id

    def _record(self, run: Any, details: bool = True) -> Run:
        info, data = run.info, run.data
        histories = {}
        if details:
            for name in data.metrics:
                logged = self._call(
                    f"reading {name} of run {info.run_id}",
                    self.client.get_metric_history,
                    info.run_id,
                    name,
                )
                histories[name] = tuple((m.step, _logged_value(m.value)) for m in logged)
        return Run(
            id=info.run_id,
            name=info.run_name or "",
            experiment_id=str(info.experiment_id),
            status=info.status,
            start_ms=info.start_time,
            end_ms=info.end_time,
            metrics={name: _logged_value(value) for name, value in data.metrics.items()},
            history=histories,
            params=dict(data.params),
            tags={k: v for k, v in data.tags.items() if not k.startswith("mlflow.log-model")},
            environment=self._environment(info.run_id, info.experiment_id) if details else None,
        )

    def _environment(self, run_id: str, experiment_id: str) -> tuple[str, str] | None:
        """(where, text) of the first environment file the run logged: with a model it
        logged (MLflow 3 keeps a model's files apart from the run's), else among the
        run's own artifacts, at the top or one folder down."""
        # (what the block calls it, the file's name, download it into a folder)
        found: list[tuple[str, str, Callable[[str], str]]] = []
        models = self._call(
            "listing logged models",
            self.client.search_logged_models,
            experiment_ids=[experiment_id],
            filter_string=f"source_run_id = '{run_id}'",
        )
        for model in models:
            listed = self._call(
                "listing artifacts", self.client.list_logged_model_artifacts, model.model_id
            )
            for item in listed:
                location = f"{model.artifact_location.rstrip('/')}/{item.path}"
                download = functools.partial(self._download_uri, location)
                found.append((f"model {model.name}: {item.path}", item.path, download))
        top = self._call("listing artifacts", self.client.list_artifacts, run_id)
        files = [f.path for f in top if not f.is_dir]
        for folder in (f.path for f in top if f.is_dir):
            listed = self._call("listing artifacts", self.client.list_artifacts, run_id, folder)
            files += [f.path for f in listed if not f.is_dir]
        for path in files:
            found.append((path, path, functools.partial(self._download_run_file, run_id, path)))
        for name in ENVIRONMENT_FILES:
            for where, path, fetch in found:
                if path.rpartition("/")[2] == name:
                    with tempfile.TemporaryDirectory() as folder:
                        local = fetch(folder)
                        return where, Path(local).read_text(encoding="utf-8", errors="replace")
        return None

    def _download_run_file(self, run_id: str, path: str, folder: str) -> str:
        return self._call(
            "reading an artifact", self.client.download_artifacts, run_id, path, folder
        )

    def _download_uri(self, location: str, folder: str) -> str:
        from mlflow.artifacts import download_artifacts

        return self._call(
            "reading an artifact",
            download_artifacts,
            artifact_uri=location,
            dst_path=folder,
            tracking_uri=self.uri,
        )


def _logged_value(value: float) -> float:
    """A value as it was logged: MLflow's SQL stores keep an infinite value as the largest
    float, which would read as a 309-digit number."""
    if abs(value) == sys.float_info.max:
        return math.copysign(math.inf, value)
    return value
