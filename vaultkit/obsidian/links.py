"""Writing links the way the vault's own settings say (OBSIDIAN_SPEC §5.1), and always
unambiguous: a link vaultkit writes resolves, under §5, to the note it means. Pure."""

from __future__ import annotations

import posixpath
from urllib.parse import quote

from vaultkit.model.config import LinkStyle
from vaultkit.obsidian.resolve import Resolver


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


def format_link(
    target: str, source: str, style: LinkStyle, resolver: Resolver, in_table: bool = False
) -> str:
    """``[[path]]`` or ``[Title](path.md)``; ``in_table`` escapes what a table cell needs."""
    path = link_path(target, source, style, resolver)
    title = _without_md(posixpath.basename(target))
    if style.markdown:
        text = title.replace("[", "\\[").replace("]", "\\]")
        if in_table:
            text = text.replace("|", "\\|")
        return f"[{text}]({quote(path, safe='/')})"
    return f"[[{path}]]"
