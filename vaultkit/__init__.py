"""vaultkit: index, lineage and checks for ML experiment notes in an Obsidian vault.

    import vaultkit
    vault = vaultkit.open("~/ml-notes")
    vault.experiments          # records: id, status, previous, metrics, problems, …
    vault.to_pandas()          # one row per experiment, one column per metric

See docs/api.md for every public name.
"""

from vaultkit.api import Chain, Experiment, Selection, Vault, clear_all_caches, open
from vaultkit.create import NewExperiment, RunSync
from vaultkit.errors import (
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
from vaultkit.model.runs import Run, TrackedRun
from vaultkit.model.vault_model import Lineage
from vaultkit.pipeline import BuildResult
from vaultkit.records import Edge, Problem
from vaultkit.version import __version__

__all__ = [
    "__version__",
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
