"""The model updated in place after changes equals the model built from scratch."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vaultkit.loading import load_snapshot as load_vault
from vaultkit.loading import read_note
from vaultkit.model.vault_model import VaultModel, build_model

from .conftest import LINEAGE_VAULT, experiment, write_vault

NAMES = [
    "Experiments/EXP-002 mosaic.md",
    "Experiments/EXP-004 merge.md",
    "Knowledge/Tips.md",
    "Experiments/EXP-040 new.md",
    "Notes/Dataset.md",
    "Other/EXP-001 baseline.md",
    "Cycle/EXP-021 loop b.md",
    "img.png",
]
CONTENTS = [
    experiment("[[EXP-001 baseline]]", "done"),
    experiment("[[EXP-040 new]] and [[EXP-003 focal]]", "writing"),
    experiment("[[Tips]]", "done"),
    experiment("[[EXP-002 mosaic]]", "writing", tags="#model_training"),
    "# Tips\n\n#model_training #tips_and_tricks\n![[img.png]]\n",
    None,  # delete
]


def state(model: VaultModel) -> tuple[object, ...]:
    return (
        sorted(model.notes),
        sorted(model.experiments),
        sorted(model.lineage.nodes),
        sorted(model.lineage.edges),
        {k: [(r.link, r.resolution) for r in v] for k, v in sorted(model.links.items())},
        {
            note_id: [(r.link, r.resolution) for r in model.resolved_links(note_id)]
            for note_id in sorted(model.experiments)
        },
    )


@pytest.mark.parametrize("all_links", [True, False])  # False: as build and watch use it
@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    st.lists(st.tuples(st.sampled_from(NAMES), st.sampled_from(CONTENTS)), min_size=1, max_size=6)
)
def test_incremental_update_equals_a_full_build(
    tmp_path_factory: pytest.TempPathFactory, all_links: bool, changes: list[tuple[str, str | None]]
) -> None:
    root = write_vault(tmp_path_factory.mktemp("v") / "vault", dict(LINEAGE_VAULT))
    vault = load_vault(root)
    model = build_model(vault, all_links)
    state(model)  # links resolved when asked are asked before the changes, as build does
    for path, content in changes:
        full = root / path
        if content is None:
            full.unlink(missing_ok=True)
        else:
            full.parent.mkdir(parents=True, exist_ok=True)
            full.write_text(content)
        files = set(vault.files)
        (files.add if full.exists() else files.discard)(path)
        vault.files = sorted(files)
        vault.notes.pop(path, None)
        if full.exists() and path.endswith(".md"):
            note = read_note(root, path)[0]
            assert note is not None
            vault.notes[path] = note
        model.update({path})
        assert state(model) == state(build_model(load_vault(root), all_links))
