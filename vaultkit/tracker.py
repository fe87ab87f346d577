"""The experiment tracker's side: MLflow runs read (and, when asked, tagged) through
MLflow's own client, as plain ``Run`` records. The only module that imports MLflow, and
only when a command needs it: every other command works without the `mlflow` extra.

The tracking address: ``--tracking-uri``, else `MLFLOW_TRACKING_URI`, else
`mlflow_tracking_uri` in `.vaultkit/config.toml`; never MLflow's own default, which
would create an empty store in whatever folder a command runs from. vaultkit never
creates a store (but for ``demo --with-mlflow``, which says so), never changes one's
schema, and waits on a tracking server only as long as its timeouts say.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import math
import os
import re
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit, urlunsplit

from vaultkit.errors import MissingExtra, TrackerError
from vaultkit.model.config import Config
from vaultkit.model.runs import Run

INSTALL_HINT = "MLflow is not installed; install it with: pip install 'vaultkit[mlflow]'"
# Files that say how a run's environment was built, as MLflow logs them with a model
ENVIRONMENT_FILES = ("requirements.txt", "conda.yaml", "python_env.yaml")
_NOT_FOUND = {"RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE"}


NO_STORE = (
    "no MLflow tracking store is named: give --tracking-uri (sqlite:///mlflow.db, "
    "./mlruns, http://127.0.0.1:5000), set $MLFLOW_TRACKING_URI, or add "
    'mlflow_tracking_uri = "…" to .vaultkit/config.toml'
)


def tracking_uri(option: str | None, configured: str, vault_root: Path) -> str:
    """The address to use. A relative path in the config's value is read from the
    vault's folder (`sqlite:///mlflow.db`, `mlruns`), so the setting means the same from
    any working folder. None named is an error: MLflow's default would make a store."""
    given = option or os.environ.get("MLFLOW_TRACKING_URI")
    if given:
        return given
    if not configured:
        raise TrackerError(NO_STORE)
    if configured.startswith("sqlite:///") and not configured.startswith("sqlite:////"):
        return "sqlite:///" + str(vault_root / configured.removeprefix("sqlite:///"))
    if "://" not in configured and ":" not in configured[:2]:
        return (vault_root / configured).resolve().as_uri()
    return configured


def require_mlflow() -> None:
    """MissingExtra, saying how to install it, without the `mlflow` extra."""
    try:
        import mlflow.tracking  # noqa: F401
    except ImportError:
        raise MissingExtra(INSTALL_HINT) from None


def shown_uri(uri: str) -> str:
    """The address as printed: a password in it masked."""
    parts = urlsplit(uri)
    if not parts.password:
        return uri
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))


def _local_path(uri: str) -> Path | None:
    """The file or folder of a local store (`sqlite:///…`, `file:…`, a path); None for a
    server."""
    if uri.startswith("sqlite:///"):
        return Path(unquote(uri.removeprefix("sqlite:///")))
    if uri.startswith("file:"):
        return Path(unquote(urlsplit(uri).path))
    if "://" not in uri:
        return Path(uri)
    return None


def schema_revision(database: Path) -> str | None:
    """The schema revision of an MLflow SQLite store, read without changing the file (a
    read-only connection); None when it holds no MLflow schema."""
    import sqlite3

    try:
        with contextlib.closing(
            sqlite3.connect(f"{database.resolve().as_uri()}?mode=ro", uri=True)
        ) as connection:
            row = connection.execute("SELECT version_num FROM alembic_version").fetchone()
    except sqlite3.Error:
        return None
    return str(row[0]) if row else None


