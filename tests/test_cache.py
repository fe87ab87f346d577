"""The parse cache: reused only while a note is untouched, never trusted when damaged."""

from __future__ import annotations

import os
import pickle
import shutil
import zlib
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from vaultkit.cli import cli
from vaultkit.disk import cache
from vaultkit.disk.read import cache_folder
from vaultkit.disk.write import FileUpdate, Outcome, update_files
from vaultkit.loading import ParseCache, load_notes
from vaultkit.loading import load_snapshot as load_vault
from vaultkit.model.vault_model import build_model
from vaultkit.records import Edge, StatKey

from .conftest import LINEAGE_VAULT, TEAM_RULES, experiment, spy, write_vault

ModelState = tuple[list[str], list[Edge], dict[str, tuple[str | None, list[str]]]]


def model_state(root: Path) -> ModelState:
    model = build_model(load_vault(root))
    return (
        sorted(model.experiments),
        sorted(model.lineage.edges),
        {n: (note.parsed.status, note.parsed.tag_names) for n, note in model.notes.items()},
    )


@pytest.fixture
def vault(tmp_path: Path) -> Path:
    root = write_vault(tmp_path / "vault", dict(LINEAGE_VAULT))
    CliRunner().invoke(cli, ["--vault", str(root), "list"])  # writes the cache
    assert shard_files(root)
    return root


def shard_files(root: Path) -> list[Path]:
    return sorted(cache_folder(root).glob("parse-*.pickle"))


