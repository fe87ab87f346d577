"""Experiments as teams make them: a note made from the template inside
Obsidian, templates of every kind, experiments marked by a property, and every mistake
answered with a message."""

from __future__ import annotations

import difflib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from vaultkit.cli import cli

from .conftest import SEED_TEMPLATE, experiment, run, write_vault

SEED = SEED_TEMPLATE.read_text(encoding="utf-8")
MODIFIED = "2023-11-14T22:13:20Z"
TEMPLATE_TAGS = ["writing", "model_training", "document", "document_template", "template"]
TEMPLATER = (  # a Templater template: its properties hold code, which is not YAML
    '---\ncreated: <% tp.date.now("YYYY-MM-DD") %>\n'
    '<%* if (tp.file.title.startsWith("EXP")) { %>\ntype: experiment\n<%* } %>\n'
    "---\n# <% tp.file.title %>\n"
)


@pytest.fixture
def team(tmp_path: Path) -> Path:
    """A vault made the way the team works: the template in the Templates folder; an
    experiment made by Insert template and filled in (template tags kept); one made the
    same way and only linked to its previous experiment; a copy not filled in yet in the
    experiments folder; the team's template kept among its notes; a Templater template;
    a note in the experiments folder that is no experiment."""
    filled = SEED.replace(
        "- Where do you get the data?", "- Where do you get the data? The line cameras, May"
    ).replace(
        "- Training metric results",
        "- Training metric results\n\n| metric | value |\n|---|---|\n| mAP | 0.61 |",
    )
    linked = SEED.replace(
        "- What is the previous experiment?",
        "- What is the previous experiment? [[EXP-001 baseline]]",
    )
    files = {
        ".obsidian/templates.json": '{"folder": "Templates"}',
        ".obsidian/plugins/templater-obsidian/data.json": '{"templates_folder": "Templater"}',
        "Templates/Model Training.md": SEED,
        "Templater/Daily.md": TEMPLATER,
        "Experiments/EXP-001 baseline.md": filled,
        "Experiments/EXP-002 copy.md": SEED,
        "Experiments/EXP-003 next.md": linked,
        "Experiments/Augmentation ideas.md": "# Ideas\n\n- more mosaic\n\nTags: #model_training\n",
        "Notes/Model training document template v.1.md": SEED,
    }
    return write_vault(tmp_path / "team", files)


def test_notes_made_from_the_template_and_filled_in_are_experiments(team: Path) -> None:
    result = run(team, "list", "--format", "json")
    assert json.loads(result.output) == [
        {
            "id": "Experiments/EXP-001 baseline",
            "path": "Experiments/EXP-001 baseline.md",
            "title": "EXP-001 baseline",
            "status": "writing",
            "tags": TEMPLATE_TAGS,
            "previous": [],
            "next": [],
            "related": [],
            "references": [],
            "modified": MODIFIED,
            "metrics": {"mAP": 0.61},
        },
        {
            "id": "Experiments/EXP-003 next",
            "path": "Experiments/EXP-003 next.md",
            "title": "EXP-003 next",
            "status": "writing",
            "tags": TEMPLATE_TAGS,
            "previous": ["Experiments/EXP-001 baseline"],
            "next": [],
            "related": [],
            "references": [],
            "modified": MODIFIED,
            "metrics": {},
        },
    ]


def test_a_filled_in_template_copy_is_indexed_and_in_its_lineage_with_no_extra_step(
    team: Path,
) -> None:
    assert run(team, "build").exit_code == 0
    index = (team / "Experiment Index.md").read_text(encoding="utf-8")
    assert [line for line in index.splitlines() if "[[EXP-00" in line] == [
        "| [[EXP-001 baseline lineage]] | 2 | mAP (higher is better) | [[EXP-001 baseline]] "
        "| 0.61 | — | [[EXP-001 baseline recipe]] |",
        "| [[EXP-001 baseline]] | — | [[EXP-001 baseline lineage]] | 0.61 | — | 2/10 "
        "| 2023-11-14 | template-tags |",
        "| [[EXP-003 next]] | [[EXP-001 baseline]] | [[EXP-001 baseline lineage]] | — | — "
        "| 1/10 | 2023-11-14 | template-tags |",
    ]
    assert run(team, "lineage").output == (
        "Experiments/EXP-001 baseline  [writing]\n└── Experiments/EXP-003 next  [writing]\n"
    )


