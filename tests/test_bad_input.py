"""Bad input (README): every bad note becomes a problem or is skipped, the rest is read,
and no traceback reaches the user."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import Result

from vaultkit import loading
from vaultkit.disk import read as vault_module
from vaultkit.disk.read import Walked
from vaultkit.loading import load_snapshot as load_vault
from vaultkit.model.check import check_model
from vaultkit.model.vault_model import VaultModel, build_model

from .conftest import experiment, note_per_lineage, run, write_vault

GOOD = experiment("[[EXP-001 baseline]]", "writing")


def problems_of(root: Path) -> tuple[VaultModel, list[tuple[str, str, str | None]]]:
    model = build_model(load_vault(root))
    return model, [(p.code, p.severity, p.note) for p in check_model(model)]


@pytest.fixture
def bad_vault(tmp_path: Path) -> Path:
    root = write_vault(
        tmp_path / "vault",
        {
            "EXP-001 baseline.md": experiment("none", "done"),
            "EXP-002 good.md": GOOD,
            "bad yaml.md": "---\na: [1\n---\n#model_training #document\nStatus: #done\n",
            "latin1.md": "caf\xe9 #tag\n".encode("latin-1"),
            "binary.md": b"\x00\x01\x02 #hidden",
            "empty.md": b"",
            "huge.md": ("word " * 200 + "#big\n") * 5000,  # ~5 MB
        },
    )
    os.symlink(root, root / "loop")  # a link back into the vault
    os.symlink(tmp_path / "vault" / "missing-target", root / "broken-link.md")
    os.mkfifo(root / "pipe.md")  # would block a naive reader
    return root


def test_each_bad_note_is_a_problem_or_skipped_and_the_rest_is_read(bad_vault: Path) -> None:
    model, problems = problems_of(bad_vault)
    assert "EXP-002 good" in model.experiments
    assert model.lineages()[0].edges == [("EXP-002 good", "EXP-001 baseline")]
    assert ("invalid-frontmatter", "error", "bad yaml") in problems
    assert ("unreadable-note", "warning", "latin1") in problems
    assert ("unreadable-note", "warning", "binary") in problems
    assert model.notes["latin1"].parsed.tag_names == ["tag"]
    assert model.notes["empty"].parsed.tags == []
    assert model.notes["huge"].parsed.tag_names == ["big"]
    assert "pipe" not in model.notes
    assert not any(path.startswith("loop/") for path in model.vault.files)


def test_note_deleted_while_the_vault_is_read(
    bad_vault: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_walk = vault_module._walk

    def walk_and_vanish(root: Path) -> Walked:
        files, folders, temporary, other_vaults, unreadable = real_walk(root)
        return [*files, "vanished.md"], folders, temporary, other_vaults, unreadable

    monkeypatch.setattr(vault_module, "_walk", walk_and_vanish)
    model = build_model(load_vault(bad_vault))
    assert "vanished" not in model.notes
    assert "vanished.md" not in model.vault.files


def test_note_locked_against_reading(bad_vault: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real_open = os.open

    def locked_open(path: str, flags: int, mode: int = 0o777, *, dir_fd: int | None = None) -> int:
        if str(path).endswith("EXP-002 good.md"):
            raise PermissionError(13, "Permission denied")
        return real_open(path, flags, mode, dir_fd=dir_fd)

    monkeypatch.setattr(os, "open", locked_open)
    model, problems = problems_of(bad_vault)
    assert ("unreadable-note", "warning", "EXP-002 good") in problems
    message = next(p.message for p in check_model(model) if p.note == "EXP-002 good")
    assert message == (
        "cannot be read: permission denied; check the permissions of the file and its folder"
    )
    assert "EXP-001 baseline" in model.experiments


def test_symlinked_folder_outside_the_vault_is_read_once(tmp_path: Path) -> None:
    outside = write_vault(tmp_path / "outside", {"Shared.md": "#shared\n"})
    root = write_vault(tmp_path / "vault", {"Home.md": "[[Shared]]\n"})
    os.symlink(outside, root / "linked")
    os.symlink(outside, root / "linked-again")
    os.symlink(root / "linked", outside / "back")  # a loop through the outside folder
    model = build_model(load_vault(root))
    assert sorted(model.notes) == ["Home", "linked/Shared"]
    assert [r.target for r in model.links["Home"]] == ["linked/Shared"]


def test_dot_paths_are_invisible(tmp_path: Path) -> None:
    root = write_vault(
        tmp_path / "vault",
        {
            ".obsidian/x.md": "#hidden",
            ".trash/old.md": "#hidden",
            ".draft.md": "#hidden",
            "sub/.hidden/n.md": "#hidden",
            "node_modules/pkg.md": "#visible",
            "Note.md": "#visible",
        },
    )
    model = build_model(load_vault(root))
    assert sorted(model.notes) == ["Note", "node_modules/pkg"]


def run_cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "vaultkit", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=120,
    )


def test_the_real_process_prints_no_traceback_on_bad_input(bad_vault: Path) -> None:
    result = run_cli("--vault", str(bad_vault), "check", "--format", "json")
    assert result.returncode == 1  # the invalid YAML is an error
    assert "Traceback" not in result.stderr
    codes = {p["code"] for p in json.loads(result.stdout)["problems"]}
    assert {"invalid-frontmatter", "unreadable-note"} <= codes


def test_errors_print_path_and_exit_1_usage_errors_exit_2(tmp_path: Path) -> None:
    missing = run_cli("--vault", str(tmp_path / "nope"), "list")
    assert missing.returncode == 1
    assert missing.stderr == (
        f"Error: {tmp_path / 'nope'}: no such folder; --vault (or $VAULTKIT_VAULT) names "
        "the vault's folder\n"
    )
    usage = run_cli("list", "--bogus")
    assert usage.returncode == 2
    assert "No such option" in usage.stderr and "--bogus" in usage.stderr
    assert run_cli("--help").returncode == 0


def test_output_cut_short_by_the_reader_ends_quietly(tmp_path: Path) -> None:
    """`vaultkit list --format json | head -c 10`: no 'Exception ignored … BrokenPipe'."""
    files = {f"E/EXP-{i:04d} run.md": experiment("None", "done") for i in range(700)}
    root = write_vault(tmp_path / "v", files)
    process = subprocess.Popen(
        [sys.executable, "-m", "vaultkit", "--vault", str(root), "list", "--format", "json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert process.stdout is not None and process.stderr is not None
    assert process.stdout.read(10) == b"[\n  {\n    "
    process.stdout.close()
    assert process.wait(timeout=120) == 0
    assert process.stderr.read() == b""


# -- one bad file never stops the vault -------------------------------------------------------


def run_raising(root: Path, *args: str) -> Result:
    return run(root, *args, catch_exceptions=False)


@pytest.mark.parametrize(
    "note",
    [
        "---\nbig: " + "9" * 400 + "\n---\n",  # too large for a float
        "---\nhuge: " + "9" * 5000 + "\n---\n",  # past Python's 4,300-digit limit
    ],
    ids=["400 digits", "5000 digits"],
)
def test_a_property_too_large_for_a_number_stops_nothing(tmp_path: Path, note: str) -> None:
    root = write_vault(
        tmp_path / "v",
        {".obsidian/app.json": "{}", "EXP-001 a.md": note + GOOD, "EXP-002 b.md": GOOD},
    )
    for command in (["list", "--format", "json"], ["check"], ["build"]):
        result = run_raising(root, *command)
        assert result.exit_code in (0, 1), result.output
        assert "did not expect" not in result.output
    listed = json.loads(run_raising(root, "list", "--format", "json").output)
    assert [r["title"] for r in listed] == ["EXP-001 a", "EXP-002 b"]


def test_a_file_time_past_the_year_9999_stops_nothing() -> None:
    from vaultkit.output.formats import iso_utc
    from vaultkit.records import Note, ParsedNote

    far = 300_000_000_000 * 10**9  # the year 11476 (a file system may not even store it)
    assert iso_utc(far) == "9999-12-31T23:59:59Z"
    assert Note("EXP-001.md", ParsedNote(), (far, 1, far, 1)).last_change == "9999-12-31"
    assert iso_utc(-far) == "0001-01-01T00:00:00Z"


@pytest.mark.parametrize(
    "canvas",
    ['{"nodes": null, "edges": null}', '{"nodes": 5, "edges": "x"}', "[" * 2000 + "]" * 2000],
    ids=["null", "a number", "2000 levels"],
)
def test_a_damaged_lineage_canvas_stops_nothing_else(tmp_path: Path, canvas: str) -> None:
    root = write_vault(
        tmp_path / "v",
        {".obsidian/app.json": "{}", "EXP-001 baseline.md": experiment("none", "done")},
    )
    note_per_lineage(root)
    assert run_raising(root, "build").exit_code == 0
    path = root / "Lineages" / "EXP-001 baseline lineage.canvas"
    path.write_text(canvas, encoding="utf-8")
    write_vault(root, {"EXP-002 good.md": GOOD})
    result = run_raising(root, "build")
    assert "did not expect" not in result.output
    index = (root / "Experiment Index.md").read_text(encoding="utf-8")
    assert "[[EXP-002 good]]" in index  # the rest of the vault was built
    if canvas.startswith("{"):  # a JSON object: the canvas is rebuilt around what is there
        assert json.loads(path.read_text(encoding="utf-8"))["nodes"]
    else:
        assert "is not valid JSON Canvas" in result.output
        assert path.read_text(encoding="utf-8") == canvas  # left as it is, said


def test_a_canvas_keeps_the_keys_another_tool_added(tmp_path: Path) -> None:
    root = write_vault(
        tmp_path / "v",
        {".obsidian/app.json": "{}", "EXP-001 baseline.md": experiment("none", "done")},
    )
    note_per_lineage(root)
    assert run_raising(root, "build").exit_code == 0
    path = root / "Lineages" / "EXP-001 baseline lineage.canvas"
    canvas = json.loads(path.read_text(encoding="utf-8"))
    canvas["metadata"] = {"version": "1.0-1.0", "frontmatter": {"owner": "me"}}
    path.write_text(json.dumps(canvas), encoding="utf-8")
    write_vault(root, {"EXP-002 good.md": GOOD})
    assert run_raising(root, "build").exit_code == 0
    rebuilt = json.loads(path.read_text(encoding="utf-8"))
    assert rebuilt["metadata"] == {"version": "1.0-1.0", "frontmatter": {"owner": "me"}}
    assert len(rebuilt["nodes"]) == 2


def test_a_file_name_that_is_not_utf8_stops_nothing(tmp_path: Path) -> None:
    root = write_vault(
        tmp_path / "v",
        {".obsidian/app.json": "{}", "EXP-001 baseline.md": experiment("none", "done")},
    )
    bad = os.path.join(os.fsencode(root), b"EXP-002 caf\xe9.md")
    with open(bad, "wb") as file:
        file.write(GOOD.encode())
    for command in (["list"], ["build"], ["lineage"]):
        result = run_raising(root, *command)
        assert result.exit_code == 0, result.output
        assert "did not expect" not in result.output
    problems = json.loads(run_raising(root, "check", "--format", "json").output)["problems"]
    assert {
        "code": "unreadable-note",
        "severity": "warning",
        "note": "EXP-002 caf\\xe9.md",
        "line": None,
        "message": "its name is not UTF-8, so vaultkit (and Obsidian) leave it out; rename it",
    } in problems
    from vaultkit.watch import is_ignored

    assert is_ignored(os.fsdecode(b"EXP-002 caf\xe9.md"))


def test_a_long_cjk_note_name_is_measured_in_bytes(tmp_path: Path) -> None:
    name = "実" * 81  # 243 bytes: its file name fits, with vaultkit's own around it too
    root = write_vault(tmp_path / "v", {".obsidian/app.json": "{}", f"Experiments/{name}.md": GOOD})
    note_per_lineage(root)
    built = run_raising(root, "build")
    assert built.exit_code == 0, built.output
    written = [p.name for p in (root / "Lineages").iterdir()]
    assert written and all(len(n.encode()) <= 255 for n in written)
    assert run_raising(root, "set-status", name, "pending").exit_code == 0, "set-status"
    made = run_raising(root, "new-experiment", "EXP-002 next", "--previous", name)
    assert made.exit_code == 0, made.output
    assert run_raising(root, "build").exit_code == 0


def test_a_folder_that_cannot_be_read_is_reported(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = write_vault(
        tmp_path / "v",
        {
            ".obsidian/app.json": "{}",
            "EXP-002 good.md": GOOD,
            "Locked/EXP-001 baseline.md": experiment("none", "done"),
        },
    )
    real_scandir = os.scandir

    # as a folder without read permission answers (root reads all)
    def refused(path: str) -> Iterator[os.DirEntry[str]]:
        if os.fspath(path).endswith("Locked"):
            raise PermissionError(13, "Permission denied", os.fspath(path))
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", refused)
    problems = json.loads(run_raising(root, "check", "--format", "json").output)["problems"]
    assert {
        "code": "unreadable-note",
        "severity": "warning",
        "note": "Locked",
        "line": None,
        "message": "this folder cannot be read, so its notes are left out and links into "
        "it look dangling: permission denied; check the permissions of the file and its folder",
    } in problems


# -- a fuzz test: no file, name, time or canvas stops the vault ---------------------------------

from hypothesis import HealthCheck, given  # noqa: E402
from hypothesis import settings as hypothesis_settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

NAME_CHARS = st.sampled_from(list("aZ09 -_.()é実🙂#^[]|%&'`~!") + ["\t", "<!--", " lineage"])
names = (
    st.lists(NAME_CHARS, min_size=1, max_size=20)
    .map("".join)
    .filter(lambda n: n.strip(" .") and not n.startswith("."))
)
yaml_values = st.one_of(
    st.integers(min_value=-(10**500), max_value=10**500).map(str),
    st.just("9" * 5000),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.sampled_from(["[1, [2, [3]]]", "{a: {b: c}}", "'[[x]]'", "~", ".inf", "-.nan", "&a x"]),
    st.text(max_size=20).map(json.dumps),
)
canvases = st.one_of(
    st.sampled_from(['{"nodes": null}', '{"nodes": 5, "edges": {}}', "[]", "nul", "{}"]),
    st.integers(min_value=1, max_value=3000).map(lambda n: "[" * n + "]" * n),
    st.recursive(
        st.one_of(st.none(), st.integers(), st.text(max_size=5)),
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner),
        max_leaves=8,
    ).map(lambda value: json.dumps({"nodes": value, "edges": value})),
)
times = st.sampled_from([0, 1, 10**9, 10**10, 2**31 - 1, 2**33])


@hypothesis_settings(
    max_examples=30,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    notes=st.lists(st.tuples(names, yaml_values, times), min_size=1, max_size=4),
    canvas=canvases,
)
def test_no_name_property_time_or_canvas_stops_a_command(
    tmp_path_factory: pytest.TempPathFactory, notes: list[tuple[str, str, int]], canvas: str
) -> None:
    root = tmp_path_factory.mktemp("fuzz")
    files = {".obsidian/app.json": "{}", "Lineages/EXP-000 lineage.canvas": canvas}
    for number, (name, value, _) in enumerate(notes):
        body = f"---\nvalue: {value}\n---\n" + experiment(
            "[[EXP-000]]" if number else "none", "done"
        )
        files[f"Experiments/EXP-{number:03} {name}.md"] = body
    write_vault(root, files)
    for number, (name, _, when) in enumerate(notes):
        os.utime(root / "Experiments" / f"EXP-{number:03} {name}.md", (when, when))
    for command in (["build"], ["check"], ["list", "--format", "json"], ["lineage"], ["build"]):
        result = run_raising(root, *command)
        assert result.exit_code in (0, 1), (command, result.output)
        assert "did not expect" not in result.output, (command, result.output)


# -- processes --------------------------------------------------------------------------------


def test_workers_fork_only_while_the_process_runs_one_thread(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import threading

    from vaultkit.loading import start_method

    assert start_method() == "fork"
    stop = threading.Event()
    thread = threading.Thread(target=stop.wait)  # as the watcher's observer runs
    thread.start()
    try:
        assert start_method() == "forkserver"
        root = write_vault(
            tmp_path / "v", {f"EXP-{i:03} n.md": experiment("none", "done") for i in range(6)}
        )
        monkeypatch.setattr(loading, "PARALLEL_THRESHOLD", 2)
        parsed = load_vault(root)
        assert sorted(parsed.notes) == [f"EXP-{i:03} n.md" for i in range(6)]
        assert all(n.parsed.status == "done" for n in parsed.notes.values())
    finally:
        stop.set()
        thread.join()


def test_a_one_shot_command_runs_the_exit_handlers(tmp_path: Path) -> None:
    root = write_vault(tmp_path / "v", {".obsidian/app.json": "{}", "EXP-002 good.md": GOOD})
    marker = tmp_path / "ran"
    script = (
        "import atexit, sys\n"
        f"atexit.register(lambda: open({str(marker)!r}, 'w').write('ran'))\n"
        f"sys.argv = ['vaultkit', '--vault', {str(root)!r}, 'list']\n"
        "from vaultkit.cli import main\n"
        "main()\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert marker.read_text() == "ran"
