"""Results where people look (issue 14): metric values as plain decimals everywhere, and
lineage charts Mermaid can parse."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from vaultkit.cli import cli
from vaultkit.model.metrics import plain_number

from .conftest import write_vault


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
        (1234567.5, "1234570"),
        (-0.0, "0"),
        (1e20, "100000000000000000000"),
        (float("inf"), "inf"),
        (float("nan"), "nan"),
    ],
)
def test_plain_number(value, written):
    assert plain_number(value) == written


def chain_note(previous: str, rows: str) -> str:
    return (
        f"# Previous experiment\n\n- {previous}\n\n# Result\n\n| metric | value |\n|---|---|\n"
        f"{rows}\n---\nStatus: #done\n\nTags: #model_training #document\n"
    )


def test_chart_values_are_plain_decimals_and_non_finite_points_are_named(tmp_path):
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
        "| experiment | loss | params |",
        "|---|---|---|",
        "| [[EXP-001 a]] | 0.00001 | 25000000 |",
        "| [[EXP-002 b]] | inf | — |",
        "| [[EXP-003 c]] | 0.000003 | — |",
        "",
        "```mermaid",
        "xychart-beta",
        '  title "loss along the chain"',
        '  x-axis ["EXP-001 a", "EXP-003 c"]',
        '  y-axis "loss"',
        "  line [0.00001, 0.000003]",
        "```",
        "",
        "Not in the chart (no finite loss): [[EXP-002 b]] (inf).",
    ]


def test_every_known_status_has_its_colour_and_the_legend_says_which(tmp_path):
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
