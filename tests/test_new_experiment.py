"""``new-experiment``: template filled, linked both ways, parents changed by exactly the
added lines, links in the vault's format, refusals."""

from __future__ import annotations

import difflib
import json
from datetime import datetime
from pathlib import Path

import pytest
from click.testing import CliRunner

from vaultkit.cli import cli
from vaultkit.errors import VaultkitError
from vaultkit.loading import load_snapshot as load_vault
from vaultkit.model.vault_model import build_model
from vaultkit.output.edit import fill_template, moment_format

from .conftest import LINEAGE_VAULT, SEED_TEMPLATE, experiment, run, write_vault


@pytest.fixture
def vault(tmp_path: Path) -> Path:
    files = dict(LINEAGE_VAULT)
    files[".obsidian/templates.json"] = json.dumps(
        {"folder": "Templates", "dateFormat": "DD/MM/YYYY", "timeFormat": "HH:mm"}
    )
    return write_vault(tmp_path / "vault", files)


def added_lines(before: str, after: str) -> list[str]:
    diff = list(difflib.ndiff(before.splitlines(keepends=True), after.splitlines(keepends=True)))
    assert not [line for line in diff if line.startswith("- ")], "a line was changed or removed"
    return [line[2:] for line in diff if line.startswith("+ ")]


def test_round_trip_parses_back_as_a_writing_experiment(vault: Path) -> None:
    parent = vault / "Experiments" / "EXP-001 baseline.md"
    before = parent.read_text()
    result = run(vault, "new-experiment", "EXP-030 tiled", "--previous", "EXP-001 baseline")
    assert result.exit_code == 0, result.output
    assert result.stdout == "Experiments/EXP-030 tiled.md\n"
    assert "linked from Experiments/EXP-001 baseline.md" in result.stderr
    model = build_model(load_vault(vault))
    new = "Experiments/EXP-030 tiled"
    assert new in model.experiments
    assert model.notes[new].parsed.status == "writing"
    assert model.parents(new) == ["Experiments/EXP-001 baseline"]
    assert "template" not in model.notes[new].parsed.tag_names
    assert "document_template" not in model.notes[new].parsed.tag_names
    assert added_lines(before, parent.read_text()) == ["- [[EXP-030 tiled]]\n"]
    assert model.targets("Experiments/EXP-001 baseline", "next") == [
        "Experiments/EXP-002 mosaic",
        new,
    ]


def test_new_note_is_the_template_with_only_the_expected_changes(vault: Path) -> None:
    run(
        vault,
        "new-experiment",
        "EXP-031 x",
        "--previous",
        "EXP-002 mosaic",
        "--previous",
        "EXP-003 focal",
        "--related",
        "Tips",
    )
    template = SEED_TEMPLATE.read_text()
    created = (vault / "Experiments" / "EXP-031 x.md").read_text()
    diff = [
        line
        for line in difflib.unified_diff(
            template.splitlines(), created.splitlines(), lineterm="", n=0
        )
        if not line.startswith("@@")
    ]
    assert diff[2:] == [
        "-- What is the previous experiment?",
        "+- What is the previous experiment? [[EXP-002 mosaic]], [[EXP-003 focal]]",
        "-Tags: #model_training #document #document_template #template",
        "+Tags: #model_training #document",
        "-- ",
        "+- [[Tips]]",
    ]


def test_running_twice_refuses_and_adds_nothing_twice(vault: Path) -> None:
    parent = vault / "Experiments" / "EXP-001 baseline.md"
    run(vault, "new-experiment", "EXP-030 tiled", "--previous", "EXP-001 baseline")
    once = parent.read_bytes()
    again = run(vault, "new-experiment", "EXP-030 tiled", "--previous", "EXP-001 baseline")
    assert again.exit_code == 1
    assert again.stderr == (
        "Error: Experiments/EXP-030 tiled.md: already exists; vaultkit never overwrites a note\n"
    )
    assert parent.read_bytes() == once


