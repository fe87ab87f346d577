"""Every Mermaid block `build` writes renders in the Mermaid Obsidian bundles (11.13.0),
in headless Chromium, with each node showing its note's name, and the charts of a long
chain stay legible on a note page.

Run by `make render-test`, which installs the renderer outside the repository and sets
VAULTKIT_RENDER_MODULES (skipped without it) and VAULTKIT_RENDER_SCREENSHOTS, the folder
where the demo's and the long chain's diagrams are saved as PNG files."""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, Phase, event, given, settings
from hypothesis import strategies as st

import vaultkit
from vaultkit.cli import cli
from vaultkit.create import demo_vault

from ..conftest import write_vault

MODULES = os.environ.get("VAULTKIT_RENDER_MODULES")
SCRIPT = Path(__file__).with_name("render_mermaid.mjs")
SCREENSHOTS = os.environ.get("VAULTKIT_RENDER_SCREENSHOTS")
EXAMPLES = int(os.environ.get("VAULTKIT_RENDER_EXAMPLES", "6"))  # vaults per property test

pytestmark = pytest.mark.skipif(
    not MODULES, reason="the real renderer is installed by `make render-test`"
)

_BLOCK = re.compile(r"^```mermaid\n(.*?)^```", re.M | re.S)
_NODE = re.compile(r'^  n\d+\["(.*)"\]$', re.M)


def mermaid_blocks(vault: Path, prefix: str = "") -> list[dict[str, str]]:
    """Every Mermaid block in the vault's notes, named by note and position (and
    ``prefix``: the start of its screenshot's file name)."""
    blocks = []
    for note in sorted(vault.rglob("*.md")):
        text = note.read_text(encoding="utf-8")
        for index, source in enumerate(_BLOCK.findall(text), 1):
            name = f"{note.relative_to(vault).with_suffix('').as_posix()} {index}"
            blocks.append({"name": prefix + name.replace("/", " - "), "source": source})
    return blocks


def render(
    blocks: list[dict[str, str]], folder: Path, screenshots: bool = False
) -> list[dict[str, Any]]:
    """What the real renderer draws for each block (render_mermaid.mjs says what)."""
    blocks_file, results_file = folder / "blocks.json", folder / "results.json"
    blocks_file.write_text(json.dumps(blocks), encoding="utf-8")
    command = ["node", str(SCRIPT), str(blocks_file), str(results_file)]
    if screenshots and SCREENSHOTS:
        Path(SCREENSHOTS).mkdir(parents=True, exist_ok=True)
        command.append(SCREENSHOTS)
    subprocess.run(command, check=True, timeout=600)
    results: list[dict[str, Any]] = json.loads(results_file.read_text(encoding="utf-8"))
    return results


def in_both_themes(blocks: list[dict[str, str]]) -> list[dict[str, str]]:
    """Each block as Obsidian's light theme and its dark theme draw it."""
    return [
        {**block, "name": f"{block['name']}{suffix}", "theme": theme}
        for block in blocks
        for theme, suffix in (("default", ""), ("dark", " (dark)"))
    ]


def build(vault: Path) -> None:
    result = CliRunner().invoke(cli, ["--vault", str(vault), "build"])
    assert result.exit_code == 0, result.output


def note(previous: str, metric_rows: str, status: str = "writing") -> str:
    return (
        f"# Previous experiment\n\n- {previous}\n\n# Result\n\n"
        f"| metric | value |\n|---|---|\n{metric_rows}\n---\nStatus: #{status}\n\n"
        "Tags: #model_training #document\n"
    )


def shown_label(label: str) -> str:
    """What Mermaid shows for a label vaultkit wrote: its `#NN;` entities decoded."""
    return re.sub(r"#(\d+);", lambda m: chr(int(m.group(1))), label)


def test_every_block_of_the_demo_vault_renders_with_the_note_names(tmp_path: Path) -> None:
    vault = tmp_path / "vaultkit-demo"
    demo_vault(vault)
    build(vault)
    blocks = in_both_themes(mermaid_blocks(vault, "demo "))
    # two lineages' flowcharts and the first one's metric chart, each in both themes
    assert len(blocks) == 6
    results = render(blocks, tmp_path, screenshots=True)
    assert [(r["name"], r["error"]) for r in results] == [(b["name"], None) for b in blocks]
    for block, result in zip(blocks, results, strict=True):
        labels = [shown_label(label) for label in _NODE.findall(block["source"])]
        assert sorted(result["nodes"]) == sorted(labels), block["name"]


HOSTILE_NAMES = [  # each broke a chart or showed the wrong text before labels were escaped
    "EXP-001 direction TB",
    "EXP-002 %% of boxes",
    "EXP-003 a <b>bold<br><img src=x>",
    "EXP-004 x &amp; y",
    "EXP-005 $$x^2$$ `code`",
    'EXP-006 say "hi"',
    "EXP-007 é 中文 %%{init: {}}%% #1",
    "EXP-008 flowchart LR; classDef x fill:red; click n1 call alert()",
    "EXP-009 end",
    "EXP-010 graph TD --> A[x] ; style n1 fill:#f00",
]
HOSTILE_METRICS = [  # exponent forms broke the charts; {n}: the note's number
    ("%% of boxes", "{n}e-05"),
    ("%%{init: {}}%%", "2.5e{n}"),
    ("<i>mAP</i> & $x$", "0.{n}"),
]


