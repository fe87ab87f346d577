"""The README cannot go stale: its example runs are re-run, and every command, check code
and config key is in it."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
from click.testing import CliRunner

from vaultkit.cli import cli
from vaultkit.create import demo_vault
from vaultkit.model.check import CODES
from vaultkit.model.config import CONFIG_KEYS

from .conftest import REPO

README = (REPO / "README.md").read_text(encoding="utf-8")
EXAMPLES = re.findall(
    r"```console\n\$ vaultkit (--vault vaultkit-demo .+?)\n(.*?)```", README, re.S
)


def test_readme_has_runnable_examples() -> None:
    assert len(EXAMPLES) >= 2


@pytest.mark.parametrize(("command", "expected"), EXAMPLES)
def test_readme_example_output_is_what_vaultkit_prints(
    command: str, expected: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    demo_vault(tmp_path / "vaultkit-demo")
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(cli, shlex.split(command))
    assert result.output == expected


@pytest.mark.parametrize("command", sorted(cli.commands))
def test_every_command_is_documented(command: str) -> None:
    assert f"`vaultkit {command}" in README


@pytest.mark.parametrize("code", sorted(CODES))
def test_every_check_code_is_in_the_readme_table(code: str) -> None:
    assert f"| `{code}` |" in README or f"`{code}` / `" in README or f"/ `{code}` |" in README


@pytest.mark.parametrize("key", CONFIG_KEYS)
def test_every_config_key_is_in_the_readme_table(key: str) -> None:
    assert f"| `{key}` |" in README