def _check_store(uri: str) -> None:
    """Refuse a local store that is not there (MLflow would make an empty one) and a
    SQLite store whose schema is not the one this MLflow expects (MLflow would migrate
    it, and the MLflow that made it could no longer open it)."""
    path = _local_path(uri)
    if path is None:
        return
    if not path.exists():
        raise TrackerError(
            f"no MLflow store at {path}: check the tracking address (vaultkit never "
            "creates a store)"
        )
    if not uri.startswith("sqlite:"):
        return
    from mlflow.store.db.utils import _get_latest_schema_revision
    from mlflow.version import VERSION

    found, expected = schema_revision(path), str(_get_latest_schema_revision())  # type: ignore[no-untyped-call]
    if found is None:
        raise TrackerError(f"{path} is not an MLflow store (it has no MLflow schema)")
    if found != expected:
        raise TrackerError(
            f"{path} has MLflow schema {found}, and the MLflow vaultkit uses ({VERSION}) "
            f"expects {expected}. vaultkit never upgrades a store: opening it with this "
            "MLflow would, and the MLflow that made it could no longer read it. Install the "
            "MLflow version the team uses beside vaultkit (pip install 'mlflow-skinny==X.Y.Z'), "
            "or upgrade the store yourself (back it up, then 'mlflow db upgrade')"
        )


TAGGED, HELD, NOT_FOUND, DELETED = "tagged", "already tagged", "not in the store", "deleted"
SEARCH_BATCH = 100  # run ids in one search
_RUN_ID = re.compile(r"[0-9A-Za-z_-]{1,64}")  # what may stand in a search filter's quotes

_TIMEOUT_VARIABLES = ("MLFLOW_HTTP_REQUEST_TIMEOUT", "MLFLOW_HTTP_REQUEST_MAX_RETRIES")
_SET_BY_THE_USER = frozenset(v for v in _TIMEOUT_VARIABLES if v in os.environ)  # they win