def test_parent_already_linking_to_the_new_note_is_not_changed(vault: Path) -> None:
    parent = vault / "Experiments" / "EXP-001 baseline.md"
    before = parent.read_bytes()  # its Next experiment section already links EXP-002 mosaic
    (vault / "Experiments" / "EXP-002 mosaic.md").unlink()
    result = run(vault, "new-experiment", "EXP-002 mosaic", "--previous", "EXP-001 baseline")
    assert result.exit_code == 0
    assert parent.read_bytes() == before
    assert "already links to it" in result.stderr


def test_parent_without_next_section_gets_one_before_its_footer(vault: Path) -> None:
    parent = vault / "Experiments" / "EXP-003 focal.md"
    before = parent.read_text()
    run(vault, "new-experiment", "EXP-032 y", "--previous", "EXP-003 focal")
    assert parent.read_text() == before.replace(
        "\n\n---\nStatus", "\n\n# Next experiment\n\n- [[EXP-032 y]]\n\n---\nStatus"
    )


def test_crlf_parent_stays_crlf(vault: Path) -> None:
    parent = vault / "Experiments" / "EXP-002 mosaic.md"
    parent.write_bytes(parent.read_bytes().replace(b"\n", b"\r\n"))
    before = parent.read_bytes()
    run(vault, "new-experiment", "EXP-033 z", "--previous", "EXP-002 mosaic")
    after = parent.read_bytes()
    assert b"\n" not in after.replace(b"\r\n", b"")
    assert len(after) - len(before) == len(b"# Next experiment\r\n\r\n- [[EXP-033 z]]\r\n\r\n")


def test_template_variables_use_the_vault_formats(vault: Path) -> None:
    write_vault(
        vault,
        {
            "Templates/Model Training.md": (
                '---\ncreated: "{{date}}"\n---\n# {{title}}\n'
                "At {{time}} on {{date:dddd D MMMM YYYY}}, {{time:HH[h]mm}}\n"
                "#model_training #document #template\n"
            )
        },
    )
    run(vault, "new-experiment", "EXP-034 vars")
    text = (vault / "Experiments" / "EXP-034 vars.md").read_text()
    assert text.startswith('---\ncreated: "')
    day = datetime.now().strftime("%d/%m/%Y")
    assert f'created: "{day}"' in text
    assert "# EXP-034 vars\n" in text
    assert "#template" not in text
    assert text.rstrip().endswith("Status: #writing")


@pytest.mark.parametrize(
    ("fmt", "expected"),
    [
        ("YYYY-MM-DD", "2024-03-07"),
        ("YY/M/D", "24/3/7"),
        ("ddd DD MMM", "Thu 07 Mar"),
        ("dddd, MMMM Do", "Thursday, March 7th"),
        ("HH:mm:ss", "09:05:04"),
        ("H[h]mm", "9h05"),
        ("h:mm a", "9:05 am"),
    ],
)
def test_moment_tokens(fmt: str, expected: str) -> None:
    assert moment_format(fmt, datetime(2024, 3, 7, 9, 5, 4)) == expected


@pytest.mark.parametrize("token", ["DDDD", "Q", "X", "ww", "ZZ", "kk", "SSS", "Mo"])
def test_unknown_moment_tokens_are_refused_with_the_supported_ones(token: str) -> None:
    with pytest.raises(VaultkitError) as raised:
        moment_format(f"YYYY-{token}", datetime(2024, 3, 7))
    assert raised.value.message == (
        f"the date format 'YYYY-{token}' uses the Moment token {token!r}, which vaultkit does "
        "not fill; use YYYY YY MMMM MMM MM M Do DD D dddd ddd dd d HH H hh h mm m ss s A a, "
        "and [text] (or put literal text in [brackets])"
    )


def test_letters_that_are_no_token_stay_literal() -> None:
    assert moment_format("YYYY-MM-DDTHH:mm", datetime(2024, 3, 7, 9, 5)) == "2024-03-07T09:05"


def test_fill_template_defaults() -> None:
    when = datetime(2024, 3, 7, 9, 5)
    assert fill_template("{{title}} {{date}} {{time}} {{ DATE }}", "T", when) == (
        "T 2024-03-07 09:05 2024-03-07"
    )