def test_check_says_what_is_a_template_copy_a_near_miss_and_leftover_template_tags(
    team: Path,
) -> None:
    result = run(team, "check", "--format", "json")
    assert result.exit_code == 0  # a Templater template's code is no error
    assert json.loads(result.output)["problems"] == [
        {
            "code": "not-an-experiment",
            "severity": "warning",
            "note": "Experiments/Augmentation ideas",
            "line": None,
            "message": "looks like an experiment but is not one: it has #model_training but "
            "neither #document nor a 'Previous experiment' heading",
        },
        {
            "code": "template-tags",
            "severity": "warning",
            "note": "Experiments/EXP-001 baseline",
            "line": 121,
            "message": "still carries #template or #document_template from the template; "
            "remove them (vaultkit check --fix does)",
        },
        {
            "code": "template-copy",
            "severity": "warning",
            "note": "Experiments/EXP-002 copy",
            "line": None,
            "message": "a copy of the template, not filled in yet: it counts as an experiment "
            "once a section holds an answer or a previous experiment is named",
        },
        {
            "code": "template-tags",
            "severity": "warning",
            "note": "Experiments/EXP-003 next",
            "line": 117,
            "message": "still carries #template or #document_template from the template; "
            "remove them (vaultkit check --fix does)",
        },
        {
            "code": "invalid-frontmatter",
            "severity": "warning",
            "note": "Templater/Daily",
            "line": 4,
            "message": "properties are not valid YAML, so Obsidian ignores them all: could not "
            "find expected ':'; quote template variables, e.g. date: \"{{date}}\"",
        },
    ]


def test_check_fix_removes_exactly_the_template_tags(team: Path) -> None:
    note = team / "Experiments" / "EXP-001 baseline.md"
    before = note.read_text(encoding="utf-8")
    typo = run(team, "check", "--fix", "--code", "template-tag")
    assert typo.exit_code == 2 and "did you mean 'template-tags'?" in typo.output
    assert note.read_text(encoding="utf-8") == before  # a usage error fixes nothing
    result = run(team, "check", "--fix")
    assert result.output.startswith(
        "fixed Experiments/EXP-001 baseline.md: removed its #template and #document_template "
        "tags\nfixed Experiments/EXP-003 next.md: removed its #template and #document_template "
        "tags\n"
    )
    after = note.read_text(encoding="utf-8")
    changed = [
        line for line in difflib.ndiff(before.splitlines(), after.splitlines()) if line[0] in "-+"
    ]
    assert changed == [
        "- Tags: #model_training #document #document_template #template",
        "+ Tags: #model_training #document",
    ]
    assert "template-tags" not in run(team, "check").output
    assert [r["id"] for r in json.loads(run(team, "list", "--format", "json").output)] == [
        "Experiments/EXP-001 baseline",
        "Experiments/EXP-003 next",
    ]


def test_check_fix_leaves_template_words_in_code_and_comments(team: Path) -> None:
    note = team / "Experiments" / "EXP-001 baseline.md"
    kept = "\n```\n#template in code\n```\n\n<!-- #template in a comment -->\n\nsee `#template`\n"
    note.write_text(kept + note.read_text(encoding="utf-8"), encoding="utf-8")
    assert run(team, "check", "--fix").exit_code in (0, 1)
    fixed = note.read_text(encoding="utf-8")
    assert fixed.startswith(kept)  # nothing Obsidian does not read as a tag is touched
    assert "Tags: #model_training #document\n" in fixed


