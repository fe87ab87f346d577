"""Shell completion: command names, options, statuses, and the vault's note
names, from the file listing alone."""

from __future__ import annotations

import builtins
import io
import os
import shlex
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import pytest
from click.testing import CliRunner

from vaultkit.cli import cli

from .conftest import experiment, write_vault

T = TypeVar("T")


def complete(words: str, shell: str = "bash", cwd: Path | None = None) -> list[str]:
    """What the shell is offered after typing ``words`` (the last one being completed)."""
    parts = shlex.split(words)
    env = {
        "_VAULTKIT_COMPLETE": f"{shell}_complete",
        "COMP_WORDS": words,
        "COMP_CWORD": str(len(parts) - 1),
    }
    old = Path.cwd()
    os.chdir(cwd or old)
    try:
        result = CliRunner().invoke(cli, [], env=env, prog_name="vaultkit")
    finally:
        os.chdir(old)
    assert result.exit_code == 0, result.output
    return [line.split(",", 1)[1] for line in result.output.splitlines()]


@pytest.fixture
def big_vault(tmp_path: Path) -> Path:
    """10,000 notes: completion must not read them."""
    root = tmp_path / "vault"
    (root / ".obsidian").mkdir(parents=True)
    for folder in range(100):
        where = root / "Experiments" / f"{folder:02}"
        where.mkdir(parents=True)
        for index in range(100):
            (where / f"EXP-{folder:02}{index:02} run.md").write_text("# Previous experiment\n")
    return root


