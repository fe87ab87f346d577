"""``build``: golden files, user text kept byte for byte, nothing written twice, atomic
writes, stale lineages, canvases that keep what a person moved."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vaultkit.cli import cli
from vaultkit.disk import write as write_module
from vaultkit.disk.write import FileUpdate
from vaultkit.loading import load_snapshot as load_vault
from vaultkit.model.managed import begin_marker, end_marker
from vaultkit.model.vault_model import build_model
from vaultkit.pipeline import Builder, BuildResult
from vaultkit.records import Note

from .conftest import LINEAGE_VAULT, experiment, note_per_lineage, spy, write_vault

GOLDEN = Path(__file__).parent / "golden" / "lineage-vault"
GENERATED = [
    "Experiment Index.md",
    "Lineages/EXP-001 baseline lineage.md",
    "Lineages/EXP-001 baseline lineage.canvas",
    "Lineages/EXP-020 loop a lineage.md",
    "Recipes/EXP-004 merge recipe.md",
]


def build(root: Path) -> BuildResult:
    return Builder(root).build()


def snapshot(root: Path) -> dict[str, tuple[bytes, int]]:
    return {
        p.relative_to(root).as_posix(): (p.read_bytes(), p.stat().st_mtime_ns)
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


@pytest.fixture
def vault(tmp_path: Path) -> Path:
    return write_vault(tmp_path / "vault", dict(LINEAGE_VAULT))


def with_results(previous: str, status: str, metrics: str, setup: str) -> str:
    """An experiment with a Metrics table (value and threshold) and its settings."""
    return (
        f"# Previous experiment\n\n- {previous}\n\n# Model\n\n{setup}\n\n"
        f"# Metrics\n\n| metric | value | threshold |\n|---|---|---|\n{metrics}\n"
        f"---\nStatus: #{status}\n\nTags: #model_training #document\n"
    )


# The lineage vault with results: a metric where higher is better and one where lower
# is, thresholds met and missed, settings that change along the chain, and a merge
# whose parents differ (the chart follows the better parent, EXP-002).
RESULTS_VAULT = {
    **LINEAGE_VAULT,
    "Experiments/EXP-002 mosaic.md": with_results(
        "[[EXP-001 baseline]]",
        "done",
        "| mAP | 0.655 | 0.65 |\n| val loss | 0.91 | 0.9 |\n",
        "- lr: 0.01\n- mosaic p: 1.0",
    ),
    "Experiments/EXP-003 focal.md": with_results(
        "[[EXP-001 baseline]]",
        "writing",
        "| mAP | 0.634 | 0.65 |\n| val loss | 0.85 | 0.9 |\n",
        "- lr: 0.01\n- focal gamma: 1.5",
    ),
    "Experiments/EXP-004 merge.md": with_results(
        "[[EXP-002 mosaic]] and [[EXP-003 focal]]",
        "writing",
        "| mAP | 0.671 | 0.65 |\n| val loss | 0.88 | 0.9 |\n| latency ms | 12.5 | |\n",
        "- lr: 0.005\n- mosaic p: 1.0\n- focal gamma: 1.5",
    ),
}


@pytest.mark.parametrize("path", GENERATED)
def test_golden_files(tmp_path: Path, path: str) -> None:
    vault = write_vault(tmp_path / "vault", RESULTS_VAULT)
    build(vault)
    produced = (vault / path).read_text(encoding="utf-8")
    golden = GOLDEN / path
    if os.environ.get("VAULTKIT_UPDATE_GOLDEN"):
        golden.parent.mkdir(parents=True, exist_ok=True)
        golden.write_text(produced, encoding="utf-8")
    assert produced == golden.read_text(encoding="utf-8")


def test_second_build_writes_nothing(vault: Path) -> None:
    first = build(vault)
    # the index, two lineages' notes and canvases, and the recipe of each one's best
    assert len(first.written) == 7
    before = snapshot(vault)
    second = build(vault)
    assert second.written == [] and second.removed == []
    assert snapshot(vault) == before


def test_generated_notes_are_not_experiments_and_add_no_edges(vault: Path) -> None:
    before = build_model(load_vault(vault))
    build(vault)
    after = build_model(load_vault(vault))
    assert after.experiments == before.experiments
    assert sorted(after.lineage.edges) == sorted(before.lineage.edges)


def test_user_text_around_the_block_is_kept_byte_for_byte(vault: Path) -> None:
    index = vault / "Experiment Index.md"
    mine_before = "\ufeff# Our index\r\n\r\nNotes we keep by hand.  \r\n\r\n"
    mine_after = "\r\n## After\r\nmore text without final newline"
    placeholder = f"{begin_marker('index')}\r\nold\r\n{end_marker('index')}"
    index.write_bytes((mine_before + placeholder + mine_after).encode())
    build(vault)
    text = index.read_bytes().decode()
    assert text.startswith(mine_before + begin_marker("index") + "\r\n# Experiment index\r\n")
    assert text.endswith(end_marker("index") + mine_after)


def test_a_note_without_markers_gets_the_block_appended(vault: Path) -> None:
    index = vault / "Experiment Index.md"
    index.write_text("My own index intro.\n", encoding="utf-8")
    build(vault)
    text = index.read_text(encoding="utf-8")
    assert text.startswith("My own index intro.\n\n" + begin_marker("index") + "\n")
    assert text.endswith(end_marker("index") + "\n")


text_around = st.text(alphabet=st.characters(exclude_categories=["Cs"]), max_size=200).filter(
    lambda t: "vaultkit:" not in t
)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(before=text_around, after=text_around)
def test_any_user_text_survives_build_and_a_second_build_writes_nothing(
    tmp_path_factory: pytest.TempPathFactory, before: str, after: str
) -> None:
    root = write_vault(tmp_path_factory.mktemp("v") / "vault", dict(LINEAGE_VAULT))
    lineage = root / "Lineages" / "EXP-001 baseline lineage.md"
    lineage.parent.mkdir()
    before = before + "\n" if before else ""  # markers count on lines of their own
    after = "\n" + after if after else ""
    block = f"{begin_marker('lineage')}\nstale\n{end_marker('lineage')}"
    lineage.write_bytes((before + block + after).encode("utf-8"))
    build(root)
    data = lineage.read_bytes().decode("utf-8")
    assert data.startswith(before + begin_marker("lineage"))
    assert data.endswith(end_marker("lineage") + after)
    state = snapshot(root)
    assert build(root).written == []
    assert snapshot(root) == state


def test_a_marker_inside_a_line_is_text_not_a_marker(vault: Path) -> None:
    index = vault / "Experiment Index.md"
    mine = f"We keep {end_marker('index')} here as an example.\n"
    index.write_text(mine, encoding="utf-8")
    build(vault)
    text = index.read_text(encoding="utf-8")
    assert text.startswith(mine + "\n" + begin_marker("index") + "\n")


def test_broken_markers_leave_the_note_alone_and_say_why(vault: Path) -> None:
    index = vault / "Experiment Index.md"
    broken = f"{end_marker('index')}\nmine\n{begin_marker('index')}\n"
    index.write_text(broken, encoding="utf-8")
    result = CliRunner().invoke(cli, ["--vault", str(vault), "build"])
    assert result.exit_code == 1  # the index is out of date: say so
    assert index.read_text(encoding="utf-8") == broken
    assert "Error: Experiment Index.md: the 'index' block markers are broken" in result.output


def test_a_failed_write_leaves_the_old_file_intact(
    vault: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    build(vault)
    index = vault / "Experiment Index.md"
    old = index.read_bytes()
    (vault / "Experiments" / "EXP-009 new.md").write_text(experiment("[[EXP-004 merge]]", "done"))

    def broken_replace(source: Path, target: Path) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", broken_replace)
    result = build(vault)
    assert (
        "Experiment Index.md",
        "could not be written: the disk is full; free some space and run again",
    ) in result.failed
    assert index.read_bytes() == old
    leftovers = [p for p in vault.rglob("*") if p.name.endswith(".vaultkit-tmp")]
    assert leftovers == []
    monkeypatch.undo()
    assert "Experiment Index.md" in build(vault).written
    assert "[[EXP-009 new]]" in index.read_text()


def test_a_failed_sync_to_disk_leaves_the_old_files_and_no_temporary_ones(
    vault: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    build(vault)
    index = vault / "Experiment Index.md"
    old = index.read_bytes()
    (vault / "Experiments" / "EXP-009 new.md").write_text(experiment("[[EXP-004 merge]]", "done"))
    real_fsync = os.fsync

    def failing_fsync(fd: int) -> None:
        real_fsync(fd)
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(os, "fsync", failing_fsync)
    result = build(vault)
    assert dict(result.failed)["Experiment Index.md"] == (
        "could not be written: the disk reported an input/output error; check the disk"
    )
    assert index.read_bytes() == old
    assert not [p for p in vault.rglob("*") if p.name.endswith(".vaultkit-tmp")]


def test_dry_run_prints_a_diff_and_writes_nothing(vault: Path) -> None:
    before = snapshot(vault)
    result = CliRunner().invoke(cli, ["--vault", str(vault), "build", "--dry-run"])
    assert result.exit_code == 0
    assert "--- /dev/null\n+++ b/Experiment Index.md\n" in result.output
    assert "+| [[EXP-004 merge]] | [[EXP-002 mosaic]], [[EXP-003 focal]] |" in result.output
    assert snapshot(vault) == before
    build(vault)
    again = CliRunner().invoke(cli, ["--vault", str(vault), "build", "--dry-run"])
    assert again.output == "Nothing to change.\n"


def test_a_lineage_that_disappears_leaves_no_stale_note(vault: Path) -> None:
    note_per_lineage(vault)
    build(vault)
    stale = vault / "Lineages" / "EXP-005 dangling lineage.md"
    assert stale.exists()
    (vault / "Experiments" / "EXP-005 dangling.md").unlink()
    report = build(vault)
    assert sorted(report.removed) == [
        "Lineages/EXP-005 dangling lineage.canvas",
        "Lineages/EXP-005 dangling lineage.md",
        "Recipes/EXP-005 dangling recipe.md",  # its recipe goes with it
    ]
    assert not stale.exists()


def test_new_settings_in_the_same_build_still_remove_the_stale_lineage(vault: Path) -> None:
    note_per_lineage(vault)
    build(vault)
    stale = vault / "Lineages" / "EXP-005 dangling lineage.md"
    (vault / "Experiments" / "EXP-005 dangling.md").unlink()
    (vault / ".obsidian").mkdir(exist_ok=True)
    (vault / ".obsidian" / "app.json").write_text('{"newLinkFormat": "absolute"}')
    report = build(vault)
    assert "Lineages/EXP-005 dangling lineage.md" in report.removed
    assert not stale.exists() and not report.left_alone


def test_a_stale_lineage_note_with_user_text_is_kept_with_a_notice(vault: Path) -> None:
    note_per_lineage(vault)
    build(vault)
    stale = vault / "Lineages" / "EXP-005 dangling lineage.md"
    stale.write_text("My analysis of this line.\n\n" + stale.read_text(encoding="utf-8"))
    canvas = vault / "Lineages" / "EXP-005 dangling lineage.canvas"
    data = json.loads(canvas.read_text())
    data["nodes"].append(
        {"id": "mycard", "type": "text", "text": "keep", "x": 0, "y": 0, "width": 10, "height": 10}
    )
    canvas.write_text(json.dumps(data))
    laid_out = canvas.read_bytes()
    (vault / "Experiments" / "EXP-005 dangling.md").unlink()
    report = build(vault)
    assert report.removed == ["Recipes/EXP-005 dangling recipe.md"]  # nobody wrote in it
    text = stale.read_text(encoding="utf-8")
    assert text.startswith("My analysis of this line.\n\n" + begin_marker("lineage"))
    assert "This lineage no longer exists" in text
    assert canvas.read_bytes() == laid_out  # the person's layout: left as it is, and said so
    assert [p for p, _ in report.left_alone] == ["Lineages/EXP-005 dangling lineage.canvas"]


def test_users_own_notes_in_the_lineage_folder_are_left_alone(vault: Path) -> None:
    mine = write_vault(vault, {"Lineages/My notes.md": "# Thoughts\n"})
    build(mine)
    assert (vault / "Lineages" / "My notes.md").read_text() == "# Thoughts\n"


def test_canvas_keeps_moved_nodes_and_user_cards(vault: Path) -> None:
    build(vault)
    canvas_path = vault / "Lineages" / "EXP-001 baseline lineage.canvas"
    canvas = json.loads(canvas_path.read_text())
    moved = canvas["nodes"][1]
    moved["x"], moved["y"] = -777, 555
    canvas["nodes"].append(
        {"id": "note1", "type": "text", "text": "ideas", "x": 5, "y": 5, "width": 100, "height": 60}
    )
    canvas["edges"].append({"id": "e-mine", "fromNode": "note1", "toNode": moved["id"]})
    canvas_path.write_text(json.dumps(canvas))
    (vault / "Experiments" / "EXP-009 new.md").write_text(experiment("[[EXP-004 merge]]", "done"))
    build(vault)
    after = json.loads(canvas_path.read_text())
    by_id = {n["id"]: n for n in after["nodes"]}
    assert (by_id[moved["id"]]["x"], by_id[moved["id"]]["y"]) == (-777, 555)
    assert by_id["note1"]["text"] == "ideas"
    assert any(e["id"] == "e-mine" for e in after["edges"])
    assert any(n.get("file") == "Experiments/EXP-009 new.md" for n in after["nodes"])


def test_a_canvas_already_there_is_rendered_once_per_build(
    vault: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from vaultkit.output import render

    build(vault)
    rendered: list[int] = []
    real = render.lineage_canvas
    monkeypatch.setattr(render, "lineage_canvas", spy(real, lambda layout, i: rendered.append(i)))
    (vault / "Experiments" / "EXP-009 new.md").write_text(experiment("[[EXP-004 merge]]", "done"))
    build(vault)
    assert len(rendered) == 1  # its lineage's canvas, merged and its digest learnt from one


def test_canvas_is_json_canvas_1_0(vault: Path) -> None:
    build(vault)
    canvas = json.loads((vault / "Lineages" / "EXP-001 baseline lineage.canvas").read_text())
    ids = [n["id"] for n in canvas["nodes"]] + [e["id"] for e in canvas["edges"]]
    assert len(ids) == len(set(ids))
    for node in canvas["nodes"]:
        assert node["type"] == "file" and node["file"].endswith(".md")
        assert all(isinstance(node[k], int) for k in ("x", "y", "width", "height"))
    node_ids = {n["id"] for n in canvas["nodes"]}
    assert all(e["fromNode"] in node_ids and e["toNode"] in node_ids for e in canvas["edges"])


def test_writes_never_leave_the_vault(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    root = write_vault(tmp_path / "vault", dict(LINEAGE_VAULT))
    os.symlink(outside, root / "Lineages")
    result = CliRunner().invoke(cli, ["--vault", str(root), "build"])
    assert result.exit_code == 1
    assert "outside the vault" in result.output
    assert list(outside.iterdir()) == []


def test_config_moves_the_index_and_lineage_folder(vault: Path) -> None:
    write_vault(
        vault,
        {
            ".vaultkit/config.toml": 'index_note = "Meta/All experiments"\n'
            'lineage_folder = "Meta/Lines"\n'
        },
    )
    report = build(vault)
    assert "Meta/All experiments.md" in report.written
    assert "Meta/Lines/EXP-001 baseline lineage.md" in report.written


def test_bad_config_names_the_file_and_key(vault: Path) -> None:
    write_vault(vault, {".vaultkit/config.toml": "index = 3\n"})
    result = CliRunner().invoke(cli, ["--vault", str(vault), "build"])
    assert result.exit_code == 1
    assert result.output.startswith("Error: .vaultkit/config.toml: unknown key 'index'")


def test_a_big_build_lists_twenty_files_and_counts_the_rest(tmp_path: Path) -> None:
    root = write_vault(
        tmp_path / "v", {f"EXP-{i:03d}.md": experiment("none", "done") for i in range(15)}
    )
    note_per_lineage(root)
    lines = CliRunner().invoke(cli, ["--vault", str(root), "build"]).output.splitlines()
    assert lines[:2] == ["wrote   Experiment Index.md", "wrote   Lineages/EXP-000 lineage.canvas"]
    assert len([line for line in lines if line.startswith("wrote")]) == 20
    assert lines[-2:] == ["… and 26 more", "46 written, 0 removed, 0 unchanged"]


def test_removing_a_stale_lineage_note_that_is_a_link_keeps_the_file_it_points_to(
    vault: Path,
) -> None:
    note_per_lineage(vault)
    build(vault)
    stale = vault / "Lineages" / "EXP-005 dangling lineage.md"
    kept = vault / "Archive" / "kept copy.md"
    kept.write_bytes(stale.read_bytes())
    stale.unlink()
    stale.symlink_to(kept)
    (vault / "Experiments" / "EXP-005 dangling.md").unlink()
    build(vault)
    assert not stale.exists() and not stale.is_symlink()
    assert kept.exists()


def test_each_file_reaches_the_disk_before_it_is_renamed_and_its_folder_after(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "same.md").write_bytes(b"same")
    events: list[tuple[str, object]] = []
    real_fsync, real_replace = os.fsync, os.replace
    monkeypatch.setattr(
        os,
        "fsync",
        spy(real_fsync, lambda fd: events.append(("fsync", os.path.isdir(f"/proc/self/fd/{fd}")))),
    )
    monkeypatch.setattr(
        os,
        "replace",
        spy(real_replace, lambda a, b: events.append(("rename", Path(b).name))),
    )
    updates: dict[str, FileUpdate] = {
        p: (lambda data: lambda current: data)(d)
        for p, d in {"a.md": b"A", "sub/b.md": b"B", "same.md": b"same"}.items()
    }
    outcome = write_module.update_files(tmp_path, updates)
    assert outcome.written == ["a.md", "sub/b.md"] and outcome.unchanged == ["same.md"]
    assert events == [
        ("fsync", False),
        ("fsync", False),
        ("rename", "a.md"),
        ("rename", "b.md"),
        ("fsync", True),
        ("fsync", True),
    ]
    assert (tmp_path / "sub" / "b.md").read_bytes() == b"B"


class RecordingNotes(dict[str, Note]):
    """The model's notes, recording which ones are read."""

    def __init__(self, notes: dict[str, Note]) -> None:
        super().__init__(notes)
        self.read: set[str] = set()

    def __getitem__(self, key: str) -> Note:
        self.read.add(key)
        return super().__getitem__(key)

    def get(self, key: str, default: Note | None = None) -> Note | None:  # type: ignore[override]
        if key in self:
            self.read.add(key)
        return super().get(key, default)


