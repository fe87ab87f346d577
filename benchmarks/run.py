"""``make bench``: one table of vaultkit's speed on generated vaults, and obsidiantools'
on the same 1k vault in the same run.

Every figure is a whole process (``vaultkit --vault V build``), the median of several
runs; the machines are shared and noisy, so read ratios rather than absolute seconds.

    python benchmarks/run.py [--sizes 1000,10000,50000] [--runs 5] [--obsidiantools PYTHON]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import NamedTuple

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from generate import generate  # noqa: E402
from watch_latency import measure  # noqa: E402

# -P: the working folder is not put on the import path, so `vaultkit` is the installed one,
# or the checkout PYTHONPATH names (the previous release's), wherever this runs from
VAULTKIT = [sys.executable, "-P", "-m", "vaultkit"]
# vaultkit's caches (outside the vault since 0.3) go to a folder of the benchmark's own, so
# a cold build can start without them and the person's own caches are left alone
CACHE_BASE = HERE / "vaults" / "cache"
os.environ["VAULTKIT_CACHE_DIR"] = str(CACHE_BASE)


class Run(NamedTuple):
    seconds: float  # wall clock
    cpu: float  # user + system CPU seconds, its worker processes included
    peak_mb: int  # the largest resident set of the process or one of its workers


# A small process that starts the measured one and reports its rusage. Measured from
# this (big) process directly, a child's peak RSS would be at least this process's own:
# Linux carries the high-water mark of the memory a child starts from (a fork's copy, or
# with vfork the parent's own) into the child's figure.
LAUNCHER = """
import json, os, sys, time
began = time.perf_counter()
pid = os.fork()
if pid == 0:
    os.dup2(os.open(os.devnull, os.O_WRONLY), 1)
    os.execvp(sys.argv[1], sys.argv[1:])