def test_hostile_names_and_values_render_and_nodes_show_the_note_names(tmp_path: Path) -> None:
    files = {".obsidian/app.json": "{}"}
    for index, name in enumerate(HOSTILE_NAMES):  # all grow out of the first
        previous = f"[[{HOSTILE_NAMES[0]}]]" if index else "None"
        rows = "".join(
            f"| {metric} | {value.format(n=index + 1)} |\n" for metric, value in HOSTILE_METRICS
        )
        files[f"Experiments/{name}.md"] = note(previous, rows)
    vault = write_vault(tmp_path / "hostile", files)
    build(vault)
    blocks = mermaid_blocks(vault)
    assert len(blocks) == 2  # the lineage's flowchart and its chart
    results = render(blocks, tmp_path)
    assert [r["error"] for r in results] == [None, None]
    assert sorted(results[0]["nodes"]) == sorted(HOSTILE_NAMES)
    assert "%% of boxes from the root to the best" in results[1]["texts"]
    assert "%% of boxes" in results[1]["texts"]  # the y-axis title


def contrast(colour: str, background: str) -> float:
    """WCAG contrast ratio of two `#rrggbb` colours (3 is the minimum for graphics)."""

    def luminance(hex_colour: str) -> float:
        channels = [int(hex_colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
        linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
        return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]

    high, low = sorted((luminance(colour), luminance(background)), reverse=True)
    return (high + 0.05) / (low + 0.05)


OBSIDIAN_BACKGROUNDS = ("#ffffff", "#1e1e1e")  # the note background, light and dark theme


def test_the_charts_of_a_30_experiment_chain_are_legible_on_a_note_page(tmp_path: Path) -> None:
    files = {".obsidian/app.json": "{}"}
    for number in range(1, 41):  # 40 steps: the chart shows the last 30
        previous = f"[[EXP-{number - 1:03} step]]" if number > 1 else "None"
        value = 0.4 + (number % 7) * 0.02 + number * 0.005
        files[f"Experiments/EXP-{number:03} step.md"] = note(
            previous, f"| mAP@0.5 | {value:.3f} |", "done"
        )
    vault = write_vault(tmp_path / "chain", files)
    build(vault)
    blocks = mermaid_blocks(vault, "long chain ")
    results = render(in_both_themes(blocks), tmp_path, screenshots=True)
    assert [r["error"] for r in results] == [None] * 4
    flowcharts, charts = results[:2], results[2:]  # each in the light and the dark theme
    for drawn in flowcharts:  # down the page at full size, each node showing its name
        assert drawn["scale"] == 1 and drawn["size"][0] <= 700
        assert sorted(drawn["nodes"]) == [f"EXP-{n:03} step" for n in range(1, 41)]
    for drawn in charts:
        labels = drawn["xLabels"]
        assert [label["text"] for label in labels] == [str(n) for n in range(11, 41)]
        for left, right in zip(labels, labels[1:], strict=False):
            assert left["right"] <= right["left"], (left, right)  # no label overlaps another
        chart_box = drawn["chart"]
        assert (
            chart_box["left"] - 1 <= labels[0]["left"]
            and labels[-1]["right"] <= chart_box["right"] + 1
        )
        assert drawn["size"] == [700, 500]  # as wide as the page: nothing is shrunk
        (line,) = drawn["lines"]
        assert all(contrast(line, background) >= 3 for background in OBSIDIAN_BACKGROUNDS)


# Any name a file can have on Linux and Obsidian shows (not hidden, no separator), and any
# metric name a table cell can hold (no `|`, no line break).
TITLES = st.text(
    st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="/\\"),
    min_size=1,
    max_size=24,
).filter(lambda title: not title.startswith(".") and len(title.encode()) < 200)
METRIC_NAMES = st.text(
    st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="|\\"),
    min_size=1,
    max_size=24,
)
VALUES = st.floats(allow_nan=True, allow_infinity=True, width=64)


# Each example starts a browser: no shrinking (minutes); a failure shows its example as found.
@settings(
    max_examples=EXAMPLES,
    suppress_health_check=list(HealthCheck),
    phases=[Phase.explicit, Phase.reuse, Phase.generate],
)
@given(
    titles=st.lists(TITLES, min_size=1, max_size=12, unique_by=str.casefold),
    metric=METRIC_NAMES,
    values=st.lists(VALUES, min_size=13, max_size=13),
)
def test_any_title_and_any_metric_give_blocks_that_render_as_written(
    tmp_path_factory: pytest.TempPathFactory, titles: list[str], metric: str, values: list[float]
) -> None:
    """Every title is a note grown out of one root; all report ``metric``."""
    folder = tmp_path_factory.mktemp("any")
    titles = [t for t in titles if t.casefold() != "exp-000 root"]
    files = {".obsidian/app.json": "{}"}
    for title, value in zip(["EXP-000 root", *titles], values, strict=False):
        previous = "[[EXP-000 root]]" if title != "EXP-000 root" else "None"
        files[f"Experiments/{title}.md"] = note(previous, f"| {metric} | {value!r} |")
    vault = write_vault(folder / "vault", files)
    build(vault)
    blocks = mermaid_blocks(vault)
    results = render(blocks, folder)
    assert [r["error"] for r in results] == [None] * len(blocks), blocks
    experiments = vaultkit.open(vault).experiments
    assert len(experiments) == len(files) - 1  # every title is an experiment
    names = [e.path.rpartition("/")[2].removesuffix(".md") for e in experiments]
    flowchart = next(r for r, b in zip(results, blocks, strict=True) if "flowchart" in b["source"])
    assert sorted(flowchart["nodes"]) == sorted(names)
    charted = [b for b in blocks if "xychart-beta" in b["source"]]
    read_as = {name for e in experiments for name in e.metrics}  # the name vaultkit read
    for block, result in zip(blocks, results, strict=True):
        if block in charted:
            (name,) = read_as
            assert f"{name} from the root to the best" in result["texts"]
            assert name in result["texts"]  # the y-axis title
    event(f"{len(charted)} chart(s)")
