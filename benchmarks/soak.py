"""``vaultkit watch`` under minutes of random edits, as people and editors make them:
afterwards the generated notes must equal a clean build of a copy of the vault, and the
watcher's memory must stay flat (its resident size at the end within 10% of the size after
the first minute). Not part of ``make test``: it takes minutes.

    python benchmarks/soak.py [--minutes 3] [--size 1000] [--seed 1]
"""

from __future__ import annotations

import argparse
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from generate import generate  # noqa: E402

VAULTKIT = [sys.executable, "-m", "vaultkit"]
INDEX = "Experiment Index.md"


def rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def generated(root: Path) -> dict[str, bytes]:
    files = {INDEX: (root / INDEX).read_bytes()}
    for path in sorted((root / "Lineages").rglob("*")):
        if path.is_file() and not path.name.startswith("."):
            files[path.relative_to(root).as_posix()] = path.read_bytes()
    return files


class Editor:
    """Random edits of the kinds people make, some of them to the generated notes."""

    def __init__(self, root: Path, rng: random.Random):
        self.root = root
        self.rng = rng
        self.experiments = sorted((root / "Projects").rglob("*.md"))
        self.created: list[Path] = []
        self.count = 0

    def edit(self) -> str:
        kinds = [
            self.flip_status,
            self.append_line,
            self.new_experiment,
            self.delete_created,
            self.rename_created,
            self.type_into_the_index,
            self.delete_a_lineage_note,
            self.edit_inside_a_lineage_block,
        ]
        kind = self.rng.choice(kinds)
        self.count += 1
        return kind()

    def flip_status(self) -> str:
        note = self.rng.choice(self.experiments)
        text = note.read_text(encoding="utf-8")
        found = re.search(r"^Status: #(\S+)", text, re.MULTILINE)
        if found:
            new = self.rng.choice(["writing", "done", "paused", "pending"])
            note.write_text(text.replace(found.group(0), f"Status: #{new}"), encoding="utf-8")
        return "status"

    def append_line(self) -> str:
        note = self.rng.choice(self.experiments)
        with open(note, "a", encoding="utf-8") as handle:
            handle.write(f"\nA remark, {self.count}.\n")
        return "append"

    def new_experiment(self) -> str:
        parent = self.rng.choice(self.experiments).stem
        note = self.root / "Soak" / f"EXP-9{self.count:05d} soak.md"
        note.parent.mkdir(exist_ok=True)
        note.write_text(
            f"# Previous experiment\n\n- [[{parent}]]\n\n---\nStatus: #writing\n\n"
            "Tags: #model_training #document\n",
            encoding="utf-8",
        )
        self.created.append(note)
        return "new"

    def delete_created(self) -> str:
        if self.created:
            self.created.pop(self.rng.randrange(len(self.created))).unlink(missing_ok=True)
        return "delete"

    def rename_created(self) -> str:
        if self.created:
            note = self.created.pop(self.rng.randrange(len(self.created)))
            moved = note.with_name(note.stem + " renamed.md")
            if note.exists():
                note.rename(moved)
                self.created.append(moved)
        return "rename"

    def type_into_the_index(self) -> str:
        with open(self.root / INDEX, "a", encoding="utf-8") as handle:
            handle.write(f"\nMy own line {self.count}.\n")
        return "index"

    def delete_a_lineage_note(self) -> str:
        notes = sorted((self.root / "Lineages").glob("*.md"))
        if notes:
            self.rng.choice(notes).unlink(missing_ok=True)
        return "lineage deleted"

    def edit_inside_a_lineage_block(self) -> str:
        notes = sorted((self.root / "Lineages").glob("*.md"))
        if notes:
            note = self.rng.choice(notes)
            try:
                text = note.read_text(encoding="utf-8")
            except FileNotFoundError:
                return "lineage edited"
            note.write_text(text.replace("## Chain", "## Chain (mine)"), encoding="utf-8")
        return "lineage edited"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=3.0)
    parser.add_argument("--size", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    workdir = Path(tempfile.mkdtemp(prefix="vaultkit-soak-"))
    root = workdir / "vault"
    generate(args.size, root)
    subprocess.run([*VAULTKIT, "--vault", str(root), "build"], check=True, capture_output=True)
    out_path, err_path = workdir / "watch.out", workdir / "watch.err"
    with open(out_path, "w") as out_file, open(err_path, "w") as err_file:  # not pipes:
        watcher = subprocess.Popen(  # a full pipe would stall the watcher, not vaultkit
            [*VAULTKIT, "--vault", str(root), "watch"], stdout=out_file, stderr=err_file
        )
    while "Watching" not in out_path.read_text():
        time.sleep(0.1)
    editor = Editor(root, rng)
    began = time.monotonic()
    rss_first_minute = None
    kinds: dict[str, int] = {}
    log: list[str] = []
    while time.monotonic() - began < args.minutes * 60:
        kind = editor.edit()
        kinds[kind] = kinds.get(kind, 0) + 1
        log.append(f"{time.strftime('%H:%M:%S')} {kind}")
        time.sleep(rng.uniform(0.02, 0.4))
        if rss_first_minute is None and time.monotonic() - began >= 60:
            rss_first_minute = rss_kb(watcher.pid)
    time.sleep(4)  # quiet: the last rebuild ends
    rss_end = rss_kb(watcher.pid)
    watcher.send_signal(signal.SIGTERM)
    watcher.wait(timeout=30)
    out = out_path.read_text()
    (workdir / "edits.log").write_text("\n".join(log))
    updates = sum(1 for line in out.splitlines() if " -> " in line)
    failures = [line for line in out.splitlines() if "rebuild failed" in line]
    copy = workdir / "copy"
    shutil.copytree(root, copy)
    shutil.rmtree(copy / ".vaultkit", ignore_errors=True)
    subprocess.run([*VAULTKIT, "--vault", str(copy), "build"], check=True, capture_output=True)
    ours, clean = generated(root), generated(copy)
    differing = sorted(p for p in ours.keys() | clean.keys() if ours.get(p) != clean.get(p))
    first = rss_first_minute or rss_end
    print(f"{args.minutes:g} minutes, {editor.count} edits ({kinds}), {updates} updates")
    print(f"rebuilds that failed: {len(failures)}")
    print(f"generated files differing from a clean build of a copy: {len(differing)}")
    for path in differing[:10]:
        print(f"  {path}")
    print(
        f"watcher RSS after the first minute {first / 1024:.1f} MB, at the end "
        f"{rss_end / 1024:.1f} MB ({(rss_end - first) / first:+.1%})"
    )
    if differing or failures or rss_end > first * 1.1:
        print(f"kept for a look: {workdir}")
        sys.exit(1)
    shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
