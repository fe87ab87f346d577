"""Links as written (docs/obsidian-rules.md, "Links"): text -> (target, subpath, alias, form)."""

import pytest

from vaultkit.model.reading import parse_note

LINKS = [
    ("[[Note]]", [("Note", "", None, "wikilink")]),
    ("[[Note.md]]", [("Note.md", "", None, "wikilink")]),
    ("[[Note#Heading]]", [("Note", "Heading", None, "wikilink")]),
    ("[[Note#H1#H2]]", [("Note", "H1#H2", None, "wikilink")]),
    ("[[Note#^blk-1]]", [("Note", "^blk-1", None, "wikilink")]),
    ("[[#Heading]]", [("", "Heading", None, "wikilink")]),
    ("[[#^blk]]", [("", "^blk", None, "wikilink")]),
    ("[[folder/Note]]", [("folder/Note", "", None, "wikilink")]),
    ("![[Note]]", [("Note", "", None, "embed")]),
    ("![[Note#H]]", [("Note", "H", None, "embed")]),
    ("![[img.png|300]]", [("img.png", "", "300", "embed")]),
    ("![[doc.pdf#page=3]]", [("doc.pdf", "page=3", None, "embed")]),
    ("[[Sq]uare]]", [("Sq]uare", "", None, "wikilink")]),
    ("[[Sp ace]]", [("Sp ace", "", None, "wikilink")]),
    ("[[https://example.com]]", [("https://example.com", "", None, "wikilink")]),
    ("\\[\\[x\\]\\]", []),
    ("[[Note|Alias]]", [("Note", "", "Alias", "wikilink")]),
    ("[[a||b]]", [("a", "", "|b", "wikilink")]),
    ("[[Note|]]", [("Note", "", "", "wikilink")]),
    ("| [[Note\\|Alias]] | x |\n|---|---|\n| 1 | 2 |", [("Note", "", "Alias", "wikilink")]),
    ("[[a [[b]] c]]", [("b", "", None, "wikilink")]),
    ("[[]]", []),
    # Markdown links
    ("[text](Note%20Name.md)", [("Note Name.md", "", None, "markdown")]),
    ("[t](Three%20laws%20of%20motion)", [("Three laws of motion", "", None, "markdown")]),
    ("[text](<Note Name.md>)", [("Note Name.md", "", None, "markdown")]),
    ("[text](Folder/Note.md#Heading)", [("Folder/Note.md", "Heading", None, "markdown")]),
    ("[text](Note.md#^blk)", [("Note.md", "^blk", None, "markdown")]),
    ("[text](../Note.md)", [("../Note.md", "", None, "markdown")]),
    ("[text](./Note.md)", [("./Note.md", "", None, "markdown")]),
    ('[text](Note.md "a title")', [("Note.md", "", None, "markdown")]),
    ("[text](https://example.com)", []),
    ("[t](obsidian://open?vault=x)", []),
    ("![alt|250](https://x.org/x.jpg)", []),
    # not indexed
    ("`[[in code]]`", []),
    ("```\n[[fenced]]\n```", []),
    ("<!-- [[commented]] -->", []),
    ("%% [[obsidian comment]] %%", [("obsidian comment", "", None, "wikilink")]),
    ("## Heading with [[Link]]", [("Link", "", None, "wikilink")]),
    ("> [!tip]\n> [[In callout]]", [("In callout", "", None, "wikilink")]),
]


@pytest.mark.parametrize(("text", "expected"), LINKS)
def test_links(
    text: str,
    expected: list[str] | list[tuple[str, str, None, str]] | list[tuple[str, str, str, str]],
) -> None:
    links = parse_note(text).links
    assert [(k.target, k.subpath, k.alias, k.form) for k in links] == expected


def test_spaces_inside_brackets_unverified_read_as_trimmed() -> None:
    assert [k.target for k in parse_note("[[ Note ]]").links] == ["Note"]


def test_link_lines_count_frontmatter_and_crlf() -> None:
    note = parse_note("---\r\na: 1\r\n---\r\n\r\n[[Five]]\r\n")
    assert [(k.target, k.line) for k in note.links] == [("Five", 5)]


def test_urls_are_collected_without_trailing_punctuation() -> None:
    note = parse_note("See https://arxiv.org/abs/1708.02002. And (https://x.org/a_(b)).")
    assert [u.url for u in note.urls] == ["https://arxiv.org/abs/1708.02002", "https://x.org/a_(b)"]


PROPERTY_LINKS = [
    ('up: "[[Note]]"', [("Note", "", None, "link")]),
    ("up: [[Note]]", []),  # unquoted: a nested YAML list, not a link
    (
        'related:\n  - "[[A]]"\n  - "[[B|b]]"',
        [("A", "", None, "related"), ("B", "", "b", "related")],
    ),
    ('previous: "[[EXP-1]]"', [("EXP-1", "", None, "previous")]),
    ('previous_experiment: "[[EXP-1]]"', [("EXP-1", "", None, "previous")]),
    ('self: "[[#Heading]]"', [("", "Heading", None, "link")]),
    ('md: "[x](Other%20Note.md)"', [("Other Note.md", "", None, "link")]),
    ('text: "see [[X]] here"', []),  # UNVERIFIED: only a whole-value link is recorded
]


@pytest.mark.parametrize(("yaml", "expected"), PROPERTY_LINKS)
def test_property_links(
    yaml: str,
    expected: list[str]
    | list[tuple[str, str, None, str] | tuple[str, str, str, str]]
    | list[tuple[str, str, None, str]],
) -> None:
    links = parse_note(f"---\n{yaml}\n---\n").links
    assert [(k.target, k.subpath, k.alias, k.role) for k in links] == expected
    assert all(k.form == "property" for k in links)


def test_property_link_line_is_the_line_it_is_written_on() -> None:
    note = parse_note('---\ntitle: t\nrelated:\n  - "[[A]]"\n---\n')
    assert [(k.target, k.line) for k in note.links] == [("A", 4)]


def test_a_note_with_tens_of_thousands_of_links_is_read_in_one_pass() -> None:
    # The generated index of a 10k-note vault holds ~21,000 links; blanking each found
    # link by copying the whole text made that quadratic (9 s for the index, minutes for
    # this note). Every link must still be found, with its line.
    rows = [
        f"| [[EXP-{i:05d}]] | [[Lineage {i % 97}]] | [x](Note%20{i}.md) |" for i in range(20000)
    ]
    note = parse_note("| a | b | c |\n|---|---|---|\n" + "\n".join(rows) + "\n")
    assert len(note.links) == 60000
    assert (note.links[-1].target, note.links[-1].line) == ("Note 19999.md", 20002)
