"""Footer fields and statuses (README, "What counts as an experiment")."""

import pytest

from vaultkit.model.reading import parse_note
from vaultkit.records import LINK, PREVIOUS, REFERENCES, RELATED

STATUS = [
    ("---\nStatus: #writing\n", "writing"),
    ("Status: #Done", "done"),
    ("- Status: #done ", "done"),
    ("* Status: #pending", "pending"),
    ("**Status**: #postpone", "postpone"),
    ("**Status:** #not_done", "not_done"),
    ("status: #reading", "reading"),
    ("STATUS:  #writing #done", "writing"),
    ("Status:#writing", None),  # ':' before '#' makes no tag in Obsidian
    ("Status: writing", None),
    ("Status: `#writing`", None),
    ("```\nStatus: #done\n```", None),
    ("Status:: #done", None),  # Dataview field, not a footer field
    ("---\nstatus: '#done'\n---\n", "done"),  # property, '#' stripped
    ("---\nstatus: Writing\n---\n", "writing"),
    ("---\nstatus: done\n---\nStatus: #writing", "writing"),  # footer wins
]


@pytest.mark.parametrize(("text", "expected"), STATUS)
def test_status(text: str, expected: str | None) -> None:
    assert parse_note(text).status == expected


TEMPLATE_FOOTER = """# Next experiment

- What will be tested next? [[EXP-014 focal loss]]

#

---
Status: #writing

Tags: #model_training #document

References:
- https://arxiv.org/abs/1708.02002
- [[Paper notes]]

Related:
- [[Dataset v3 notes]]
"""

LIST_FOOTER = """Some text [[Plain]]

---
- Status: #done<SP>
- Tags: #model_training #tips_and_tricks
- References:
    - [Source](https://example.com/source)
    - [[Ref note]]
- Related:
    - [[Rel note]]
- Author: Lan
""".replace("<SP>", " ")  # the trailing space real vaults have


def test_template_footer_fields_and_roles() -> None:
    note = parse_note(TEMPLATE_FOOTER)
    assert {k: (f.key, f.line, f.end_line) for k, f in note.fields.items()} == {
        "status": ("Status", 8, 8),
        "tags": ("Tags", 10, 10),
        "references": ("References", 12, 14),
        "related": ("Related", 16, 17),
    }
    assert [(k.target, k.role) for k in note.links] == [
        ("EXP-014 focal loss", "next"),
        ("Paper notes", REFERENCES),
        ("Dataset v3 notes", RELATED),
    ]
    assert [(u.url, u.role) for u in note.urls] == [
        ("https://arxiv.org/abs/1708.02002", REFERENCES)
    ]
    assert note.status == "writing"
    assert note.tag_names == ["writing", "model_training", "document"]


def test_list_item_footer_with_trailing_spaces_and_indented_references() -> None:
    note = parse_note(LIST_FOOTER)
    assert note.status == "done"
    assert sorted(note.fields) == ["author", "references", "related", "status", "tags"]
    assert note.fields["author"].value.strip() == "Lan"
    assert [(k.target, k.role) for k in note.links] == [
        ("Plain", LINK),
        ("Ref note", REFERENCES),
        ("Rel note", RELATED),
    ]
    assert [(u.url, u.role) for u in note.urls] == [("https://example.com/source", REFERENCES)]


def test_other_key_lines_are_fields_only_after_the_last_rule() -> None:
    note = parse_note("Author: before\n\n---\n\nVersion: 2\n")
    assert sorted(note.fields) == ["version"]


SECTIONS = """# Previous experiment
- [[Parent A]] and [[Parent B]]
## detail under it
- [[Parent C]]
# Data
- [[Data note]]
### previous EXPERIMENT
[[Deep parent]]
#### deeper
[[Deeper parent]]
### other
[[Not parent]]
"""


def test_previous_section_reaches_to_the_next_heading_of_same_or_higher_level() -> None:
    roles = [(k.target, k.role) for k in parse_note(SECTIONS).links]
    assert roles == [
        ("Parent A", PREVIOUS),
        ("Parent B", PREVIOUS),
        ("Parent C", PREVIOUS),
        ("Data note", LINK),
        ("Deep parent", PREVIOUS),
        ("Deeper parent", PREVIOUS),
        ("Not parent", LINK),
    ]


def test_setext_heading_is_a_heading() -> None:
    note = parse_note("Previous experiment\n===================\n[[Parent]]\n")
    assert [(k.target, k.role) for k in note.links] == [("Parent", PREVIOUS)]