def test_cache_is_used_and_gives_the_same_model(
    vault: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from vaultkit import loading as vault_module

    uncached = model_state(vault)
    parsed = []
    monkeypatch.setattr(vault_module, "read_note", lambda *args: parsed.append(args))
    parses = ParseCache(vault, TEAM_RULES)
    cached = load_vault(vault, parses=parses)
    assert parsed == []  # every note came from the cache
    assert not parses.changed
    monkeypatch.undo()
    assert model_state(vault) == uncached
    fresh = load_vault(vault, parses=_no_cache(vault))
    assert [n.parsed for n in cached.notes.values()] == [n.parsed for n in fresh.notes.values()]


def _no_cache(root: Path) -> ParseCache:
    """A parse cache that has nothing: every note is parsed."""
    parses = ParseCache(root, TEAM_RULES)
    parses._shards = {shard: {} for shard in range(cache.SHARDS)}
    return parses


def test_the_cache_lives_outside_the_vault_keyed_by_its_real_path(
    vault: Path, tmp_path: Path, cache_base: Path
) -> None:
    folder = cache_folder(vault)
    assert folder.parent == cache_base / "vaults"
    assert folder.name.startswith("vault-")
    assert (folder / "vault.txt").read_text() == f"vaultkit's caches of the vault {vault}\n"
    assert not (vault / ".vaultkit").exists()  # `list` wrote nothing into the vault
    linked = tmp_path / "linked"
    linked.symlink_to(vault)
    assert cache_folder(linked) == folder  # another name of the same folder, the same cache
    assert cache_folder(tmp_path) != folder


def test_note_changed_with_size_and_mtime_restored_is_read_again(vault: Path) -> None:
    note = vault / "Experiments" / "EXP-003 focal.md"
    stat = note.stat()
    text = note.read_text()
    changed = text.replace("Status: #writing", "Status: #pausing")
    assert len(changed) == len(text)
    note.write_text(changed)
    os.utime(note, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert (note.stat().st_size, note.stat().st_mtime_ns) == (stat.st_size, stat.st_mtime_ns)
    parses = ParseCache(vault, TEAM_RULES)
    fresh = load_vault(vault, parses=parses)
    assert fresh.notes["Experiments/EXP-003 focal.md"].parsed.status == "pausing"
    assert parses.changed == {cache.shard_of("Experiments/EXP-003 focal.md")}


def framed(payload: bytes) -> bytes:
    """A cache file around ``payload``, checksum included: what only a forger makes."""
    return cache._MAGIC + zlib.crc32(payload).to_bytes(4, "big") + payload


@pytest.mark.parametrize(
    "damage",
    [
        lambda data: b"",
        lambda data: data[: len(data) // 2],  # truncated
        lambda data: data[:40] + b"\x00" * 100 + data[140:],  # corrupt
        lambda data: b"not a cache at all",
        lambda data: data[:-20] + bytes([data[-20] ^ 1]) + data[-19:],  # one bit
        lambda data: framed(pickle.dumps(({"schema": 4, "version": "x"}, {}))),  # older schema
        lambda data: pickle.dumps({"foreign": True}),  # someone else's pickle
    ],
)
def test_damaged_or_old_caches_are_ignored_and_rebuilt(
    vault: Path, damage: Callable[[bytes], bytes]
) -> None:
    expected = model_state(vault)
    for path in shard_files(vault):
        path.write_bytes(damage(path.read_bytes()))
    assert model_state(vault) == expected
    result = CliRunner().invoke(cli, ["--vault", str(vault), "graph"])  # reads every note
    assert result.exit_code == 0
    assert all(cache.decode(path.read_bytes()) for path in shard_files(vault))  # rebuilt


def test_a_changed_note_rewrites_only_its_shard(vault: Path) -> None:
    stamps = {p.name: p.stat().st_mtime_ns for p in shard_files(vault)}
    note = vault / "Experiments" / "EXP-003 focal.md"
    note.write_text(note.read_text() + "\nmore\n")
    CliRunner().invoke(cli, ["--vault", str(vault), "list"])
    changed = [p.name for p in shard_files(vault) if p.stat().st_mtime_ns != stamps[p.name]]
    assert changed == [f"parse-{cache.shard_of('Experiments/EXP-003 focal.md'):02d}.pickle"]


HEADER = {"schema": cache.SCHEMA, "version": __import__("vaultkit").__version__}


def test_a_planted_cache_cannot_run_code(tmp_path: Path) -> None:
    marker = tmp_path / "owned"

    class Planted:
        def __reduce__(self) -> tuple[Callable[[str], int], tuple[str]]:
            return (os.system, (f"touch {marker}",))

    assert cache.decode(framed(pickle.dumps((HEADER, {"x": Planted()})))) is None
    assert not marker.exists()


@pytest.mark.parametrize(
    "entry",
    [
        lambda key: ("not", "an", "entry"),
        lambda key: (key, ("too short",), None),
        lambda key: (key, tuple([{}] + [7] * 16), None),  # records of the wrong type
        lambda key: (key, (), 42),
        lambda key: ("key", (), None),
    ],
)
def test_a_planted_or_damaged_entry_is_ignored_rebuilt_and_said_once(
    vault: Path, entry: Callable[[StatKey], object]
) -> None:
    path = "Experiments/EXP-003 focal.md"
    expected = model_state(vault)
    key = cache.stat_key((vault / path).stat())
    for shard in shard_files(vault):
        rules_key, entries = cache.decode(shard.read_bytes())
        entries[path] = entry(key)
        shard.write_bytes(framed(pickle.dumps((HEADER, (rules_key, entries)), protocol=5)))
    runner = CliRunner()
    first = runner.invoke(cli, ["--vault", str(vault), "build"])
    assert first.exit_code == 0, first.output
    shard = cache_folder(vault) / cache.shard_name(cache.shard_of(path))
    assert (
        f"Note: the parse cache {shard} held an entry that could not be used; vaultkit rebuilt it"
        in first.output
    )
    after = model_state(vault)
    assert after[:2] == expected[:2]
    assert after[2]["Experiments/EXP-003 focal"] == expected[2]["Experiments/EXP-003 focal"]
    again = runner.invoke(cli, ["--vault", str(vault), "list"])
    assert "could not be used" not in again.output  # said once: the shard is whole again


def test_a_cached_parse_is_the_parse(vault: Path) -> None:
    fresh = load_vault(vault, parses=_no_cache(vault))
    cached = load_vault(vault)
    for path, note in cached.notes.items():
        assert note.parsed == fresh.notes[path].parsed
        assert type(note.parsed.links[0]).__name__ == "Link" if note.parsed.links else True
        rebuild = note.parsed.rebuild
        assert rebuild is None or type(rebuild).__name__ == "RebuildFacts"
    assert any(note.parsed.rebuild for note in cached.notes.values())


def test_cache_round_trip_keeps_unreadable_note_problems(tmp_path: Path) -> None:
    root = write_vault(
        tmp_path / "v", {"bad.md": "caf\xe9".encode("latin-1"), "ok.md": experiment("x", "done")}
    )
    CliRunner().invoke(cli, ["--vault", str(root), "list"])
    parses = ParseCache(root, TEAM_RULES)
    second = load_vault(root, parses=parses)
    assert not parses.changed
    assert [(p.code, p.note) for p in second.problems] == [("unreadable-note", "bad")]


def test_unchanged_vault_skips_the_build_and_a_change_does_not(vault: Path) -> None:
    runner = CliRunner()
    first = runner.invoke(cli, ["--vault", str(vault), "build"])
    assert "written" in first.output
    again = runner.invoke(cli, ["--vault", str(vault), "build"])
    assert again.output == "Nothing changed since the last build.\n"
    (vault / "Experiments" / "EXP-050 new.md").write_text(experiment("[[EXP-004 merge]]", "done"))
    third = runner.invoke(cli, ["--vault", str(vault), "build"])
    assert "wrote   Experiment Index.md" in third.output
    (vault / ".obsidian" / "app.json").write_text('{"newLinkFormat": "absolute"}')
    fourth = runner.invoke(cli, ["--vault", str(vault), "build"])
    # the name is taken twice now: the link carries the folder, and shows the name
    index = (vault / "Experiment Index.md").read_text()
    assert "[[Experiments/EXP-050 new\\|EXP-050 new]]" in index
    assert "wrote   Experiment Index.md" in fourth.output


def test_kept_lineage_notes_are_rendered_again_when_a_file_changes_their_links(vault: Path) -> None:
    runner = CliRunner()
    runner.invoke(cli, ["--vault", str(vault), "build"])
    lineage = vault / "Lineages" / "EXP-001 baseline lineage.md"
    assert "[[EXP-002 mosaic]]" in lineage.read_text()
    # a second note of the same name: links must now carry the folder
    (vault / "Archive").mkdir(exist_ok=True)
    (vault / "Archive" / "EXP-002 mosaic.md").write_text("# old copy\n")
    runner.invoke(cli, ["--vault", str(vault), "build"])
    assert "[[Experiments/EXP-002 mosaic\\|EXP-002 mosaic]]" in lineage.read_text()


def test_a_lineage_note_deleted_by_hand_comes_back(vault: Path) -> None:
    runner = CliRunner()
    runner.invoke(cli, ["--vault", str(vault), "build"])
    lineage = vault / "Lineages" / "EXP-001 baseline lineage.md"
    lineage.unlink()
    result = runner.invoke(cli, ["--vault", str(vault), "build"])
    assert "wrote   Lineages/EXP-001 baseline lineage.md" in result.output
    assert lineage.exists()


def test_unchanged_lineages_are_not_rendered_again_by_the_next_build(
    vault: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    runner = CliRunner()
    runner.invoke(cli, ["--vault", str(vault), "build"])
    _, rendered = _record_rendering(monkeypatch)
    note = vault / "Experiments" / "EXP-004 merge.md"
    note.write_text(note.read_text().replace("Status: #writing", "Status: #done"))
    result = runner.invoke(cli, ["--vault", str(vault), "build"])
    assert "wrote   Lineages/EXP-001 baseline lineage.md" in result.output
    assert len(rendered) == 1  # only the lineage that holds the changed note


def test_a_note_edited_while_the_build_runs_is_read_by_the_next_build(
    vault: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from vaultkit import pipeline

    real = update_files
    note = vault / "Experiments" / "EXP-003 focal.md"

    def edit_then_write(
        root: Path, updates: dict[str, FileUpdate], dry_run: bool = False
    ) -> Outcome:
        note.write_text(note.read_text() + "\nLate edit.\n")
        return real(root, updates, dry_run=dry_run)

    monkeypatch.setattr(pipeline, "update_files", edit_then_write)
    runner = CliRunner()
    runner.invoke(cli, ["--vault", str(vault), "build"])
    monkeypatch.undo()
    again = runner.invoke(cli, ["--vault", str(vault), "build"])
    assert again.output != "Nothing changed since the last build.\n"
    third = runner.invoke(cli, ["--vault", str(vault), "build"])
    assert third.output == "Nothing changed since the last build.\n"


def test_worker_processes_read_what_one_process_reads_and_make_the_same_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from vaultkit import loading as vault_module

    files: dict[str, str | bytes] = dict(LINEAGE_VAULT)
    files["bad.md"] = "caf\xe9 #model_training".encode("latin-1")
    files["binary.md"] = b"\x00\x01"
    root = write_vault(tmp_path / "v", files)
    serial_cache = _no_cache(root)
    serial = load_vault(root, parses=serial_cache)
    monkeypatch.setattr(vault_module, "PARALLEL_THRESHOLD", 1)
    parallel_cache = _no_cache(root)
    parallel = load_vault(root, parses=parallel_cache)
    assert list(parallel.notes) == list(serial.notes)
    assert [n.parsed for n in parallel.notes.values()] == [n.parsed for n in serial.notes.values()]
    assert parallel.problems == serial.problems
    assert parallel.files == serial.files
    listing = {p: n.stat_key for p, n in serial.notes.items()}
    saved = serial_cache.files_to_save(listing)
    assert {p: cache.decode(d) for p, d in parallel_cache.files_to_save(listing).items()} == {
        p: cache.decode(d) for p, d in saved.items()
    }


def test_a_cold_build_saves_each_workers_parses_as_they_come_and_keeps_none(
    vault: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A worker's shard file goes to the cache folder as soon as it comes back (a first
    build need not hold a vault's parses twice); the next build reads them and parses
    nothing. A dry run saves nothing."""
    from vaultkit import loading as vault_module

    monkeypatch.setattr(vault_module, "PARALLEL_THRESHOLD", 1)
    handed: dict[str, bytes] = {}
    parses = _no_cache(vault)
    parses.save = handed.update
    snapshot = load_vault(vault, parses=parses)
    listing = {p: n.stat_key for p, n in snapshot.notes.items()}
    assert parses.files_to_save(listing) == {}  # none kept
    serial = _no_cache(vault)
    monkeypatch.setattr(vault_module, "PARALLEL_THRESHOLD", 10**9)
    load_vault(vault, parses=serial)
    assert {p: cache.decode(d) for p, d in handed.items()} == {
        p: cache.decode(d) for p, d in serial.files_to_save(listing).items()
    }

    monkeypatch.setattr(vault_module, "PARALLEL_THRESHOLD", 1)
    runner = CliRunner()
    shutil.rmtree(cache_folder(vault))  # the fixture's `list` made it
    assert runner.invoke(cli, ["--vault", str(vault), "build", "--dry-run"]).exit_code == 0
    assert not cache_folder(vault).exists()
    runner.invoke(cli, ["--vault", str(vault), "build"])
    assert sorted(p.name for p in cache_folder(vault).glob("parse-*")) == sorted(handed)
    (cache_folder(vault) / cache.STATE_NAME).unlink()  # every note is looked at again
    parsed = _record_parses(monkeypatch)
    assert runner.invoke(cli, ["--vault", str(vault), "build"]).exit_code == 0
    assert parsed == []


def test_once_read_the_parses_are_held_as_records_only(vault: Path) -> None:
    """A build after one change decodes every shard: what no parse changed is not kept
    decoded beside the notes' records, and is read again from its file if asked for."""
    parses = ParseCache(vault, TEAM_RULES)
    snapshot = load_vault(vault, parses=parses)
    by_shard = {cache.shard_of(path): path for path in snapshot.notes}
    first, second = list(by_shard.values())[:2]
    found = parses.get(first, snapshot.notes[first].stat_key)
    assert found is not None and found[0] == snapshot.notes[first].parsed  # from its file
    for shard in shard_files(vault):
        shard.unlink()
    assert parses.get(second, snapshot.notes[second].stat_key) is None  # nothing held


def _remark_on_the_same_day(note: Path) -> None:
    """Change a note without changing any generated note (its "last change" day stays)."""
    mtime = note.stat().st_mtime_ns
    note.write_text(note.read_text() + "\nOne more remark.\n")
    os.utime(note, ns=(mtime, mtime))


def _record_parses(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The notes read and parsed from here on (their vault paths)."""
    from vaultkit import loading as vault_module

    real_read = vault_module.read_note
    parsed: list[str] = []
    monkeypatch.setattr(
        vault_module,
        "read_note",
        spy(real_read, lambda root, path, *rules: parsed.append(path)),
    )
    return parsed


def test_build_never_parses_the_notes_it_generates(
    vault: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    runner = CliRunner()
    runner.invoke(cli, ["--vault", str(vault), "build"])
    note = vault / "Experiments" / "EXP-002 mosaic.md"
    note.write_text(note.read_text().replace("Status: #done", "Status: #paused"))
    assert (
        "wrote   Experiment Index.md" in runner.invoke(cli, ["--vault", str(vault), "build"]).output
    )
    _remark_on_the_same_day(note)
    (cache_folder(vault) / cache.STATE_NAME).unlink()  # no last build to go by: every note is read
    parsed = _record_parses(monkeypatch)
    result = runner.invoke(cli, ["--vault", str(vault), "build"])
    assert "0 written" in result.output
    assert parsed == ["Experiments/EXP-002 mosaic.md"]  # not the index the last build wrote


def test_the_cache_entries_of_generated_notes_outlive_a_build(
    vault: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    runner = CliRunner()
    runner.invoke(cli, ["--vault", str(vault), "build"])
    runner.invoke(cli, ["--vault", str(vault), "check"])  # caches the index note's parse
    note = vault / "Experiments" / "EXP-002 mosaic.md"
    _remark_on_the_same_day(note)
    runner.invoke(cli, ["--vault", str(vault), "build"])
    parsed = _record_parses(monkeypatch)
    runner.invoke(cli, ["--vault", str(vault), "check"])
    assert parsed == []


# -- a build after changes that cannot change what it writes -----------------------------


def _build(root: Path) -> str:
    result = CliRunner().invoke(cli, ["--vault", str(root), "build"])
    assert result.exit_code == 0, result.output
    return result.output


def _generated(root: Path) -> dict[str, bytes]:
    files = {"Experiment Index.md": (root / "Experiment Index.md").read_bytes()}
    for path in sorted((root / "Lineages").rglob("*")):
        if path.is_file():
            files[path.relative_to(root).as_posix()] = path.read_bytes()
    return files


def _full_build_of_a_copy(root: Path, tmp_path: Path) -> dict[str, bytes]:
    import shutil

    copy = tmp_path / f"copy-{len(list(tmp_path.iterdir()))}"
    shutil.copytree(root, copy)
    shutil.rmtree(copy / ".vaultkit", ignore_errors=True)
    _build(copy)
    return _generated(copy)


def test_a_changed_note_that_is_no_experiment_writes_nothing_and_reads_one_note(
    vault: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _build(vault)
    before = _generated(vault)
    tips = vault / "Knowledge" / "Tips.md"
    tips.write_text(tips.read_text() + "\n- Warm up the learning rate\n")
    (vault / "img.png").write_bytes(b"\x89PNG")  # a new file: a build is needed
    _build(vault)
    (vault / "img.png").write_bytes(b"\x89PNG again")  # an attachment changed
    tips.write_text(tips.read_text() + "\n- And freeze the backbone\n")
    parsed = _record_parses(monkeypatch)
    output = _build(vault)
    assert (
        output == "2 files changed since the last build, none of them an experiment: "
        "nothing to write.\n"
    )
    assert parsed == ["Knowledge/Tips.md"]
    assert _generated(vault) == before
    assert _build(vault) == "Nothing changed since the last build.\n"
    tips.write_text(tips.read_text() + "\n- One more\n")
    assert _build(vault) == (
        "1 file changed since the last build, it is no experiment: nothing to write.\n"
    )


@pytest.mark.parametrize(
    "change",
    [
        # a knowledge note becomes an experiment
        lambda root: (root / "Knowledge" / "Tips.md").write_text(
            experiment("[[EXP-002 mosaic]]", "writing")
        ),
        # an experiment stops being one
        lambda root: (root / "Experiments" / "EXP-003 focal.md").write_text("# Focal\n"),
        # the text vaultkit manages in a lineage note, edited by hand, is put back
        lambda root: (root / "Lineages" / "EXP-001 baseline lineage.md").write_text(
            (root / "Lineages" / "EXP-001 baseline lineage.md")
            .read_text()
            .replace("## Tree", "## Tree (edited)")
        ),
        # the link format changes
        lambda root: (root / ".obsidian" / "app.json").write_text('{"newLinkFormat": "absolute"}'),
    ],
)
def test_a_change_that_can_change_the_generated_notes_gets_a_full_build(
    vault: Path, tmp_path: Path, change: Callable[[Path], object]
) -> None:
    _build(vault)
    change(vault)
    assert "changed since the last build" not in _build(vault)
    assert _generated(vault) == _full_build_of_a_copy(vault, tmp_path)


Edit = tuple[str, str | None]  # (path, its new text; None: deleted)

KNOWLEDGE_EDITS: list[Edit] = [
    ("Knowledge/Tips.md", "# Tips\n\n- Use focal loss #model_training\n"),
    ("Notes/Dataset.md", "# Dataset v4\n\nSee [[EXP-002 mosaic]].\n"),
    (
        "Notes/Dataset.md",
        "---\ntags: [model_training]\n---\n# Previous experiment\n\n[[EXP-001 baseline]]\n",
    ),
    ("Experiments/EXP-003 focal.md", experiment("[[EXP-002 mosaic]]", "done")),
    (
        "Experiments/EXP-005 dangling.md",
        experiment("[[EXP-001 baseline]]", "writing", tags="#model_training"),
    ),
    ("Archive/Dataset.md", "# Dataset v2\n\n#document #model_training\n"),
    ("Experiments/EXP-002 mosaic.md", experiment("[[EXP-001 baseline]] [[Gone]]", "done")),
]
MERGE_FROM_TIPS = (
    "Experiments/EXP-004 merge.md",
    experiment("[[EXP-002 mosaic]] and [[Tips]]", "writing"),
)
TIPS_BECOMES_AN_EXPERIMENT = ("Knowledge/Tips.md", experiment("None", "done"))
LINKS_GONE = (
    "Experiments/EXP-003 focal.md",
    experiment("[[EXP-001 baseline]]", "writing", extra="See [[Gone]].\n\n"),
)
GONE_COMES_BACK = ("Notes/Gone.md", "# Found again\n")  # a dangling link resolves
DATASET_NAME_FREED = ("Archive/Dataset.md", None)  # EXP-001's [[Dataset]] is no longer ambiguous
# a second file of the canvas's name: the lineage note's link to its canvas needs the folder
CANVAS_NAME_SHARED = ("Lineages/old/EXP-001 baseline lineage.canvas", '{"nodes": [], "edges": []}')
KNOWLEDGE_EDITS += [
    MERGE_FROM_TIPS,
    TIPS_BECOMES_AN_EXPERIMENT,
    LINKS_GONE,
    GONE_COMES_BACK,
    DATASET_NAME_FREED,
    CANVAS_NAME_SHARED,
    ("Experiments/EXP-005 dangling.md", None),  # deleted
    ("Knowledge/Tips.md", None),
    ("Notes/EXP-001 baseline.md", "# A second note of that name\n"),  # links now ambiguous
    ("Experiments/EXP-099 missing.md", experiment("[[EXP-004 merge]]", "writing")),
]


@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.lists(st.sampled_from(KNOWLEDGE_EDITS), min_size=1, max_size=4))
# a row whose lineage keeps its name while a Previous-experiment link starts to count
@example(edits=[MERGE_FROM_TIPS, TIPS_BECOMES_AN_EXPERIMENT])
# files that come or go change how other notes' links resolve, and nothing else of them
@example(edits=[LINKS_GONE, GONE_COMES_BACK])
@example(edits=[DATASET_NAME_FREED])
@example(edits=[CANVAS_NAME_SHARED])
def test_builds_after_any_edits_write_what_a_full_build_writes(
    tmp_path_factory: pytest.TempPathFactory, edits: list[Edit]
) -> None:
    root = write_vault(tmp_path_factory.mktemp("v") / "vault", dict(LINEAGE_VAULT))
    scratch = tmp_path_factory.mktemp("copies")
    _build(root)
    for path, text in edits:
        _apply(root, path, text)
        _build(root)
        assert _generated(root) == _full_build_of_a_copy(root, scratch)


def _apply(root: Path, path: str, text: str | None) -> None:
    """One edit: the file gets ``text``, or is deleted when it is None."""
    if text is None:
        (root / path).unlink(missing_ok=True)
    else:
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_text(text)


def test_a_build_checks_and_renders_again_only_the_index_rows_of_changed_experiments(
    vault: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from vaultkit.model import check

    _build(vault)  # the first: the index and lineage notes it writes did not exist
    checked = []
    real = check.note_problems
    monkeypatch.setattr(check, "note_problems", spy(real, lambda m, n: checked.append(n)))
    note = vault / "Experiments" / "EXP-003 focal.md"
    note.write_text(note.read_text().replace("Status: #writing", "Status: #done"))
    assert "wrote   Experiment Index.md" in _build(vault)
    assert checked == ["Experiments/EXP-003 focal"]
    monkeypatch.undo()
    assert _generated(vault) == _full_build_of_a_copy(vault, tmp_path)


def _record_rendering(monkeypatch: pytest.MonkeyPatch) -> tuple[list[str], list[int]]:
    from vaultkit.model import check
    from vaultkit.output import render

    checked: list[str] = []
    lineages: list[int] = []
    real_check, real_lineage = check.note_problems, render.lineage_note
    monkeypatch.setattr(check, "note_problems", spy(real_check, lambda m, n: checked.append(n)))
    monkeypatch.setattr(
        render, "lineage_note", spy(real_lineage, lambda layout, i: lineages.append(i))
    )
    return checked, lineages


def test_a_note_added_renders_again_only_what_links_to_its_name(
    vault: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _build(vault)
    checked, lineages = _record_rendering(monkeypatch)
    (vault / "Notes" / "Meeting 2024-05-02.md").write_text("# Meeting\n\nNo links here.\n")
    (vault / "Notes" / "chart.png").write_bytes(b"\x89PNG")
    assert "Nothing changed" not in _build(vault)  # a file came: the index may change
    assert (checked, lineages) == ([], [])
    # a note of a name an experiment links to in passing: that row only
    linking = vault / "Experiments" / "EXP-002 mosaic.md"
    linking.write_text(linking.read_text() + "\nSee [[Augmentations]].\n")
    _build(vault)
    checked.clear()
    lineages.clear()
    (vault / "Notes" / "Augmentations.md").write_text("# Augmentations\n")
    _build(vault)
    assert (checked, lineages) == (["Experiments/EXP-002 mosaic"], [])
    monkeypatch.undo()
    assert _generated(vault) == _full_build_of_a_copy(vault, tmp_path)


def test_last_build_files_of_the_wrong_shape_are_ignored(vault: Path, tmp_path: Path) -> None:
    _build(vault)
    state = cache.decode((cache_folder(vault) / cache.STATE_NAME).read_bytes())
    state["experiments"] = 42  # `path in 42` would raise
    state["rows"] = {note: (inputs, 42) for note, (inputs, _) in state["rows"].items()}
    (cache_folder(vault) / cache.STATE_NAME).write_bytes(cache.encode(state))
    note = vault / "Experiments" / "EXP-003 focal.md"
    note.write_text(note.read_text().replace("Status: #writing", "Status: #done"))
    assert "wrote   Experiment Index.md" in _build(vault)
    assert _generated(vault) == _full_build_of_a_copy(vault, tmp_path)


def test_a_build_reads_only_the_last_experiments_and_the_notes_changed_since(
    vault: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from vaultkit import pipeline

    _build(vault)
    read: list[str] = []
    real = load_notes
    monkeypatch.setattr(
        pipeline,
        "load_notes",
        spy(real, lambda snapshot, paths, *a, **k: read.extend(paths)),
    )
    note = vault / "Experiments" / "EXP-003 focal.md"
    note.write_text(note.read_text().replace("Status: #writing", "Status: #done"))
    (vault / "Notes" / "New.md").write_text("# New\nAbout #model_training notes.\n")
    _build(vault)
    experiments = {p.relative_to(vault).as_posix() for p in vault.glob("[CE]*/EXP-*.md")}
    assert set(read) == experiments | {"Notes/New.md"}


DAMAGE: list[Edit] = [  # what a person may do to the generated notes themselves
    ("Lineages/EXP-001 baseline lineage.md", None),
    ("Lineages/EXP-001 baseline lineage.canvas", None),
    ("Experiment Index.md", None),
    (
        "Lineages/EXP-020 loop a lineage.md",
        "<!-- vaultkit:begin lineage -->\nmine\n<!-- vaultkit:end lineage -->\n",
    ),
    ("Experiment Index.md", "My own index.\n"),
]


@settings(
    max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.lists(st.sampled_from(KNOWLEDGE_EDITS + DAMAGE), min_size=1, max_size=5))
@example(edits=[DAMAGE[0], MERGE_FROM_TIPS])
def test_the_watcher_after_any_edits_writes_what_a_full_build_writes(
    tmp_path_factory: pytest.TempPathFactory, edits: list[Edit]
) -> None:
    from vaultkit.watch import Watcher

    root = write_vault(tmp_path_factory.mktemp("v") / "vault", dict(LINEAGE_VAULT))
    scratch = tmp_path_factory.mktemp("copies")
    watcher = Watcher(root)
    watcher.start()
    try:
        for path, text in edits:
            _apply(root, path, text)
            watcher.inbox.changed.add(path)
            watcher.step()
            assert _generated(root) == _full_build_of_a_copy(root, scratch)
    finally:
        watcher.close()
