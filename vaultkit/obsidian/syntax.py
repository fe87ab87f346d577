"""Obsidian's inline syntax: tags, wikilinks, Markdown links, URLs (docs/obsidian-rules.md,
"Tags", "Links", "Where nothing is indexed").

These functions work on a stretch of text that block parsing already found to be
Markdown (not a code block, not an HTML block). They return matches with character
offsets; ``note.py`` turns offsets into line numbers.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Iterator
from typing import NamedTuple
from urllib.parse import unquote

# Tags: after '#', characters outside whitespace, U+2000–U+206F, U+2E00–U+2E7F and this
# punctuation. The tag ends at the first excluded character.
_TAG_CHAR = r"""[^\s\u2000-\u206F\u2E00-\u2E7F'!"#$%&()*+,.:;<=>?@^`{|}~\[\]\\]"""
# '#' must follow the start, whitespace (NBSP and U+3000 included) or an inline token
# boundary: emphasis markers and '[' ([OBS] `\[\[#Escaped` and [3P] `**#x**`, `[#x](y)`).
# (Each lookbehind sits after the literal it guards: a leading lookbehind stops the regex
# engine from skipping ahead to the literal, which makes the scan ~20x slower.)
_TAG_RE = re.compile(r"#(?<![^\s*_\[]#)(" + _TAG_CHAR + "+)")
TAG_GRAMMAR = re.compile(_TAG_CHAR + "+")
_ALL_DIGITS = re.compile(r"[0-9]+")

# Links: a single ']' does not end a link, and '[[' inside restarts it ("[[a [[b]] c]]"
# records only b). A backslash before '[[' escapes it.
_WIKILINK_RE = re.compile(r"\[\[(?<!\\\[\[)((?:[^\n\[\]]|\](?!\])|\[(?!\[))+?)\]\]")
_MD_LINK_RE = re.compile(
    r"\[(?<!\\\[)((?:[^\[\]\n]|\[[^\[\]\n]*\])*)\]"
    r"\(\s*(<[^<>\n]*>|(?:[^\s()]|\([^\s()]*\))*)"
    r"""(?:\s+(?:"[^"\n]*"|'[^'\n]*'|\([^()\n]*\)))?\s*\)"""
)
# A URL is found from its "://" (a scheme-first regex would try every position of the
# text, ~50x slower), then the scheme before it and the address after it.
_SCHEME_BEFORE_RE = re.compile(r"(?:https?|ftp)\Z", re.IGNORECASE)
_URL_TAIL_RE = re.compile(r"://[^\s<>\[\]\"'`]+")
_URL_GLUED_RE = re.compile(r"[\w/.]")  # a URL glued to a word is not a URL
_SCHEME_RE = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:")

# Regions Obsidian does not index, masked before scanning. Code spans cannot cross
# a blank line (a paragraph break); '$$' display math can.
_INLINE_MATH_RE = re.compile(r"\$(?<![\\$]\$)(?=[^\s$])(?:[^$\n]*?[^\s$\\])?\$(?![\d$])")
_BACKTICKS_RE = re.compile(r"`+")
_NOT_NEWLINE = re.compile(r"[^\n]")


def normalise_tag(raw: str) -> str | None:
    """The tag a run of tag characters makes, or None: trailing '/' dropped (UNVERIFIED for
    ``#a/``; Obsidian forbids it since 1.5), all-digit tags rejected."""
    name = raw.rstrip("/")
    if not name or _ALL_DIGITS.fullmatch(name):
        return None
    return name


def is_valid_tag(name: str) -> bool:
    """True when ``name`` (without '#') is a whole tag under Obsidian's grammar."""
    return bool(TAG_GRAMMAR.fullmatch(name)) and normalise_tag(name) == name


def _blank(text: str, spans: list[tuple[int, int]]) -> str:
    """Replace each text[start:end] by spaces, keeping newlines so offsets and lines stay
    true. One pass over the text, however many spans (a 7,000-row index has 21,000)."""
    if not spans:
        return text
    pieces, last = [], 0
    for start, end in spans:
        pieces.append(text[last:start])
        span = text[start:end]
        pieces.append(_NOT_NEWLINE.sub(" ", span) if "\n" in span else " " * len(span))
        last = end
    pieces.append(text[last:])
    return "".join(pieces)


def _mask_code_spans(text: str) -> str:
    """Blank code spans: a run of backticks opens one that the next run of the same
    length closes, unless a blank line (a paragraph break) comes first. Linear: the next
    run of each length and the blank lines are looked up, not searched for."""
    runs = [(m.start(), m.end()) for m in _BACKTICKS_RE.finditer(text)]
    following: list[int | None] = [None] * len(runs)  # the next run of the same length
    last_of_length: dict[int, int] = {}
    for index in range(len(runs) - 1, -1, -1):
        length = runs[index][1] - runs[index][0]
        following[index] = last_of_length.get(length)
        last_of_length[length] = index
    breaks = _blank_lines(text)
    spans: list[tuple[int, int]] = []
    index = 0
    while index < len(runs):
        closer = following[index]
        if closer is None or _break_between(breaks, runs[index][1], runs[closer][0]):
            index += 1
            continue
        spans.append((runs[index][0], runs[closer][1]))
        index = closer + 1
    return _blank(text, spans)


def _blank_lines(text: str) -> list[tuple[int, int]]:
    """(start, end) of every place a blank line can be matched: a newline, spaces or
    tabs only, and another newline."""
    found = []
    at = text.find("\n")
    while at != -1:
        after = text.find("\n", at + 1)
        if after == -1:
            break
        if not text[at + 1 : after].strip(" \t"):
            found.append((at, after + 1))
        at = after
    return found


def _break_between(breaks: list[tuple[int, int]], start: int, end: int) -> bool:
    """Whether a blank line lies wholly within text[start:end]."""
    at = bisect.bisect_left(breaks, (start, -1))
    return at < len(breaks) and breaks[at][1] <= end


def _delimited(
    text: str, opener: str, closer: str, gap: int, escapable: bool
) -> list[tuple[int, int]]:
    """Spans from ``opener`` to the first ``closer`` at least ``gap`` characters after
    it, left to right: the lazy regex ``opener[\\s\\S]*?closer``, found in linear time
    (once no closer is left, no span is). ``escapable``: an opener right after a
    backslash does not count."""
    spans = []
    at = text.find(opener)
    while at != -1:
        if escapable and at and text[at - 1] == "\\":
            at = text.find(opener, at + 1)
            continue
        end = text.find(closer, at + len(opener) + gap)
        if end == -1:
            break
        spans.append((at, end + len(closer)))
        at = text.find(opener, end + len(closer))
    return spans


def mask_unindexed(text: str) -> str:
    """Blank out inline code, math and HTML comments; ``%% %%`` comments stay (indexed)."""
    if "`" in text:
        text = _mask_code_spans(text)
    if "<!--" in text:
        text = _blank(text, _delimited(text, "<!--", "-->", 0, escapable=False))
    if "$" in text:
        text = _blank(text, _delimited(text, "$$", "$$", 1, escapable=True))
        text = _blank(text, [m.span() for m in _INLINE_MATH_RE.finditer(text)])
    return text


class RawLink(NamedTuple):
    target: str  # the path part, decoded, without subpath
    subpath: str
    alias: str | None
    form: str  # wikilink | embed | markdown
    offset: int


class RawUrl(NamedTuple):
    url: str
    offset: int


class RawTag(NamedTuple):
    name: str
    offset: int


def split_linktext(linktext: str) -> tuple[str, str]:
    """Split ``path#subpath`` at the first '#' (Obsidian's parseLinktext)."""
    path, _, subpath = linktext.partition("#")
    return path, subpath


def parse_wikilink_body(body: str) -> tuple[str, str, str | None]:
    """``Note#Heading|Alias`` -> (path, subpath, alias). Split at the first '|'; a table's
    escaped ``\\|`` leaves a trailing backslash on the target, which no file name has."""
    linktext, pipe, alias = body.partition("|")
    linktext = linktext.rstrip("\\")
    path, subpath = split_linktext(linktext)
    # UNVERIFIED ([[ Note ]]): Obsidian-like reading trims the spaces inside the brackets.
    return path.strip(), subpath.strip(), alias if pipe else None


def scan_inline(text: str) -> tuple[list[RawLink], list[RawUrl], list[RawTag]]:
    """Find links, external URLs and tags in Markdown text that is not code."""
    text = mask_unindexed(text)
    links: list[RawLink] = []
    urls: list[RawUrl] = []
    if "[[" in text:
        spans = []
        for match in _WIKILINK_RE.finditer(text):
            path, subpath, alias = parse_wikilink_body(match.group(1))
            start = match.start()
            embed = start > 0 and text[start - 1] == "!"
            if path or subpath:
                form = "embed" if embed else "wikilink"
                links.append(RawLink(path, subpath, alias, form, start - embed))
            spans.append((start - embed, match.end()))
        text = _blank(text, spans)
    if "](" in text:
        spans = []
        for match in _MD_LINK_RE.finditer(text):
            destination = _destination(match)
            if _SCHEME_RE.match(destination):
                if destination.lower().startswith(("http:", "https:", "ftp:")):
                    urls.append(RawUrl(destination, match.start()))
            elif destination:
                path, subpath = split_linktext(destination)
                links.append(
                    RawLink(unquote(path), unquote(subpath), None, "markdown", match.start())
                )
            # the link text keeps its tags ([#x](y) is a tag); the destination goes
            spans.append((match.start(2) - 1, match.end()))
        text = _blank(text, spans)
    if "://" in text:
        spans = []
        for start, end in _url_spans(text):
            if start and _URL_GLUED_RE.match(text, start - 1):
                continue
            url = _trim_url(text[start:end])
            urls.append(RawUrl(url, start))
            spans.append((start, start + len(url)))
        text = _blank(text, spans)
    tags = []
    if "#" in text:
        for match in _TAG_RE.finditer(text):
            name = normalise_tag(match.group(1))
            if name:
                tags.append(RawTag(name, match.start()))
    links.sort(key=lambda link: link.offset)
    urls.sort(key=lambda url: url.offset)
    return links, urls, tags


def _url_spans(text: str) -> Iterator[tuple[int, int]]:
    """(start, end) of each `http://`, `https://` or `ftp://` address, left to right,
    as the regex `(?:https?|ftp)://[^\\s<>\\[\\]"'`]+` (case-insensitive) finds them."""
    searched_to = 0  # a scheme cannot start inside the previous address
    at = text.find("://")
    while at != -1:
        scheme = _SCHEME_BEFORE_RE.search(text, max(searched_to, at - 5), at)
        tail = _URL_TAIL_RE.match(text, at) if scheme else None
        if scheme and tail:
            yield scheme.start(), tail.end()
            searched_to = tail.end()
            at = text.find("://", searched_to)
        else:
            at = text.find("://", at + 1)


def _destination(match: re.Match[str]) -> str:
    """A Markdown link's destination without the angle brackets of ``(<a b.md>)``."""
    destination = match.group(2)
    if destination.startswith("<"):
        destination = destination[1:-1]
    return destination.strip()


def _trim_url(url: str) -> str:
    """Drop sentence punctuation after a bare URL, and a ')' that closes outer text."""
    url = url.rstrip(".,;:!?*_~")
    while url.endswith(")") and url.count(")") > url.count("("):
        url = url[:-1].rstrip(".,;:!?*_~")
    return url


def parse_property_link(value: str) -> RawLink | None:
    """A property value that is a whole link: ``"[[Note]]"`` or ``"[x](Note.md)"``.

    UNVERIFIED whether Obsidian records a link inside longer text ("see [[X]]"); the
    Obsidian-like reading taken here records only a value that is one link."""
    value = value.strip()
    match = _WIKILINK_RE.fullmatch(value)
    if match:
        path, subpath, alias = parse_wikilink_body(match.group(1))
        if path or subpath:
            return RawLink(path, subpath, alias, "property", 0)
        return None
    match = _MD_LINK_RE.fullmatch(value)
    if match:
        destination = _destination(match)
        if destination and not _SCHEME_RE.match(destination):
            path, subpath = split_linktext(destination)
            return RawLink(unquote(path), unquote(subpath), None, "property", 0)
    return None
