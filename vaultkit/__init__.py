"""vaultkit: index, lineage and checks for ML experiment notes in an Obsidian vault."""

__version__ = "0.1.0"
