"""The rebuild recipe: every answer from the note that states it, along the chain from the
root; settings with the experiment that set or last changed them; the replay; and the
gaps and contradictions, each named."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

import vaultkit
from vaultkit import loading
from vaultkit.create import demo_vault
from vaultkit.model.recipe import Recipe
from vaultkit.pipeline import Builder
from vaultkit.records import ParseRules

from .conftest import run, write_vault

GOLDEN = Path(__file__).parent / "golden" / "recipe"
MERGE = "Experiments/EXP-004 mosaic and focal loss"


@pytest.fixture
def demo(tmp_path: Path) -> Path:
    demo_vault(tmp_path / "demo")
    return tmp_path / "demo"


@pytest.mark.parametrize("output", ["json", "text", "markdown"])
def test_the_demo_merges_recipe_golden(demo: Path, output: str) -> None:
    result = run(demo, "recipe", "EXP-004", "--format", output)
    assert result.exit_code == 0, result.output
    golden = GOLDEN / f"EXP-004.{output}"
    if os.environ.get("VAULTKIT_UPDATE_GOLDEN"):
        golden.parent.mkdir(parents=True, exist_ok=True)
        golden.write_text(result.output, encoding="utf-8")
    assert result.output == golden.read_text(encoding="utf-8")


def test_the_demo_merge_names_where_each_setting_was_set(demo: Path) -> None:
    recipe = vaultkit.open(demo).recipe("EXP-004")
    settings = {
        s["name"]: (s["value"], s["source"], s["via"], s["before"]) for s in recipe["settings"]
    }
    baseline = "Experiments/EXP-001 baseline"
    mosaic, focal = "Experiments/EXP-002 mosaic augmentation", "Experiments/EXP-003 focal loss"
    assert settings["mosaic p"] == ("1.0", mosaic, mosaic, None)  # set in one parent
    assert settings["focal gamma"] == ("1.5", focal, focal, None)  # set in the other
    assert settings["lr"] == ("0.005", MERGE, None, "0.01")  # changed at the merge
    assert settings["batch size"] == ("32", baseline, mosaic, None)  # from the root
    assert recipe["seed"] == {
        "name": "seed",
        "value": "42",
        "source": baseline,
        "via": mosaic,
        "before": None,
    }
    assert [(lib["name"], lib["version"]) for lib in recipe["libraries"]] == [
        ("torch", "2.3.0"),
        ("torchvision", "0.18.0"),
        ("ultralytics", "8.2.31"),
        ("albumentations", "1.4.8"),
    ]
    data = next(a for a in recipe["answers"] if a["section"] == "data collecting process")
    assert data["lines"][2] == "- Stored: `s3://qa-data/defects/v3/` (DVC tracked, `data/v3.dvc`)"
    assert [s["experiment"] for s in recipe["replay"]] == [baseline, mosaic, focal, MERGE]
    assert [s["value"] for s in recipe["replay"]] == [0.612, 0.655, 0.634, 0.671]
    assert recipe["replay"][-1]["previous"] == [mosaic, focal]
    assert recipe["gaps"] == [] and recipe["contradictions"] == []


def note(previous: str, sections: dict[str, str], status: str = "done") -> str:
    body = f"# Previous experiment\n\n- What is the previous experiment? {previous}\n"
    for heading, text in sections.items():
        body += f"\n# {heading}\n\n{text}\n"
    return body + f"\n---\nStatus: #{status}\n\nTags: #model_training #document\n"


ROOT = {
    "Data collecting process": "- Source: the field cameras\n- Stored: `/data/cams/`",
    "Data augmentation": "- flips",
    "Environment setup": "- conda env `det`\n- Libraries:\n\t- torch==2.1.0\n\t- timm",
    "Model": "- ResNet-50 from torchvision, pretrained on ImageNet\n- Optimizer: as before\n"
    "- lr: 0.1, batch size = 64",
    "Metrics": "- accuracy on the val split",
}
CHILD = {
    "Previous experiment": "",  # replaced below: the child says what it changes
    "Data collecting process": "- Same as [[R-001 root]]",
    "Data augmentation": "- flips\n- mixup alpha = 0.2",
    "Model": "- ResNet-50 from torchvision, pretrained on ImageNet\n- lr: 0.1, batch size = 32",
}


@pytest.fixture
def chain(tmp_path: Path) -> Path:
    child = note("[[R-001 root]]", {k: v for k, v in CHILD.items() if k != "Previous experiment"})
    child = child.replace(
        "- What is the previous experiment? [[R-001 root]]\n",
        "- What is the previous experiment? [[R-001 root]]\n- Change: add mixup\n",
    )
    return write_vault(
        tmp_path / "v",
        {
            ".obsidian/app.json": "{}",
            "Experiments/R-001 root.md": note("None", ROOT),
            "Experiments/R-002 mixup.md": child,
        },
    )


def test_what_the_chain_never_states_is_a_named_gap(chain: Path) -> None:
    recipe = vaultkit.open(chain).recipe("R-002")
    gaps = {gap["kind"]: gap["message"] for gap in recipe["gaps"]}
    assert gaps["seed"] == (
        "no seed: nothing says how randomness is fixed; write it in R-002 mixup (or in the "
        "note of its chain where it was decided)"
    )
    assert gaps["library-version"].startswith("library timm has no version (e.g. timm==1.2.3)")
    assert gaps["as-before-at-root"] == (
        "R-001 root: model says 'Optimizer: as before', but nothing comes before R-001 root; "
        "write the value there"
    )
    assert gaps["data-version"].startswith("no data version")
    assert gaps["unanswered"].startswith("data detail is not answered in any note of the chain")
    assert "data-location" not in gaps and "pretrained-weights" not in gaps
    assert recipe["contradictions"] == [
        {
            "setting": "batch size",
            "notes": ["Experiments/R-001 root", "Experiments/R-002 mixup"],
            "message": "R-002 mixup has batch size 32 where R-001 root has 64, and its Previous "
            "experiment section does not say batch size changed; say so there, or correct "
            "the value",
        }
    ]
    data = next(a for a in recipe["answers"] if a["section"] == "data collecting process")
    assert (data["source"], data["via"]) == ("Experiments/R-001 root", "Experiments/R-001 root")
    augmentation = next(a for a in recipe["answers"] if a["section"] == "data augmentation")
    assert augmentation["source"] == "Experiments/R-002 mixup"
    assert {s["name"]: s["source"] for s in recipe["settings"]}["mixup alpha"] == (
        "Experiments/R-002 mixup"
    )


def test_a_gap_closed_in_the_root_is_closed_for_every_child(chain: Path) -> None:
    root = chain / "Experiments" / "R-001 root.md"
    text = root.read_text().replace("- Optimizer: as before\n", "- Optimizer: SGD\n- seed: 7\n")
    root.write_text(text.replace("\t- timm", "\t- timm==0.9.16"))
    recipe = vaultkit.open(chain).recipe("R-002")
    kinds = {gap["kind"] for gap in recipe["gaps"]}
    assert kinds == {"data-version", "unanswered"}
    assert recipe["seed"] is not None and recipe["seed"]["source"] == "Experiments/R-001 root"


def test_a_merge_whose_parents_disagree_is_a_contradiction(tmp_path: Path) -> None:
    vault = write_vault(
        tmp_path / "v",
        {
            ".obsidian/app.json": "{}",
            "A.md": note("None", {"Model": "- lr: 0.1"}),
            "B.md": note("[[A]]", {"Model": "- lr: 0.2"}).replace(
                "previous experiment? [[A]]\n", "previous experiment? [[A]]\n- lr raised\n"
            ),
            "C.md": note("[[A]]", {"Model": "- dropout: 0.3"}),
            "M.md": note("[[B]] and [[C]]", {"Model": "- dropout: 0.3"}),
        },
    )
    recipe = vaultkit.open(vault).recipe("M")
    assert recipe["contradictions"] == [
        {
            "setting": "lr",
            "notes": ["M", "B", "C"],
            "message": "M merges experiments that disagree on lr (B has 0.2, C has 0.1 from A) "
            "and does not say which it uses; the recipe takes B's",
        }
    ]
    assert {s["name"]: s["value"] for s in recipe["settings"]}["lr"] == "0.2"


def test_a_note_that_is_no_experiment_has_no_recipe(demo: Path) -> None:
    result = run(demo, "recipe", "Tips - imbalanced detection")
    assert result.exit_code != 0
    assert "is not an experiment" in result.output


def test_check_reports_a_done_experiment_whose_recipe_has_gaps(chain: Path) -> None:
    problems = json.loads(run(chain, "check", "--format", "json").output)["problems"]
    gaps = [(p["note"], p["message"]) for p in problems if p["code"] == "recipe-gap"]
    assert gaps == [
        (
            "Experiments/R-001 root",
            "done, but its rebuild recipe has 5 gaps (unanswered, as-before-at-root, seed, "
            "library-version, data-version); vaultkit recipe 'R-001 root' says what is "
            "missing and where to write it",
        ),
        (
            "Experiments/R-002 mixup",
            "done, but its rebuild recipe has 6 gaps (unanswered, as-before-at-root, seed, "
            "library-version, data-version, contradiction on batch size); vaultkit recipe "
            "'R-002 mixup' says what is missing and where to write it",
        ),
    ]


def test_the_recipe_note_is_rewritten_only_when_its_chain_changes(
    demo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:

    Builder(demo).build()
    Builder(demo).build()  # reads again the notes whose properties the first one set
    note = demo / "Recipes" / "EXP-004 mosaic and focal loss recipe.md"
    text = note.read_text(encoding="utf-8")
    assert "How to rebuild it: [[EXP-004 mosaic and focal loss recipe]]" in (
        demo / "Lineages" / "EXP-001 baseline lineage.md"
    ).read_text(encoding="utf-8")
    assert "[[EXP-004 mosaic and focal loss recipe]] |" in (demo / "Experiment Index.md").read_text(
        encoding="utf-8"
    )
    # a note outside the chain changes: the recipe is not made again, nor written
    outside = demo / "Experiments" / "EXP-011 int8 quantisation.md"
    outside.write_text(outside.read_text(encoding="utf-8") + "\nA remark.\n")
    made: list[str] = []
    real = loading.RecipeReader.recipe

    def recording(reader: loading.RecipeReader, note: str) -> Recipe:
        made.append(note)
        return real(reader, note)

    monkeypatch.setattr(loading.RecipeReader, "recipe", recording)
    result = Builder(demo).build()
    assert made == []  # EXP-011 follows its lineage's best: in no recipe's chain
    assert not [p for p in result.written if p.startswith("Recipes/")]
    # the root of its chain changes: the recipe follows
    root = demo / "Experiments" / "EXP-001 baseline.md"
    root.write_text(root.read_text(encoding="utf-8").replace("seed=42", "seed=7"))
    result = Builder(demo).build()
    assert made == [MERGE]
    assert "Recipes/EXP-004 mosaic and focal loss recipe.md" in result.written
    changed = note.read_text(encoding="utf-8")
    assert changed != text and "| seed | 7 | [[EXP-001 baseline]]" not in text
    # the root's seed changed, its children still say 42: they set it now, and nobody
    # said so (a contradiction each)
    assert "| seed | 42 | [[EXP-002 mosaic augmentation]] | 7 |" in changed
    assert "- contradiction: EXP-002 mosaic augmentation has seed 42 where EXP-001" in changed


def test_recipes_all_and_none(demo: Path) -> None:
    config = demo / ".vaultkit" / "config.toml"
    config.write_text(config.read_text() + 'recipes = "all"\n')
    Builder(demo).build()
    assert len(list((demo / "Recipes").glob("*.md"))) == 6
    config.write_text(config.read_text().replace('recipes = "all"', 'recipes = "none"'))
    result = Builder(demo).build()
    assert len([p for p in result.removed if p.startswith("Recipes/")]) == 6
    assert not list((demo / "Recipes").glob("*.md"))
    assert "[[EXP-004 mosaic and focal loss recipe]]" not in (
        demo / "Experiment Index.md"
    ).read_text(encoding="utf-8")


def test_a_section_that_points_to_a_missing_note_is_a_gap(chain: Path) -> None:
    child = chain / "Experiments" / "R-002 mixup.md"
    child.write_text(child.read_text().replace("Same as [[R-001 root]]", "Same as [[R-000 gone]]"))
    recipe = vaultkit.open(chain).recipe("R-002")
    assert {
        "kind": "broken-reference",
        "message": (
            "R-002 mixup: data collecting process points to a note that does not exist; write "
            "the answer there, or link the note that has it"
        ),
    } in recipe["gaps"]
    data = next(a for a in recipe["answers"] if a["section"] == "data collecting process")
    assert data["source"] == "Experiments/R-001 root"  # "as before": the previous one's


def test_check_counts_recipe_gaps_from_the_parses_without_reading_a_note(
    chain: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    vault = vaultkit.open(chain)
    assert vault.model.experiments  # the vault read first
    read: list[str] = []
    real = loading.note_sections

    def counting(root: Path, path: str, rules: ParseRules) -> dict[str, list[str]]:
        read.append(path)
        return real(root, path, rules)

    monkeypatch.setattr(loading, "note_sections", counting)
    assert [p.note for p in vault.check(codes=["recipe-gap"])] == [
        "Experiments/R-001 root",
        "Experiments/R-002 mixup",
    ]
    assert read == []


def test_a_seed_said_in_words_is_no_gap(chain: Path) -> None:
    """The same words `check`'s reproducibility rule reads: a seed set in code counts,
    though it is no `seed: N` setting."""
    child = chain / "Experiments" / "R-002 mixup.md"
    child.write_text(
        child.read_text().replace("- lr: 0.1,", "- Randomness: torch.manual_seed(0)\n- lr: 0.1,")
    )
    recipe = vaultkit.open(chain).recipe("R-002")
    assert recipe["seed"] is None  # no setting to show
    assert "seed" not in {gap["kind"] for gap in recipe["gaps"]}
