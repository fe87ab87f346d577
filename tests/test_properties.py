"""Hypothesis: the parser never raises, its tags obey the grammar, and the fast block path
agrees with markdown-it's full parse."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from vaultkit.model.reading import parse_note
from vaultkit.obsidian.note import block_structure, full_block_structure, normalise_newlines
from vaultkit.obsidian.resolve import Resolver
from vaultkit.obsidian.syntax import TAG_GRAMMAR

# Pieces that exercise every rule: fences, lists, headings, comments, links, tags, YAML.
PIECES = [
    "---",
    "- ",
    "* ",
    "1. ",
    "  ",
    "    ",
    "\t",
    "> ",
    "#",
    "# ",
    "## ",
    "```",
    "~~~",
    "`",
    "$$",
    "$",
    "%%",
    "<!--",
    "-->",
    "<div>",
    "</div>",
    "[[",
    "]]",
    "[",
    "](",
    ")",
    "|",
    "\\",
    "!",
    "#tag",
    "#2024",
    "Status: ",
    "Related:",
    "tags: ",
    "[[Note#H|a]]",
    "https://x.org/p#f",
    "===",
    "a",
    "word ",
    ":",
    "\u00a0",
    "\u2014",
    "🚀",
    "\r\n",
    "\r",
    "\n",
    "\n\n",
    "\ufeff",
]
markdownish = st.lists(st.sampled_from(PIECES) | st.text(max_size=5), max_size=60).map("".join)

LINE_SHAPES = [
    "",
    "text",
    "- item",
    "  - nested",
    "    indented",
    "\tTab",
    "1. one",
    "- ```",
    "```",
    "```py",
    "~~~",
    "  ```",
    "# H",
    "- # H",
    "---",
    "===",
    "- ---",
    "> quote",
    "> ```",
    "<div>",
    "</div>",
    "<!-- c -->",
    "| a | b |",
    "|---|---|",
    "    ```",
    "* * *",
    "- [ ] task",
    "a | b",
    "--|--",
    "|---|",
    "| x |",
    "[ref]: https://x.org",
    "> [!note]",
    "  > q",
    "- ",
    "-",
    "--",
    "2. two",
    "+ plus",
    "   ```",
    "\t```",
    "## H ##",
    "$$",
    "%%",
    "  text",
    "1. ",
    "- x | y",
    "text | more",
    ":--|--:",
    "   - nested",
    "\t- tab item",
    "***",
    "_ _ _",
    "1) paren",
    "```js `x`",
    "#",
    "####### seven",
    "# H #",
    "- # heading item",
    "~~~~",
    "\u00a0",
    "\u3000",
    "- \u00a0",
    "1. \u00a0",
    "\u0663. eastern digit",
    "  \u0663. eastern digit",
    "-   ",
    "x -",
    "- x -",
]
block_text = st.lists(st.sampled_from(LINE_SHAPES), max_size=25).map("\n".join)


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(st.text(), markdownish))
def test_parser_never_raises_and_tags_obey_the_grammar(text: str) -> None:
    note = parse_note(text)
    line_count = text.replace("\r\n", "\n").replace("\r", "\n").count("\n") + 1
    for tag in note.tags:
        assert TAG_GRAMMAR.fullmatch(tag.name), tag
        assert not tag.name.isascii() or not tag.name.isdigit()
        assert not tag.name.endswith("/")
        assert tag.line is None or 1 <= tag.line <= line_count
    for link in note.links:
        assert 1 <= link.line <= line_count


@settings(max_examples=1500)
@given(block_text)
def test_fast_block_path_agrees_with_full_markdown_it_parse(text: str) -> None:
    assert block_structure(text) == full_block_structure(text)


paths = st.lists(
    st.from_regex(r"([a-zA-Z ]{1,6}/){0,2}[a-zA-Z .]{1,8}\.(md|png)", fullmatch=True),
    max_size=12,
)


@settings(max_examples=300)
@given(paths, st.text(max_size=20), st.sampled_from(["", "a/", "a/b/"]))
def test_resolution_only_returns_files_of_the_vault(
    files: list[str], linkpath: str, folder: str
) -> None:
    result = Resolver(files).resolve(linkpath, folder + "src.md")
    assert result.path is None or result.path in files or result.path == folder + "src.md"


@pytest.mark.parametrize(
    "text",
    [
        "text\n\u00a0\n---\n",  # U+00A0 alone is text, not a blank line: a setext heading
        "a\n\u3000\n===\n",
        "  \u0663. a\n---",  # only ASCII digits make an ordered list item
        "- \u00a0\ntext\n---",  # an item holding U+00A0 is not empty
        "1. \u00a0\nx\n===",
    ],
)
def test_block_scanner_reads_unicode_spaces_and_digits_as_markdown_it_does(text: str) -> None:
    assert block_structure(text) == full_block_structure(text)


def test_block_scanner_agrees_with_markdown_it_on_every_real_note() -> None:
    from .conftest import CORPORA

    notes = sorted(CORPORA.rglob("*.md")) if CORPORA.is_dir() else []
    notes += sorted(Path(__file__).parents[1].joinpath("vaultkit", "data").rglob("*.md"))
    for path in notes:
        text = normalise_newlines(path.read_text(encoding="utf-8", errors="replace"))
        assert block_structure(text) == full_block_structure(text), path


URL_PIECES = ["http", "HTTPS", "s", "ftp", "ſ", "://", ":", "/", "x", " ", "\n", "<", "a.b"]


@settings(max_examples=1500)
@given(st.lists(st.sampled_from(URL_PIECES), max_size=16).map("".join))
def test_url_search_from_the_separator_agrees_with_the_scheme_first_regex(text: str) -> None:
    import re

    from vaultkit.obsidian.syntax import _url_spans

    reference = re.compile(r"(?:https?|ftp)://[^\s<>\[\]\"'`]+", re.IGNORECASE)
    assert list(_url_spans(text)) == [m.span() for m in reference.finditer(text)]


@settings(max_examples=500)
@given(
    st.lists(st.text(alphabet="ab/", max_size=6), max_size=4), st.text(alphabet="ab/", max_size=4)
)
def test_a_tag_is_found_as_itself_or_as_the_parent_of_a_nested_tag(
    tags: list[str], wanted: str
) -> None:
    from vaultkit.model.recognise import has_tag

    parts = [tag.split("/") for tag in tags]
    every_level = {"/".join(part[:depth]) for part in parts for depth in range(1, len(part) + 1)}
    assert has_tag(tags, wanted) == (wanted in every_level)


YAML_SCALARS = [
    "a",
    "a b",
    "2024-01-15",
    "true",
    "True",
    "TRUE",
    "false",
    "null",
    "NULL",
    "1",
    "0",
    "007",
    "0x1F",
    "0o17",
    "0x",
    "1e3",
    "1.",
    "1.5",
    "1_000",
    "12:30",
    "no",
    "yes",
    "on",
    "x.y",
    "a/b",
    "a+b",
    "a-b",
    "1-2",
    "inf",
    "nan",
    "Null",
    "a ",
    "~",
    "-1",
    ".5",
    "a #b",
    "'q'",
    "a: b",
    "[x]",
    "é",
]
YAML_KEYS = ["tags", "created", "a", "b", "_x", "true", "null", "x-y", "a b", "1"]
yaml_line = st.one_of(
    st.builds("{}: {}".format, st.sampled_from(YAML_KEYS), st.sampled_from(YAML_SCALARS)),
    st.builds("{}:".format, st.sampled_from(YAML_KEYS)),
    st.builds(
        lambda key, items: f"{key}: [{', '.join(items)}]",
        st.sampled_from(YAML_KEYS),
        st.lists(st.sampled_from(YAML_SCALARS), max_size=3),
    ),
    st.builds("{}- {}".format, st.sampled_from(["", "  ", "    "]), st.sampled_from(YAML_SCALARS)),
    st.sampled_from(["", "# c", "a:  b", "a:b", "\ta: b", "a: [b,c]"]),
)


def typed(value: object) -> object:
    """A value with its types spelled out: 1, 1.0 and True are equal in Python."""
    if isinstance(value, dict):
        return {typed(k): typed(v) for k, v in value.items()}
    if isinstance(value, list):
        return [typed(v) for v in value]
    return (type(value).__name__, repr(value))


@settings(max_examples=3000)
@given(st.lists(yaml_line, min_size=1, max_size=6).map("\n".join))
def test_simple_frontmatter_is_read_as_the_yaml_parser_reads_it(text: str) -> None:
    from vaultkit.obsidian.properties import _simple_mapping, parse_yaml

    fast = _simple_mapping(text)
    if fast is not None:
        assert typed(fast) == typed(parse_yaml(text))


@pytest.mark.parametrize(
    "text",
    ["tags: [a, b]\ncreated: 2024-01-15", "tags:\n  - a\n  - b\nstatus: done", "aliases: []"],
)
def test_common_frontmatter_takes_the_fast_path(text: str) -> None:
    from vaultkit.obsidian.properties import _simple_mapping, parse_yaml

    assert _simple_mapping(text) == parse_yaml(text)
    assert _simple_mapping(text) is not None


SETTING_PIECES = [
    "lr",
    "batch size",
    " ",
    ":",
    "=",
    "==",
    "===",
    "3e-4",
    "32",
    "1.2",
    "v1",
    ",",
    ".",
    "%",
    "\n",
    "\t",
    "https://x.org:8080",
    "torch",
    "-",
    "a",
]


@settings(max_examples=2000)
@given(st.lists(st.sampled_from(SETTING_PIECES), max_size=20).map("".join))
def test_settings_separators_found_from_literals_are_those_of_the_alternation(text: str) -> None:
    import re

    from vaultkit.model.metrics import _COLON_SETTING, _EQUALS_SETTING

    alternation = re.compile(r"(==|:|=)[ \t]*([\w.\-+]*\d[\w.\-+%,]*)")
    found = sorted(
        [*_COLON_SETTING.finditer(text), *_EQUALS_SETTING.finditer(text)], key=lambda m: m.start()
    )
    expected = list(alternation.finditer(text))
    assert [(m.span(), m.groups()) for m in found] == [(m.span(), m.groups()) for m in expected]


@settings(max_examples=2000)
@given(st.lists(st.sampled_from(SETTING_PIECES), max_size=20).map("".join))
def test_settings_read_from_the_whole_text_as_from_each_line(text: str) -> None:
    from vaultkit.model.metrics import settings as read_settings

    by_line: dict[str, str] = {}
    for line in text.split("\n"):
        for name, value in read_settings(line).items():
            by_line.setdefault(name, value)
    assert read_settings(text) == by_line


@settings(max_examples=3000)
@given(st.text(alphabet="aZ9_ .-/\t:é", max_size=45))
def test_a_setting_name_read_backwards_is_the_one_a_forward_search_finds(prefix: str) -> None:
    import re

    from vaultkit.model.metrics import setting_name

    forward = re.compile(r"(?<![/.\w])([A-Za-z][A-Za-z0-9_ .\-]{0,30}?)[ \t]*$").search(prefix)
    assert setting_name(prefix) == (forward.group(1) if forward else None)


@settings(max_examples=1000)
@given(
    st.lists(
        st.from_regex(r"([aAb]{1,2}/){0,2}[aAb]{1,3}(\.md|\.MD|\.png|)", fullmatch=True),
        max_size=10,
    ),
    st.from_regex(r"[aAb]{1,3}", fullmatch=True),
    st.sampled_from(["", "a", "a/b", "A"]),
)
def test_a_bare_note_name_resolves_as_the_general_steps_resolve_it(
    files: list[str], name: str, folder: str
) -> None:
    fast = Resolver(files)._bare_note_name(name, folder)
    general = Resolver(files)
    # the general steps alone, without the shortcut
    general._bare_note_name = lambda name, folder: None  # type: ignore[method-assign]
    assert fast is None or fast == general._resolve(name, folder)


@settings(max_examples=300)
@given(st.text(alphabet="a./B", max_size=8))
def test_a_file_stem_is_what_splitext_gives_for_names_the_vault_shows(path: str) -> None:
    import posixpath

    from vaultkit.output.render import _stem

    if not path.rpartition("/")[2].startswith("."):  # dot-names are hidden from the vault
        assert _stem(path) == posixpath.splitext(posixpath.basename(path))[0].lower()


KEYED_NAMES = ["a", "A.md", "a.md", "a.png", "a.png.md", "b", "b.md", "..", "a.MD", "x.md", "y"]
KEYED_LINKS = st.lists(
    st.sampled_from(["./", "../", ".\\", "x/", "X/", "/", "a", "A", ".md", ".png", "..", "b"]),
    min_size=1,
    max_size=5,
).map("".join)


@settings(max_examples=3000)
@given(
    st.lists(st.tuples(st.sampled_from(["", "x/", "x/y/", "X/"]), st.sampled_from(KEYED_NAMES))),
    st.sampled_from(["", "x/", "x/y/"]).flatmap(
        lambda f: st.sampled_from(KEYED_NAMES).map(lambda n: f + n)
    ),
    KEYED_LINKS,
    st.sampled_from(["src.md", "x/src.md", "x/y/src.md"]),
)
@example(files=[], new="x.md", link="./..", source="x/y/src.md")  # `x/y/..` is `x`
def test_a_link_resolves_anew_only_when_a_file_of_its_name_key_comes(
    files: list[tuple[str, str]], new: str, link: str, source: str
) -> None:
    """What builds rely on to keep index rows and lineage notes: a file whose key differs
    from a link's changes nothing of where the link goes or what it could mean."""
    from vaultkit.obsidian.resolve import name_key

    paths = sorted({folder + name for folder, name in files} - {new})
    if name_key(new) != name_key(link, source):
        assert Resolver(paths).resolve(link, source) == Resolver([*paths, new]).resolve(
            link, source
        )