def test_check_fix_checks_every_note_before_it_edits_any(team: Path) -> None:
    first = team / "Experiments" / "EXP-001 baseline.md"
    second = team / "Experiments" / "EXP-003 next.md"
    before = first.read_bytes()
    second.write_bytes(second.read_bytes().replace(b"# Result", b"# R\xe9sult"))  # not UTF-8
    result = run(team, "check", "--fix")
    assert result.exit_code == 1
    assert "check --fix edited no note" in result.output
    assert first.read_bytes() == before


def test_list_all_tells_why_a_note_that_looks_like_an_experiment_is_none(team: Path) -> None:
    assert run(team, "list", "--all").output.splitlines()[-3:] == [
        "Not experiments, though they look like one:",
        "  Experiments/Augmentation ideas: looks like an experiment but is not one: it has "
        "#model_training but neither #document nor a 'Previous experiment' heading",
        "  Experiments/EXP-002 copy: a copy of the template, not filled in yet: it counts as "
        "an experiment once a section holds an answer or a previous experiment is named",
    ]


@pytest.fixture
def by_property(tmp_path: Path) -> Path:
    """A vault that marks experiments with properties and has its own template."""
    template = (
        "---\ntype: experiment\nstatus: planned\nparent:\n---\n"
        "## Hypothesis\n\n## Setup\n\n## Result\n\n## Interpretation\n\n## Next\n"
    )
    files = {
        ".obsidian/templates.json": '{"folder": "templates"}',
        ".vaultkit/config.toml": 'experiment_property = { type = "experiment" }\n'
        'previous_properties = ["parent"]\n',
        "templates/experiment.md": template,
        "runs/2024-06-01 baseline.md": "---\ntype: experiment\nstatus: active\n---\n"
        "## Hypothesis\n\nA bigger batch trains faster.\n\n## Setup\n\nbatch size = 64\n\n"
        "## Result\n\n| metric | value |\n|---|---|\n| accuracy | 0.91 |\n\n"
        "## Interpretation\n\n## Next\n\n- try 128\n",
        "runs/2024-06-03 bigger batch.md": "---\ntype: experiment\nstatus: done\n"
        'parent: "[[2024-06-01 baseline]]"\n---\n## Hypothesis\n\n128 is better still.\n\n'
        "## Setup\n\nbatch size = 128\n\n## Result\n\n| metric | value |\n|---|---|\n"
        "| accuracy | 0.93 |\n\n## Interpretation\n\nIt is.\n\n## Next\n",
        "notes/reading list.md": "---\nstatus: reading\n---\n# Papers\n",
    }
    return write_vault(tmp_path / "runs-vault", files)


def test_experiments_marked_by_a_property_with_a_two_line_config(by_property: Path) -> None:
    def record(name: str, status: str, previous: list[str], accuracy: float) -> dict[str, object]:
        return {
            "id": f"runs/{name}",
            "path": f"runs/{name}.md",
            "title": name,
            "status": status,
            "tags": [],
            "previous": previous,
            "next": [],
            "related": [],
            "references": [],
            "modified": MODIFIED,
            "metrics": {"accuracy": accuracy},
        }

    assert json.loads(run(by_property, "list", "--format", "json").output) == [
        record("2024-06-01 baseline", "active", [], 0.91),
        record("2024-06-03 bigger batch", "done", ["runs/2024-06-01 baseline"], 0.93),
    ]
    table = run(by_property, "list").output
    assert table.splitlines()[1:3] == [  # completeness against the vault's own template
        "active  3/4       runs/2024-06-01 baseline      -",
        "done    4/4       runs/2024-06-03 bigger batch  runs/2024-06-01 baseline",
    ]
    assert run(by_property, "check").output == "No problems found.\n"
    assert run(by_property, "build").exit_code == 0
    index = (by_property / "Experiment Index.md").read_text()
    assert "[[2024-06-03 bigger batch]]" in index
    # the index says how this vault marks its experiments
    assert "Generated by vaultkit from the notes with the properties `type: experiment` or " in (
        index
    )