LINK_FORMATS = [
    ({"newLinkFormat": "shortest"}, "- [[EXP-035 fmt]]\n"),
    ({"newLinkFormat": "absolute"}, "- [[Experiments/EXP-035 fmt]]\n"),
    ({"newLinkFormat": "relative"}, "- [[./EXP-035 fmt]]\n"),
    (
        {"newLinkFormat": "shortest", "useMarkdownLinks": True},
        "- [EXP-035 fmt](EXP-035%20fmt.md)\n",
    ),
    (
        {"newLinkFormat": "absolute", "useMarkdownLinks": True},
        "- [EXP-035 fmt](Experiments/EXP-035%20fmt.md)\n",
    ),
]


@pytest.mark.parametrize(("app", "parent_line"), LINK_FORMATS)
def test_links_follow_the_vault_link_format(
    vault: Path, app: dict[str, bool | str] | dict[str, str], parent_line: str
) -> None:
    write_vault(vault, {".obsidian/app.json": json.dumps(app)})
    parent = vault / "Experiments" / "EXP-001 baseline.md"
    before = parent.read_text()
    run(vault, "new-experiment", "EXP-035 fmt", "--previous", "EXP-001 baseline")
    assert added_lines(before, parent.read_text()) == [parent_line]
    model = build_model(load_vault(vault))
    assert model.parents("Experiments/EXP-035 fmt") == ["Experiments/EXP-001 baseline"]
    assert "Experiments/EXP-035 fmt" in model.targets("Experiments/EXP-001 baseline", "next")


def test_relative_links_across_folders(vault: Path) -> None:
    write_vault(vault, {".obsidian/app.json": '{"newLinkFormat": "relative"}'})
    run(
        vault,
        "new-experiment",
        "EXP-036 rel",
        "--folder",
        "Deep/Er",
        "--previous",
        "EXP-020 loop a",
    )
    text = (vault / "Deep" / "Er" / "EXP-036 rel.md").read_text()
    assert "[[../../Cycle/EXP-020 loop a]]" in text
    assert "- [[../Deep/Er/EXP-036 rel]]\n" in (vault / "Cycle" / "EXP-020 loop a.md").read_text()


def test_shortest_link_uses_the_path_when_the_name_is_taken(vault: Path) -> None:
    write_vault(vault, {"Archive/EXP-037 dup.md": "# old\n"})
    parent = vault / "Experiments" / "EXP-001 baseline.md"
    before = parent.read_text()
    run(vault, "new-experiment", "EXP-037 dup", "--previous", "EXP-001 baseline")
    assert added_lines(before, parent.read_text()) == ["- [[Experiments/EXP-037 dup]]\n"]


@pytest.mark.parametrize(
    ("title", "char"),
    [
        ("EXP: colon", ":"),
        ("a/b", "/"),
        ("what?", "?"),
        ("x#1", "#"),
        ("a|b", "|"),
        ("[x]", "["),
        ("a^b", "^"),
        ('say "hi"', '"'),
        ("a*b", "*"),
        ("a<b", "<"),
        ("a\\b", "\\"),
    ],
)
def test_titles_obsidian_cannot_link_are_refused(vault: Path, title: str, char: str) -> None:
    result = run(vault, "new-experiment", title)
    assert result.exit_code == 1
    assert f"contains {char!r}, which Obsidian cannot link" in result.stderr
    assert not list((vault / "Experiments").glob("*x*b*"))


@pytest.mark.parametrize(
    ("title", "said"),
    [
        ("EXP-040 a\nb", "holds '\\n' (a line break, tab or control character)"),
        ("EXP-040 a\rb", "holds '\\r' (a line break, tab or control character)"),
        ("EXP-040\ttab", "holds '\\t' (a line break, tab or control character)"),
        ("CON", "is a name Windows keeps for a device"),
        ("nul.report", "is a name Windows keeps for a device"),
        ("com1", "is a name Windows keeps for a device"),
    ],
)
def test_titles_no_file_system_can_hold_everywhere_are_refused(
    vault: Path, title: str, said: str
) -> None:
    before = sorted(p.name for p in (vault / "Experiments").iterdir())
    result = run(vault, "new-experiment", title)
    assert result.exit_code == 1
    assert said in result.stderr
    assert sorted(p.name for p in (vault / "Experiments").iterdir()) == before


