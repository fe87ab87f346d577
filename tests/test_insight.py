"""Metrics, settings, completeness, `diff` and `set-status`."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from vaultkit.create import demo_vault
from vaultkit.model.metrics import parse_number, settings, table_metrics
from vaultkit.model.reading import parse_note
from vaultkit.output.edit import set_status

from .conftest import SEED_TEMPLATE, TEAM_RULES, run

NUMBERS = [
    ("0.61", 0.61),
    ("61.2%", 61.2),
    ("0.61 ± 0.02", 0.61),
    ("4,812", 4812.0),
    ("3e-4", 3e-4),
    ("**0.7**", 0.7),
    ("-1.5", -1.5),
    ("n/a", None),
    ("", None),
    ("v1.2", None),
    ("1,2,3", None),
]


@pytest.mark.parametrize(("text", "expected"), NUMBERS)
def test_numbers(text: str, expected: float | None) -> None:
    assert parse_number(text) == expected


TABLES = [
    # plain name | value
    (
        ["| metric | value |", "|---|---|", "| mAP | 0.61 |", "| recall | 58% |"],
        {"mAP": 0.61, "recall": 58.0},
        {},
    ),
    # a threshold column and an extra column
    (
        [
            "| metric | value | threshold | notes |",
            "|:--|--:|--:|---|",
            "| mAP@0.5 | 0.655 | 0.70 | val split |",
        ],
        {"mAP@0.5": 0.655},
        {"mAP@0.5": 0.7},
    ),
    # value column first, name column found by header
    (["| score | name |", "|---|---|", "| 0.9 | F1 |"], {"F1": 0.9}, {}),
    # no pipes at the edges, thousands and ± in cells
    (
        ["name | result", "--- | ---", "images/s | 1,250", "mAP | 0.61 ± 0.01"],
        {"images/s": 1250.0, "mAP": 0.61},
        {},
    ),
    # a row without a number and a table that is not one
    (["| metric | value |", "|---|---|", "| mAP | pending |", "", "| not | a table |"], {}, {}),
]


@pytest.mark.parametrize(("lines", "values", "thresholds"), TABLES)
def test_metric_tables(
    lines: list[str],
    values: dict[str, float] | dict[str, object],
    thresholds: dict[str, float] | dict[str, object],
) -> None:
    assert table_metrics(lines)[:2] == (values, thresholds)


def test_metrics_from_result_then_metrics_then_inline_fields_and_properties() -> None:
    note = parse_note(
        "---\nepochs_run: 87\nreleased: true\n---\n"
        "# Metrics\n\n| metric | value | threshold |\n|---|---|---|\n| mAP | 0.5 | 0.7 |\n"
        "| recall | 0.4 | 0.8 |\n\n"
        "# Result\n\n| metric | value |\n|---|---|\n| mAP | 0.66 |\n\n"
        "- F1:: 0.71\n- seen in passing [latency ms:: 9.5] here\n"
        "```\nin_code:: 1\n```\n"
    )
    assert note.metrics == {
        "mAP": 0.66,
        "recall": 0.4,
        "F1": 0.71,
        "latency ms": 9.5,
        "in_code": 1.0,
        "epochs_run": 87.0,
    }
    assert note.thresholds == {"mAP": 0.7, "recall": 0.8}


SETTINGS = [
    ("- lr: 3e-4", {"lr": "3e-4"}),
    ("- batch size = 32, epochs: 100", {"batch size": "32", "epochs": "100"}),
    ("pip install torch==2.3.0 ultralytics==8.2.31", {"torch": "2.3.0", "ultralytics": "8.2.31"}),
    ("- Dropout: 10%", {"dropout": "10%"}),
    ("- Source: line-camera images", {}),
    ("see https://x.org:8080/a", {}),
    ("x: 1\nlr: 2 lr = 3", {"x": "1", "lr": "2"}),  # the first value of a name wins
]


@pytest.mark.parametrize(("line", "expected"), SETTINGS)
def test_settings(line: str, expected: dict[str, object] | dict[str, str]) -> None:
    assert settings(line) == expected


def test_template_itself_answers_nothing() -> None:
    note = parse_note(SEED_TEMPLATE.read_text(), TEAM_RULES)
    assert set(note.sections.values()) == {"unanswered"}


def test_section_states() -> None:
    text = (
        SEED_TEMPLATE.read_text()
        .replace(
            "- Where do you get the data?", "- Where do you get the data? From the line camera"
        )
        .replace("# Conclusion\n\n- Results meet expectation or not", "# Conclusion\n\n-")
    )
    text = text.replace("# Model\n", "# Modelling\n")
    note = parse_note(text, TEAM_RULES)
    assert note.sections["data collecting process"] == "answered"
    assert note.sections["previous experiment"] == "unanswered"
    assert note.sections["model"] == "missing"
    assert note.sections["conclusion"] == "unanswered"
    assert parse_note("# Result\n\n\n# Conclusion\n-\n", TEAM_RULES).sections["result"] == "empty"


@pytest.fixture
def demo(tmp_path: Path) -> Path:
    demo_vault(tmp_path / "demo")
    return tmp_path / "demo"


def test_diff_on_the_merge_compares_with_both_parents(demo: Path) -> None:
    result = run(demo, "diff", "EXP-004 mosaic and focal loss", "--format", "json")
    data = json.loads(result.output)
    assert [(d["from"], d["to"]) for d in data] == [
        ("Experiments/EXP-002 mosaic augmentation", "Experiments/EXP-004 mosaic and focal loss"),
        ("Experiments/EXP-003 focal loss", "Experiments/EXP-004 mosaic and focal loss"),
    ]
    assert data[0]["settings"] == [
        {"name": "focal gamma", "old": None, "new": "1.5"},
        {"name": "lr", "old": "0.01", "new": "0.005"},
    ]
    assert data[1]["metrics"] == [
        {"name": "crack recall", "old": 0.52, "new": 0.66, "delta": 0.14, "direction": "better"},
        {"name": "mAP@0.5", "old": 0.634, "new": 0.671, "delta": 0.037, "direction": "better"},
    ]
    conclusion = next(s for s in data[0]["sections"] if s["section"] == "conclusion")
    assert conclusion == {
        "section": "conclusion",
        "added": [
            "- The two gains add up on cracks; mAP is still under the 0.70 threshold",
            "- Next: tiled inference for the thin cracks",
        ],
        "removed": ["- Better on cracks, still under threshold"],
    }


def test_diff_text_and_markdown(demo: Path) -> None:
    text = run(demo, "diff", "EXP-003 focal loss").output
    assert text.startswith(
        "Experiments/EXP-001 baseline -> Experiments/EXP-003 focal loss\n\nMetrics\n"
        "  crack recall: 0.41 -> 0.52  (+0.11 ▲ better)\n"
        "  mAP@0.5: 0.612 -> 0.634  (+0.022 ▲ better)\n\nSettings\n  focal gamma: — -> 1.5\n"
    )
    markdown = run(demo, "diff", "EXP-003 focal loss", "--format", "markdown").output
    assert "| crack recall | 0.41 | 0.52 | +0.11 ▲ better |" in markdown
    lower = run(demo, "diff", "EXP-011 int8 quantisation", "EXP-010 distillation to nano").output
    assert "latency ms: 9.8 -> —  (gone)" in lower  # from OTHER to NOTE


def test_lower_is_better_for_latency(demo: Path) -> None:
    from vaultkit.model.compare import metric_changes
    from vaultkit.model.results import DEFAULT_METRIC_RULES as RULES

    faster = metric_changes({"latency ms": 9.8}, {"latency ms": 8.1}, RULES)
    assert faster[0]["direction"] == "better"
    assert metric_changes({"val loss": 0.2}, {"val loss": 0.3}, RULES)[0]["direction"] == "worse"


def test_diff_without_a_previous_experiment(demo: Path) -> None:
    result = run(demo, "diff", "EXP-001 baseline")
    assert result.exit_code == 1
    assert "has no previous experiment to compare with" in result.output
    itself = run(demo, "diff", "EXP-001", "EXP-001 baseline")
    assert (itself.exit_code, itself.output) == (
        1,
        "Error: Experiments/EXP-001 baseline: is compared with itself; name another note as "
        "OTHER\n",
    )


def test_set_status_refuses_done_and_names_what_is_missing(demo: Path) -> None:
    note = demo / "Experiments" / "EXP-011 int8 quantisation.md"
    before = note.read_bytes()
    result = run(demo, "set-status", "EXP-011 int8 quantisation", "done")
    assert result.exit_code == 1
    assert result.output == (
        "Error: Experiments/EXP-011 int8 quantisation.md: not marked done: 2 template "
        "sections are not answered yet: result, conclusion. Answer them, or use --force\n"
    )
    assert note.read_bytes() == before
    forced = run(demo, "set-status", "EXP-011 int8 quantisation", "done", "--force")
    assert forced.exit_code == 0
    assert note.read_bytes() == before.replace(b"Status: #writing", b"Status: #done")


def test_set_status_on_the_footer_changes_only_the_tag(demo: Path) -> None:
    note = demo / "Experiments" / "EXP-003 focal loss.md"
    before = note.read_bytes()
    result = run(demo, "set-status", "EXP-003 focal loss", "#Done")
    assert result.output.startswith("Experiments/EXP-003 focal loss.md: writing -> done\n")
    assert note.read_bytes() == before.replace(b"Status: #writing", b"Status: #done")


STATUS_EDITS = [
    ("a\n---\nStatus: #writing\n", "a\n---\nStatus: #done\n"),
    ("a\r\n- Status: #writing \r\nb", "a\r\n- Status: #done \r\nb"),
    ("**Status**: #pending #x\n", "**Status**: #done #x\n"),
    ("Status:\n", "Status: #done\n"),
    ("---\nstatus: writing\ntitle: t\n---\nbody\n", "---\nstatus: done\ntitle: t\n---\nbody\n"),
    ("---\nstatus: '#writing'\n---\n", "---\nstatus: '#done'\n---\n"),
    ("no status here", "no status here\n\n---\nStatus: #done\n"),
]


@pytest.mark.parametrize(("before", "after"), STATUS_EDITS)
def test_set_status_edits_where_the_status_is_written(before: str, after: str) -> None:
    assert set_status(before, "done") == after
    assert parse_note(after).status == "done"


def test_check_reports_missing_and_empty_sections_for_done_experiments(demo: Path) -> None:
    note = demo / "Experiments" / "EXP-010 distillation to nano.md"
    text = note.read_text()
    text = text.replace("- Fits the edge budget", "- Results meet expectation or not")
    text = text.replace("# Data augmentation\n\n- ultralytics defaults\n", "")
    note.write_text(text)
    conclusion_line = text.splitlines().index("# Conclusion") + 1
    problems = json.loads(run(demo, "check", "--format", "json").output)["problems"]
    mine = [
        (p["code"], p["line"], p["message"])
        for p in problems
        if p["note"] == "Experiments/EXP-010 distillation to nano" and p["code"].endswith("section")
    ]
    assert mine == [
        (
            "missing-section",
            None,
            "done, but the template section 'data augmentation' is not in the note",
        ),
        (
            "empty-section",
            conclusion_line,
            "done, but the section 'conclusion' has only the template's questions",
        ),
    ]


def test_reproducibility_lint(tmp_path: Path) -> None:
    text = (
        "# Previous experiment\n- none\n# Data collecting process\n- camera\n"
        "# Data detail\n- three classes\n# Data augmentation\n- flips\n"
        "# Data assumption (analysis)\n- cracks are thin\n# Metrics\n- mAP\n"
        "# Environment setup\n- venv with torch\n# Model\n- yolo\n# Result\n- good\n"
        "# Conclusion\n- ok\n\n---\nStatus: #done\nTags: #model_training #document\n"
    )
    (tmp_path / "EXP.md").write_text(text)
    problems = json.loads(run(tmp_path, "check", "--format", "json").output)["problems"]
    assert [(p["line"], p["message"]) for p in problems if p["code"] == "reproducibility"] == [
        (5, "done, but Data detail gives no class counts"),  # at its section's heading
        (11, "done, but Metrics gives no accepted thresholds"),
        (13, "done, but Environment setup names no library versions (e.g. torch==2.3.0)"),
        (15, "done, but Model does not say how randomness is controlled (a seed)"),
    ]


def test_list_sort_by_metric_best_first(demo: Path) -> None:
    result = run(demo, "list", "--sort", "metric:mAP@0.5", "--format", "json")
    assert [r["title"] for r in json.loads(result.output)][:3] == [
        "EXP-004 mosaic and focal loss",
        "EXP-002 mosaic augmentation",
        "EXP-003 focal loss",
    ]
    assert run(demo, "list", "--sort", "mAP").exit_code == 2


def test_lineage_note_shows_the_metric_trend(demo: Path) -> None:
    run(demo, "build")
    text = (demo / "Lineages" / "EXP-001 baseline lineage.md").read_text()
    # one path, root to best: through EXP-002 (0.655), the better of EXP-004's parents,
    # not across to its sibling EXP-003; the axis shows the Chain table's numbers
    assert (
        'xychart-beta\n  title "mAP#64;0.5 from the root to the best"\n'
        '  x-axis "#35; in the Chain table" ["1", "2", "4"]\n'
        '  y-axis "mAP#64;0.5"\n  line [0.612, 0.655, 0.671]\n```\n\n'
        "The chart follows the path from the root to the best, "
        "[[EXP-004 mosaic and focal loss]]: #1 → #2 → #4.\n"
    ) in text
    assert (
        "**Best by mAP@0.5** (higher is better): [[EXP-004 mosaic and focal loss]], 0.671. "
        "Thresholds (mAP@0.5 ≥ 0.7, crack recall ≥ 0.8): 0 of 2 met. How to rebuild it: "
        "[[EXP-004 mosaic and focal loss recipe]].\n"
    ) in text
    # a merge: what changed from each parent, named
    assert (
        "| [[EXP-004 mosaic and focal loss]] | writing | [[EXP-002 mosaic augmentation]], "
        "[[EXP-003 focal loss]] | from [[EXP-002 mosaic augmentation]]: focal gamma 1.5; "
        "lr 0.01→0.005; from [[EXP-003 focal loss]]: copy-paste p 0.3; lr 0.01→0.005; "
        "mosaic p 1.0 |"
    ) in text


def test_choosing_another_lineage_metric_redraws_the_chart(demo: Path) -> None:
    run(demo, "build")
    (demo / ".vaultkit").mkdir(exist_ok=True)
    (demo / ".vaultkit" / "config.toml").write_text('lineage_metric = "crack recall"\n')
    result = run(demo, "build")
    assert "wrote   Lineages/EXP-001 baseline lineage.md" in result.output
    text = (demo / "Lineages" / "EXP-001 baseline lineage.md").read_text()
    assert 'title "crack recall from the root to the best"' in text
    assert "**Best by crack recall** (higher is better)" in text


DIFF_GOLDEN = Path(__file__).parent / "golden" / "diff"


@pytest.mark.parametrize("output", ["text", "markdown", "json"])
def test_diff_golden_files_for_the_demo_merge(demo: Path, output: str) -> None:
    result = run(demo, "diff", "EXP-004 mosaic and focal loss", "--format", output)
    golden = DIFF_GOLDEN / f"EXP-004.{output}"
    if os.environ.get("VAULTKIT_UPDATE_GOLDEN"):
        golden.parent.mkdir(parents=True, exist_ok=True)
        golden.write_text(result.output, encoding="utf-8")
    assert result.output == golden.read_text(encoding="utf-8")


def test_set_status_lands_on_the_right_line_past_form_feeds_and_line_separators() -> None:
    before = "intro\x0cstill line one\u2028and here\nmore\n---\nStatus: #writing\nTags: #x\n"
    assert set_status(before, "done") == before.replace("#writing", "#done")


@pytest.mark.parametrize(
    ("model_section", "gap"),
    [
        ("- Seed 42 everywhere", False),
        ("- random_state=0", False),
        ("- DETERMINISTIC cudnn", False),
        ("- determinıstic (dotless ı: the regex is case-blind)", False),
        ("- ſeed: 7 (long s)", False),
        ("- sampled without a fixed order", True),
    ],
)
def test_the_seed_question_is_answered_as_the_case_blind_regex_says(
    model_section: str, gap: bool
) -> None:
    from vaultkit.model.metrics import SectionTexts, reproducibility_gaps

    gaps = reproducibility_gaps(SectionTexts({"model": [model_section]}), {}, {"model"})
    assert any("randomness" in g for g in gaps) == gap


# -- compare: experiments side by side -----------------------------------------------------

COMPARED = ["EXP-004", "EXP-003", "EXP-010"]


def test_compare_json_has_every_metric_its_best_and_the_settings_that_differ(demo: Path) -> None:
    result = run(demo, "compare", *COMPARED, "--format", "json")
    assert result.exit_code == 0, result.output
    e4, e3, e10 = (
        "Experiments/EXP-004 mosaic and focal loss",
        "Experiments/EXP-003 focal loss",
        "Experiments/EXP-010 distillation to nano",
    )
    assert json.loads(result.output) == {
        "experiments": [
            {"id": e4, "status": "writing", "sections": "10/10"},
            {"id": e3, "status": "writing", "sections": "10/10"},
            {"id": e10, "status": "done", "sections": "10/10"},
        ],
        "metrics": [
            {"name": "mAP@0.5", "better": "higher", "values": [0.671, 0.634, 0.571], "best": e4},
            {"name": "crack recall", "better": "higher", "values": [0.66, 0.52, None], "best": e4},
            # lower is better for a latency: the one value there is, is the best
            {"name": "latency ms", "better": "lower", "values": [None, None, 9.8], "best": e10},
        ],
        "settings": [  # in force: EXP-004 keeps the focal gamma EXP-003 set
            {"name": "copy-paste p", "values": ["0.3", None, None]},
            {"name": "focal gamma", "values": ["1.5", "1.5", None]},
            {"name": "lr", "values": ["0.005", "0.01", "0.01"]},
            {"name": "mosaic p", "values": ["1.0", None, None]},
        ],
    }


def test_compare_text_and_markdown(demo: Path) -> None:
    text = run(demo, "compare", *COMPARED).output
    assert text == (
        "                                 EXP-004 mosaic and focal loss  EXP-003 focal loss  "
        "EXP-010 distillation to nano\n"
        "status                           writing                        writing             done\n"
        "sections                         10/10                      "
        "    10/10               10/10\n"
        "mAP@0.5 (higher is better)       0.671 *                    "
        "    0.634               0.571\n"
        "crack recall (higher is better)  0.66 *                         0.52                —\n"
        "latency ms (lower is better)     —                          "
        "    —                   9.8 *\n"
        "settings that differ:\n"
        "  copy-paste p                   0.3                            —                   —\n"
        "  focal gamma                    1.5                            1.5                 —\n"
        "  lr                             0.005                          0.01                0.01\n"
        "  mosaic p                       1.0                            —                   —\n"
        "\n"
        "* the best of each metric\n"
    )
    markdown = run(demo, "compare", *COMPARED, "--format", "markdown").output
    assert markdown == (
        "| | [[EXP-004 mosaic and focal loss]] | [[EXP-003 focal loss]] "
        "| [[EXP-010 distillation to nano]] |\n"
        "|---|---|---|---|\n"
        "| status | writing | writing | done |\n"
        "| sections | 10/10 | 10/10 | 10/10 |\n"
        "| mAP@0.5 (higher is better) | **0.671** | 0.634 | 0.571 |\n"
        "| crack recall (higher is better) | **0.66** | 0.52 | — |\n"
        "| latency ms (lower is better) | — | — | **9.8** |\n"
        "| *settings that differ* | | | |\n"
        "| copy-paste p | `` 0.3 `` | — | — |\n"
        "| focal gamma | `` 1.5 `` | `` 1.5 `` | — |\n"
        "| lr | `` 0.005 `` | `` 0.01 `` | `` 0.01 `` |\n"
        "| mosaic p | `` 1.0 `` | — | — |\n"
    )


def test_compare_a_lineage_and_what_it_refuses(demo: Path) -> None:
    chain = json.loads(run(demo, "compare", "--lineage", "EXP-004", "--format", "json").output)
    assert [c["id"] for c in chain["experiments"]] == [
        "Experiments/EXP-001 baseline",
        "Experiments/EXP-002 mosaic augmentation",
        "Experiments/EXP-003 focal loss",
        "Experiments/EXP-004 mosaic and focal loss",
    ]
    one = run(demo, "compare", "EXP-001")
    assert one.exit_code == 2 and "compare needs two experiments or more" in one.output
    both = run(demo, "compare", "EXP-001", "--lineage", "EXP-004")
    assert both.exit_code == 2 and "give notes or a lineage, not both" in both.output
    welcome = run(demo, "compare", "EXP-001", "Welcome")
    assert welcome.exit_code == 1 and "Welcome: is not an experiment" in welcome.output


def test_markdown_diff_links_click_and_its_tags_take_nothing(demo: Path) -> None:
    """Pasted into a note, the diff's links are links; the tags of changed lines are
    escaped, so the note holding the diff takes no status or tag from them."""
    note = demo / "Experiments" / "EXP-003 focal loss.md"
    added = "- See [[EXP-001 baseline#Result]] #ablation (run #12)\n\n# Next experiment"
    note.write_text(note.read_text().replace("# Next experiment", added, 1))
    markdown = run(demo, "diff", "EXP-003", "--format", "markdown").output
    assert "- added: What will be tested next? [[EXP-004 mosaic and focal loss]]" in markdown
    assert r"- added: See [[EXP-001 baseline#Result]] \#ablation (run #12)" in markdown
    pasted = parse_note(markdown)
    assert pasted.tags == []
    assert sorted({link.target for link in pasted.links}) == [
        "EXP-001 baseline",  # the heading, and the line that links to its Result
        "EXP-002 mosaic augmentation",  # a line removed from Next experiment
        "EXP-003 focal loss",
        "EXP-004 mosaic and focal loss",  # the line added there
    ]