class Tracker:
    """Runs of one tracking store."""

    def __init__(
        self,
        uri: str,
        create: bool = False,
        timeout: int = Config.mlflow_timeout,
        retries: int = Config.mlflow_retries,
    ):
        """``create``: the store may be made (the demo's); else it must exist with the
        schema this MLflow expects. ``timeout`` and ``retries`` bound each request to a
        server (the `MLFLOW_HTTP_REQUEST_*` variables, when set, win)."""
        require_mlflow()
        from mlflow.exceptions import MlflowException
        from mlflow.tracking import MlflowClient

        _quiet_mlflow()
        self._error = MlflowException
        if "://" not in uri or uri.startswith("file:"):
            # MLflow 3.7+ opens a legacy `mlruns` file store only when allowed; reading
            # one is what a team with such a store asks vaultkit to do
            os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")
        for variable, value in zip(_TIMEOUT_VARIABLES, (timeout, retries), strict=True):
            if variable not in _SET_BY_THE_USER:
                os.environ[variable] = str(value)
        os.environ.setdefault("MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR", "1")
        if not create:
            _check_store(uri)
        try:
            self.client = MlflowClient(tracking_uri=uri)
        except MlflowException as exc:
            raise TrackerError(f"cannot open the tracking store {uri!r}: {exc.message}") from None
        self.uri = self.client.tracking_uri
        self._experiment_names: dict[str, str] = {}

    @property
    def shown(self) -> str:
        return shown_uri(self.uri)

    def _call(self, what: str, call: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
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

    def _experiments(self) -> list[str]:
        """Every experiment's id, deleted ones too (their names remembered)."""
        from mlflow.entities import ViewType

        found = self._call(
            "listing experiments", self.client.search_experiments, view_type=ViewType.ALL
        )
        self._experiment_names.update({e.experiment_id: e.name for e in found})
        return [e.experiment_id for e in found]

    def _search(
        self, experiments: list[str], filter_string: str = "", every: bool = False
    ) -> list[Any]:
        """Every run the search finds, page after page, newest first."""
        from mlflow.entities import ViewType

        found: list[Any] = []
        token = None
        while experiments:
            page = self._call(
                "listing runs",
                self.client.search_runs,
                experiments,
                filter_string=filter_string,
                run_view_type=ViewType.ALL if every else ViewType.ACTIVE_ONLY,
                max_results=1000,
                order_by=["attributes.start_time DESC"],
                page_token=token,
            )
            found += page
            token = page.token
            if not token:
                break
        return found

    def runs(self) -> list[Run]:
        """Every active run of every experiment, newest first (without their metric
        histories and environments: ``run`` reads those)."""
        return [self._record(run, details=False) for run in self._search(self._experiments())]

    def summaries(self, run_ids: list[str]) -> dict[str, Run]:
        """The runs of ``run_ids`` the store has, deleted ones too, without their metric
        histories and files: a search per hundred runs, where ``run`` asks several
        requests per run. A sync asks ``run`` only for the runs that changed."""
        experiments = self._experiments()
        found: dict[str, Run] = {}
        wanted = sorted(set(run_ids))
        for start in range(0, len(wanted), SEARCH_BATCH):
            batch = [i for i in wanted[start : start + SEARCH_BATCH] if _RUN_ID.fullmatch(i)]
            if not batch:
                continue
            listed = ", ".join(f"'{run_id}'" for run_id in batch)
            for run in self._search(experiments, f"attributes.run_id IN ({listed})", every=True):
                found[run.info.run_id] = self._record(run, details=False)
        return found

    def set_tags(self, run_id: str, tags: dict[str, str]) -> str:
        """Set ``tags`` on the run, those it does not hold already -> TAGGED, HELD (it
        held them all), NOT_FOUND or DELETED (MLflow tags no run in its trash)."""
        found = self._get_run(run_id)
        if found is None:
            return NOT_FOUND
        if found.info.lifecycle_stage == "deleted":
            return DELETED
        changed = {k: v for k, v in tags.items() if found.data.tags.get(k) != v}
        for key, value in changed.items():
            self._call(f"tagging run {run_id}", self.client.set_tag, run_id, key, value)
        return TAGGED if changed else HELD

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
        return str(run_id)

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
        experiment = str(info.experiment_id)
        return Run(
            id=info.run_id,
            name=info.run_name or "",
            experiment_id=experiment,
            status=info.status,
            start_ms=info.start_time,
            end_ms=info.end_time,
            metrics={name: _logged_value(value) for name, value in data.metrics.items()},
            history=histories,
            params=dict(data.params),
            tags={k: v for k, v in data.tags.items() if not k.startswith("mlflow.log-model")},
            environment=self._environment(info.run_id, info.experiment_id) if details else None,
            experiment_name=self._experiment_name(experiment),
            deleted=info.lifecycle_stage == "deleted",
            address=self._address(experiment, info.run_id),
        )

    def _experiment_name(self, experiment_id: str) -> str:
        if experiment_id not in self._experiment_names:
            found = self._call("reading an experiment", self.client.get_experiment, experiment_id)
            self._experiment_names[experiment_id] = found.name if found else ""
        return self._experiment_names[experiment_id]

    def _address(self, experiment_id: str, run_id: str) -> str | None:
        """The run's page in the MLflow UI, for a tracking server (no credentials)."""
        parts = urlsplit(self.uri)
        if parts.scheme not in ("http", "https"):
            return None
        host = parts.hostname or ""
        host = f"[{host}]" if ":" in host else host
        netloc = f"{host}:{parts.port}" if parts.port else host
        base = urlunsplit((parts.scheme, netloc, parts.path, "", ""))
        return f"{base.rstrip('/')}/#/experiments/{experiment_id}/runs/{run_id}"

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
        return str(
            self._call("reading an artifact", self.client.download_artifacts, run_id, path, folder)
        )

    def _download_uri(self, location: str, folder: str) -> str:
        from mlflow.artifacts import download_artifacts

        return str(
            self._call(
                "reading an artifact",
                download_artifacts,
                artifact_uri=location,
                dst_path=folder,
                tracking_uri=self.uri,
            )
        )


def _logged_value(value: float) -> float:
    """A value as it was logged: MLflow's SQL stores keep an infinite value as the largest
    float, which would read as a 309-digit number."""
    if abs(value) == sys.float_info.max:
        return math.copysign(math.inf, value)
    return value


def _quiet_mlflow() -> None:
    """MLflow's INFO lines ("Creating initial MLflow database tables…") are not the
    user's business; `vaultkit -v` shows them."""
    if not logging.getLogger("vaultkit").isEnabledFor(logging.DEBUG):
        for name in ("mlflow", "alembic", "sqlalchemy"):
            logging.getLogger(name).setLevel(logging.WARNING)