def test_folder_leaving_the_vault_is_refused(vault: Path, tmp_path: Path) -> None:
    for folder in ("../outside", "/etc", "Experiments/../../outside", ".hidden"):
        result = run(vault, "new-experiment", "EXP-038 out", "--folder", folder)
        assert result.exit_code == 1
        assert result.stderr == (
            f"Error: --folder {folder!r} is not a folder inside the vault; give a relative "
            "path such as 'Experiments'\n"
        )
    assert not (tmp_path / "outside").exists() and not (vault / "etc").exists()


def test_unknown_previous_names_the_closest(vault: Path) -> None:
    result = run(vault, "new-experiment", "EXP-039", "--previous", "EXP-004 mrge")
    assert result.exit_code == 1
    assert "no note named 'EXP-004 mrge'; closest: Experiments/EXP-004 merge" in result.stderr
    assert not (vault / "Experiments" / "EXP-039.md").exists()


def test_previous_by_the_beginning_of_its_name(vault: Path) -> None:
    result = run(vault, "new-experiment", "EXP-039 short", "--previous", "EXP-004")
    assert result.exit_code == 0, result.output
    assert "linked from Experiments/EXP-004 merge.md" in result.stderr
    ambiguous = run(vault, "new-experiment", "EXP-040 short", "--previous", "EXP-00")
    assert ambiguous.exit_code == 1
    assert ambiguous.stderr.startswith("Error: 'EXP-00' names 6 notes; give more of the name: ")


def test_vault_template_with_highest_version_wins(vault: Path) -> None:
    write_vault(
        vault,
        {
            "Docs/ML document template v.1.md": "v1 #model_training #document_template\n",
            "Docs/ML document template v.2.md": "v2 #model_training #document_template\n",
        },
    )
    (vault / "Templates" / "Model Training.md").unlink()
    run(vault, "new-experiment", "EXP-040 v")
    assert (vault / "Experiments" / "EXP-040 v.md").read_text().startswith("v2 #model_training")


def test_packaged_template_when_the_vault_has_none(tmp_path: Path) -> None:
    root = write_vault(tmp_path / "v", {"Home.md": "hello\n"})
    result = run(root, "new-experiment", "EXP-001 first")
    assert result.exit_code == 0
    model = build_model(load_vault(root))
    assert model.notes["Experiments/EXP-001 first"].parsed.status == "writing"
    assert "Experiments/EXP-001 first" in model.experiments


def test_init_and_demo(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["init", str(tmp_path / "new")])
    assert result.exit_code == 0
    assert (tmp_path / "new" / "Templates" / "Model Training.md").read_bytes() == (
        SEED_TEMPLATE.read_bytes()
    )
    assert (
        json.loads((tmp_path / "new" / ".obsidian" / "templates.json").read_text())["folder"]
        == "Templates"
    )
    assert ".obsidian/workspace.json" in (tmp_path / "new" / ".gitignore").read_text()
    again = CliRunner().invoke(cli, ["init", str(tmp_path / "new")])
    assert again.exit_code == 1 and "already exists and is not empty" in again.output
    demo = CliRunner().invoke(cli, ["demo", str(tmp_path / "demo")])
    assert demo.exit_code == 0
    assert "6 experiments in 2 lineages" in demo.output
    model = build_model(load_vault(tmp_path / "demo"))
    assert {model.notes[e].parsed.status for e in model.experiments} == {"done", "writing"}
    assert any(len(model.parents(e)) == 2 for e in model.experiments)  # a merge
    index = (tmp_path / "demo" / "Experiment Index.md").read_text()
    assert all(f"[[{model.notes[e].title}]]" in index for e in model.experiments)


def test_a_parent_that_is_a_symbolic_link_stays_one(vault: Path) -> None:
    real = vault / "Experiments" / "EXP-001 baseline.md"
    moved = vault / "Store" / "EXP-001 baseline real.md"
    moved.parent.mkdir()
    real.rename(moved)
    real.symlink_to(moved)
    run(vault, "new-experiment", "EXP-070 via link", "--previous", "EXP-001 baseline")
    assert real.is_symlink()
    assert "- [[EXP-070 via link]]\n" in moved.read_text()


