"""A deterministic generator of realistic experiment vaults, for benchmarks.

Experiments follow the team template with filled sections and metric tables, and form
lineages with branches and merges; knowledge notes carry frontmatter, tags and links (some
dangling); folders nest; some names are not ASCII. Same size and seed -> same bytes.

    python benchmarks/generate.py 10000 benchmarks/vaults/10k
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
from pathlib import Path

SECTIONS = [
    "Data collecting process",
    "Data detail",
    "Data augmentation",
    "Data assumption (analysis)",
    "Metrics",
    "Environment setup",
    "Model",
    "Result",
    "Conclusion",
]
TOPICS = ["detector", "segmenter", "classifier", "ocr", "tracker", "ranker"]
WORDS = (
    "batch learning rate warmup cosine schedule mosaic mixup cutout label smoothing focal "
    "loss anchor backbone neck head freeze unfreeze epoch checkpoint validation recall "
    "precision threshold calibration imbalance oversample augmentation crop flip rotate "
    "noise blur dataset split leakage duplicate annotator review seed deterministic"
).split()
ACCENTED = ["café", "naïve", "Zürich", "señal", "données", "überblick"]


def sentence(rng: random.Random, n: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(n)).capitalize() + "."


def experiment_note(
    rng: random.Random, parents: list[str], children: list[str], knowledge: list[str], status: str
) -> str:
    lines = ["# Previous experiment", ""]
    if parents:
        lines.append(
            "- What is the previous experiment? " + " and ".join(f"[[{p}]]" for p in parents)
        )
    else:
        lines.append("- What is the previous experiment? None, first of its line.")
    lines += [f"- What went wrong: {sentence(rng, 12)}", f"- Change: {sentence(rng, 10)}", ""]
    for section in SECTIONS:
        lines += [f"# {section}", ""]
        if section in ("Metrics", "Result"):
            lines += ["| metric | value | threshold |", "|---|---|---|"]
            for name in ("mAP@0.5", "recall", "precision", "latency ms"):
                lines.append(
                    f"| {name} | {rng.uniform(0.3, 0.95):.3f} | {rng.uniform(0.5, 0.9):.2f} |"
                )
            lines.append("")
        if section == "Environment setup":
            lines += [
                "```bash",
                "python -m venv .venv",
                "pip install torch==2.3.0 ultralytics==8.2.31",
                "```",
                "",
            ]
        for _ in range(rng.randint(3, 7)):
            lines.append(f"- {sentence(rng, rng.randint(8, 20))}")
            if rng.random() < 0.3:
                lr, batch = rng.choice(["1e-3", "3e-4", "1e-4"]), rng.choice([16, 32, 64])
                lines.append(f"\t- lr: {lr}, batch size = {batch}")
        if rng.random() < 0.3:
            lines.append(f"- See [[{rng.choice(knowledge)}]] #{rng.choice(WORDS)}")
        lines.append("")
    lines += ["# Next experiment", ""]
    lines += [f"- What will be tested next? [[{c}]]" for c in children] or [
        "- What will be tested next?"
    ]
    lines += [
        "",
        "---",
        f"Status: #{status}",
        "",
        "Tags: #model_training #document",
        "",
        "References:",
        f"- https://arxiv.org/abs/{rng.randint(1000, 2400)}.{rng.randint(10000, 99999)}",
        "",
        "Related:",
        f"- [[{rng.choice(knowledge)}]]",
        "",
    ]
    return "\n".join(lines)


def knowledge_note(rng: random.Random, names: list[str]) -> str:
    tags = rng.sample(WORDS, 2)
    lines = [
        "---",
        f"tags: [{', '.join(tags)}]",
        f"created: 2024-0{rng.randint(1, 9)}-1{rng.randint(0, 9)}",
        "---",
        "",
        f"# {sentence(rng, 3)}",
        "",
    ]
    for _ in range(rng.randint(5, 15)):
        text = sentence(rng, rng.randint(10, 25))
        if rng.random() < 0.3:
            text += f" [[{rng.choice(names)}]]"
        if rng.random() < 0.05:
            text += " [[Missing note]]"
        lines.append(text)
        lines.append("")
    lines += [
        "---",
        f"- Status: #{rng.choice(['done', 'reading', 'writing'])} ",
        "- Tags: #model_training #tips_and_tricks",
        "",
    ]
    return "\n".join(lines)


def generate(size: int, root: Path, seed: int = 7) -> Path:
    """Write a vault of ``size`` notes (about 70 % experiments) into ``root``."""
    rng = random.Random(seed)
    if root.exists():
        shutil.rmtree(root)
    (root / ".obsidian").mkdir(parents=True)
    (root / ".obsidian" / "templates.json").write_text(json.dumps({"folder": "Templates"}))
    n_knowledge = max(1, size * 3 // 10)
    n_experiments = size - n_knowledge
    knowledge = [f"{rng.choice(ACCENTED)} note {i:05d}" for i in range(n_knowledge)]
    folders = [f"Projects/{t}/{y}" for t in TOPICS for y in (2023, 2024, 2025)]
    experiments = []
    for i in range(n_experiments):
        topic = TOPICS[i % len(TOPICS)]
        experiments.append((f"EXP-{i:05d} {topic} {rng.choice(WORDS)}", rng.choice(folders)))
    # Lineages as teams grow them: mostly chains with branches, a merge now and then,
    # several lines worked on at once; a new line about every 20 experiments.
    parents: dict[int, list[int]] = {}
    lines: list[list[int]] = []
    for i in range(n_experiments):
        if not lines or rng.random() < 0.05:
            lines.append([i])
            parents[i] = []
            continue
        line = rng.choice(lines[-8:])
        recent = line[-6:]
        parents[i] = [rng.choice(recent)]
        if len(recent) > 1 and rng.random() < 0.08:
            parents[i].append(rng.choice(recent))
        line.append(i)
    children: dict[int, list[int]] = {i: [] for i in range(n_experiments)}
    for child, ps in parents.items():
        for p in set(ps):
            children[p].append(child)
    for i, (name, folder) in enumerate(experiments):
        path = root / folder / f"{name}.md"
        path.parent.mkdir(parents=True, exist_ok=True)
        status = "done" if children[i] or rng.random() < 0.5 else "writing"
        text = experiment_note(
            rng,
            [experiments[p][0] for p in dict.fromkeys(parents[i])],
            [experiments[c][0] for c in children[i]],
            knowledge,
            status,
        )
        path.write_text(text, encoding="utf-8")
    names = [name for name, _ in experiments] + knowledge
    for i, name in enumerate(knowledge):
        path = root / "Knowledge" / f"{i % 20:02d}" / f"{name}.md"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(knowledge_note(rng, names), encoding="utf-8")
    return root


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("size", type=int)
    parser.add_argument("root", type=Path)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    generate(args.size, args.root, args.seed)


if __name__ == "__main__":
    main()
