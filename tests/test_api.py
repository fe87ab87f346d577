"""The Python API: the examples of docs/api.md and the README run as written, answers
kept for an unchanged vault are the answers, and pandas stays optional."""

from __future__ import annotations

import builtins
import doctest
import re
import sys

import pytest
from click.testing import CliRunner

import vaultkit
from vaultkit.cli import cli

from .conftest import REPO, experiment


@pytest.fixture
def demo(tmp_path, monkeypatch):
    """`vaultkit demo vaultkit-demo`, as docs/api.md says, in the current folder."""
    monkeypatch.chdir(tmp_path)
    assert CliRunner().invoke(cli, ["demo", "vaultkit-demo"]).exit_code == 0
    return tmp_path / "vaultkit-demo"


def run_examples(text: str, name: str) -> doctest.TestResults:
    parser = doctest.DocTestParser()
    test = parser.get_doctest(text, {}, name, name, 0)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
    runner.run(test, out=sys.stdout.write)
    return runner.summarize(verbose=False)


def test_the_examples_of_docs_api_run_as_written(demo):
    results = run_examples((REPO / "docs" / "api.md").read_text(encoding="utf-8"), "api.md")
    assert results.attempted >= 20 and results.failed == 0


def test_the_python_examples_of_the_readme_run_as_written(demo):
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    examples = "\n".join(re.findall(r"```python\n(.*?)```", readme, re.S))
    results = run_examples(examples, "README.md")
    assert results.attempted >= 3 and results.failed == 0


def test_to_pandas_without_pandas_says_how_to_install_it(demo, monkeypatch):
    real_import = builtins.__import__

    def no_pandas(name, *args, **kwargs):
        if name == "pandas":
            raise ImportError("No module named 'pandas'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_pandas)
    with pytest.raises(vaultkit.MissingExtra) as raised:
        vaultkit.open(demo).to_pandas()
    assert raised.value.message == (
        "pandas is not installed; install it with: pip install 'vaultkit[pandas]'"
    )


def test_kept_answers_are_used_while_nothing_changes_and_renewed_after(demo, monkeypatch):
    from vaultkit.disk import read as read_module

    first = vaultkit.open(demo).experiments
    parsed = []
    real = read_module.read_note
    monkeypatch.setattr(read_module, "read_note", lambda *a: parsed.append(a) or real(*a))
    again = vaultkit.open(demo)
    assert again.experiments == first and again.check() == [] and again.lineages
    assert parsed == []  # nothing was read: the answers were kept
    note = demo / "Experiments" / "EXP-003 focal loss.md"
    note.write_text(note.read_text().replace("Status: #writing", "Status: #done"))
    changed = vaultkit.open(demo).experiment("EXP-003")
    assert changed.status == "done" and parsed


def test_a_damaged_kept_answer_is_computed_again(demo):
    from vaultkit.disk import cache
    from vaultkit.disk.read import cache_folder

    expected = vaultkit.open(demo).experiments
    path = cache_folder(demo) / cache.answers_name("experiments")
    fingerprint, _ = cache.decode(path.read_bytes())
    path.write_bytes(cache.encode((fingerprint, [("not", "a", "record")])))
    assert vaultkit.open(demo).experiments == expected


def test_errors_are_exceptions_never_system_exit(tmp_path):
    with pytest.raises(vaultkit.VaultNotFound):
        vaultkit.open(tmp_path / "missing")
    with pytest.raises(vaultkit.VaultNotFound):
        vaultkit.open("")
    (tmp_path / "v").mkdir()
    (tmp_path / "v" / "A.md").write_text(experiment("none", "writing"))
    vault = vaultkit.open(tmp_path / "v")
    with pytest.raises(vaultkit.RefusedEdit):
        vault.set_status("A", "done")
    with pytest.raises(vaultkit.NoteNotFound):
        vault.experiment("B")