def test_a_parent_that_cannot_take_the_link_leaves_nothing_created(vault: Path) -> None:
    parent = vault / "Experiments" / "EXP-002 mosaic.md"
    parent.write_bytes(parent.read_bytes() + b"\n\xe9 not UTF-8\n")
    result = run(vault, "new-experiment", "EXP-041 child", "--previous", "EXP-002")
    assert result.exit_code == 1
    assert not (vault / "Experiments" / "EXP-041 child.md").exists()  # checked first


def test_a_parent_that_refuses_the_write_takes_the_new_note_back(vault: Path) -> None:
    parent = vault / "Experiments" / "EXP-002 mosaic.md"
    before = parent.read_bytes()
    parent.chmod(0o444)
    try:
        result = run(vault, "new-experiment", "EXP-042 child", "--previous", "EXP-002")
    finally:
        parent.chmod(0o644)
    assert result.exit_code == 1
    assert "the new note was not kept, so nothing changed" in result.stderr
    assert not (vault / "Experiments" / "EXP-042 child.md").exists()
    assert parent.read_bytes() == before
    retried = run(vault, "new-experiment", "EXP-042 child", "--previous", "EXP-002")
    assert retried.exit_code == 0, retried.output  # not "already exists"


def test_a_file_system_without_hard_links_still_takes_new_notes(
    vault: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import errno
    import os

    def no_links(source: object, target: object, *args: object, **kwargs: object) -> None:
        raise OSError(errno.EPERM, "Operation not permitted")  # what FAT answers

    monkeypatch.setattr(os, "link", no_links)
    made = run(vault, "new-experiment", "EXP-043 on a stick", "--previous", "EXP-002")
    assert made.exit_code == 0, made.output
    note = vault / "Experiments" / "EXP-043 on a stick.md"
    assert "Status: #writing" in note.read_text(encoding="utf-8")
    assert not [p for p in note.parent.iterdir() if p.name.endswith(".vaultkit-tmp")]
    again = run(vault, "new-experiment", "EXP-043 on a stick")
    assert again.exit_code == 1 and "already exists" in again.stderr
    fresh = tmp_path / "usb-vault"
    assert CliRunner().invoke(cli, ["init", str(fresh)]).exit_code == 0
    assert (fresh / "Templates" / "Model Training.md").is_file()


@pytest.mark.parametrize(
    ("existing", "config", "expected"),
    [
        # no experiment yet: the configured folder
        ([], "", "Experiments/EXP-010 next.md"),
        # experiments in numbered project folders, none in Experiments/: where most live
        (
            [
                "04_Projects/Cracks/EXP-001 a.md",
                "04_Projects/Cracks/EXP-002 b.md",
                "04_Projects/Dents/EXP-003 c.md",
            ],
            "",
            "04_Projects/Cracks/EXP-010 next.md",
        ),
        # one experiment in the configured folder is enough to keep it
        (
            ["Experiments/EXP-001 a.md", "Projects/EXP-002 b.md", "Projects/EXP-003 c.md"],
            "",
            "Experiments/EXP-010 next.md",
        ),
        # a folder the config names is where they go, wherever the others are
        (["Projects/EXP-001 a.md"], 'experiments_folder = "Runs"\n', "Runs/EXP-010 next.md"),
    ],
)
def test_a_new_experiment_goes_where_the_vaults_experiments_live(
    tmp_path: Path, existing: list[str], config: str, expected: str
) -> None:
    files: dict[str, str | bytes] = {".obsidian/app.json": "{}"}
    files |= {path: experiment("none", "done") for path in existing}
    if config:
        files[".vaultkit/config.toml"] = config
    root = write_vault(tmp_path / "vault", files)
    created = run(root, "new-experiment", "EXP-010 next")
    assert created.exit_code == 0, created.output
    assert created.stdout == expected + "\n"
    assert (root / expected).is_file()


def test_a_new_experiment_with_a_previous_one_goes_beside_it(tmp_path: Path) -> None:
    root = write_vault(
        tmp_path / "vault",
        {
            ".obsidian/app.json": "{}",
            "Experiments/EXP-001 a.md": experiment("none", "done"),
            "Projects/Dents/EXP-002 b.md": experiment("none", "done"),
        },
    )
    created = run(root, "new-experiment", "EXP-003 c", "--previous", "EXP-002")
    assert created.stdout == "Projects/Dents/EXP-003 c.md\n"