# -- mistakes get a message -----------------------------------------------------------------


@pytest.fixture
def vault(tmp_path: Path) -> Path:
    files: dict[str, str | bytes] = {
        ".obsidian/app.json": "{}",
        "Experiments/EXP-001 base.md": experiment("none", "done"),
        "Experiments/EXP-002 next.md": experiment("[[EXP-001 base]]", "writing"),
        "Welcome.md": "# Welcome\n",
        "pics/chart.png": b"\x89PNG",
        "Notes/Figures.md": "![[chart.png]] ![[missing.png]] [[Nowhere]]\n",
    }
    root = write_vault(tmp_path / "vault", files)
    assert run(root, "build").exit_code == 0
    return root


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["set-status", "EXP-002", "dnoe"],
            "Error: Experiments/EXP-002 next.md: 'dnoe' is a status no experiment has had and "
            "vaultkit does not know (done, not_done, pending, postpone, reading, writing). Did "
            "you mean 'done' or 'not_done'? Use --force to start a new status, or list it under "
            "statuses in .vaultkit/config.toml\n",
        ),
        (
            ["set-status", "Welcome", "done"],
            "Error: Welcome.md: is not an experiment (it has no #model_training tag), so "
            "vaultkit does not set its status; use --force to set it anyway\n",
        ),
        (
            ["set-status", "Experiment Index", "done", "--force"],
            "Error: Experiment Index.md: is a note vaultkit generates, so it has no status of "
            "its own; set the status in the experiment's note\n",
        ),
        (
            ["list", "--status", "wrting"],
            "No experiments with status 'wrting'. The statuses in use: done (1), writing (1); "
            "did you mean 'writing'?\n",
        ),
        (
            ["list", "--tag", "detection"],
            "No experiments with tag 'detection'. The tags in use: document (2), done (1), "
            "model_training (2), writing (1)\n",
        ),
        (
            ["new-experiment", "EXP-003 x", "--folder", "/etc"],
            "Error: --folder '/etc' is not a folder inside the vault; give a relative path such "
            "as 'Experiments'\n",
        ),
        (["--vault", "", "list"], "Error: --vault is empty; give the vault's folder\n"),
    ],
)
def test_mistakes_are_refused_or_answered_with_what_exists(
    vault: Path, args: list[str], message: str
) -> None:
    result = CliRunner().invoke(
        cli, args if args[0] == "--vault" else ["--vault", str(vault), *args]
    )
    assert result.output == message
    assert "Traceback" not in result.output


def test_set_status_accepts_a_status_the_vault_uses_or_the_config_lists(vault: Path) -> None:
    assert run(vault, "set-status", "EXP-002", "postpone").exit_code == 0  # a known status
    write_vault(vault, {".vaultkit/config.toml": 'statuses = ["queued"]\n'})
    assert run(vault, "set-status", "EXP-002", "queued").exit_code == 0
    assert run(vault, "set-status", "EXP-001", "queued").exit_code == 0  # in use now
    assert run(vault, "set-status", "EXP-001", "brandnew", "--force").exit_code == 0


def test_sort_by_metric_is_case_blind_shows_the_metric_and_names_the_known_ones(
    vault: Path,
) -> None:
    table = run(vault, "list", "--sort", "metric:MAP").output
    assert table.splitlines()[0].split() == ["STATUS", "SECTIONS", "NOTE", "mAP", "PREVIOUS"]
    csv = run(vault, "list", "--sort", "metric:map", "--format", "csv").output
    assert csv.splitlines()[0].endswith(",modified,mAP")
    unknown = run(vault, "list", "--sort", "metric:accuracy")
    assert unknown.exit_code == 2
    assert unknown.output.endswith(
        "Error: no metric named 'accuracy'; the experiments report: mAP\n"
    )


