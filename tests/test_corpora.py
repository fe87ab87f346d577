"""Real vaults written by other people (the folder $VAULTKIT_CORPORA names), with facts
checked by hand against the notes."""

from __future__ import annotations

import json
import re

import pytest
from click.testing import CliRunner

from vaultkit.cli import cli
from vaultkit.loading import load_snapshot as load_vault
from vaultkit.model.vault_model import VaultModel, build_model

from .conftest import CORPORA

pytestmark = pytest.mark.skipif(not CORPORA.is_dir(), reason="no corpus folder ($VAULTKIT_CORPORA)")


def model_of(name: str) -> VaultModel:
    return build_model(load_vault(CORPORA / name))


def links_of(model: VaultModel, note_id: str) -> list[tuple[str, str | None, str, str | None]]:
    return [(r.link.target, r.link.subpath, r.link.form, r.target) for r in model.links[note_id]]


def test_tasks_demo_counts_and_settings() -> None:
    model = model_of("tasks-demo")
    assert len(model.notes) == 205
    assert len(model.vault.files) == 207
    assert model.experiments == set()


def test_tasks_demo_tags_in_obsidian_comments_are_indexed() -> None:
    model = model_of("tasks-demo")
    note = model.notes["Test Data/comments_markdown_style"].parsed
    assert [(t.name, t.line) for t in note.tags] == [
        ("task", 5),  # inside a multi-line %% block
        ("task", 8),
        ("i-am-parsed-by-obsidian", 8),
        ("task", 9),
    ]
    assert links_of(model, "Test Data/comments_markdown_style") == [
        ("comments_html_style", "", "wikilink", "Test Data/comments_html_style")
    ]


def test_tasks_demo_heading_links_code_and_escapes() -> None:
    model = model_of("tasks-demo")
    source = "Test Data/internal_heading_links"
    other = "Manual Testing/Internal Heading Links/Other File"
    assert model.notes[source].parsed.tag_names == ["task", "escaped"]
    assert links_of(model, source) == [
        ("", "Basic Internal Links", "wikilink", source),
        ("", "Multiple Links In One Task", "wikilink", source),
        ("", "Simple Headers", "wikilink", source),
        ("Other File", "", "wikilink", other),
        ("Other File", "", "wikilink", other),
        ("", "Mixed Link Types", "wikilink", source),
        ("", "Header Links With File Reference", "wikilink", source),
        ("Other File", "Some Header", "wikilink", other),
        ("", "Another Header", "wikilink", source),
        ("", "Headers-With_Special Characters", "wikilink", source),
        ("", "Aliased Links", "wikilink", source),
    ]  # `[[#Links In Code Blocks]]` in inline code is not a link


def test_tasks_demo_case_insensitive_and_property_links() -> None:
    model = model_of("tasks-demo")
    assert links_of(model, "Test Data/link_in_task_wikilink_different_case") == [
        ("liNk_in_YaMl", "", "wikilink", "Test Data/link_in_yaml")
    ]
    assert links_of(model, "Test Data/link_in_yaml") == [
        ("yaml_tags_is_empty", "", "property", "Test Data/yaml_tags_is_empty")
    ]


def test_tasks_demo_json_frontmatter() -> None:
    note = model_of("tasks-demo").notes["Test Data/jason_properties"].parsed
    assert note.properties == {"tags": "journal", "publish": False}
    assert note.tag_names == ["journal", "task"]


def test_tasks_demo_check_runs_clean_of_errors() -> None:
    result = CliRunner().invoke(
        cli, ["--vault", str(CORPORA / "tasks-demo"), "check", "--format", "json"]
    )
    problems = json.loads(result.output)["problems"]
    assert result.exit_code == 0
    assert {p["code"] for p in problems} == {"dangling-link", "missing-attachment", "ignored-tags"}
    ignored = [p for p in problems if p["code"] == "ignored-tags"]
    assert [p["note"] for p in ignored] == ["Test Data/yaml_tags_with_two_values_on_one_line"]


def test_kepano_templates_folder_and_property_links() -> None:
    model = model_of("kepano")
    assert len(model.notes) == 103
    assert model.vault.templates_folder == "Templates"
    assert sum(1 for n in model.notes if n.startswith("Templates/")) == 52
    note = model.notes["References/Bass on Top"].parsed
    assert note.properties["created"] == "2023-09-12"  # YAML 1.2: a date stays a string
    assert links_of(model, "References/Bass on Top") == [
        ("Albums", "", "property", "Categories/Albums"),
        ("Jazz", "", "property", "References/Jazz"),
        ("Paul Chambers", "", "property", "References/Paul Chambers"),
    ]


def test_kepano_unquoted_template_placeholders_are_warnings_with_a_fix() -> None:
    result = CliRunner().invoke(
        cli, ["--vault", str(CORPORA / "kepano"), "check", "--format", "json"]
    )
    problems = json.loads(result.output)["problems"]
    invalid = [p for p in problems if p["code"] == "invalid-frontmatter"]
    assert invalid and all(p["note"].startswith("Templates/") for p in invalid)
    assert all(p["severity"] == "warning" and '"{{date}}"' in p["message"] for p in invalid)
    assert result.exit_code == 0


def test_obsidiantools_stub_sussudio() -> None:
    model = model_of("obsidiantools-fixtures/vault-stub")
    assert len(model.notes) == 8
    note = model.notes["Sussudio"].parsed
    assert note.tag_names == [
        "y1982",
        "y_1982",
        "y-1982",
        "y1982/sep",
        "y2000/party-over/oops/out-of-time",
    ]  # not (#y1985 ), #1985, \#hash_char_not_tag, nor the code block's comments
    assert note.properties["year"] == 1985
    assert note.properties["references"] == [[["American Psycho (film)"]], "Polka Party!"]
    assert links_of(model, "Sussudio") == [
        ("Sussudio.mp3", "", "embed", None),
        ("1999.flac", "", "embed", None),
        ("American Psycho (film)", "Patrick Bateman", "wikilink", None),
    ]


@pytest.mark.parametrize("vault", ["kepano", "tasks-demo", "obsidiantools-fixtures"])
def test_every_command_gives_its_answer_on_every_corpus(vault: str) -> None:
    """No experiments in these vaults: the commands must say so, and check and graph must
    cover every note."""
    root = str(CORPORA / vault)
    runner = CliRunner()
    model = model_of(vault)
    assert runner.invoke(cli, ["--vault", root, "lineage"]).output == "No experiments found.\n"
    assert runner.invoke(cli, ["--vault", root, "list"]).output == "No experiments found.\n"
    listed = json.loads(
        runner.invoke(cli, ["--vault", root, "list", "--all", "--format", "json"]).output
    )
    assert len(listed) == sum(1 for n in model.notes.values() if n.parsed.status)
    check = runner.invoke(cli, ["--vault", root, "check"])
    assert check.exit_code in (0, 1) and "Traceback" not in check.output
    assert re.search(
        r"\d+ errors?, \d+ warnings? in \d+ notes?\n$|No problems found\.\n$", check.output
    )
    graph = json.loads(runner.invoke(cli, ["--vault", root, "graph"]).output)
    assert {node["id"] for node in graph["nodes"]} >= set(model.notes)
