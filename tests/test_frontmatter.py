"""Frontmatter fences and YAML 1.2 meaning (docs/obsidian-rules.md, "Properties")."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from vaultkit.model.reading import parse_note

YAML_MEANING = [
    ("date: 2024-07-21", {"date": "2024-07-21"}),
    ("t: 2024-07-21T12:37:00", {"t": "2024-07-21T12:37:00"}),
    ("t: 12:30", {"t": "12:30"}),
    ("b: no\nc: yes", {"b": "no", "c": "yes"}),
    ("on: off", {"on": "off"}),
    ("x: 0755", {"x": 755}),
    ("x: 0o755", {"x": 493}),
    ("x: 0x1F", {"x": 31}),
    ("f: 1.5e3", {"f": 1500.0}),
    ("t: true\nf: FALSE", {"t": True, "f": False}),
    ("n: ~\nm: null\ne:", {"n": None, "m": None, "e": None}),
    ("status: #writing", {"status": None}),
    ("link: [[Note]]", {"link": [["Note"]]}),
    ('link: "[[Note]]"', {"link": "[[Note]]"}),
    ("- #foo", None),  # a list, not properties -> invalid
    ('{"tags":"journal","publish":false}', {"tags": "journal", "publish": False}),
    ("<<: {a: 1}", {"<<": {"a": 1}}),  # YAML 1.2 has no merge keys
]


@pytest.mark.parametrize(("yaml", "expected"), YAML_MEANING)
def test_yaml_12_meaning(
    yaml: str,
    expected: dict[str, None]
    | dict[str, bool | str]
    | dict[str, bool]
    | dict[str, dict[str, int]]
    | dict[str, float]
    | dict[str, int]
    | dict[str, list[list[str]]]
    | dict[str, str]
    | None,
) -> None:
    note = parse_note(f"---\n{yaml}\n---\n")
    if expected is None:
        assert note.frontmatter_error is not None
    else:
        assert note.frontmatter_error is None
        assert note.properties == expected


INVALID = [
    ("a: 1\na: 2", 3, "duplicate key"),
    ("tags: [#foo]", 2, ""),
    ("x: [1, 2", 2, ""),
    ("title: {{title}}", 2, ""),
]


@pytest.mark.parametrize(("yaml", "line", "words"), INVALID)
def test_invalid_yaml_reports_a_file_line_and_keeps_no_properties(
    yaml: str, line: int, words: str
) -> None:
    note = parse_note(f"---\n{yaml}\n---\nbody [[Still linked]]\n")
    assert note.properties == {}
    assert note.frontmatter_error is not None
    message, error_line = note.frontmatter_error
    assert words in message
    assert error_line == line
    assert [k.target for k in note.links] == ["Still linked"]


FENCES = [
    ("---\na: 1\n---\n", {"a": 1}),
    ("---  \t\na: 1\n---\n", {"a": 1}),  # spaces after the opener
    ("---\na: 1\n---   \n", {"a": 1}),  # trailing spaces after the closer
    ("---\r\na: 1\r\n---\r\n", {"a": 1}),  # CRLF
    ("---\ra: 1\r---\r", {"a": 1}),  # lone CR
    ("\ufeff---\na: 1\n---\n", {"a": 1}),  # BOM tolerated
    ("---\na: 1\n---trailing\n", {"a": 1}),  # closer is a line *beginning* with ---
    ("\n---\na: 1\n---\n", {}),  # blank line first: ordinary text
    ("----\na: 1\n---\n", {}),
    ("--- yaml\na: 1\n---\n", {}),
    ("---\na: 1\n ---\n", {}),  # an indented --- does not close, so no block at all
    ("---\na: 1\n", {}),  # never closed
    ("---\n---\n", {}),  # empty block: no properties, no error
]


@pytest.mark.parametrize(("text", "expected"), FENCES)
def test_fences(text: str, expected: dict[str, int] | dict[str, object]) -> None:
    note = parse_note(text)
    assert note.properties == expected
    assert note.frontmatter_error is None


def test_text_after_closing_dashes_is_body() -> None:
    note = parse_note("---\na: 1\n--- #after\n")
    assert note.tag_names == ["after"]


def test_frontmatter_is_not_scanned_as_body() -> None:
    note = parse_note("---\nnote: '#not-a-tag [[not a link]]'\n---\n")
    assert note.tags == [] and note.links == []


@given(
    yaml_lines=st.lists(
        st.from_regex(r"[a-z]{1,8}: [a-z0-9 ]{0,12}", fullmatch=True), min_size=0, max_size=6
    ),
    body=st.lists(st.from_regex(r"[A-Za-z0-9 #\[\]]{0,30}", fullmatch=True), max_size=6),
)
def test_the_split_agrees_with_python_frontmatter_where_the_rules_agree(
    yaml_lines: list[str], body: list[str]
) -> None:
    """Where Obsidian's rule and the library's coincide (an opener and a closer of three
    dashes alone, no other dashed line), both split a note alike."""
    import frontmatter.default_handlers

    from vaultkit.obsidian.note import split_frontmatter

    text = "\n".join(["---", *yaml_lines, "---", *body])
    ours, closing = split_frontmatter(text.split("\n"))
    theirs, content = frontmatter.default_handlers.YAMLHandler().split(text)
    assert ours is not None and ours.strip() == theirs.strip()
    assert "\n".join(text.split("\n")[closing + 1 :]).strip() == content.strip()
