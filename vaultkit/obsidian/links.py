"""Writing links the way the vault's own settings say, and always unambiguous: a link
vaultkit writes resolves to the note it means (docs/obsidian-rules.md, "Links vaultkit
writes"). Pure."""

from __future__ import annotations

import posixpath
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from vaultkit.obsidian.resolve import Resolver


@dataclass(frozen=True)
class LinkStyle:
    """How the vault writes links (Settings → Files and links)."""

    format: str = "shortest"  # shortest | relative | absolute
    markdown: bool = False


def link_style(app_settings: dict[str, Any]) -> LinkStyle:
    chosen = app_settings.get("newLinkFormat")
    return LinkStyle(
        chosen if chosen in ("shortest", "relative", "absolute") else "shortest",
        app_settings.get("useMarkdownLinks") is True,
    )


def _without_md(path: str) -> str:
    return path[:-3] if path.lower().endswith(".md") else path


def link_path(target: str, source: str, style: LinkStyle, resolver: Resolver) -> str:
    """The path part of a link from ``source`` to ``target`` (vault paths, with `.md`)."""
    if style.format == "relative":
        relative = posixpath.relpath(target, posixpath.dirname(source) or ".")
        relative = relative if relative.startswith("../") else "./" + relative
        return relative if style.markdown else _without_md(relative)
    name = posixpath.basename(target)
    if style.format == "shortest":
        resolution = resolver.resolve(_without_md(name), source)
        if resolution.path == target and len(resolution.candidates) <= 1:
            return name if style.markdown else _without_md(name)
    return target if style.markdown else _without_md(target)


# A wikilink cannot hold these in its target: a pipe, heading and block marks, brackets,
# line breaks; and text the parser masks first (code, math, HTML comments) would cut it.
_NOT_IN_WIKILINKS = frozenset("|#^[]\r\n`$")
_ESCAPED_IN_TEXT = str.maketrans({c: "\\" + c for c in "\\[]`$#*_"} | {"<": "&lt;"})


def format_link(
    target: str,
    source: str,
    style: LinkStyle,
    resolver: Resolver,
    in_table: bool = False,
    named: bool = False,
) -> str:
    """``[[path]]`` or ``[Title](path.md)``; ``in_table`` escapes what a table cell needs.
    A name a wikilink cannot hold is written as a Markdown link, its path percent-encoded
    and its text escaped, so that nothing in it reads as a tag, code or a comment.
    ``named``: a wikilink whose path is more than the note's name (absolute or relative
    link formats) shows the name, ``[[Projects/Cracks/EXP-001 base|EXP-001 base]]`` (the
    tables vaultkit writes; in a person's note a link is written as Obsidian writes it)."""
    markdown = style.markdown or not _NOT_IN_WIKILINKS.isdisjoint(target) or "<!--" in target
    if markdown and not style.markdown:
        style = LinkStyle(style.format, markdown=True)
    path = link_path(target, source, style, resolver)
    title = _without_md(posixpath.basename(target))
    if markdown:
        text = " ".join(title.splitlines()).translate(_ESCAPED_IN_TEXT)
        if in_table:
            text = text.replace("|", "\\|")
        return f"[{text}]({quote(path, safe='/')})"
    if named and path != title:
        bar = "\\|" if in_table else "|"  # a `|` alone would end a table cell
        return f"[[{path}{bar}{title}]]"
    return f"[[{path}]]"
