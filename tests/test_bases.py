"""The Bases view and vaultkit's properties (`properties_sync`): the `.base` file follows
Obsidian's documented syntax, each experiment's properties say what its note says, every
other byte of the note stays, and a person's edits win."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from vaultkit.create import demo_vault
from vaultkit.errors import ConfigError
from vaultkit.model.config import parse_config
from vaultkit.model.reading import parse_note
from vaultkit.output.edit import set_properties
from vaultkit.pipeline import Builder
from vaultkit.records import is_synced

from .conftest import LINEAGE_VAULT, run, write_vault
from .test_safety import edit_between_read_and_rename

GOLDEN = Path(__file__).parent / "golden" / "bases"
CONFIG = ".vaultkit/config.toml"

# What Obsidian's Bases syntax documents (help.obsidian.md, "Bases syntax", "Functions",
# "Views"; docs/bases.md): the keys of a `.base` file and of a view, the filter forms, the
# file properties, the functions and the default summaries.
TOP_KEYS = {"filters", "formulas", "properties", "summaries", "views"}
VIEW_KEYS = {"type", "name", "limit", "groupBy", "filters", "order", "sort", "summaries"}
VIEW_TYPES = {"table", "cards", "list", "map"}
FILTER_KEYS = {"and", "or", "not"}
FILE_PROPERTIES = {
    "file.name",
    "file.basename",
    "file.path",
    "file.folder",
    "file.ext",
    "file.size",
    "file.ctime",
    "file.mtime",
    "file.tags",
    "file.links",
    "file.backlinks",
    "file.embeds",
    "file.properties",
    "file.file",
}
FUNCTIONS = {
    "file.hasProperty",
    "file.hasTag",
    "file.hasLink",
    "file.inFolder",
    "file.asLink",
    "if",
    "now",
    "today",
    "date",
    "duration",
    "link",
    "list",
    "number",
    "max",
    "min",
    "image",
    "icon",
    "html",
    "escapeHTML",
}
SUMMARIES = {
    "Average",
    "Min",
    "Max",
    "Sum",
    "Range",
    "Median",
    "Stddev",
    "Earliest",
    "Latest",
    "Checked",
    "Unchecked",
    "Empty",
    "Filled",
    "Unique",
}
DIRECTIONS = {"ASC", "DESC"}


def expressions(filters: Any) -> list[str]:
    """Every expression of a filter: a string, or exactly one of and / or / not over a
    list of filters."""
    if isinstance(filters, str):
        return [filters]
    assert isinstance(filters, dict) and len(filters) == 1, filters
    ((key, items),) = filters.items()
    assert key in FILTER_KEYS and isinstance(items, list) and items, filters
    return [e for item in items for e in expressions(item)]


def check_base(text: str) -> set[str]:
    """Assert ``text`` is a `.base` file by the documented syntax; -> the note properties
    it uses."""
    data = yaml.safe_load(text)
    assert isinstance(data, dict) and set(data) <= TOP_KEYS and data["views"]
    used: set[str] = set()

    def prop(name: str) -> None:
        if name.startswith("note."):
            used.add(name.removeprefix("note."))
        elif name.startswith("formula."):
            assert name.removeprefix("formula.") in data.get("formulas", {}), name
        else:
            assert name in FILE_PROPERTIES, name

    def expression(text: str) -> None:
        for function in re.findall(r"([A-Za-z_][\w.]*)\(", text):
            assert function in FUNCTIONS, f"{function}() is no documented Bases function"
        for name in re.findall(r"\b((?:note|file|formula)\.\w+)\b(?!\()", text):
            prop(name)
        for name in re.findall(r'hasProperty\("([^"]+)"\)', text):
            used.add(name)

    for e in expressions(data.get("filters", {"and": ["true"]})):
        expression(e)
    for name, settings in data.get("properties", {}).items():
        assert set(settings) <= {"displayName"} and isinstance(settings["displayName"], str)
        used.add(name)
    for view in data["views"]:
        assert set(view) <= VIEW_KEYS and view["type"] in VIEW_TYPES, view
        assert isinstance(view["name"], str) and view["name"]
        for e in expressions(view.get("filters", {"and": ["true"]})):
            expression(e)
        for name in view["order"]:
            prop(name)
        group = view.get("groupBy")
        if group is not None:
            assert set(group) == {"property", "direction"} and group["direction"] in DIRECTIONS
            prop(group["property"])
        for order in view.get("sort", []):
            assert set(order) == {"property", "direction"} and order["direction"] in DIRECTIONS
            prop(order["property"])
        for name, summary in view.get("summaries", {}).items():
            prop(name)
            assert summary in SUMMARIES or summary in data.get("summaries", {}), summary
    return used


@pytest.fixture
def demo(tmp_path: Path) -> Path:
    demo_vault(tmp_path / "demo")
    Builder(tmp_path / "demo").build()
    return tmp_path / "demo"


def properties_of(path: Path) -> dict[str, Any]:
    return {
        k: v
        for k, v in parse_note(path.read_text(encoding="utf-8")).properties.items()
        if is_synced(k)
    }


def test_the_demos_base_file_follows_the_documented_syntax(demo: Path) -> None:
    text = (demo / "Experiments.base").read_text(encoding="utf-8")
    golden = GOLDEN / "demo Experiments.base"
    if os.environ.get("VAULTKIT_UPDATE_GOLDEN"):
        golden.parent.mkdir(parents=True, exist_ok=True)
        golden.write_text(text, encoding="utf-8")
    assert text == golden.read_text(encoding="utf-8")
    used = check_base(text)
    written = set().union(*(properties_of(p) for p in (demo / "Experiments").glob("*.md")))
    assert used == written  # every property the view shows is one vaultkit keeps
    views = {view["name"]: view for view in yaml.safe_load(text)["views"]}
    assert list(views) == ["By status", "Writing queue", "Ranked by mAP@0.5"]
    ranked = views["Ranked by mAP@0.5"]
    assert ranked["sort"] == [{"property": "note.vaultkit_metric_map_0_5", "direction": "DESC"}]
    assert ranked["summaries"] == {"note.vaultkit_metric_map_0_5": "Max"}


def test_a_metric_where_lower_is_better_ranks_upwards(tmp_path: Path) -> None:
    vault = write_vault(tmp_path / "v", dict(LINEAGE_VAULT))
    (vault / CONFIG).parent.mkdir(exist_ok=True)
    (vault / CONFIG).write_text('properties_sync = true\nlineage_metric = "latency ms"\n')
    note = vault / "Experiments" / "EXP-002 mosaic.md"
    note.write_text(note.read_text() + "\n# Result\n\n- latency ms: 12\n")
    Builder(vault).build()
    views = yaml.safe_load((vault / "Experiments.base").read_text())["views"]
    ranked = views[-1]
    assert ranked["name"] == "Ranked by latency ms"
    assert ranked["sort"] == [{"property": "note.vaultkit_metric_latency_ms", "direction": "ASC"}]
    assert ranked["summaries"] == {"note.vaultkit_metric_latency_ms": "Min"}
    check_base((vault / "Experiments.base").read_text())


def test_each_experiment_holds_what_its_note_says(demo: Path) -> None:
    merge = demo / "Experiments" / "EXP-004 mosaic and focal loss.md"
    assert merge.read_text(encoding="utf-8").startswith(
        "---\n"
        "vaultkit_status: writing\n"
        "vaultkit_previous:\n"
        '  - "[[EXP-002 mosaic augmentation]]"\n'
        '  - "[[EXP-003 focal loss]]"\n'
        'vaultkit_lineage: "[[EXP-001 baseline]]"\n'
        "vaultkit_metric_map_0_5: 0.671\n"
        "vaultkit_metric_crack_recall: 0.66\n"
        "---\n"
        "# Previous experiment\n"
    )
    listed = run(demo, "list", "--format", "json").output
    for row in json.loads(listed):
        held = properties_of(demo / f"{row['path']}")
        assert held["vaultkit_status"] == row["status"]
        if "mAP@0.5" in row["metrics"]:  # the same number in every output
            assert held["vaultkit_metric_map_0_5"] == row["metrics"]["mAP@0.5"]
    assert run(demo, "check", "--format", "json").output.count("property-drift") == 0
    assert run(demo, "build").output == "0 written, 0 removed, 8 unchanged\n"
    assert run(demo, "build").output == "Nothing changed since the last build.\n"


def test_a_property_edited_by_hand_is_drift_and_the_next_build_puts_it_back(demo: Path) -> None:
    note = demo / "Experiments" / "EXP-002 mosaic augmentation.md"
    text = note.read_text(encoding="utf-8")
    note.write_text(text.replace("vaultkit_status: done", "vaultkit_status: writing"))
    result = run(demo, "check", "--experiments")
    assert result.exit_code == 0  # a warning
    assert "  1:     warning property-drift           properties say other than the note: " in (
        result.output
    )
    assert (
        "vaultkit_status is 'writing', the note says 'done'; run vaultkit build to set them "
        "(the note is what counts: to change a value, change the note)"
    ) in " ".join(result.output.split())
    built = run(demo, "build")
    assert "set     vaultkit properties of Experiments/EXP-002 mosaic augmentation.md" in (
        built.output
    )
    assert note.read_text(encoding="utf-8") == text
    assert "property-drift" not in run(demo, "check").output


def test_a_result_changed_in_the_text_moves_the_property(demo: Path) -> None:
    note = demo / "Experiments" / "EXP-003 focal loss.md"
    note.write_text(note.read_text().replace("mAP@0.5 = 0.634", "mAP@0.5 = 0.7"))
    assert "property-drift" in run(demo, "check").output
    Builder(demo).build()
    assert properties_of(note)["vaultkit_metric_map_0_5"] == 0.7
    assert "0.7" in (demo / "Experiment Index.md").read_text()


def test_synced_properties_are_never_read_as_metrics_or_statuses(tmp_path: Path) -> None:
    note = parse_note("---\nvaultkit_metric_map: 0.99\nscore: 0.5\n---\n# Result\n\n- mAP: 0.6\n")
    assert note.metrics == {"mAP": 0.6, "score": 0.5}
    for key, value in [
        ("status_property", '"vaultkit_status"'),
        ("previous_properties", '["previous", "vaultkit_previous"]'),
    ]:
        with pytest.raises(ConfigError, match="a property vaultkit writes"):
            parse_config(f"{key} = {value}\n")


BEFORE_AFTER = [
    # (note, values, the note after)
    (
        "# Body\n",
        {"vaultkit_status": "done"},
        "---\nvaultkit_status: done\n---\n# Body\n",
    ),
    (
        "---\ntitle: 'Quoted: yes'   # a comment\ntags: [a, b]\n---\nbody\n",
        {"vaultkit_status": "done", "vaultkit_metric_map": 0.61},
        "---\ntitle: 'Quoted: yes'   # a comment\ntags: [a, b]\nvaultkit_status: done\n"
        "vaultkit_metric_map: 0.61\n---\nbody\n",
    ),
    (
        '---\r\nvaultkit_status: writing\r\nowner: me\r\nvaultkit_previous:\r\n  - "[[A]]"\r\n'
        "aliases:\r\n  - x\r\n---\r\nbody\r\n",
        {"vaultkit_status": "done", "vaultkit_previous": ["[[B]]", "[[C c]]"]},
        '---\r\nvaultkit_status: done\r\nowner: me\r\nvaultkit_previous:\r\n  - "[[B]]"\r\n'
        '  - "[[C c]]"\r\naliases:\r\n  - x\r\n---\r\nbody\r\n',
    ),
    (  # a vaultkit property with no value any more goes; the person's stay
        "---\nvaultkit_metric_old: 1\nmine: 2\n---\n",
        {"vaultkit_status": "done"},
        "---\nmine: 2\nvaultkit_status: done\n---\n",
    ),
    (  # already so, in another spelling: nothing changes
        '---\nvaultkit_status: "done"\n---\n',
        {"vaultkit_status": "done"},
        '---\nvaultkit_status: "done"\n---\n',
    ),
    (  # values YAML would read as something else are quoted
        "---\n---\n",
        {"vaultkit_status": "true", "vaultkit_lineage": "[[EXP-1: a]]", "vaultkit_metric_x": 1e-05},
        '---\nvaultkit_status: "true"\nvaultkit_lineage: "[[EXP-1: a]]"\nvaultkit_metric_x: 1e-05\n'
        "---\n",
    ),
]


@pytest.mark.parametrize("text, values, expected", BEFORE_AFTER)
def test_set_properties_changes_its_own_properties_and_nothing_else(
    text: str, values: dict[str, Any], expected: str
) -> None:
    assert set_properties(text, values, owned=is_synced) == expected


def test_a_note_whose_properties_cannot_be_read_is_left_alone(demo: Path) -> None:
    assert set_properties("---\nkey: [unclosed\n---\n", {"vaultkit_status": "done"}) is None
    note = demo / "Experiments" / "EXP-003 focal loss.md"
    broken = note.read_text().replace("---\n", "---\nkey: [unclosed\n", 1)
    note.write_text(broken.replace("Status: #done", "Status: #writing"))
    result = Builder(demo).build()
    assert note.read_text() == broken.replace("Status: #done", "Status: #writing")
    assert dict(result.left_alone)["Experiments/EXP-003 focal loss.md"].startswith(
        "its properties are not valid YAML"
    )


def test_an_edit_made_while_the_properties_are_written_is_kept(
    demo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    note = demo / "Experiments" / "EXP-002 mosaic augmentation.md"
    note.write_text(note.read_text().replace("Status: #done", "Status: #writing"))
    done = edit_between_read_and_rename(monkeypatch, note, "\nTyped meanwhile.\n")
    result = Builder(demo).build()
    assert done and "Experiments/EXP-002 mosaic augmentation.md" in result.properties_set
    text = note.read_text()
    assert text.endswith("\nTyped meanwhile.\n") and "vaultkit_status: writing\n" in text


def test_the_base_is_left_to_a_person_who_changed_it(demo: Path) -> None:
    base = demo / "Experiments.base"
    mine = base.read_text().replace("name: Writing queue", "name: My queue")
    base.write_text(mine)
    note = demo / "Experiments" / "EXP-002 mosaic augmentation.md"
    note.write_text(note.read_text() + "\n- latency ms: 11\n")  # a change the view would show
    Builder(demo).build()
    assert base.read_text() == mine
    base.unlink()  # deleted: vaultkit's comes back
    Builder(demo).build()
    assert "name: Writing queue" in base.read_text()


def test_a_base_kept_by_vaultkit_follows_the_settings_and_goes_with_them(demo: Path) -> None:
    config = demo / CONFIG
    config.write_text(config.read_text() + 'index_metrics = ["mAP@0.5"]\n')
    Builder(demo).build()
    text = (demo / "Experiments.base").read_text()
    assert "crack_recall" not in text and "vaultkit_metric_map_0_5" in text
    assert "vaultkit_metric_crack_recall" not in properties_of(
        demo / "Experiments" / "EXP-002 mosaic augmentation.md"
    )
    config.write_text(config.read_text() + "bases = false\n")
    result = Builder(demo).build()
    assert "Experiments.base" in result.removed and not (demo / "Experiments.base").exists()


def test_turning_the_sync_off_leaves_the_notes_as_they_are(demo: Path) -> None:
    notes = {p: p.read_bytes() for p in (demo / "Experiments").glob("*.md")}
    (demo / CONFIG).write_text("properties_sync = false\n")
    Builder(demo).build()
    assert {p: p.read_bytes() for p in notes} == notes
    assert not (demo / "Experiments.base").exists()


def test_a_vault_without_the_setting_gets_no_properties_and_no_base(tmp_path: Path) -> None:
    vault = write_vault(tmp_path / "v", dict(LINEAGE_VAULT))
    before = {p: p.read_bytes() for p in (vault / "Experiments").glob("*.md")}
    Builder(vault).build()
    assert {p: p.read_bytes() for p in before} == before
    assert not (vault / "Experiments.base").exists()