def test_note_names_complete_from_the_listing_without_reading_a_note(
    big_vault: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    opened: list[str] = []

    def watching(real: Callable[..., T]) -> Callable[..., T]:
        def opening(file: object, *args: Any, **kwargs: Any) -> T:
            if str(file).endswith(".md"):
                opened.append(str(file))
            return real(file, *args, **kwargs)

        return opening

    # every way a file is opened: vaultkit reads notes with os.open, others use open()
    monkeypatch.setattr(os, "open", watching(os.open))
    monkeypatch.setattr(builtins, "open", watching(builtins.open))
    monkeypatch.setattr(io, "open", watching(io.open))
    offered = complete(f"vaultkit --vault {big_vault} lineage EXP-990")
    assert offered == [f"EXP-990{n} run" for n in range(10)]
    assert opened == []  # not one note's text was read
    # after the command name, from the vault found above the current folder, any case
    inside = big_vault / "Experiments" / "07"
    assert complete("vaultkit diff exp-0701", cwd=inside) == ["EXP-0701 run"]
    assert complete(f'vaultkit set-status --vault {big_vault} "EXP-0000 run" d') == ["done"]


def test_commands_and_options_complete() -> None:
    assert complete("vaultkit li") == ["lineage", "list"]
    assert "--orphans" in complete("vaultkit runs list --")
    assert complete("vaultkit list --status p") == ["pending", "postpone"]
    assert "--polling" in complete("vaultkit service install --")


@pytest.mark.parametrize(
    ("shell", "marker"),
    [("bash", "complete -o"), ("zsh", "compdef"), ("fish", "complete --no-files")],
)
def test_each_shell_gets_a_completion_script(shell: str, marker: str) -> None:
    env = {"_VAULTKIT_COMPLETE": f"{shell}_source"}
    script = CliRunner().invoke(cli, [], env=env, prog_name="vaultkit").output
    assert marker in script and "_VAULTKIT_COMPLETE" in script


def bash_completes(line: list[str], vault: Path) -> list[str]:
    """What a real bash puts in COMPREPLY for ``line`` (its last word being completed),
    through the script `vaultkit` prints for bash."""
    import subprocess
    import sys

    words = " ".join(shlex.quote(word) for word in line)
    script = (
        'eval "$(_VAULTKIT_COMPLETE=bash_source vaultkit)"\n'
        f"COMP_WORDS=({words}); COMP_CWORD={len(line) - 1}\n"
        "_vaultkit_completion vaultkit\n"
        'printf "%s\\n" "${COMPREPLY[@]}"\n'
    )
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    done = subprocess.run(
        ["bash", "--norc", "--noprofile", "-c", script],
        capture_output=True,
        text=True,
        env={**env, "VAULTKIT_VAULT": str(vault)},
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.splitlines()


@pytest.fixture
def built_vault(tmp_path: Path) -> Path:
    vault = write_vault(
        tmp_path / "vault",
        {
            ".obsidian/app.json": "{}",
            "Experiments/EXP-003 focal loss.md": experiment("none", "done"),
            "Experiments/EXP-004 merge.md": experiment("[[EXP-003 focal loss]]", "writing"),
            "Notes/EXP-0 reading list.md": "# Papers\n",
        },
    )
    assert CliRunner().invoke(cli, ["--vault", str(vault), "build"]).exit_code == 0
    return vault


def test_bash_inserts_a_name_with_spaces_as_one_word(built_vault: Path) -> None:
    assert bash_completes(["vaultkit", "set-status", "EXP-003"], built_vault) == [
        r"EXP-003\ focal\ loss"
    ]


def test_experiments_only_where_an_experiment_is_expected(built_vault: Path) -> None:
    """Not vaultkit's lineage notes, and not a note that is no experiment; any note but
    vaultkit's own where any note will do."""
    vault = str(built_vault)
    experiments = ["EXP-003 focal loss", "EXP-004 merge"]
    for words in (
        f"vaultkit --vault {vault} set-status EXP",
        f"vaultkit --vault {vault} new-experiment x --previous EXP",
        f"vaultkit --vault {vault} lineage EXP",
        f"vaultkit --vault {vault} compare EXP",
    ):
        assert complete(words) == experiments, words
    assert complete(f"vaultkit --vault {vault} new-experiment x --related EXP") == [
        "EXP-0 reading list",
        *experiments,
    ]


def test_vault_and_folder_complete_folders(built_vault: Path) -> None:
    plain = {
        "_VAULTKIT_COMPLETE": "bash_complete",
        "COMP_WORDS": "vaultkit --vault ",
        "COMP_CWORD": "2",
    }
    shown = CliRunner().invoke(cli, [], env=plain, prog_name="vaultkit").output
    assert shown.splitlines() == ["dir,"]  # the shell's own folder completion
    folders = complete(f"vaultkit --vault {built_vault} new-experiment x --folder ''")
    assert folders == ["Experiments", "Notes"]


def test_fish_keeps_a_description_whole_past_its_first_comma() -> None:
    env = {"_VAULTKIT_COMPLETE": "fish_source"}
    script = CliRunner().invoke(cli, [], env=env, prog_name="vaultkit").output
    assert 'string split -m 1 "," $completion' in script


@pytest.mark.skipif(shutil.which("fish") is None, reason="fish is not installed (CI installs it)")
def test_a_real_fish_session_keeps_descriptions_whole_and_names_one_item(
    built_vault: Path,
) -> None:
    import subprocess
    import sys

    script = (
        f"set -x PATH {shlex.quote(str(Path(sys.executable).parent))} $PATH\n"
        "_VAULTKIT_COMPLETE=fish_source vaultkit | source\n"
        'complete -C "vaultkit ch"\n'
        f'complete -C "vaultkit --vault {built_vault} set-status EXP-003"\n'
    )
    done = subprocess.run(
        ["fish", "--no-config", "-c", script], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert any(line.startswith("check\tFind broken links, lineage cycles") for line in lines)
    assert "EXP-003 focal loss" in lines


ZSH_SESSION = r"""
zmodload zsh/zpty
zpty -b session 'zsh -f -i'
zpty -w session "PATH=$BIN:\$PATH; autoload -Uz compinit; compinit -u -D"
zpty -w session 'eval "$(_VAULTKIT_COMPLETE=zsh_source vaultkit)"'
zpty -w session "show-buffer() { print -r -- \"\$BUFFER\" > $OUT }; zle -N show-buffer"
zpty -w session "bindkey '^X^P' show-buffer"
zpty -w -n session "$LINE"$'\t\C-x\C-p'
for i in {1..300}; do [[ -s $OUT ]] && break; sleep 0.1; done
zpty -d session
"""


@pytest.mark.skipif(shutil.which("zsh") is None, reason="zsh is not installed (CI installs it)")
def test_a_real_zsh_session_inserts_a_name_with_spaces_as_one_word(
    built_vault: Path, tmp_path: Path
) -> None:
    """Typed into an interactive zsh (in a pseudo-terminal): the line, then Tab; a key
    bound to a widget writes the line as completion left it."""
    import subprocess
    import sys

    out = tmp_path / "buffer.txt"
    line = f"vaultkit --vault {shlex.quote(str(built_vault))} set-status EXP-003"
    env = {**os.environ, "BIN": str(Path(sys.executable).parent), "OUT": str(out), "LINE": line}
    done = subprocess.run(
        ["zsh", "-f", "-c", ZSH_SESSION], capture_output=True, text=True, env=env, timeout=90
    )
    assert done.returncode == 0, done.stderr
    assert out.read_text(encoding="utf-8") == line + r"\ focal\ loss " + "\n"
