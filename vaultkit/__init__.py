"""vaultkit: index, lineage and checks for ML experiment notes in an Obsidian vault.

    import vaultkit
    vault = vaultkit.open("~/ml-notes")
    vault.experiments          # records: id, status, previous, metrics, problems, …
    vault.to_pandas()          # one row per experiment, one column per metric

See docs/api.md for every public name.
"""

from vaultkit.api import (
    KNOWN_STATUSES,
    Chain,
    Demo,
    Experiment,
    Selection,
    Vault,
    check_codes,
    clear_all_caches,
    demo,
    find_vault,
    init,
    kept_of,
    open,
)
from vaultkit.create import NewExperiment, RunSync
from vaultkit.disk.read import cache_base
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
from vaultkit.model.runs import RUN_PROPERTY, Run, TrackedRun
from vaultkit.model.vault_model import Lineage
from vaultkit.pipeline import BuildResult
from vaultkit.records import Edge, Problem
from vaultkit.tracker import HELD, TAGGED, Tracker
from vaultkit.version import __version__

__all__ = [
    "__version__",
    "HELD",
    "KNOWN_STATUSES",
    "RUN_PROPERTY",
    "TAGGED",
    "AmbiguousNote",
    "BuildResult",
    "cache_base",
    "Chain",
    "check_codes",
    "clear_all_caches",
    "ConfigError",
    "demo",
    "Demo",
    "DiskError",
    "Edge",
    "Experiment",
    "find_vault",
    "init",
    "InvalidTitle",
    "kept_of",
    "Lineage",
    "ManagedBlockError",
    "MissingExtra",
    "NewExperiment",
    "NotAnExperiment",
    "NotARegularFile",
    "NoteExists",
    "NoteNotFound",
    "open",
    "Problem",
    "RefusedEdit",
    "Run",
    "RunSync",
    "Selection",
    "ServiceError",
    "TrackedRun",
    "Tracker",
    "TrackerError",
    "UnsafePath",
    "Vault",
    "VaultkitError",
    "VaultNotFound",
    "VaultTooLarge",
    "WatchError",
    "WriteConflict",
]