def test_writing_commands_refuse_a_folder_that_is_no_vault(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    plain = write_vault(tmp_path / "plain", {"a.md": experiment("none", "done")})
    monkeypatch.chdir(plain)
    result = CliRunner().invoke(cli, ["build"])
    assert result.exit_code == 1
    assert result.output == (
        f"Error: {plain}: is not an Obsidian vault (no .obsidian/ folder here or above), so "
        "vaultkit writes nothing here. Open the folder in Obsidian once, run 'vaultkit init "
        "FOLDER' for a new vault, or name the folder with --vault\n"
    )
    assert not (plain / "Experiment Index.md").exists()
    assert CliRunner().invoke(cli, ["list"]).exit_code == 0  # reading is fine
    assert CliRunner().invoke(cli, ["build", "--vault", str(plain)]).exit_code == 0  # named


def test_a_vault_inside_the_vault_is_left_out_and_said_so_once(vault: Path) -> None:
    write_vault(
        vault, {"Other/.obsidian/app.json": "{}", "Other/EXP-9.md": experiment("x", "done")}
    )
    first = run(vault, "build")
    assert (
        "Note: Other/ is another vault (it has its own .obsidian/), so vaultkit leaves it out"
        in (first.output)
    )
    assert "another vault" not in run(vault, "build").output
    ids = [r["id"] for r in json.loads(run(vault, "list", "--format", "json").output)]
    assert "Other/EXP-9" not in ids
    assert "nested-vault" in run(vault, "check").output


def test_vault_and_format_are_accepted_before_or_after_the_command(vault: Path) -> None:
    after = CliRunner().invoke(cli, ["list", "--format", "json", "--vault", str(vault)])
    before = CliRunner().invoke(cli, ["--vault", str(vault), "--format", "json", "list"])
    assert after.exit_code == 0 and len(json.loads(after.output)) == 2
    assert before.output == after.output
    both = run(vault, "--format", "json", "list", "--format", "csv")  # the nearer one wins
    assert both.output.startswith("id,path,title,status")
    wrong = run(vault, "--format", "mermaid", "list")
    assert (wrong.exit_code, wrong.output.splitlines()[-1]) == (
        2,
        "Error: Invalid value for '--format': 'mermaid' is not one of 'table', 'json', 'csv'.",
    )
    none = run(vault, "--format", "json", "set-status", "EXP-002", "done")
    assert (none.exit_code, none.output.splitlines()[-1]) == (
        2,
        "Error: vaultkit set-status has no --format option",
    )


def test_a_note_by_the_beginning_of_its_name(vault: Path) -> None:
    result = run(vault, "lineage", "EXP-002", "--format", "json")
    assert json.loads(result.output)["id"] == "Experiments/EXP-002 next"
    ambiguous = run(vault, "lineage", "EXP-00")
    assert ambiguous.output == (
        "Error: 'EXP-00' names 2 notes; give more of the name: Experiments/EXP-001 base, "
        "Experiments/EXP-002 next\n"
    )


def test_check_summary_code_severity_and_missing_attachments(vault: Path) -> None:
    problems = json.loads(run(vault, "check", "--format", "json").output)["problems"]
    codes = sorted((p["code"], p["note"]) for p in problems if p["note"] == "Notes/Figures")
    assert codes == [("dangling-link", "Notes/Figures"), ("missing-attachment", "Notes/Figures")]
    summary = run(vault, "check", "--summary").output
    assert summary.splitlines()[0].split() == ["CODE", "SEVERITY", "PROBLEMS", "NOTES"]
    only = run(vault, "check", "--code", "missing-attachment").output
    assert "missing.png" in only and "Nowhere" not in only
    assert "No problems found." in run(vault, "check", "--severity", "error").output
    wrong = run(vault, "check", "--code", "dangling-links")
    assert wrong.exit_code == 2 and "did you mean 'dangling-link'?" in wrong.output
    write_vault(vault, {".vaultkit/config.toml": 'ignore = ["missing-attachment"]\n'})
    assert "missing-attachment" not in run(vault, "check").output


def test_a_code_repeated_across_the_vault_is_counted_not_listed(tmp_path: Path) -> None:
    files = {f"N/n{i:02d}.md": "[[Nowhere]]\n" for i in range(40)}
    root = write_vault(tmp_path / "v", files)
    output = run(root, "check").output
    assert output.startswith(
        "dangling-link: 40 warnings in 40 notes, not listed (vaultkit check --code "
        'dangling-link lists them; ignore = ["dangling-link"] in .vaultkit/config.toml '
        "silences them)\n"
    )
    assert output.count("\n") < 10
    assert run(root, "check", "--code", "dangling-link").output.count("[[Nowhere]]") == 40


def test_lineage_depth_applies_to_every_format_and_zero_keeps_the_note(vault: Path) -> None:
    mermaid = run(vault, "lineage", "--depth", "0", "--format", "mermaid").output
    assert "EXP-002" not in mermaid and "EXP-001 base" in mermaid
    data = json.loads(run(vault, "lineage", "EXP-001", "--depth", "0", "--format", "json").output)
    assert data == {
        "id": "Experiments/EXP-001 base",
        "ancestors": [],
        "descendants": [],
        "edges": [],
    }
    text = run(vault, "lineage", "EXP-002", "--depth", "0").output
    assert "<- this note" in text


def test_graph_leaves_vaultkits_own_notes_out_unless_asked(vault: Path) -> None:
    nodes = {n["id"] for n in json.loads(run(vault, "graph").output)["nodes"]}
    assert "Experiment Index" not in nodes and not any(n.startswith("Lineages/") for n in nodes)
    every = {n["id"] for n in json.loads(run(vault, "graph", "--generated").output)["nodes"]}
    assert "Experiment Index" in every


def test_a_title_too_long_for_a_file_name_is_refused_in_words(vault: Path) -> None:
    result = run(vault, "new-experiment", "EXP-003 " + "a" * 300)
    assert result.output == (
        "Error: the title is 308 characters long; a file name holds at most 255 bytes on most "
        "file systems, so shorten it (put details in the note)\n"
    )
    assert sorted(p.name for p in (vault / "Experiments").iterdir()) == [
        "EXP-001 base.md",
        "EXP-002 next.md",
    ]


def test_an_unexpected_os_error_reaches_the_person_in_words(vault: Path) -> None:
    """The last line of defence names the file and the trouble, never `OSError` or
    `[Errno 36]`."""
    program = (
        "import errno, sys, vaultkit.api\n"
        "def fail(self, **filters):\n"
        "    raise OSError(errno.ENAMETOOLONG, 'File name too long', 'Experiments/x.md')\n"
        "vaultkit.api.Vault.check = fail\n"
        "from vaultkit.cli import main\n"
        "main()\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", program, "--vault", str(vault), "check"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 1
    assert result.stderr == (
        "Error: vaultkit stopped on something it did not expect (Experiments/x.md: the file "
        "name is too long for this file system; use a shorter name). Run again with --debug "
        "for the details, and report them.\n"
    )


@pytest.mark.parametrize(
    ("opener", "said"),
    [
        (None, "Open this in Obsidian: {uri}\n"),
        (
            "echo 'xdg-open: no method available for opening' >&2\nexit 3",
            "Open this in Obsidian: {uri}\n",
        ),
        ("echo 'opening…' >&2\nexit 0", ""),
    ],
    ids=["no opener", "opener fails", "opener works"],
)
def test_open_says_the_address_when_it_cannot_open_and_never_the_openers_noise(
    vault: Path, tmp_path: Path, opener: str | None, said: str
) -> None:
    bin_folder = tmp_path / "bin"  # the only folder on PATH
    bin_folder.mkdir()
    if opener is not None:
        for name in ("xdg-open", "open"):
            (bin_folder / name).write_text(f"#!/bin/sh\n{opener}\n")
            (bin_folder / name).chmod(0o755)
    result = subprocess.run(
        [sys.executable, "-m", "vaultkit", "--vault", str(vault)]
        + ["new-experiment", "EXP-003 opened", "--open"],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "PATH": str(bin_folder)},
    )
    uri = "obsidian://open?vault=vault&file=Experiments%2FEXP-003%20opened"
    assert (result.returncode, result.stdout) == (0, "Experiments/EXP-003 opened.md\n")
    assert result.stderr == said.format(uri=uri)


def test_a_status_the_vault_had_is_accepted_again_and_the_refusal_reads_cleanly(
    vault: Path,
) -> None:
    """The only `active` experiment set to `blocked`, then back: `active` was a status
    of the vault (a build saw it), so it is no typo."""
    assert run(vault, "set-status", "EXP-002", "active", "--force").exit_code == 0
    assert run(vault, "build").exit_code == 0
    assert run(vault, "set-status", "EXP-002", "blocked", "--force").exit_code == 0
    back = run(vault, "set-status", "EXP-002", "active")
    assert back.exit_code == 0, back.output
    assert back.output == "Experiments/EXP-002 next.md: blocked -> active\n"
    refused = run(vault, "set-status", "EXP-002", "zzz")
    assert refused.exit_code == 1
    assert refused.output == (
        "Error: Experiments/EXP-002 next.md: 'zzz' is a status no experiment has had and "
        "vaultkit does not know (active, done, not_done, pending, postpone, reading, "
        "writing). Use --force to start a new status, or list it under statuses in "
        ".vaultkit/config.toml\n"
    )


def test_a_templates_folder_in_the_config_for_a_vault_without_obsidian_settings(
    tmp_path: Path,
) -> None:
    """A git clone has no .obsidian/: the team's template looks like an experiment until
    the config names the templates folder."""
    template = "---\ndate: {{date}}\n---\n" + experiment("", "writing")
    files: dict[str, str | bytes] = {
        "Templates/Model Training.md": template,
        "Experiments/EXP-001 base.md": experiment("none", "done"),
    }
    root = write_vault(tmp_path / "clone", files)

    def listed() -> list[str]:
        return [r["id"] for r in json.loads(run(root, "list", "--format", "json").output)]

    def frontmatter_problems() -> list[tuple[str, str]]:
        problems = json.loads(run(root, "check", "--format", "json").output)["problems"]
        return [(p["note"], p["severity"]) for p in problems if p["code"] == "invalid-frontmatter"]

    assert listed() == ["Experiments/EXP-001 base", "Templates/Model Training"]
    # its placeholders are no error even before (a template's, wherever it is kept)
    assert frontmatter_problems() == [("Templates/Model Training", "warning")]
    (root / ".vaultkit").mkdir()
    (root / ".vaultkit" / "config.toml").write_text('templates_folder = "Templates"\n')
    assert listed() == ["Experiments/EXP-001 base"]
    assert frontmatter_problems() == [("Templates/Model Training", "warning")]
    assert run(root, "check").exit_code == 0


@pytest.mark.parametrize(
    ("properties", "severity"),
    [
        ("date: {{date}}", "warning"),  # a core Templates placeholder
        ("created: <% tp.date.now() %>\nkind: [", "warning"),  # Templater's
        ("kind: [unclosed", "error"),  # broken properties, no template in sight
    ],
)
def test_a_templates_placeholders_are_no_error_wherever_it_is_kept(
    tmp_path: Path, properties: str, severity: str
) -> None:
    """A template kept outside any templates folder vaultkit knows (no .obsidian/, no
    config) breaks its YAML with placeholders: a warning, so a pre-commit hook passes."""
    root = write_vault(
        tmp_path / "vault",
        {"Templates/Daily.md": f"---\n{properties}\n---\n# Day\n"},
    )
    problems = json.loads(run(root, "check", "--format", "json").output)["problems"]
    found = [p for p in problems if p["code"] == "invalid-frontmatter"]
    assert [p["severity"] for p in found] == [severity]
    assert run(root, "check").exit_code == (1 if severity == "error" else 0)
