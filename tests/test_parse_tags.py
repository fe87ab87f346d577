"""Tags, rule by rule (docs/obsidian-rules.md, "Tags"). Each row: note text -> tags as written."""

import pytest

from vaultkit.model.reading import parse_note

BODY_TAGS = [
    # the examples of the tag rules
    ("#model_training", ["model_training"]),
    ("Status: #writing", ["writing"]),
    ("Status:#writing", []),
    ("#done.", ["done"]),
    ("#it's", ["it"]),
    ("#2024", []),
    ("#2024-05", ["2024-05"]),
    ("#2023/10", ["2023/10"]),
    ("#y1984", ["y1984"]),
    ("#v1.5", ["v1"]),
    ("#exp/lr-sweep", ["exp/lr-sweep"]),
    ("#🚀launch", ["🚀launch"]),
    ("# Heading", []),
    ("#Heading", ["Heading"]),
    ("C# and F#", []),
    ("https://x.org/p#frag", []),
    ("\\#notatag", []),
    ("#task<br>", ["task"]),
    ("#Writing", ["Writing"]),
    # left boundary ([OBS] 1.13.7 table)
    ("(#pa)", []),
    ('"#pc"', []),
    (".#pd", []),
    ("x—#pe", []),
    ("[x #ph]", ["ph"]),
    ("tab\t#tb", ["tb"]),
    ("nbsp\u00a0#nb", ["nb"]),
    ("ideographic\u3000#id", ["id"]),
    # inline token boundary quirk
    ("\\[\\[#Escaped Links\\]\\]", ["Escaped"]),
    ("**#bold**", ["bold"]),
    ("[#x](y)", ["x"]),
    ("[x](y)#z", ["z"]),
    # character class: excluded punctuation and the U+2000 block end a tag
    ("#a,b", ["a"]),
    ("#a\u2014b", ["a"]),
    ("#café", ["café"]),
    ("#under_score-dash", ["under_score-dash"]),
    # regions that are not indexed ("Where nothing is indexed")
    ("`#code`", []),
    ("```\n#fenced\n```", []),
    ("~~~\n#tilde\n~~~", []),
    ("<!-- #html -->", []),
    ("<!--\n#multi\n-->", []),
    ("$#math$", []),
    ("$$\n#display\n$$", []),
    ("%% #i-am-parsed %%", ["i-am-parsed"]),
    ("%%\n#in-block-comment\n%%", ["in-block-comment"]),
    ("> [!note]\n> #in-callout", ["in-callout"]),
    ("| a | #in-table |\n|---|---|\n| 1 | 2 |", ["in-table"]),
    ("- item #in-list", ["in-list"]),
    ("- item\n  ```\n  #fenced-in-list\n  ```", []),
    ("$5 and #tag and $10", ["tag"]),
]


@pytest.mark.parametrize(("text", "expected"), BODY_TAGS)
def test_body_tags(text: str, expected: list[str]) -> None:
    assert [t.name for t in parse_note(text).tags] == expected


def test_underscore_emphasis_unverified_keeps_the_closing_underscore_a_tag_character() -> None:
    # '_' is a tag character, so the closing emphasis marker is read as part of the tag
    assert [t.name for t in parse_note("_#em_").tags] == ["em_"]


def test_tag_in_heading_counts_unverified_read_as_indexed() -> None:
    assert [t.name for t in parse_note("## Notes #todo").tags] == ["todo"]


def test_trailing_slash_tag_unverified_read_as_parent_tag() -> None:
    assert [t.name for t in parse_note("#a/ and #b//").tags] == ["a", "b"]


def test_indented_code_unverified_read_as_not_indexed() -> None:
    assert parse_note("para\n\n    #in-indented-code\n").tags == []


def test_raw_html_block_unverified_read_as_not_indexed() -> None:
    assert parse_note("<div>\n#in-div [[Linked]]\n</div>\n").tags == []


def test_tag_names_are_lower_cased_and_deduplicated_in_order() -> None:
    note = parse_note("#Writing #model_training #writing")
    assert note.tag_names == ["writing", "model_training"]


def test_tag_lines_are_true_to_the_file_with_frontmatter() -> None:
    note = parse_note("---\ntitle: x\n---\n\nline five #five\n")
    assert [(t.name, t.line) for t in note.tags] == [("five", 5)]


FRONTMATTER_TAGS = [
    ("tags:\n  - a\n  - b", ["a", "b"], None),
    ("tags: single", ["single"], None),
    ("tags: a, b", [], "a, b"),
    ("tags: a b", [], "a b"),
    ("tags:", [], None),
    ("tags: []", [], None),
    ('tags: ["#hashed", "plain"]', ["hashed", "plain"], None),
    ("tags: [2023]", [], None),
    ("Tags:\n  - upper-key", ["upper-key"], None),
    ("TAG:\n  - legacy", [], None),
    ("tag: old", [], None),
    ('{"tags": "journal"}', ["journal"], None),
    ("tags:\n  - ok\n  - has space\n  - ''", ["ok"], "has space"),
    ('tags: ["foo.bar"]', [], "foo.bar"),  # UNVERIFIED: tag grammar applied to properties
]


@pytest.mark.parametrize(("yaml", "expected", "ignored"), FRONTMATTER_TAGS)
def test_frontmatter_tags(yaml: str, expected: list[str], ignored: str | None) -> None:
    note = parse_note(f"---\n{yaml}\n---\nbody\n")
    assert [t.name for t in note.tags] == expected
    assert note.ignored_tags == ignored


def test_frontmatter_tags_come_before_body_tags() -> None:
    note = parse_note("---\ntags: [fm]\n---\n#body\n")
    assert note.tag_names == ["fm", "body"]


def test_invalid_frontmatter_loses_its_tags_but_body_tags_count() -> None:
    note = parse_note("---\ntags: [a]\ntags: [b]\n---\n#body\n")
    assert note.tag_names == ["body"]
    assert note.frontmatter_error is not None
