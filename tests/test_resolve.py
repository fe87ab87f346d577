"""Link resolution (docs/obsidian-rules.md, "Links"): (link path, source file) -> file, on
one file set."""

import pytest

from vaultkit.obsidian.resolve import Resolver

FILES = [
    "Note.md",
    "b/Note.md",
    "a/b/Note.md",
    "zzzz/Note.md",
    "zzzz/deep/Source.md",
    "Log.md",
    "Ext.md",
    "img.png",
    "Board.canvas",
    "Sub/My Note.md",
    "x/Same.md",
    "y/Same.md",
    "a/b/Thing.md",
    "zzzz/Thing.md",
    "v1.5 notes.md",
    "Folder/Deep/Leaf.md",
]

RESOLUTION = [
    # 3. an exact vault path wins, even over a same-named note beside the source
    ("Note", "zzzz/deep/Source.md", "Note.md"),
    ("Note", "b/Other.md", "Note.md"),
    ("b/Note", "zzzz/deep/Source.md", "b/Note.md"),
    ("Folder/Deep/Leaf", "x.md", "Folder/Deep/Leaf.md"),
    # 2. no extension means .md; extensions compare without case
    ("Note.md", "x.md", "Note.md"),
    ("Ext.MD", "x.md", "Ext.md"),
    ("img.png", "x.md", "img.png"),
    ("img", "x.md", None),  # non-Markdown targets need their extension
    ("Board", "x.md", None),  # [[Note]] never matches Note.canvas
    ("Board.canvas", "x.md", "Board.canvas"),
    ("v1.5 notes", "x.md", "v1.5 notes.md"),
    # 4. explicit relative paths, no fallback
    ("./Note", "b/Src.md", "b/Note.md"),
    ("../Note", "b/Src.md", "Note.md"),
    ("./Missing", "b/Src.md", None),
    ("./Log", "b/Src.md", None),  # Log.md exists at the root, but ./ means b/
    ("../../Note", "b/Src.md", None),  # leaves the vault
    # 5. file name without case; a link with folders matches a path suffix
    ("log", "x.md", "Log.md"),
    ("LOG", "x.md", "Log.md"),
    ("my note", "x.md", "Sub/My Note.md"),
    ("Deep/Leaf", "x.md", "Folder/Deep/Leaf.md"),
    ("b/Thing", "x.md", "a/b/Thing.md"),
    ("eep/Leaf", "x.md", None),  # suffix means whole folder names
    # 6a. the source's own folder wins
    ("Same", "y/Src.md", "y/Same.md"),
    # 6b. then the shortest path string, not the fewest folders; ancestors get no preference
    ("Thing", "zzzz/deep/Source.md", "a/b/Thing.md"),
    # 7. nothing matches
    ("Nowhere", "x.md", None),
    # an empty path ([[#Heading]]) is the note itself
    ("", "Sub/My Note.md", "Sub/My Note.md"),
]


@pytest.mark.parametrize(("linkpath", "source", "expected"), RESOLUTION)
def test_resolution(linkpath: str, source: str, expected: str | None) -> None:
    assert Resolver(FILES).resolve(linkpath, source).path == expected


def test_equal_length_tie_unverified_resolves_to_the_alphabetically_first() -> None:
    assert Resolver(FILES).resolve("Same", "z/Src.md").path == "x/Same.md"


def test_a_bare_name_in_several_folders_is_ambiguous_even_when_the_root_wins() -> None:
    resolution = Resolver(FILES).resolve("Note", "x.md")
    assert resolution.path == "Note.md"
    assert resolution.candidates == ("Note.md", "a/b/Note.md", "b/Note.md", "zzzz/Note.md")


def test_a_written_folder_path_is_not_ambiguous() -> None:
    assert not Resolver(FILES).resolve("b/Note", "x.md").ambiguous


def test_name_match_reports_every_candidate() -> None:
    resolution = Resolver(FILES).resolve("Same", "y/Src.md")
    assert resolution.candidates == ("x/Same.md", "y/Same.md")


def test_case_only_twins_unverified_prefer_the_exact_case() -> None:
    resolver = Resolver(["Note.md", "note.md"])
    assert resolver.resolve("note", "x.md").path == "note.md"
    assert resolver.resolve("Note", "x.md").path == "Note.md"
