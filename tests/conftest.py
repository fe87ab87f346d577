"""Shared fixtures: a small lineage vault written on the fly, and the shared corpora."""

from __future__ import annotations

import builtins
import os
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from types import ModuleType
from typing import Any, ParamSpec, TypeVar

import pytest
from click.testing import CliRunner, Result
from hypothesis import settings

from vaultkit.cli import cli
from vaultkit.loading import packaged_rules

# Shared, noisy machines: a slow example is not a failure (speed lives in benchmarks/).
settings.register_profile("vaultkit", deadline=None)
settings.load_profile("vaultkit")

REPO = Path(__file__).resolve().parents[1]
# the rules of a vault without a template of its own: the shipped team template's sections
TEAM_RULES = packaged_rules()
SEED_TEMPLATE = REPO / "vault_template" / "Templates" / "Model Training.md"
CORPORA = Path(os.environ.get("VAULTKIT_CORPORA", REPO.parent / "shared" / "corpora"))
FIXED_MTIME = 1_700_000_000  # 2023-11-14T22:13:20Z


P = ParamSpec("P")
R = TypeVar("R")


def spy(real: Callable[P, R], log: Callable[..., object]) -> Callable[P, R]:
    """``real``, with ``log`` called first on the same arguments: a test records what a
    build asks for (which notes it reads, which rows it renders) and the build goes on."""

    def spied(*args: P.args, **kwargs: P.kwargs) -> R:
        log(*args, **kwargs)
        return real(*args, **kwargs)

    return spied


def without_modules(monkeypatch: pytest.MonkeyPatch, *names: str) -> None:
    """Imports of ``names`` (and their submodules) fail from here on, as where those
    optional extras are not installed."""
    real_import = builtins.__import__

    def importing(name: str, *args: Any, **kwargs: Any) -> ModuleType:
        if name in names or name.startswith(tuple(f"{n}." for n in names)):
            raise ImportError(f"No module named {name!r}")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", importing)


def run(vault: Path, *args: str, catch_exceptions: bool = True) -> Result:
    """`vaultkit --vault VAULT ARGS…` in this process (click's test runner).
    ``catch_exceptions`` False: an exception vaultkit did not expect is raised, not
    turned into exit code 1."""
    return CliRunner().invoke(
        cli, ["--vault", str(vault), *args], catch_exceptions=catch_exceptions
    )


@pytest.fixture(autouse=True)
def cache_base(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Each test's own cache folder (vaultkit keeps its caches outside the vault), so no
    test sees another's caches or the person's who runs the tests. (Not the test's own
    monkeypatch, which some tests undo midway.)"""
    base = tmp_path_factory.mktemp("cache")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("VAULTKIT_CACHE_DIR", str(base))
        yield base


def experiment(
    previous: str, status: str, extra: str = "", tags: str = "#model_training #document"
) -> str:
    """An experiment note in the team's template shape."""
    return (
        f"# Previous experiment\n\n- What is the previous experiment? {previous}\n\n"
        f"# Metrics\n\n| metric | value |\n|---|---|\n| mAP | 0.61 |\n\n{extra}"
        f"---\nStatus: #{status}\n\nTags: {tags}\n\nReferences:\n- \n\nRelated:\n- \n"
    )


LINEAGE_VAULT = {
    ".obsidian/templates.json": '{"folder": "Templates"}',
    "Templates/Model Training.md": SEED_TEMPLATE.read_text(encoding="utf-8"),
    "Experiments/EXP-001 baseline.md": (
        "# Previous experiment\n\n- None: first run\n\n"
        "# Next experiment\n\n- [[EXP-002 mosaic]]\n\n"
        "---\nStatus: #done\n\nTags: #model_training #document\n\n"
        "References:\n- https://arxiv.org/abs/1708.02002\n\nRelated:\n- [[Dataset]]\n"
    ),
    "Experiments/EXP-002 mosaic.md": experiment("[[EXP-001 baseline]]", "done"),
    "Experiments/EXP-003 focal.md": experiment("[[EXP-001 baseline]]", "writing"),
    "Experiments/EXP-004 merge.md": experiment(
        "[[EXP-002 mosaic]] and [[EXP-003 focal]]", "writing"
    ),
    "Experiments/EXP-005 dangling.md": experiment("[[EXP-099 missing]]", "writing"),
    "Experiments/EXP-008 no status.md": experiment("[[Tips]]", "writing").replace(
        "Status: #writing", "Status:"
    ),
    "Cycle/EXP-020 loop a.md": experiment("[[EXP-021 loop b]]", "writing"),
    "Cycle/EXP-021 loop b.md": experiment("[[EXP-020 loop a]]", "writing"),
    "Knowledge/Tips.md": "# Tips\n\n- Use focal loss\n\n---\n- Status: #done \n"
    "- Tags: #model_training #tips_and_tricks\n",
    "Notes/Dataset.md": "# Dataset v3\n",
    "Archive/Dataset.md": "# Dataset v2\n",
}


def write_vault(root: Path, files: Mapping[str, str | bytes]) -> Path:
    for relative, content in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8", newline="")
        os.utime(path, (FIXED_MTIME, FIXED_MTIME))
    return root


@pytest.fixture
def lineage_vault(tmp_path: Path) -> Path:
    """The lineage vault, plus a CRLF + BOM note and a cp1252 note made on the fly."""
    files: dict[str, str | bytes] = dict(LINEAGE_VAULT)
    crlf = "---\nstatus: done\n---\n" + experiment("[[EXP-003 focal]]", "writing")
    files["Experiments/EXP-006 crlf bom.md"] = ("\ufeff" + crlf.replace("\n", "\r\n")).encode()
    cp1252 = experiment("[[EXP-001 baseline]]", "done", "# Résumé\n\nCafé data\n\n")
    files["Experiments/EXP-007 cp1252.md"] = cp1252.encode("cp1252")
    return write_vault(tmp_path / "vault", files)


@pytest.fixture(autouse=True)
def _no_ambient_vault(monkeypatch: pytest.MonkeyPatch) -> None:
    """No test reads the developer's own vault through the environment."""
    monkeypatch.delenv("VAULTKIT_VAULT", raising=False)


def note_per_lineage(root: Path) -> Path:
    """The vault's config asks for a lineage note for an experiment alone in its lineage
    too (`single_lineages = "notes"`), what tests of lineage notes and canvases need."""
    config = root / ".vaultkit" / "config.toml"
    config.parent.mkdir(parents=True, exist_ok=True)
    before = config.read_text(encoding="utf-8") if config.exists() else ""
    config.write_text(before + 'single_lineages = "notes"\n', encoding="utf-8")
    return root