_, status, usage = os.wait4(pid, 0)
seconds = time.perf_counter() - began
cpu = usage.ru_utime + usage.ru_stime
print(json.dumps([seconds, cpu, usage.ru_maxrss, os.waitstatus_to_exitcode(status)]))
"""


def timed(command: list[str]) -> Run:
    """One whole process, timed: wall, CPU and peak RSS of it and its worker processes."""
    done = subprocess.run(
        [sys.executable, "-c", LAUNCHER, *command], capture_output=True, text=True, check=True
    )
    seconds, cpu, peak_kb, code = json.loads(done.stdout.splitlines()[-1])
    if code != 0:
        raise RuntimeError(done.stderr)
    return Run(seconds, cpu, peak_kb // 1024)


def build(root: Path, code: Path | None = None) -> Run:
    """A whole `vaultkit build`; ``code``: a checkout of another version to run instead."""
    command = [*VAULTKIT, "--vault", str(root), "build"]
    if code is None:
        return timed(command)
    return timed(["env", f"PYTHONPATH={code}", *command])


def command(root: Path, *args: str) -> Run:
    return timed([*VAULTKIT, "--vault", str(root), *args])


def everyday_commands(root: Path, runs: int) -> dict[str, float]:
    """The commands people type most, on a vault that has not changed since: list,
    lineage NOTE and check (each run once first, as after any change), and
    new-experiment after a build (the new note and the parent's edit undone after)."""
    experiment = sorted((root / "Projects").rglob("*.md"))[0]
    name = experiment.name[:9]  # `EXP-00011`: the id prefix people type
    found = {}
    for label, args in (
        ("list", ["list"]),
        ("lineage", ["lineage", name]),
        ("check", ["check"]),
    ):
        first = command(root, *args).seconds
        found[label] = statistics.median(command(root, *args).seconds for _ in range(runs))
        found[label + " first"] = first
    created = []
    for round_ in range(runs):
        build(root)
        parent = experiment.read_bytes()
        title = f"EXP-99{round_:03d} bench"
        created.append(command(root, "new-experiment", title, "--previous", name).seconds)
        # where it went: the folder where the vault's experiments live
        next(root.rglob(f"{title}.md")).unlink()
        experiment.write_bytes(parent)
    build(root)
    found["new-experiment"] = statistics.median(created)
    return found


def clear_generated(root: Path) -> None:
    """The vault as before any build: no generated note, no cache (in the vault, where the
    previous release keeps it, or outside)."""
    shutil.rmtree(root / ".vaultkit", ignore_errors=True)
    shutil.rmtree(CACHE_BASE, ignore_errors=True)
    for folder in ("Lineages", "Recipes"):
        shutil.rmtree(root / folder, ignore_errors=True)
    for generated in ("Experiment Index.md", "Experiments.base"):
        (root / generated).unlink(missing_ok=True)
    os.sync()  # the file system's own clean-up of 700 deleted files is not the build's
    time.sleep(1)


def edit_experiment(root: Path, round_: int) -> None:
    """Flip an experiment's status: the index, its lineage note and canvas change."""
    note = sorted((root / "Projects").rglob("*.md"))[0]
    text = note.read_text(encoding="utf-8")
    status = re.search(r"^Status: #(\S+)", text, re.MULTILINE).group(1)
    new = "paused" if status != "paused" else "done"
    note.write_text(text.replace(f"Status: #{status}", f"Status: #{new}"), encoding="utf-8")


def edit_knowledge(root: Path, round_: int) -> None:
    """Add a line to a knowledge note: no generated note changes."""
    note = sorted((root / "Knowledge" / "00").glob("*.md"))[0]
    note.write_text(note.read_text(encoding="utf-8") + f"\nEdit {round_}.\n", encoding="utf-8")


def add_note(root: Path, round_: int) -> Path:
    """A new note that no experiment links to: a file came, so the index may change."""
    note = root / "Knowledge" / "00" / f"Added note {round_}.md"
    note.write_text(f"# Added note {round_}\n\nA new idea.\n", encoding="utf-8")
    return note


def bench_size(size: int, runs: int, workdir: Path) -> dict:
    root = workdir / f"{size}"
    if not root.exists():
        generate(size, root)
    clear_generated(root)
    notes = sum(1 for _ in root.rglob("*.md"))  # the person's notes, none generated
    cold, warm, changed, other, added = [], [], [], [], []
    for _ in range(runs):
        clear_generated(root)
        cold.append(build(root))  # nothing cached, nothing generated yet
        build(root)  # the generated notes now exist: settle the cache
    for _ in range(runs):
        warm.append(build(root).seconds)
    for round_ in range(runs):
        edit_experiment(root, round_)
        changed.append(build(root))
        edit_knowledge(root, round_)
        other.append(build(root).seconds)
        note = add_note(root, round_)
        added.append(build(root).seconds)
        note.unlink()  # the vault stays as generated
        build(root)
    latency = statistics.median(measure(root, saves=max(5, runs)))
    everyday = everyday_commands(root, runs)
    median_cold = statistics.median(run.seconds for run in cold)
    return {
        "notes": notes,
        "cold": median_cold,
        "cold_cpu": statistics.median(run.cpu for run in cold),
        "warm": statistics.median(warm),
        "changed": statistics.median(run.seconds for run in changed),
        "other": statistics.median(other),
        "added": statistics.median(added),
        "latency": latency,
        "rss": max(run.peak_mb for run in [*cold, *changed]),
        "rate": notes / median_cold,
        **everyday,
    }


OBSIDIANTOOLS_SCRIPT = """
import sys, time
from pathlib import Path
from obsidiantools.api import Vault
began = time.perf_counter()
Vault(Path(sys.argv[1])).connect().gather()
print(time.perf_counter() - began)
"""


def cold_side_by_side(root: Path, previous: Path, runs: int) -> dict[str, list[Run]]:
    """Cold builds of this version and of ``previous`` (a checkout), alternated on the
    same vault, nothing cached or generated before each."""
    found: dict[str, list[Run]] = {"this version": [], "previous release": []}
    for _ in range(runs):
        for label, code in (("this version", None), ("previous release", previous)):
            clear_generated(root)
            found[label].append(build(root, code))
    clear_generated(root)
    build(root)
    return found


def bench_obsidiantools(python: str, root: Path, runs: int) -> float:
    times = []
    for _ in range(runs):
        out = subprocess.run(
            [python, "-c", OBSIDIANTOOLS_SCRIPT, str(root)],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        times.append(float(out.strip().splitlines()[-1]))
    return statistics.median(times)


def byte_compile_vaultkit() -> None:
    """Write vaultkit's bytecode, as `pip install` does: a checkout installed with -e under
    PYTHONDONTWRITEBYTECODE=1 (set on this machine) would otherwise compile every module
    on every run, ~40 ms that no installed copy pays."""
    import compileall

    compileall.compile_dir(HERE.parent / "vaultkit", quiet=1)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument(
        "--obsidiantools", metavar="PYTHON", help="a Python that has obsidiantools installed"
    )
    parser.add_argument("--obsidiantools-runs", type=int, default=1)
    parser.add_argument(
        "--previous",
        type=Path,
        metavar="CHECKOUT",
        help="a checkout of the previous release, whose cold build is measured beside",
    )
    parser.add_argument("--workdir", type=Path, default=HERE / "vaults")
    args = parser.parse_args()
    args.workdir.mkdir(parents=True, exist_ok=True)
    byte_compile_vaultkit()
    sizes = [int(s) for s in args.sizes.split(",")]
    rows = {size: bench_size(size, args.runs, args.workdir) for size in sizes}
    print(f"vaultkit build, whole process, median of {args.runs} runs; {os.cpu_count()} cores")
    print()
    print(
        "| notes | cold build | cold build CPU | warm build | 1 experiment changed "
        "| 1 other note changed | 1 note added | watch save→index | peak RSS | notes/s (cold) |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for row in rows.values():
        print(
            f"| {row['notes']:,} | {row['cold']:.2f} s | {row['cold_cpu']:.2f} s "
            f"| {row['warm']:.2f} s "
            f"| {row['changed']:.2f} s | {row['other']:.2f} s | {row['added']:.2f} s "
            f"| {row['latency']:.2f} s "
            f"| {row['rss']} MB | {row['rate']:,.0f} |"
        )
    print()
    print(
        f"Cold build CPU counts its worker processes too; divided by the {os.cpu_count()} cores "
        "it is the least time a cold build could take."
    )
    print()
    print(
        "Everyday commands, whole process, on a vault unchanged since they last ran "
        "(in brackets: the first run after a change):"
    )
    print()
    print("| notes | list | lineage NOTE | check | new-experiment --previous NOTE |")
    print("|---:|---:|---:|---:|---:|")
    for row in rows.values():
        print(
            f"| {row['notes']:,} | {row['list']:.2f} s ({row['list first']:.2f} s) "
            f"| {row['lineage']:.2f} s ({row['lineage first']:.2f} s) "
            f"| {row['check']:.2f} s ({row['check first']:.2f} s) | {row['new-experiment']:.2f} s |"
        )
    if args.previous:
        print()
        print(
            f"Cold build against the previous release ({args.previous.name}), alternated "
            f"on the same vault, median of {args.runs}:"
        )
        print()
        print("| notes | version | cold build | cold build CPU | peak RSS |")
        print("|---:|---|---:|---:|---:|")
        for size in sizes:
            side = cold_side_by_side(args.workdir / f"{size}", args.previous, args.runs)
            for label, found in side.items():
                print(
                    f"| {rows[size]['notes']:,} | {label} "
                    f"| {statistics.median(r.seconds for r in found):.2f} s "
                    f"| {statistics.median(r.cpu for r in found):.2f} s "
                    f"| {max(r.peak_mb for r in found)} MB |"
                )
    if args.obsidiantools and 1000 in rows:
        theirs = bench_obsidiantools(
            args.obsidiantools, args.workdir / "1000", args.obsidiantools_runs
        )
        ours = rows[1000]
        print()
        print(
            f"obsidiantools Vault(path).connect().gather() on the same 1k vault: {theirs:.1f} s "
            f"(median of {args.obsidiantools_runs})"
        )
        print(
            f"  vaultkit cold build: {theirs / ours['cold']:.0f}x faster; "
            f"warm build: {theirs / ours['warm']:.0f}x faster"
        )


if __name__ == "__main__":
    main()