def test_a_row_or_lineage_note_reads_no_note_its_inputs_do_not_name(vault: Path) -> None:
    """What an index row or a lineage note is made of must be in its inputs
    (pipeline.row_inputs, lineage_inputs), or a kept text goes stale. A row's inputs
    name its note (by stat key), its parents (by path) and the notes its Previous
    experiment links to (whether they are experiments); a lineage's, its members. So a
    renderer that starts to read any other note (a child's status, a sibling's metrics)
    fails here until its inputs say so."""
    from vaultkit.model.check import NoteProblems
    from vaultkit.obsidian.links import link_style
    from vaultkit.output import render

    model = build_model(load_vault(vault), all_links=False)
    layout = render.Layout(model, model.lineages(), link_style(model.vault.app_settings))
    problems = NoteProblems(model)
    recording = RecordingNotes(model.notes)
    model.notes = recording
    for note in sorted(model.experiments):
        recording.read.clear()
        render.index_row(layout, note, problems)
        previous = {r.target for r in model.links.get(note, []) if r.link.role == "previous"}
        assert recording.read <= {note, *model.parents(note), *previous}, note
    for number in layout.lineage_paths:
        lineage = layout.lineages[number]
        recording.read.clear()
        render.lineage_note(layout, number)
        render.lineage_canvas(layout, number)
        assert recording.read <= set(lineage.members), lineage.members


