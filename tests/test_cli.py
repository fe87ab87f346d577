"""The commands on the lineage vault: exact JSON, exact text, exit codes."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from pathlib import Path

import pytest
from click.testing import CliRunner

from vaultkit.cli import cli

from .conftest import experiment, run, write_vault

MODIFIED = "2023-11-14T22:13:20Z"


def record(
    note_id: str,
    status: str | None,
    previous: Sequence[str] = (),
    tags: list[str] | None = None,
    **extra: object,
) -> dict[str, object]:
    base: dict[str, object] = {
        "id": note_id,
        "path": note_id + ".md",
        "title": note_id.rsplit("/", 1)[-1],
        "status": status,
        "tags": tags if tags is not None else [status, "model_training", "document"],
        "previous": list(previous),
        "next": [],
        "related": [],
        "references": [],
        "modified": MODIFIED,
        "metrics": {"mAP": 0.61},
    }
    base.update(extra)
    return base


A, B = "Cycle/EXP-020 loop a", "Cycle/EXP-021 loop b"
E1, E2, E3 = (
    "Experiments/EXP-001 baseline",
    "Experiments/EXP-002 mosaic",
    "Experiments/EXP-003 focal",
)
E4, E5 = "Experiments/EXP-004 merge", "Experiments/EXP-005 dangling"
E6, E7 = "Experiments/EXP-006 crlf bom", "Experiments/EXP-007 cp1252"
E8 = "Experiments/EXP-008 no status"


def test_list_json_is_exact(lineage_vault: Path) -> None:
    result = run(lineage_vault, "list", "--format", "json")
    assert result.exit_code == 0
    assert json.loads(result.output) == [
        record(A, "writing", [B]),
        record(B, "writing", [A]),
        record(
            E1,
            "done",
            next=[E2],
            related=["Notes/Dataset"],
            references=["https://arxiv.org/abs/1708.02002"],
            metrics={},
        ),
        record(E2, "done", [E1]),
        record(E3, "writing", [E1]),
        record(E4, "writing", [E2, E3]),
        record(E5, "writing"),
        record(E6, "writing", [E3]),
        record(E7, "done", [E1]),
        record(E8, None, ["Knowledge/Tips"], tags=["model_training", "document"]),
    ]


def test_list_filters_and_all(lineage_vault: Path) -> None:
    done = json.loads(run(lineage_vault, "list", "--status", "#Done", "--format", "json").output)
    assert [r["id"] for r in done] == [E1, E2, E7]
    everything = json.loads(run(lineage_vault, "list", "--all", "--format", "json").output)
    ids = [r["id"] for r in everything]
    assert "Knowledge/Tips" in ids  # a knowledge note with a status is in the writing queue
    assert "Templates/Model Training" not in ids  # templates are not work
    assert E8 not in ids  # no status
    tagged = run(lineage_vault, "list", "--all", "--tag", "tips_and_tricks", "--format", "json")
    assert [r["id"] for r in json.loads(tagged.output)] == ["Knowledge/Tips"]


def test_knowledge_note_and_template_are_not_experiments(lineage_vault: Path) -> None:
    ids = [r["id"] for r in json.loads(run(lineage_vault, "list", "--format", "json").output)]
    assert "Knowledge/Tips" not in ids
    assert "Templates/Model Training" not in ids


def test_list_table(lineage_vault: Path) -> None:
    result = run(lineage_vault, "list", "--status", "done")
    assert result.output == (
        "STATUS  SECTIONS  NOTE                          PREVIOUS\n"
        "done    1/10      Experiments/EXP-001 baseline  -\n"
        "done    2/10      Experiments/EXP-002 mosaic    Experiments/EXP-001 baseline\n"
        "done    2/10      Experiments/EXP-007 cp1252    Experiments/EXP-001 baseline\n"
        "\n"
        "3 experiments: 3 done\n"
    )


def test_list_csv(lineage_vault: Path) -> None:
    result = run(
        lineage_vault, "list", "--status", "writing", "--tag", "model_training", "--format", "csv"
    )
    lines = result.output.splitlines()
    # the fields, then a column per metric the listed experiments report
    assert lines[0] == "id,path,title,status,tags,previous,next,related,references,modified,mAP"
    assert lines[4] == (
        "Experiments/EXP-004 merge,Experiments/EXP-004 merge.md,EXP-004 merge,writing,"
        "writing; model_training; document,"
        "Experiments/EXP-002 mosaic; Experiments/EXP-003 focal,,,,2023-11-14T22:13:20Z,0.61"
    )


def test_lineage_json_for_a_merge(lineage_vault: Path) -> None:
    result = run(lineage_vault, "lineage", "EXP-004 merge", "--format", "json")
    assert json.loads(result.output) == {
        "id": E4,
        "ancestors": [E1, E2, E3],
        "descendants": [],
        "edges": [[E2, E1], [E3, E1], [E4, E2], [E4, E3]],
    }


def test_lineage_json_for_a_root_lists_every_descendant(lineage_vault: Path) -> None:
    result = run(lineage_vault, "lineage", "experiments/exp-001 BASELINE", "--format", "json")
    data = json.loads(result.output)
    assert data["ancestors"] == []
    assert data["descendants"] == [E2, E3, E4, E6, E7]
    assert data["edges"] == [[E2, E1], [E3, E1], [E4, E2], [E4, E3], [E6, E3], [E7, E1]]


def test_lineage_json_in_a_cycle_terminates(lineage_vault: Path) -> None:
    data = json.loads(run(lineage_vault, "lineage", "EXP-020 loop a", "--format", "json").output)
    assert data == {"id": A, "ancestors": [B], "descendants": [B], "edges": [[A, B], [B, A]]}


def test_all_lineages_json(lineage_vault: Path) -> None:
    data = json.loads(run(lineage_vault, "lineage", "--format", "json").output)
    assert data == {
        "lineages": [
            {"roots": [], "members": [A, B], "edges": [[A, B], [B, A]]},
            {
                "roots": [E1],
                "members": [E1, E2, E3, E4, E6, E7],
                "edges": [[E2, E1], [E3, E1], [E4, E2], [E4, E3], [E6, E3], [E7, E1]],
            },
            {"roots": [E5], "members": [E5], "edges": []},
            {"roots": [E8], "members": [E8], "edges": []},
        ]
    }


def test_lineage_text_tree(lineage_vault: Path) -> None:
    result = run(lineage_vault, "lineage", "EXP-003 focal")
    assert result.output == (
        "Experiments/EXP-001 baseline  [done]\n"
        "└── Experiments/EXP-003 focal  [writing]  <- this note\n"
        "    ├── Experiments/EXP-004 merge  [writing]\n"
        "    └── Experiments/EXP-006 crlf bom  [writing]\n"
    )


def test_lineage_text_depth_and_merge_shown_once(lineage_vault: Path) -> None:
    full = run(lineage_vault, "lineage").output
    assert "│   ├── Experiments/EXP-004 merge  [writing]  (shown above)\n" in full
    shallow = run(lineage_vault, "lineage", "EXP-001 baseline", "--depth", "1").output
    assert shallow == (
        "Experiments/EXP-001 baseline  [done]  <- this note\n"
        "├── Experiments/EXP-002 mosaic  [done]\n"
        "│   … 1 more below (raise --depth)\n"
        "├── Experiments/EXP-003 focal  [writing]\n"
        "│   … 2 more below (raise --depth)\n"
        "└── Experiments/EXP-007 cp1252  [done]\n"
    )


def test_lineage_mermaid_and_dot(lineage_vault: Path) -> None:
    mermaid = run(lineage_vault, "lineage", "EXP-002 mosaic", "--format", "mermaid").output
    assert mermaid == (
        "flowchart LR\n"
        '  n1["EXP-001 baseline"]\n'
        '  n2["EXP-002 mosaic"]\n'
        '  n3["EXP-004 merge"]\n'
        "  n1 --> n2\n"
        "  n2 --> n3\n"
        "  class n1,n2,n3 internal-link;\n"
        "  classDef st_done fill:#d3f9d8,stroke:#2b8a3e;\n"
        "  class n1,n2 st_done;\n"
        "  classDef st_writing fill:#fff3bf,stroke:#e67700;\n"
        "  class n3 st_writing;\n"
    )
    dot = run(lineage_vault, "lineage", "EXP-002 mosaic", "--format", "dot").output
    assert '"Experiments/EXP-001 baseline" -> "Experiments/EXP-002 mosaic";' in dot
    assert '[label="EXP-004 merge\\n[writing]"]' in dot


def test_check_json_is_exact_and_exits_1_on_errors(lineage_vault: Path) -> None:
    result = run(lineage_vault, "check", "--format", "json")
    assert result.exit_code == 1
    problems = json.loads(result.output)["problems"]
    done_codes = ("missing-section", "empty-section", "reproducibility", "recipe-gap")
    assert [
        (p["code"], p["severity"], p["note"], p["line"])
        for p in problems
        if p["code"] not in done_codes
    ] == [
        ("lineage-cycle", "error", A, 3),
        ("ambiguous-link", "warning", E1, 18),
        ("dangling-link", "error", E5, 3),
        ("status-conflict", "warning", E6, 15),
        ("unreadable-note", "warning", E7, None),
        ("previous-not-experiment", "warning", E8, 3),
        ("missing-status", "warning", E8, 14),  # the footer's Tags line, where it goes
    ]
    messages = {p["code"]: p["message"] for p in problems}
    assert messages["lineage-cycle"] == (
        "Previous experiment links go round in a circle: "
        f"{A} -> {B} -> {A}; remove one of these links"
    )
    assert "'EXP-099 missing'" in messages["dangling-link"]
    assert "Archive/Dataset.md, Notes/Dataset.md" in messages["ambiguous-link"]
    assert "byte 0xe9" in messages["unreadable-note"]


def test_check_text_groups_by_note(lineage_vault: Path) -> None:
    output = run(lineage_vault, "check").output
    assert output.startswith("Cycle/EXP-020 loop a\n  3:     error   lineage-cycle ")
    assert re.search(r"\n2 errors, \d+ warnings in 7 notes\n$", output)
    # a problem of the whole note has no line to show, and shows none
    assert "-:" not in output
    assert "\n         warning unreadable-note          " in output


def test_check_exits_0_with_warnings_only(tmp_path: Path) -> None:
    (tmp_path / "Note.md").write_text("[[Missing]]\n")
    result = run(tmp_path, "check")
    assert result.exit_code == 0
    assert "1 warning" in result.output


def test_unknown_note_names_the_closest(lineage_vault: Path) -> None:
    result = run(lineage_vault, "lineage", "EXP-003 focl")
    assert result.exit_code == 1
    assert result.output.startswith("Error: no note named 'EXP-003 focl'; closest: ")
    assert E3 in result.output
    nothing_close = run(lineage_vault, "lineage", "zzzz")
    assert nothing_close.output == (
        "Error: no note named 'zzzz'; vaultkit list shows the experiments\n"
    )


def test_ambiguous_note_lists_candidates(lineage_vault: Path) -> None:
    result = run(lineage_vault, "lineage", "Dataset")
    assert result.exit_code == 1
    assert result.output == (
        "Error: 'Dataset' names 2 notes; give the folder too: Archive/Dataset, Notes/Dataset\n"
    )


def test_lineage_of_a_note_that_is_not_an_experiment(lineage_vault: Path) -> None:
    result = run(lineage_vault, "lineage", "Tips")
    assert result.exit_code == 1
    assert result.output.startswith("Error: Knowledge/Tips: is not an experiment")


def test_graph_json_is_networkx_node_link(lineage_vault: Path) -> None:
    import networkx as nx

    data = json.loads(run(lineage_vault, "graph").output)
    graph = nx.node_link_graph(data, edges="links")
    assert graph.nodes[E4]["kind"] == "experiment"
    assert graph.nodes["Knowledge/Tips"]["kind"] == "note"
    typed = {(s, t, d["type"]) for s, t, d in graph.edges(data=True)}
    assert (E4, E2, "previous") in typed
    assert (E1, E2, "next") in typed
    assert (E1, "Notes/Dataset", "related") in typed


def test_graph_graphml_and_dot_hold_the_same_graph_as_json(lineage_vault: Path) -> None:
    import networkx as nx

    data = json.loads(run(lineage_vault, "graph").output)
    graphml = nx.parse_graphml(run(lineage_vault, "graph", "--format", "graphml").output)
    assert set(graphml.nodes) == {n["id"] for n in data["nodes"]}
    assert graphml.number_of_edges() == len(data["links"])
    assert graphml.nodes[E4]["tags"] == "writing model_training document"
    dot = run(lineage_vault, "graph", "--format", "dot").output
    assert dot.startswith("digraph vault {\n")
    assert f'"{E4}" -> "{E2}" [label="previous"];' in dot


def test_vault_from_environment_and_missing_vault(
    lineage_vault: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("VAULTKIT_VAULT", str(lineage_vault))
    result = CliRunner().invoke(cli, ["list", "--status", "done"])
    assert "3 experiments: 3 done" in result.output
    missing = run(tmp_path / "nope", "list")
    assert missing.exit_code == 1
    assert (
        missing.output
        == f"Error: {tmp_path / 'nope'}: no such folder; --vault (or $VAULTKIT_VAULT) names "
        "the vault's folder\n"
    )
    (tmp_path / "notes.md").write_text("a file\n")
    assert run(tmp_path / "notes.md", "list").output == (
        f"Error: {tmp_path / 'notes.md'}: is a file, not a folder; --vault (or "
        "$VAULTKIT_VAULT) names the vault's folder\n"
    )


def test_init_where_no_folder_can_be_made_says_why(tmp_path: Path) -> None:
    (tmp_path / "notes.md").write_text("a file\n")
    result = CliRunner().invoke(cli, ["init", str(tmp_path / "notes.md" / "vault")])
    assert result.exit_code == 1
    assert result.output == (
        f"Error: {tmp_path / 'notes.md' / 'vault'}: could not be created: a part of the path "
        "is a file, not a folder\n"
    )


def test_vault_found_from_a_subfolder(lineage_vault: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (lineage_vault / ".obsidian").mkdir(exist_ok=True)
    monkeypatch.chdir(lineage_vault / "Experiments")
    result = CliRunner().invoke(cli, ["list", "--status", "done", "--format", "json"])
    assert [r["id"] for r in json.loads(result.output)] == [E1, E2, E7]


def test_usage_error_exits_2(lineage_vault: Path) -> None:
    assert run(lineage_vault, "list", "--format", "xml").exit_code == 2


@pytest.mark.parametrize("command", sorted(cli.commands))
def test_every_command_has_help_with_an_example(command: str) -> None:
    result = CliRunner().invoke(cli, [command, "--help"])
    assert result.exit_code == 0
    assert "Examples:" in result.output
    assert "vaultkit " + command in result.output


@pytest.fixture
def demo_vault(tmp_path: Path) -> Path:
    assert CliRunner().invoke(cli, ["demo", str(tmp_path / "demo")]).exit_code == 0
    return tmp_path / "demo"


def listed_ids(vault: Path, *args: str) -> list[str]:
    result = run(vault, "list", *args, "--format", "json")
    assert result.exit_code == 0, result.output
    return [record["id"] for record in json.loads(result.stdout)]


def test_list_where_keeps_the_experiments_that_meet_every_condition(demo_vault: Path) -> None:
    assert listed_ids(demo_vault, "--where", "mAP@0.5>=0.64") == [
        "Experiments/EXP-002 mosaic augmentation",
        "Experiments/EXP-004 mosaic and focal loss",
    ]
    # any spelling of the metric; every condition; sorted as asked
    assert listed_ids(
        demo_vault,
        "--where",
        "map_0.5 > 0.6",
        "--where",
        "crack recall<0.6",
        "--sort",
        "metric:mAP@0.5",
    ) == [
        "Experiments/EXP-002 mosaic augmentation",
        "Experiments/EXP-003 focal loss",
        "Experiments/EXP-001 baseline",
    ]
    # a note without the metric meets no condition on it
    assert listed_ids(demo_vault, "--where", "latency ms < 100") == [
        "Experiments/EXP-010 distillation to nano"
    ]


def test_list_where_says_why_nothing_is_left_and_refuses_what_it_cannot_read(
    demo_vault: Path,
) -> None:
    none = run(demo_vault, "list", "--where", "mAP@0.5 >= 0.9")
    assert none.exit_code == 0
    assert none.output == (
        "No experiments with mAP@0.5 >= 0.9: mAP@0.5 runs from 0.571 to 0.671 (5 of 6 report it).\n"
    )
    bad = run(demo_vault, "list", "--where", "mAP@0.5 => 0.9")
    assert bad.exit_code == 2
    assert "cannot read the condition 'mAP@0.5 => 0.9': write METRIC OP NUMBER" in bad.output
    unknown = run(demo_vault, "list", "--where", "accuracy > 0.5")
    assert unknown.exit_code == 2
    assert "no metric named 'accuracy'; the experiments report: crack recall, latency ms" in (
        unknown.output
    )


def test_check_experiments_and_changed_narrow_the_problems(tmp_path: Path) -> None:
    vault = write_vault(
        tmp_path / "vault",
        {
            ".obsidian/app.json": "{}",
            "Experiments/EXP-001 base.md": experiment("none", "done", "[[Gone one]]\n"),
            "Experiments/EXP-002 next.md": experiment("[[EXP-001 base]]", "writing"),
            "Notes/Meeting.md": "# Meeting\n\n[[Gone two]]\n",
        },
    )

    def noted(*args: str) -> set[tuple[str, str]]:
        result = run(vault, "check", "--format", "json", *args)
        return {(p["note"], p["code"]) for p in json.loads(result.stdout)["problems"]}

    dangling = {
        ("Experiments/EXP-001 base", "dangling-link"),
        ("Notes/Meeting", "dangling-link"),
    }
    assert dangling <= noted()
    assert ("Notes/Meeting", "dangling-link") not in noted("--experiments")
    assert ("Experiments/EXP-001 base", "dangling-link") in noted("--experiments")
    assert noted("--changed") == noted()  # never built: every note is new
    assert run(vault, "build").exit_code == 0
    assert noted("--changed") == set()
    meeting = vault / "Notes" / "Meeting.md"
    meeting.write_text(meeting.read_text() + "[[Gone three]]\n")
    assert noted("--changed") == {("Notes/Meeting", "dangling-link")}
    assert noted("--changed", "--experiments") == set()


def test_a_typo_in_a_previous_experiment_link_gets_a_did_you_mean(tmp_path: Path) -> None:
    vault = write_vault(
        tmp_path / "vault",
        {
            ".obsidian/app.json": "{}",
            "Experiments/EXP-001 baseline.md": experiment("none", "done"),
            "Experiments/EXP-002 mosaic.md": experiment("[[EXP-001 basline]]", "writing"),
            "Experiments/EXP-003 other.md": experiment("[[Quarterly planning]]", "writing"),
        },
    )
    problems = json.loads(run(vault, "check", "--format", "json").stdout)["problems"]
    messages = {p["note"]: p["message"] for p in problems if p["code"] == "dangling-link"}
    assert messages == {
        "Experiments/EXP-002 mosaic": "[[EXP-001 basline]] in Previous experiment points to "
        "'EXP-001 basline', which is not in the vault; did you mean [[EXP-001 baseline]]?",
        "Experiments/EXP-003 other": "[[Quarterly planning]] in Previous experiment points to "
        "'Quarterly planning', which is not in the vault",
    }


def test_check_tracked_leaves_out_a_draft_git_does_not_track(tmp_path: Path) -> None:
    """The pre-commit hook's check: an untracked draft with an error does not block a
    commit of other notes; a staged note with one does."""
    import subprocess

    vault = write_vault(
        tmp_path / "vault",
        {
            ".obsidian/app.json": "{}",
            "Experiments/EXP-001 base.md": experiment("none", "done"),
            "Drafts/EXP-002 draft.md": experiment("[[EXP-999 nowhere]]", "writing"),
        },
    )

    def git(*args: str) -> None:
        subprocess.run(["git", "-C", str(vault), *args], check=True, capture_output=True)

    git("init", "-q")
    git("add", "Experiments/EXP-001 base.md")
    assert run(vault, "check").exit_code == 1  # the draft's broken Previous link
    tracked = run(vault, "check", "--tracked")
    assert tracked.exit_code == 0, tracked.output
    git("add", "Drafts/EXP-002 draft.md")
    assert run(vault, "check", "--tracked").exit_code == 1
    plain = write_vault(tmp_path / "plain", {".obsidian/app.json": "{}"})
    outside = run(plain, "check", "--tracked")
    assert outside.exit_code == 1
    assert "is not in a git repository, so no file is tracked; leave out --tracked" in (
        outside.output
    )


@pytest.mark.parametrize(
    ("tags", "said"),
    [
        (
            "tags: model_training, document",
            "tags: 'model_training, document' is ignored by Obsidian (1.9+); write the tags "
            "as a YAML list, one per line",
        ),
        (
            "tags:\n  - model_training\n  - has space",
            "tags: 'has space' is ignored by Obsidian (1.9+); a tag holds no spaces: join the "
            "words with _ or - (or make them two tags)",
        ),
        (
            'tags: ["model_training", "foo.bar"]',
            "tags: 'foo.bar' is ignored by Obsidian (1.9+); a tag holds letters, digits, _, - "
            "and / only (and not digits alone)",
        ),
    ],
)
def test_ignored_tags_get_the_fix_their_form_needs(tmp_path: Path, tags: str, said: str) -> None:
    vault = write_vault(
        tmp_path / "vault", {".obsidian/app.json": "{}", "Note.md": f"---\n{tags}\n---\nbody\n"}
    )
    problems = json.loads(run(vault, "check", "--format", "json").stdout)["problems"]
    assert [p["message"] for p in problems if p["code"] == "ignored-tags"] == [said]
