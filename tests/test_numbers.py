"""The numbers are right: results read the way the team's template asks, one value and
one name per metric in every output, true drift, exact numbers, what changed inherited."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

import vaultkit
from vaultkit.cli import cli
from vaultkit.model.metrics import exact_number, prose_metrics, template_sections
from vaultkit.model.reading import parse_note
from vaultkit.model.results import DEFAULT_METRIC_RULES
from vaultkit.model.runs import Run, run_block, run_section
from vaultkit.model.synced import metric_properties
from vaultkit.output.edit import set_run_block

from . import conftest
from .conftest import SEED_TEMPLATE, write_vault

QUESTIONS = dict(conftest.TEAM_RULES.sections)

# -- reading: a fixture table ---------------------------------------------------------------

RESULT_LINES = [
    # (a Result line, the values read, read with `%`)
    ("- Training metric results: mAP@0.5 = 0.58, recall = 0.44", {"mAP@0.5": 0.58, "recall": 0.44}),
    ("    - mAP@0.5: 0.63", {"mAP@0.5": 0.63}),
    ("- **recall**: 0.49", {"recall": 0.49}),
    ("- **recall:** 0.49", {"recall": 0.49}),
    ("- `mAP@0.5`: 0.61", {"mAP@0.5": 0.61}),
    ("- precision: 0.61 ± 0.01 (3 seeds)", {"precision": 0.61}),
    ("- precision = 0.61 +/- 0.02", {"precision": 0.61}),
    ("- accuracy: 72%", {"accuracy": 72.0}),
    ("- latency: 12 ms", {"latency": 12.0}),
    ("- latency: 12ms, throughput: 1,200 img/s", {"latency": 12.0, "throughput": 1200.0}),
    ("- mAP@0.5:0.95: 0.41", {"mAP@0.5:0.95": 0.41}),
    ("- metrics/mAP50(B): 0.61", {"metrics/mAP50(B)": 0.61}),
    ("- val_mAP_0.5 = 0.55; F1: 0.5", {"val_mAP_0.5": 0.55, "F1": 0.5}),
    ("- 4,812 images: recall = 0.5", {"recall": 0.5}),
    ("- lr: 3e-4", {"lr": 0.0003}),
    ("mAP@0.5 = 0.58 on the val split", {"mAP@0.5": 0.58}),
    # what must not be read
    ("- Training metric results", {}),
    ("- Training metric results: 0.58", {}),  # a question is no name
    ("- Date: 2024-05-01", {}),
    ("- at 12:30", {}),
    ("- Training graphs: ![[loss 2024-05.png]]", {}),
    ("- see https://mlflow.example/runs/12", {}),
    ("- mAP@0.5 of 0.61", {}),
    ("- loss 0.31 -> 0.28", {}),
    ("- Results meet expectation: yes", {}),
    ("- a very long sentence of six words: 3", {}),
]


@pytest.mark.parametrize(("line", "values"), RESULT_LINES)
def test_result_lines(line: str, values: dict[str, float] | dict[str, object]) -> None:
    read = prose_metrics([line], QUESTIONS["result"])
    assert read.values == values
    assert read.thresholds == {}


@pytest.mark.parametrize(
    ("line", "unread"),
    [
        ("- mAP@0.5 of 0.61", True),
        ("- loss 0.31 -> 0.28", True),
        ("- Training metric results: 0.58", True),
        ("- Trained for 30 epochs", True),
        ("- mAP@0.5: 0.61 after 30 epochs", False),  # read: the line gave a metric
        ("- Date: 2024-05-01", False),
        ("- at 12:30", False),
        ("- Training graphs: ![[loss 2024.png]]", False),
        ("- mAP:: 0.61", False),  # a Dataview field, read elsewhere
        ("| mAP | 0.61 |", False),  # a table row, read elsewhere
        ("- Training metric results", False),
    ],
)
def test_numbers_no_rule_reads_are_reported(line: str, unread: bool) -> None:
    assert bool(prose_metrics([line], QUESTIONS["result"]).unread) is unread


def test_percent_is_kept_as_written_and_marked() -> None:
    read = prose_metrics(["- accuracy: 72%", "- recall: 0.5"], QUESTIONS["result"])
    assert read.values == {"accuracy": 72.0, "recall": 0.5}
    assert read.percent == {"accuracy"}


THRESHOLD_LINES = [
    (
        ["- Expected (accepted) threshold for each metric: mAP@0.5 ≥ 0.65, latency <= 30 ms"],
        {"mAP@0.5": 0.65, "latency": 30.0},
    ),
    (["- Expected (accepted) threshold for each metric", "    - recall: 0.8"], {"recall": 0.8}),
    (["- Thresholds:", "  - mAP@0.5 = 0.7", "- IoU: 0.5"], {"mAP@0.5": 0.7}),
    (["- F1 at least 0.5", "- latency: at most 30 ms"], {"F1": 0.5, "latency": 30.0}),
    (
        ["- precision > 0.7", "- loss < 0.3", "- recall ≤ 0.9"],
        {"precision": 0.7, "loss": 0.3, "recall": 0.9},
    ),
    (["- mAP@0.5 >= 0.65 (business asks 0.7)"], {"mAP@0.5": 0.65}),
    # the plan's other pairs are no thresholds, and its questions are none
    (["- IoU: 0.5", "- Model training metrics and how to calculate them (Accuracy, mAP, etc)"], {}),
    (["- Expected (accepted) threshold for each metric"], {}),
]


@pytest.mark.parametrize(("lines", "thresholds"), THRESHOLD_LINES)
def test_threshold_lines(
    lines: list[str], thresholds: dict[str, float] | dict[str, object]
) -> None:
    read = prose_metrics(lines, QUESTIONS["metrics"], plan=True)
    assert read.thresholds == thresholds
    assert read.values == {}


def test_a_number_in_another_section_is_no_result() -> None:
    note = parse_note(
        "# Data detail\n\n- Number of classes: 3\n\n# Result\n\n- recall: 0.5\n\n"
        "---\nStatus: #done\n\nTags: #model_training #document\n"
    )
    assert note.metrics == {"recall": 0.5}
    assert "number of classes" in note.settings  # a setting, not a result
    assert "recall" not in note.settings  # a result, not a setting


def test_template_title_placeholders_are_no_section() -> None:
    text = "# {{id}}\n\n## Data\n\n- Where?\n\n## Result\n\n- metrics\n\n### Graphs\n"
    assert template_sections(text) == (("data", ("where?",)), ("result", ("metrics",)))
    assert [n for n, _ in template_sections("# <% tp.file.title %>\n## Model\n")] == ["model"]


def test_a_vault_template_with_a_placeholder_title_counts_its_sections(tmp_path: Path) -> None:
    template = (
        "---\ntags: [model_training, template]\n---\n"
        "# {{id}}\n\n## Data\n\n- Where?\n\n## Result\n\n- Metrics\n"
    )
    vault = write_vault(
        tmp_path / "v",
        {
            ".obsidian/templates.json": '{"folder": "Templates"}',
            "Templates/Experiment.md": template,
            "Experiments/EXP-001 a.md": (
                "# EXP-001 a\n\n## Data\n\n- Kaggle\n\n## Result\n\n- mAP: 0.5\n\n"
                "---\nStatus: #writing\n\nTags: #model_training #document\n"
            ),
        },
    )
    listed = CliRunner().invoke(cli, ["--vault", str(vault), "list"])
    assert "writing  2/2       Experiments/EXP-001 a" in listed.output
    done = CliRunner().invoke(cli, ["--vault", str(vault), "set-status", "EXP-001", "done"])
    assert done.exit_code == 0, done.output


# -- one name per metric, direction ----------


def test_one_name_per_metric_and_configured_aliases() -> None:
    rules = DEFAULT_METRIC_RULES
    assert len({rules.key(n) for n in ("mAP@0.5", "mAP_0.5", "mAP 0.5", "map@0.5", "MAP-0.5")}) == 1
    assert rules.key("val mAP 0.5") == rules.key("val_mAP_0.5")
    assert rules.key("mAP50") != rules.key("mAP@0.5")
    from vaultkit.model.results import MetricRules

    aliased = MetricRules(aliases=(("mAP@0.5", ("mAP50", "metrics/mAP50(B)")),))
    assert aliased.key("metrics/mAP50(B)") == aliased.key("mAP50") == aliased.key("map_0.5")
    directed = MetricRules(directions=(("my_score", "lower"), ("val loss", "higher")))
    assert not directed.higher_is_better("My Score")
    assert directed.higher_is_better("val_loss")


# -- the team's template, filled in each style, end to end ----------------------------------------

TEMPLATE = SEED_TEMPLATE.read_text(encoding="utf-8")


def filled(previous: str, model: str, metrics: str, result: str, extra: str = "") -> str:
    """The team's template with its Previous experiment, Model, Metrics and Result
    sections answered as people answer them, and its status set."""
    text = TEMPLATE.replace(
        "- What is the previous experiment?", f"- What is the previous experiment? {previous}"
    )
    text = text.replace("- Hyperparameters setting (type, value, where to apply)?", model)
    text = text.replace("- Expected (accepted) threshold for each metric", metrics)
    text = text.replace("- Training metric results\n- Business metric results", result)
    text = text.replace("#document_template #template", "").replace("# \n\n---", "---")
    return text.replace("Status: #writing", "Status: #done") + extra


BEST_ROW = (
    "| [[EXP-001 baseline lineage]] | 4 | mAP@0.5 (higher is better) | [[EXP-004 merge]] "
    "| 0.671 ✓ | ✓ 2/2 |"
)
THRESHOLDS = "- Expected (accepted) threshold for each metric: mAP@0.5 ≥ 0.65, val loss <= 1.0"
CHAIN = {
    "EXP-001 baseline": filled(
        "None",
        "- lr: 0.01\n- batch size: 16",
        THRESHOLDS,
        "- Training metric results: mAP@0.5 = 0.58, recall = 0.44",
    ),
    "EXP-002 mosaic": filled(
        "[[EXP-001 baseline]]",
        "- mosaic: 1.0",
        THRESHOLDS,
        "- Business metric results\n    - mAP@0.5: 0.63\n    - **recall**: 0.49",
    ),
    "EXP-003 focal": filled(
        "[[EXP-001 baseline]]",
        "- lr: 0.02",
        "- Expected (accepted) threshold for each metric\n    - mAP@0.5: 0.65",
        "- mAP@0.5: 0.61 ± 0.01 (3 seeds)\n- accuracy: 72%",
    ),
    "EXP-004 merge": filled(
        "[[EXP-002 mosaic]] and [[EXP-003 focal]]",
        "- batch size: 32",
        THRESHOLDS,
        "| metric | value |\n|---|---|\n| mAP@0.5 | 0.671 |\n| val loss | 0.9 |",
    ),
}


def chain_vault(root: Path) -> Path:
    files = {f"Experiments/{name}.md": text for name, text in CHAIN.items()}
    return write_vault(root, {".obsidian/app.json": "{}", **files})


def run(vault: Path, *args: str) -> Result:
    """A command that may find problems (exit 1) but never fails."""
    result = conftest.run(vault, *args)
    assert result.exit_code in (0, 1), result.output
    return result


def test_every_style_is_read_and_every_output_agrees(tmp_path: Path) -> None:
    vault = chain_vault(tmp_path / "v")
    assert run(vault, "build").exit_code == 0
    listed = {
        r["title"]: r["metrics"] for r in json.loads(run(vault, "list", "--format", "json").output)
    }
    assert listed == {
        "EXP-001 baseline": {"mAP@0.5": 0.58, "recall": 0.44},
        "EXP-002 mosaic": {"mAP@0.5": 0.63, "recall": 0.49},
        "EXP-003 focal": {"mAP@0.5": 0.61, "accuracy": 72.0},
        "EXP-004 merge": {"mAP@0.5": 0.671, "val loss": 0.9},
    }
    index = (vault / "Experiment Index.md").read_text(encoding="utf-8")
    assert "| mAP@0.5 | recall | accuracy | thresholds |" in index
    assert (
        "| [[EXP-003 focal]] | [[EXP-001 baseline]] | [[EXP-001 baseline lineage]] "
        "| 0.61 ✗ | — | 72% | ✗ 0/1 |" in index
    )
    assert BEST_ROW in index
    lineage = (vault / "Lineages" / "EXP-001 baseline lineage.md").read_text(encoding="utf-8")
    assert (
        "**Best by mAP@0.5** (higher is better): [[EXP-004 merge]], 0.671. "
        "Thresholds (mAP@0.5 ≥ 0.65, val loss ≤ 1): all met." in lineage
    )
    assert "  line [0.58, 0.63, 0.671]" in lineage  # root -> the better parent -> the best
    frame = vaultkit.open(vault).to_pandas()
    assert frame.loc["Experiments/EXP-003 focal", "accuracy"] == 72.0
    assert frame.loc["Experiments/EXP-004 merge", "mAP@0.5"] == 0.671
    assert list(frame.columns).count("mAP@0.5") == 1
    diffs = json.loads(run(vault, "diff", "EXP-004", "--format", "json").output)
    by_parent = {d["from"]: {m["name"]: (m["old"], m["new"]) for m in d["metrics"]} for d in diffs}
    assert by_parent["Experiments/EXP-002 mosaic"]["mAP@0.5"] == (0.63, 0.671)
    assert by_parent["Experiments/EXP-003 focal"]["mAP@0.5"] == (0.61, 0.671)
    check = run(vault, "check", "--format", "json").output
    assert "result-not-read" not in check and "metric-drift" not in check


def test_what_changed_inherits_a_setting_the_child_does_not_repeat(tmp_path: Path) -> None:
    vault = chain_vault(tmp_path / "v")
    run(vault, "build")
    lineage = (vault / "Lineages" / "EXP-001 baseline lineage.md").read_text(encoding="utf-8")
    table = lineage.split("## Chain\n\n", 1)[1].split("\n\n", 1)[0].splitlines()[2:]
    rows = {cells[1]: cells[4] for cells in (line.split(" | ") for line in table)}
    assert rows["[[EXP-002 mosaic]]"] == "mosaic 1.0"  # not "no batch size; no lr"
    assert rows["[[EXP-003 focal]]"] == "lr 0.01→0.02"
    # a merge keeps its first parent's setting where the parents differ
    assert rows["[[EXP-004 merge]]"] == (
        "from [[EXP-002 mosaic]]: batch size 16→32; "
        "from [[EXP-003 focal]]: batch size 16→32; lr 0.02→0.01; mosaic 1.0"
    )
    diffs = json.loads(run(vault, "diff", "EXP-002", "--format", "json").output)
    assert diffs[0]["settings"] == [{"name": "mosaic", "old": None, "new": "1.0"}]


def test_a_result_no_rule_reads_is_a_warning_quoting_the_line(tmp_path: Path) -> None:
    note = filled("None", "- lr: 0.01", THRESHOLDS, "- mAP@0.5 of 0.61 on val")
    vault = write_vault(
        tmp_path / "v", {".obsidian/app.json": "{}", "Experiments/EXP-001 a.md": note}
    )
    problems = json.loads(run(vault, "check", "--format", "json").output)["problems"]
    found = [p for p in problems if p["code"] == "result-not-read"]
    line = note.splitlines().index("- mAP@0.5 of 0.61 on val") + 1
    assert found == [
        {
            "code": "result-not-read",
            "severity": "warning",
            "note": "Experiments/EXP-001 a",
            "line": line,
            "message": "Result line '- mAP@0.5 of 0.61 on val' holds numbers that no rule reads "
            "as a metric; write them as `- name: value` (`- mAP@0.5: 0.61`), or a table "
            "`| metric | value |`",
        }
    ]


def test_config_aliases_join_names_and_directions_rank(tmp_path: Path) -> None:
    vault = write_vault(
        tmp_path / "v",
        {
            ".obsidian/app.json": "{}",
            ".vaultkit/config.toml": (
                'metric_aliases = { "mAP@0.5" = ["mAP50"] }\n'
                'metric_direction = { "my_score" = "lower" }\n'
            ),
            "Experiments/EXP-001 a.md": filled("None", "", "", "- mAP50: 0.5\n- my_score: 3"),
            "Experiments/EXP-002 b.md": filled(
                "[[EXP-001 a]]", "", "", "- mAP@0.5: 0.6\n- my_score: 5"
            ),
        },
    )
    listed = json.loads(run(vault, "list", "--format", "json", "--sort", "metric:my score").output)
    assert [(r["title"], r["metrics"]) for r in listed] == [
        ("EXP-001 a", {"mAP@0.5": 0.5, "my_score": 3.0}),
        ("EXP-002 b", {"mAP@0.5": 0.6, "my_score": 5.0}),
    ]
    table = run(vault, "list", "--sort", "metric:mAP50").output
    assert table.splitlines()[0].split() == ["STATUS", "SECTIONS", "NOTE", "mAP@0.5", "PREVIOUS"]
    bad = CliRunner().invoke(cli, ["--vault", str(vault), "list"], catch_exceptions=False)
    assert bad.exit_code == 0
    (vault / ".vaultkit" / "config.toml").write_text('metric_direction = { "x" = "down" }\n')
    wrong = CliRunner().invoke(cli, ["--vault", str(vault), "list"])
    assert wrong.exit_code == 1
    assert 'metric_direction: \'x\' must be "higher" or "lower"' in wrong.output


# -- exact numbers ----------


@pytest.mark.parametrize(
    ("value", "written"),
    [
        (12345678901234.5, "12345678901234.5"),
        (0.1234567, "0.1234567"),
        (1e-5, "0.00001"),
        (1e20, "100000000000000000000"),
        (12.0, "12"),
        (-0.0, "0"),
        (float("inf"), "inf"),
        (float("-inf"), "-inf"),
        (float("nan"), "nan"),
    ],
)
def test_exact_numbers(value: float, written: str) -> None:
    assert exact_number(value) == written


def a_run(metrics: dict[str, list[float]], status: str = "FINISHED", run_id: str = "a" * 32) -> Run:
    history = {name: tuple(enumerate(values)) for name, values in metrics.items()}
    final = {name: values[-1] for name, values in metrics.items()}
    return Run(run_id, "train", "1", status, None, None, final, history)


def with_run_block(text: str, runs: list[Run], stated: dict[str, float] | None = None) -> str:
    return set_run_block(text, run_block([run_section(r, stated) for r in runs]))


def test_the_run_block_keeps_every_digit_and_the_table_rounds(tmp_path: Path) -> None:
    note = filled("None", "", "", "- recall: 0.5")
    text = with_run_block(
        note, [a_run({"big": [12345678901234.5], "map_0.5": [0.1234567, 0.1234564]})]
    )
    assert "| `big` | 12345678901234.5 (step 0) | — | — |" in text
    assert "| `map_0.5` | 0.1234564 (step 1) | 0.1234567 (step 0) | — |" in text
    assert parse_note(text).run_metrics == {"big": 12345678901234.5, "map_0.5": 0.1234564}
    vault = write_vault(
        tmp_path / "v", {".obsidian/app.json": "{}", "Experiments/EXP-001 a.md": text}
    )
    listed = json.loads(run(vault, "list", "--format", "json").output)
    assert listed[0]["metrics"] == {"recall": 0.5, "big": 12345678901234.5, "map_0.5": 0.1234564}
    run(vault, "build")
    index = (vault / "Experiment Index.md").read_text(encoding="utf-8")
    assert "| 0.5 | 12345678901234 (run) | 0.123456 (run) |" in index  # rounded to read


# -- one value everywhere, for any note/run combination -------------------------------------------

STYLES = [
    lambda name, value: f"- {name}: {value}",
    lambda name, value: f"- Training metric results: {name} = {value}",
    lambda name, value: f"- Business metric results\n    - **{name}**: {value}",
    lambda name, value: f"| metric | value |\n|---|---|\n| {name} | {value} |",
]
SPELLINGS = ["mAP@0.5", "mAP_0.5", "map 0.5"]
values = st.floats(min_value=0.001, max_value=0.999).map(lambda v: round(v, 3))


# (the value stated, its style, its spelling, the values a run logged, the run's status)
Made = tuple[float | None, int, str, list[float] | None, str]


@st.composite
def notes(draw: st.DrawFn) -> list[Made]:
    """Up to four chained notes, each stating mAP@0.5 (in a style and spelling) or not,
    each with a synced run that logged `mAP_0.5` or not."""
    count = draw(st.integers(min_value=1, max_value=4))
    made: list[Made] = []
    for _ in range(count):
        stated = draw(st.one_of(st.none(), values))
        logged = draw(st.one_of(st.none(), st.lists(values, min_size=1, max_size=3)))
        made.append(
            (
                stated,
                draw(st.sampled_from(range(len(STYLES)))),
                draw(st.sampled_from(SPELLINGS)),
                logged,
                draw(st.sampled_from(["FINISHED", "FAILED"])),
            )
        )
    return made


@hypothesis_settings(max_examples=25, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(made=notes())
def test_outputs_never_disagree(tmp_path_factory: pytest.TempPathFactory, made: list[Made]) -> None:
    root = tmp_path_factory.mktemp("v")
    files = {".obsidian/app.json": "{}"}
    for number, (stated, style, spelling, logged, status) in enumerate(made, 1):
        previous = f"[[EXP-{number - 1:03}]]" if number > 1 else "None"
        result = STYLES[style](spelling, stated) if stated is not None else "- pending"
        text = filled(previous, "", "", result)
        if logged is not None:
            run_id = f"{number:032x}"
            text = with_run_block(text, [a_run({"mAP_0.5": logged}, status, run_id)])
            text = text.replace(
                "---\nStatus:", f"- http://x/#/experiments/1/runs/{run_id}\n\n---\nStatus:", 1
            )
        files[f"Experiments/EXP-{number:03}.md"] = text
    files[".vaultkit/config.toml"] = 'single_lineages = "notes"\nproperties_sync = true\n'
    vault = write_vault(root, files)
    # the value precedence says: the note's own, else its run's final
    expected = {}
    for number, (stated, _, _, logged, _) in enumerate(made, 1):
        value = stated if stated is not None else (logged[-1] if logged else None)
        if value is not None:
            expected[f"Experiments/EXP-{number:03}"] = value
    api = vaultkit.open(vault)
    names = {m for e in api.experiments for m in e.metrics}
    assert names <= {"mAP@0.5", "mAP_0.5", "map 0.5"} and len(names) <= 1  # one name
    shown = next(iter(names), "")
    assert {e.id: e.metrics[shown] for e in api.experiments if e.metrics} == expected
    listed = json.loads(run(vault, "list", "--format", "json").output)
    assert {r["id"]: r["metrics"][shown] for r in listed if r["metrics"]} == expected
    if expected:
        frame = api.to_pandas()
        assert {i: frame.loc[i, shown] for i in expected} == expected
    assert run(vault, "build").exit_code == 0
    index = (vault / "Experiment Index.md").read_text(encoding="utf-8")
    for note, value in expected.items():
        row = next(
            line
            for line in index.splitlines()
            if line.startswith(f"| [[{note.rpartition('/')[2]}]]")
        )
        assert re.search(rf"\| {re.escape(str(value))}( \(run\))? \|", row), row
        held = parse_note((vault / f"{note}.md").read_text(encoding="utf-8")).properties
        assert held[metric_properties([shown])[shown]] == value  # the Bases view's number
    lineage = next((vault / "Lineages").glob("*.md")).read_text(encoding="utf-8")
    if expected:
        best_value = max(expected.values())
        assert f", {best_value}" in lineage.split("**Best by", 1)[1].split("\n", 1)[0]
    for number in range(2, len(made) + 1):
        diff = json.loads(run(vault, "diff", f"EXP-{number:03}", "--format", "json").output)
        old, new = f"Experiments/EXP-{number - 1:03}", f"Experiments/EXP-{number:03}"
        for entry in diff[0]["metrics"]:
            assert (entry["old"], entry["new"]) == (expected.get(old), expected.get(new))


# -- a real MLflow store ---------------------------------------------------------------------


@pytest.mark.mlflow
def test_a_run_logging_map_0_5_meets_the_notes_map_at_0_5(tmp_path: Path) -> None:
    """The issue's "done when": a lineage written from the team's template, with a real
    SQLite run that logs `mAP_0.5` by epoch: every result shown, one column, the right
    best with its thresholds met, the same value everywhere, and no false drift."""
    pytest.importorskip("mlflow", reason="the mlflow extra: pip install 'vaultkit[mlflow]'")
    from mlflow import MlflowClient

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    client = MlflowClient(tracking_uri=uri)
    experiment = client.create_experiment("detector", artifact_location=(tmp_path / "a").as_uri())
    made = client.create_run(experiment, run_name="merge")
    run_id = made.info.run_id
    for step, value in enumerate([0.41, 0.58, 0.64, 0.66, 0.668, 0.669, 0.671, 0.668]):
        client.log_metric(run_id, "mAP_0.5", value, step=step)
    client.log_metric(run_id, "grad_norm", float("inf"), step=0)  # kept as the largest float
    client.log_param(run_id, "optimizer", "AdamW")
    client.log_param(run_id, "batch size", "32")
    client.set_terminated(run_id, "FINISHED")

    files = {f"Experiments/{name}.md": text for name, text in CHAIN.items()}
    merge = CHAIN["EXP-004 merge"].replace(
        "- batch size: 32", "- batch size: 32\n- optimizer: adamw"
    )
    files["Experiments/EXP-004 merge.md"] = merge.replace("---\nmlflow", "").replace(
        "References:\n", f"References:\n- http://127.0.0.1:5000/#/experiments/1/runs/{run_id}\n"
    )
    vault = write_vault(tmp_path / "v", {".obsidian/app.json": "{}", **files})
    synced = run(vault, "runs", "sync", "--tracking-uri", uri)
    assert synced.exit_code == 0, synced.output
    text = (vault / "Experiments" / "EXP-004 merge.md").read_text(encoding="utf-8")
    assert "| `mAP_0.5` | 0.668 (step 7) | 0.671 (step 6) | 0.671 (step 6) |" in text
    assert "| `grad_norm` | inf (step 0) | — | — |" in text  # not a 309-digit number
    # the note states the best epoch's 0.671; the run's final is 0.668: no drift
    problems = json.loads(run(vault, "check", "--format", "json").output)["problems"]
    assert [p for p in problems if p["code"] in ("metric-drift", "params-drift")] == []
    assert run(vault, "build").exit_code == 0
    index = (vault / "Experiment Index.md").read_text(encoding="utf-8")
    assert "mAP_0.5" not in index.split("# Experiment index", 1)[1].split("## Best", 1)[0]
    header = next(line for line in index.splitlines() if line.startswith("| experiment |"))
    assert header.count("mAP") == 1  # one column
    assert BEST_ROW in index
    listed = {
        r["title"]: r["metrics"] for r in json.loads(run(vault, "list", "--format", "json").output)
    }
    assert listed["EXP-004 merge"] == {"mAP@0.5": 0.671, "val loss": 0.9, "grad_norm": float("inf")}
    assert [
        r["title"]
        for r in json.loads(
            run(vault, "list", "--format", "json", "--sort", "metric:mAP_0.5").output
        )
    ] == [
        "EXP-004 merge",
        "EXP-002 mosaic",
        "EXP-003 focal",
        "EXP-001 baseline",
    ]
    # a text setting against the run's parameter: compared as text, without case
    (vault / "Experiments" / "EXP-004 merge.md").write_text(
        text.replace("- optimizer: adamw", "- optimizer: SGD"), encoding="utf-8"
    )
    problems = json.loads(run(vault, "check", "--format", "json").output)["problems"]
    assert [p["message"] for p in problems if p["code"] == "params-drift"] == [
        "states optimizer: SGD, but its run's parameter is AdamW"
    ]


def test_a_value_that_is_not_a_number_sorts_last(tmp_path: Path) -> None:
    nan = with_run_block(filled("None", "", "", "- pending"), [a_run({"mAP": [float("nan")]})])
    nan = nan.replace("---\nStatus:", f"- http://x/#/experiments/1/runs/{'a' * 32}\n\n---\nStatus:")
    vault = write_vault(
        tmp_path / "v",
        {
            ".obsidian/app.json": "{}",
            "Experiments/EXP-001 nan.md": nan,
            "Experiments/EXP-002 low.md": filled("[[EXP-001 nan]]", "", "", "- mAP: 0.2"),
            "Experiments/EXP-003 high.md": filled("[[EXP-002 low]]", "", "", "- mAP: 0.4"),
        },
    )
    listed = json.loads(run(vault, "list", "--format", "json", "--sort", "metric:mAP").output)
    assert [r["title"] for r in listed] == ["EXP-003 high", "EXP-002 low", "EXP-001 nan"]
