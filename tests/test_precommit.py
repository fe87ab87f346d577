"""The pre-commit hooks of `.pre-commit-hooks.yaml`, with the real pre-commit framework:
a git repository holding a vault, the hooks installed from this repository, and commits
that pass and one that is blocked.

Cost: about 20 s, most of it pre-commit installing vaultkit into its own environment."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from vaultkit.cli import cli

from .conftest import REPO, write_vault

PRE_COMMIT = Path(sys.executable).with_name("pre-commit")

pytestmark = pytest.mark.skipif(
    not PRE_COMMIT.exists() or shutil.which("git") is None,
    reason="needs git and the pre-commit package (the test extra)",
)


def note(previous: str) -> str:
    return (
        f"# Previous experiment\n\n- {previous}\n\n---\nStatus: #writing\n\nTags: #model_training\n"
    )


def git(repo: Path, *args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["git", *args], cwd=repo, env=env, capture_output=True, text=True, timeout=600
    )


@pytest.mark.slow
def test_pre_commit_blocks_a_commit_that_makes_a_lineage_cycle(tmp_path: Path) -> None:
    head = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=REPO, capture_output=True, text=True, check=True
    ).stdout.strip()
    changed = subprocess.run(
        ["git", "status", "--porcelain", ".pre-commit-hooks.yaml"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    if changed:
        pytest.skip("commit .pre-commit-hooks.yaml first: the hooks come from a commit")
    env = {
        **os.environ,
        "PRE_COMMIT_HOME": str(tmp_path / "pre-commit-cache"),
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@example.com",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@example.com",
        "PATH": f"{PRE_COMMIT.parent}{os.pathsep}{os.environ.get('PATH', '')}",
    }
    repo = write_vault(
        tmp_path / "notes",
        {
            ".obsidian/app.json": "{}",
            "Experiments/EXP-001 baseline.md": note("None"),
            "Experiments/EXP-002 mosaic.md": note("[[EXP-001 baseline]]"),
            ".pre-commit-config.yaml": (
                f"repos:\n  - repo: {REPO}\n    rev: {head}\n    hooks:\n"
                "      - id: vaultkit-check\n      - id: vaultkit-build\n"
            ),
        },
    )
    assert git(repo, "init", "-q", env=env).returncode == 0
    installed = subprocess.run(
        [str(PRE_COMMIT), "install"], cwd=repo, env=env, capture_output=True, text=True
    )
    assert installed.returncode == 0, installed.stdout + installed.stderr
    # the notes vaultkit generates, not built yet: vaultkit-build blocks the commit
    git(repo, "add", ".", env=env)
    unbuilt = git(repo, "commit", "-q", "-m", "two experiments", env=env)
    assert unbuilt.returncode != 0
    assert "out of date: Experiment Index.md" in unbuilt.stdout + unbuilt.stderr
    assert CliRunner().invoke(cli, ["--vault", str(repo), "build"]).exit_code == 0
    git(repo, "add", ".", env=env)
    clean = git(repo, "commit", "-q", "-m", "two experiments", env=env)
    assert clean.returncode == 0, clean.stdout + clean.stderr
    # EXP-001 now names EXP-002 as its previous experiment: a circle
    (repo / "Experiments" / "EXP-001 baseline.md").write_text(note("[[EXP-002 mosaic]]"))
    git(repo, "add", ".", env=env)
    blocked = git(repo, "commit", "-q", "-m", "a cycle", env=env)
    assert blocked.returncode != 0
    said = blocked.stdout + blocked.stderr  # git shows a hook's output on stderr
    assert "vaultkit check" in said and "Failed" in said
    assert "lineage-cycle" in said  # vaultkit's own message
    assert "Experiments/EXP-002 mosaic -> Experiments/EXP-001 baseline" in said
    log = git(repo, "log", "--oneline", env=env).stdout.splitlines()
    assert len(log) == 1  # the commit with the cycle was not made
