"""Every Mermaid block `build` writes renders in the Mermaid Obsidian bundles (11.13.0),
in headless Chromium, with each node showing its note's name (issue 14).

Run by `make render-test`, which installs the renderer outside the repository and sets
VAULTKIT_RENDER_MODULES; skipped without it."""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from vaultkit.cli import cli
from vaultkit.create import demo_vault

from ..conftest import write_vault

MODULES = os.environ.get("VAULTKIT_RENDER_MODULES")
SCRIPT = Path(__file__).with_name("render_mermaid.mjs")
SCREENSHOTS = os.environ.get("VAULTKIT_RENDER_SCREENSHOTS")

pytestmark = pytest.mark.skipif(
    not MODULES, reason="the real renderer is installed by `make render-test`"
)

_BLOCK = re.compile(r"^```mermaid\n(.*?)^```", re.M | re.S)
_NODE = re.compile(r'^  n\d+\["(.*)"\]$', re.M)


def mermaid_blocks(vault: Path) -> list[dict[str, str]]:
    """Every Mermaid block in the vault's notes, named by note and position."""
    blocks = []
    for note in sorted(vault.rglob("*.md")):
        text = note.read_text(encoding="utf-8")
        for index, source in enumerate(_BLOCK.findall(text), 1):
            name = f"{note.relative_to(vault).with_suffix('').as_posix()} {index}"
            blocks.append({"name": name.replace("/", " - "), "source": source})
    return blocks


def render(blocks: list[dict[str, str]], tmp_path: Path) -> list[dict]:
    blocks_file, results_file = tmp_path / "blocks.json", tmp_path / "results.json"
    blocks_file.write_text(json.dumps(blocks), encoding="utf-8")
    command = ["node", str(SCRIPT), str(blocks_file), str(results_file)]
    if SCREENSHOTS:
        Path(SCREENSHOTS).mkdir(parents=True, exist_ok=True)
        command.append(SCREENSHOTS)
    subprocess.run(command, check=True, timeout=600)
    return json.loads(results_file.read_text(encoding="utf-8"))


def shown_label(label: str) -> str:
    """What Mermaid shows for a label vaultkit wrote: its `#NN;` entities decoded."""
    return re.sub(r"#(\d+);", lambda m: chr(int(m.group(1))), label)


def test_every_block_of_the_demo_vault_renders_with_the_note_names(tmp_path):
    vault = tmp_path / "vaultkit-demo"
    demo_vault(vault)
    assert CliRunner().invoke(cli, ["--vault", str(vault), "build"]).exit_code == 0
    blocks = mermaid_blocks(vault)
    assert len(blocks) == 3  # two lineages' flowcharts, the first one's metric chart
    results = render(blocks, tmp_path)
    assert [(r["name"], r["error"]) for r in results] == [(b["name"], None) for b in blocks]
    for block, result in zip(blocks, results, strict=True):
        labels = [shown_label(label) for label in _NODE.findall(block["source"])]
        assert sorted(result["nodes"]) == sorted(labels), block["name"]


HOSTILE_NAMES = [  # each broke a chart or showed the wrong text before issue 14
    "EXP-001 direction TB",
    "EXP-002 %% of boxes",
    "EXP-003 a <b>bold<br><img src=x>",
    "EXP-004 x &amp; y",
    "EXP-005 $$x^2$$ `code`",
    'EXP-006 say "hi"',
    "EXP-007 é 中文 %%{init: {}}%% #1",
]
HOSTILE_METRICS = [
    ("%% of boxes", "1e-05"),
    ("%%{init: {}}%%", "2.5e7"),
    ("<i>mAP</i> & $x$", "0.5"),
]


def test_hostile_names_and_values_render_and_nodes_show_the_note_names(tmp_path):
    rows = "".join(f"| {name} | {value} |\n" for name, value in HOSTILE_METRICS)
    files = {".obsidian/app.json": "{}"}
    for index, name in enumerate(HOSTILE_NAMES):  # all grow out of the first
        previous = f"[[{HOSTILE_NAMES[0]}]]" if index else "None"
        files[f"Experiments/{name}.md"] = (
            f"# Previous experiment\n\n- {previous}\n\n# Result\n\n"
            f"| metric | value |\n|---|---|\n{rows}\n---\nStatus: #writing\n\n"
            "Tags: #model_training #document\n"
        )
    vault = write_vault(tmp_path / "hostile", files)
    assert CliRunner().invoke(cli, ["--vault", str(vault), "build"]).exit_code == 0
    blocks = mermaid_blocks(vault)
    assert len(blocks) == 2  # the lineage's flowchart and its chart
    results = render(blocks, tmp_path)
    assert [r["error"] for r in results] == [None, None]
    assert sorted(results[0]["nodes"]) == sorted(HOSTILE_NAMES)
    assert "%% of boxes along the chain" in results[1]["texts"]
