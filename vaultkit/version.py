"""vaultkit's version, the one place it is written (a module of its own: the disk layer
needs it for its cache headers without importing the whole package)."""

__version__ = "0.2.0"
