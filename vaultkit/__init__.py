"""vaultkit: index, lineage and checks for ML experiment notes in an Obsidian vault.

    import vaultkit
    vault = vaultkit.open("~/ml-notes")
    vault.experiments          # records: id, status, previous, metrics, problems, …
    vault.to_pandas()          # one row per experiment, one column per metric

See docs/api.md for every public name.
"""

__version__ = "0.2.0"

from vaultkit.api import Chain, Experiment, Selection, Vault, clear_all_caches, open  # noqa: E402
from vaultkit.create import NewExperiment, RunSync  # noqa: E402
from vaultkit.errors import (  # noqa: E402
    AmbiguousNote,
    ConfigError,
    DiskError,
    InvalidTitle,
    ManagedBlockError,
    MissingExtra,
    NotAnExperiment,
    NotARegularFile,
    NoteExists,
    NoteNotFound,
    RefusedEdit,
    ServiceError,
    TrackerError,
    UnsafePath,
    VaultkitError,
    VaultNotFound,
    VaultTooLarge,
    WatchError,
    WriteConflict,
)
from vaultkit.model.records import Edge, Problem  # noqa: E402
from vaultkit.model.runs import Run, TrackedRun  # noqa: E402
from vaultkit.model.vault_model import Lineage  # noqa: E402
from vaultkit.pipeline import BuildResult  # noqa: E402

__all__ = [
    "AmbiguousNote",
    "BuildResult",
    "Chain",
    "ConfigError",
    "DiskError",
    "Edge",
    "Experiment",
    "InvalidTitle",
    "Lineage",
    "ManagedBlockError",
    "MissingExtra",
    "NewExperiment",
    "NoteExists",
    "NoteNotFound",
    "NotAnExperiment",
    "NotARegularFile",
    "Problem",
    "RefusedEdit",
    "Run",
    "RunSync",
    "Selection",
    "ServiceError",
    "TrackedRun",
    "TrackerError",
    "UnsafePath",
    "Vault",
    "VaultNotFound",
    "VaultTooLarge",
    "VaultkitError",
    "WatchError",
    "WriteConflict",
    "clear_all_caches",
    "open",
]
