"""The Python API: the examples of docs/api.md and the README run as written, answers
kept for an unchanged vault are the answers, and pandas stays optional."""

from __future__ import annotations

import doctest
import re
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

import vaultkit
from vaultkit.cli import cli

from .conftest import REPO, experiment, spy, without_modules


@pytest.fixture
def demo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
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


def test_the_examples_of_docs_api_run_as_written(demo: Path) -> None:
    results = run_examples((REPO / "docs" / "api.md").read_text(encoding="utf-8"), "api.md")
    assert results.attempted >= 20 and results.failed == 0


def test_the_python_examples_of_the_readme_run_as_written(demo: Path) -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    examples = "\n".join(re.findall(r"```python\n(.*?)```", readme, re.S))
    results = run_examples(examples, "README.md")
    assert results.attempted >= 3 and results.failed == 0


def test_to_pandas_without_pandas_says_how_to_install_it(
    demo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    without_modules(monkeypatch, "pandas")
    with pytest.raises(vaultkit.MissingExtra) as raised:
        vaultkit.open(demo).to_pandas()
    assert raised.value.message == (
        "pandas is not installed; install it with: pip install 'vaultkit[pandas]'"
    )


def test_kept_answers_are_used_while_nothing_changes_and_renewed_after(
    demo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from vaultkit import loading as read_module

    first = vaultkit.open(demo).experiments
    parsed = []
    real = read_module.read_note
    monkeypatch.setattr(read_module, "read_note", spy(real, lambda *a: parsed.append(a)))
    again = vaultkit.open(demo)
    assert again.experiments == first and again.check() == [] and again.lineages
    assert parsed == []  # nothing was read: the answers were kept
    note = demo / "Experiments" / "EXP-003 focal loss.md"
    note.write_text(note.read_text().replace("Status: #writing", "Status: #done"))
    changed = vaultkit.open(demo).experiment("EXP-003")
    assert changed.status == "done" and parsed


def test_a_damaged_kept_answer_is_computed_again(demo: Path) -> None:
    from vaultkit.disk import cache
    from vaultkit.disk.read import cache_folder

    expected = vaultkit.open(demo).experiments
    path = cache_folder(demo) / cache.answers_name("experiments")
    fingerprint, _ = cache.decode(path.read_bytes())
    path.write_bytes(cache.encode((fingerprint, [("not", "a", "record")])))
    assert vaultkit.open(demo).experiments == expected


def test_errors_are_exceptions_never_system_exit(tmp_path: Path) -> None:
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


def test_select_is_what_list_shows(demo: Path) -> None:
    vault = vaultkit.open(demo)
    chosen = vault.select(statuses=["writing", "#Done"], sort_by="map_0.5")
    assert chosen.metric == "mAP@0.5"
    assert [r.title for r in chosen.records] == [
        "EXP-004 mosaic and focal loss",
        "EXP-002 mosaic augmentation",
        "EXP-003 focal loss",
        "EXP-001 baseline",
        "EXP-010 distillation to nano",
        "EXP-011 int8 quantisation",  # no value: last
    ]
    assert vault.select(statuses=["writing"]).records == [
        r for r in vault.experiments if r.status == "writing"
    ]
    none = vault.select(statuses=["writting"])
    assert none.records == []
    assert none.empty_because == (
        "No experiments with status 'writting'. The statuses in use: done (3), writing (3); "
        "did you mean 'writing'?"
    )
    with pytest.raises(ValueError, match="no metric named 'f1'; the experiments report: "):
        vault.select(sort_by="f1")


def test_check_filters_by_code_and_severity(demo: Path) -> None:
    vault = vaultkit.open(demo)
    note = demo / "Experiments" / "EXP-003 focal loss.md"
    note.write_text(note.read_text() + "\nSee [[No such note]].\n")
    vault = vaultkit.open(demo)
    every = vault.check()
    dangling = vault.check(codes=["dangling-link"])
    assert dangling and dangling == [p for p in every if p.code == "dangling-link"]
    assert vault.check(severity="error") == [p for p in every if p.severity == "error"]
    with pytest.raises(ValueError, match="no problem code 'dangling-lnk'; did you mean"):
        vault.check(codes=["dangling-lnk"])


def test_list_keeps_every_status_asked_for(demo: Path) -> None:
    shown = CliRunner().invoke(
        cli, ["--vault", str(demo), "list", "--status", "writing", "--status", "done"]
    )
    assert shown.exit_code == 0
    assert shown.output.endswith("\n6 experiments: 3 done, 3 writing\n")


def test_lineage_depth_is_a_keyword_of_the_api(demo: Path) -> None:
    vault = vaultkit.open(demo)
    whole = vault.lineage("EXP-001 baseline")
    assert whole.descendants == [
        "Experiments/EXP-002 mosaic augmentation",
        "Experiments/EXP-003 focal loss",
        "Experiments/EXP-004 mosaic and focal loss",
    ]
    one = vault.lineage("EXP-001 baseline", depth=1)
    assert one.descendants == whole.descendants[:2]
    assert all("EXP-004" not in e.child for e in one.edges)
    roots_only = vault.lineages_within(0)
    assert [ln.members for ln in roots_only] == [ln.roots for ln in vault.lineages]
    with pytest.raises(ValueError, match="depth must be 0 or more"):
        vault.lineage("EXP-001 baseline", depth=-1)


def test_what_the_cli_does_with_a_vault_the_api_does(tmp_path: Path) -> None:
    """init, demo, finding the vault, a note's rebuild gaps, the graph and the address
    that opens a note: the CLI calls these and nothing under them."""
    created = vaultkit.init(tmp_path / "new")
    assert "Templates/Model Training.md" in created and ".obsidian/templates.json" in created
    with pytest.raises(vaultkit.NoteExists):
        vaultkit.init(tmp_path / "new")
    assert vaultkit.find_vault(tmp_path / "new" / "Experiments") == (tmp_path / "new").resolve()
    assert vaultkit.find_vault(tmp_path) is None

    made = vaultkit.demo(tmp_path / "demo")
    assert made.orphan_run is None
    assert len(made.vault.experiments) == 6 and len(made.vault.lineages) == 2
    assert "Experiment Index.md" in made.build.written
    graph = made.vault.graph()
    assert "Experiments/EXP-004 mosaic and focal loss" in graph
    assert not any(node.startswith("Lineages/") for node in graph)
    assert any(node.startswith("Lineages/") for node in made.vault.graph(generated=True))
    assert made.vault.obsidian_uri("Experiments/EXP-001 baseline.md") == (
        "obsidian://open?vault=demo&file=Experiments%2FEXP-001%20baseline"
    )
    assert made.vault.gaps("EXP-001") == []

    (tmp_path / "demo" / "Experiments" / "EXP-005 bare.md").write_text(
        experiment("[[EXP-004 mosaic and focal loss]]", "writing")
    )
    assert vaultkit.open(tmp_path / "demo").gaps("EXP-005") == [
        "Environment setup names no library versions (e.g. torch==2.3.0)",
        "Model does not say how randomness is controlled (a seed)",
        "Data detail gives no class counts",
        "Metrics gives no accepted thresholds",
    ]


def test_a_demo_with_mlflow_but_no_mlflow_makes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    without_modules(monkeypatch, "mlflow")
    with pytest.raises(vaultkit.MissingExtra, match=r"pip install 'vaultkit\[mlflow\]'"):
        vaultkit.demo(tmp_path / "demo", with_mlflow=True)
    assert not (tmp_path / "demo").exists()