def test_with_absolute_links_the_index_shows_each_notes_name(tmp_path: Path) -> None:
    """`newLinkFormat: absolute`: links in vaultkit's tables carry the path and show the
    name (a table of whole paths is unreadable); a person's note gets links as Obsidian
    writes them."""
    vault = write_vault(
        tmp_path / "vault",
        {
            ".obsidian/app.json": '{"newLinkFormat": "absolute"}',
            "04_Projects/Crack detection/Crack baseline.md": experiment("none", "done"),
            "04_Projects/Crack detection/Crack focal loss.md": experiment(
                "[[04_Projects/Crack detection/Crack baseline]]", "writing"
            ),
        },
    )
    build(vault)
    index = (vault / "Experiment Index.md").read_text(encoding="utf-8")
    row = next(line for line in index.splitlines() if "Crack focal loss" in line)
    assert row.startswith(
        "| [[04_Projects/Crack detection/Crack focal loss\\|Crack focal loss]] "
        "| [[04_Projects/Crack detection/Crack baseline\\|Crack baseline]] "
    )
    model = build_model(load_vault(vault))
    linked = {r.target for r in model.links["Experiment Index"] if r.target}
    assert "04_Projects/Crack detection/Crack focal loss" in linked


def test_single_lineages_as_one_table(tmp_path: Path) -> None:
    """`single_lineages = "table"`: experiments alone in their lineage get no note each,
    but one table in the index; a lineage of two keeps its note. Switching back and forth
    removes and brings back exactly vaultkit's own notes."""
    vault = write_vault(
        tmp_path / "vault",
        {
            ".obsidian/app.json": "{}",
            ".vaultkit/config.toml": 'single_lineages = "table"\n',
            "Experiments/EXP-001 base.md": experiment("none", "done"),
            "Experiments/EXP-002 next.md": experiment("[[EXP-001 base]]", "writing"),
            "Experiments/EXP-007 alone.md": experiment("none", "done"),
            "Experiments/EXP-009 also alone.md": experiment("none", "pending"),
        },
    )
    build(vault)
    assert sorted(p.name for p in (vault / "Lineages").iterdir()) == [
        "EXP-001 base lineage.canvas",
        "EXP-001 base lineage.md",
    ]
    index = (vault / "Experiment Index.md").read_text(encoding="utf-8")
    assert (
        "## Unlinked experiments (2)\n\n"
        "No previous experiment and none that follows: each is a lineage of its own.\n\n"
        "| experiment | status | mAP |\n|---|---|---|\n"
        "| [[EXP-007 alone]] | done | 0.61 |\n"
        "| [[EXP-009 also alone]] | pending | 0.61 |\n"
    ) in index
    best = index[index.index("## Best of each lineage") : index.index("## Unlinked")]
    assert "EXP-007" not in best and "[[EXP-001 base lineage]]" in best
    row = next(line for line in index.splitlines() if line.startswith("| [[EXP-007 alone]] | —"))
    assert row.startswith("| [[EXP-007 alone]] | — | — |")  # no previous, no lineage note
    (vault / ".vaultkit" / "config.toml").write_text('single_lineages = "notes"\n')
    build(vault)
    assert (vault / "Lineages" / "EXP-007 alone lineage.md").exists()
    (vault / ".vaultkit" / "config.toml").write_text('single_lineages = "table"\n')
    build(vault)
    assert not (vault / "Lineages" / "EXP-007 alone lineage.md").exists()
    assert not (vault / "Lineages" / "EXP-007 alone lineage.canvas").exists()
