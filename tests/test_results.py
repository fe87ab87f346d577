"""Results where people look: metric values as plain decimals everywhere, and
lineage charts Mermaid can parse."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from vaultkit.cli import cli
from vaultkit.model.metrics import plain_number
from vaultkit.model.results import DEFAULT_METRIC_RULES as RULES
from vaultkit.model.results import Condition, parse_condition, path_to

from .conftest import note_per_lineage, write_vault


@pytest.mark.parametrize(
    ("value", "written"),
    [
        (0.671, "0.671"),
        (12.0, "12"),
        (1e6, "1000000"),  # `{:g}` wrote 1e+06, which xychart-beta cannot parse
        (2.5e7, "25000000"),
        (123456789.0, "123456789"),  # a count stays exact
        (1e-5, "0.00001"),  # a learning rate
        (-1.5e-7, "-0.00000015"),
        (0.1234567, "0.123457"),  # six significant digits
        (1234567.5, "1234568"),  # every digit of the whole part
        (-0.0, "0"),
        (1e20, "100000000000000000000"),
        (float("inf"), "inf"),
        (float("nan"), "nan"),
    ],
)
def test_plain_number(value: float, written: str) -> None:
    assert plain_number(value) == written


def chain_note(previous: str, rows: str) -> str:
    return (
        f"# Previous experiment\n\n- {previous}\n\n# Result\n\n| metric | value |\n|---|---|\n"
        f"{rows}\n---\nStatus: #done\n\nTags: #model_training #document\n"
    )


def test_chart_values_are_plain_decimals_and_non_finite_points_are_named(tmp_path: Path) -> None:
    vault = write_vault(
        tmp_path / "v",
        {
            ".obsidian/app.json": "{}",
            "Experiments/EXP-001 a.md": chain_note("None", "| loss | 1e-05 |\n| params | 2.5e7 |"),
            "Experiments/EXP-002 b.md": chain_note("[[EXP-001 a]]", "| loss | 1e400 |"),
            "Experiments/EXP-003 c.md": chain_note("[[EXP-002 b]]", "| loss | 0.000003 |"),
        },
    )
    assert CliRunner().invoke(cli, ["--vault", str(vault), "build"]).exit_code == 0
    note = (vault / "Lineages" / "EXP-001 a lineage.md").read_text(encoding="utf-8")
    metrics = note[note.index("## Metrics") : note.index("<!-- vaultkit:end")]
    assert metrics.splitlines() == [
        "## Metrics",
        "",
        "| # | experiment | loss | params |",
        "|---|---|---|---|",
        "| 1 | [[EXP-001 a]] | 0.00001 | 25000000 |",
        "| 2 | [[EXP-002 b]] | inf | — |",
        "| 3 | [[EXP-003 c]] | 0.000003 | — |",
        "",
        "```mermaid",
        "---",
        "config:",
        "  themeVariables:",
        "    xyChart:",
        '      plotColorPalette: "#1c7ed6"',
        "---",
        "xychart-beta",
        '  title "loss from the root to the best"',
        '  x-axis "#35; in the Chain table" ["1", "3"]',
        '  y-axis "loss"',
        "  line [0.00001, 0.000003]",
        "```",
        "",
        "The chart follows the path from the root to the best, [[EXP-003 c]]: #1 → #2 → #3. "
        "Not in the chart: #2 (loss inf).",
    ]


def test_every_known_status_has_its_colour_and_the_legend_says_which(tmp_path: Path) -> None:
    statuses = ["done", "writing", "pending", "postpone", "not_done", "reading", "paused"]
    files = {".obsidian/app.json": "{}"}
    for index, status in enumerate(statuses):
        previous = "[[EXP-000 done]]" if index else "None"
        files[f"Experiments/EXP-00{index} {status}.md"] = chain_note(previous, "").replace(
            "#done", f"#{status}"
        )
    vault = write_vault(tmp_path / "v", files)
    assert CliRunner().invoke(cli, ["--vault", str(vault), "build"]).exit_code == 0
    note = (vault / "Lineages" / "EXP-000 done lineage.md").read_text(encoding="utf-8")
    assert [line for line in note.splitlines() if "classDef" in line] == [
        "  classDef st_done fill:#d3f9d8,stroke:#2b8a3e;",
        "  classDef st_not_done fill:#ffe3e3,stroke:#c92a2a;",
        "  classDef st_other fill:#f1f3f5,stroke:#868e96;",
        "  classDef st_pending fill:#e7f5ff,stroke:#1971c2;",
        "  classDef st_postpone fill:#f3f0ff,stroke:#6741d9;",
        "  classDef st_reading fill:#e3fafc,stroke:#0c8599;",
        "  classDef st_writing fill:#fff3bf,stroke:#e67700;",
    ]
    assert (
        "Colours: yellow writing; blue pending; cyan reading; violet postpone; red not_done; "
        "green done; grey paused.\n"
    ) in note


def chain_vault(tmp_path: Path, values: list[str]) -> Path:
    """EXP-001 … EXP-n, each grown out of the one before, reporting `mAP` as given."""
    files = {".obsidian/app.json": "{}"}
    for number, value in enumerate(values, 1):
        previous = f"[[EXP-{number - 1:03} step]]" if number > 1 else "None"
        files[f"Experiments/EXP-{number:03} step.md"] = chain_note(previous, f"| mAP | {value} |")
    vault = note_per_lineage(write_vault(tmp_path / "v", files))
    assert CliRunner().invoke(cli, ["--vault", str(vault), "build"]).exit_code == 0
    return vault


def test_a_long_chain_is_charted_over_its_last_30_values_and_drawn_top_down(tmp_path: Path) -> None:
    vault = chain_vault(tmp_path, [f"0.{500 + n}" for n in range(40)])
    note = (vault / "Lineages" / "EXP-001 step lineage.md").read_text(encoding="utf-8")
    assert "```mermaid\nflowchart TD\n" in note  # 40 generations: top-down
    labels = ", ".join(f'"{n}"' for n in range(11, 41))
    assert f'  x-axis "#35; in the Chain table" [{labels}]\n' in note
    assert '  title "mAP from #35;11 to the best"\n' in note
    assert (
        "The chart follows the path from #11 (its last 30 values) to the best, "
        "[[EXP-040 step]]: " + " → ".join(f"#{n}" for n in range(11, 41)) + ".\n"
    ) in note


@pytest.mark.parametrize(("generations", "direction"), [(1, "LR"), (4, "LR"), (5, "TD")])
def test_flowcharts_turn_top_down_past_four_generations(
    tmp_path: Path, generations: int, direction: str
) -> None:
    vault = chain_vault(tmp_path, ["0.5"] * generations)
    note = (vault / "Lineages" / "EXP-001 step lineage.md").read_text(encoding="utf-8")
    assert f"```mermaid\nflowchart {direction}\n" in note


@pytest.mark.parametrize(
    ("metric", "points", "expected"),
    [
        ("mAP", [("a", 0.5), ("b", 0.7), ("c", 0.7)], ("b", 0.7)),  # a tie: the first
        ("val loss", [("a", 0.5), ("b", 0.3), ("c", 0.4)], ("b", 0.3)),  # lower is better
        ("latency ms", [("a", 12.0), ("b", None), ("c", 9.5)], ("c", 9.5)),
        ("mAP", [("a", float("inf")), ("b", float("nan")), ("c", 0.1)], ("c", 0.1)),
        ("mAP", [("a", None)], None),
    ],
)
def test_the_best_experiment_is_direction_aware_and_finite(
    metric: str, points: list[tuple[str, float | None]], expected: tuple[str, float] | None
) -> None:
    assert RULES.best(metric, points) == expected


@pytest.mark.parametrize(
    ("metric", "higher"),
    [
        ("mAP@0.5", True),
        ("crack recall", True),
        ("answer accuracy", True),  # "wer" inside a word is not the word error rate
        ("mission success", True),
        ("val_loss", False),
        ("Loss", False),
        ("latency ms", False),
        ("inference time (s)", False),
        ("WER", False),
        ("missed cracks", False),
        ("FPR", False),
        ("perplexity", False),
        ("errors", False),
        # what XGBoost, LightGBM, scikit-learn, Ultralytics and Keras log
        ("logloss", False),
        ("mlogloss", False),
        ("binary_logloss", False),
        ("validation_0-rmse", False),
        ("nll", False),
        ("cross_entropy", False),
        ("mape", False),
        ("rmsle", False),
        ("fid", False),
        ("eer", False),
        ("top1_err", False),
        ("valLoss", False),
        ("l1", False),
        ("l2", False),
        ("train/box_loss", False),
        ("val_mean_absolute_error", False),
        ("neg_mean_squared_error", True),  # scikit-learn negates errors
        ("metrics/mAP50(B)", True),
        ("auc", True),
        ("f1_score", True),
        ("top1_acc", True),
    ],
)
def test_which_way_is_better_is_read_from_whole_words(metric: str, higher: bool) -> None:
    assert RULES.higher_is_better(metric) is higher


def test_thresholds_are_met_at_or_beyond_them_in_the_metric_s_direction() -> None:
    assert RULES.meets("val loss", 0.9, 0.9) and not RULES.meets("val loss", 0.91, 0.9)
    assert RULES.meets("mAP", 0.7, 0.7) and not RULES.meets("mAP", 0.69, 0.7)


def test_the_path_to_the_best_takes_the_better_parent_at_a_merge_and_ends_on_a_cycle() -> None:
    parents = {"d": ["b", "c"], "b": ["a"], "c": ["a"], "a": [], "x": ["y"], "y": ["x"]}
    values = {"a": 0.1, "b": 0.2, "c": 0.3, "d": 0.4}
    assert path_to("d", parents.__getitem__, values.get, "mAP") == ["a", "c", "d"]
    assert path_to("d", parents.__getitem__, values.get, "loss") == ["a", "b", "d"]
    assert path_to("x", parents.__getitem__, values.get, "mAP") == ["y", "x"]


def test_index_metrics_chooses_the_index_columns(tmp_path: Path) -> None:
    vault = chain_vault(tmp_path, ["0.5", "0.6"])
    (vault / "Experiments" / "EXP-002 step.md").write_text(
        chain_note("[[EXP-001 step]]", "| mAP | 0.6 |\n| recall | 0.9 |"), encoding="utf-8"
    )
    (vault / ".vaultkit").mkdir(exist_ok=True)
    (vault / ".vaultkit" / "config.toml").write_text('index_metrics = ["recall"]\n')
    assert CliRunner().invoke(cli, ["--vault", str(vault), "build"]).exit_code == 0
    index = (vault / "Experiment Index.md").read_text(encoding="utf-8")
    assert (
        "| experiment | previous | lineage | recall | thresholds | sections | last change "
        "| problems |\n"
    ) in index
    assert "| [[EXP-002 step]] | [[EXP-001 step]] | [[EXP-001 step lineage]] | 0.9 | — |" in index


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("mAP@0.5>=0.7", Condition("mAP@0.5", ">=", 0.7)),
        ("  mAP@0.5 >= 0.7 ", Condition("mAP@0.5", ">=", 0.7)),
        ("val loss<=0.25", Condition("val loss", "<=", 0.25)),
        ("latency ms < 30", Condition("latency ms", "<", 30.0)),
        ("crack recall > 50%", Condition("crack recall", ">", 50.0)),  # as written: 50% is 50
        ("epochs == 100", Condition("epochs", "==", 100.0)),
        ("epochs = 100", Condition("epochs", "=", 100.0)),
        ("lr != 3e-4", Condition("lr", "!=", 0.0003)),
        ("delta >= -0.5", Condition("delta", ">=", -0.5)),
        ("map_0.5>=.7", Condition("map_0.5", ">=", 0.7)),
    ],
)
def test_a_condition_is_a_metric_a_comparison_and_a_number(text: str, expected: Condition) -> None:
    assert parse_condition(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "",
        "mAP",
        "mAP >= ",
        ">= 0.7",
        "mAP >= high",
        "mAP => 0.7",
        "a < b < 3",
        "mAP >= nan",
        "mAP >= 0.5 0.6",
    ],
)
def test_a_condition_that_cannot_be_read_says_the_form(text: str) -> None:
    with pytest.raises(ValueError, match=r"write METRIC OP NUMBER, e.g. 'mAP@0.5>=0.7'"):
        parse_condition(text)


@pytest.mark.parametrize(
    ("condition", "value", "holds"),
    [
        ("mAP >= 0.7", 0.7, True),
        ("mAP > 0.7", 0.7, False),
        ("loss <= 0.3", 0.31, False),
        ("loss < 0.3", None, False),  # no value meets no condition
        ("loss != 0.3", float("nan"), False),
        ("epochs = 100", 100.0, True),
    ],
)
def test_a_condition_holds_for_a_value(condition: str, value: float | None, holds: bool) -> None:
    assert parse_condition(condition).holds(value) is holds
