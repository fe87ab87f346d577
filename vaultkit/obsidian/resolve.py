"""Link resolution as Obsidian does it (docs/obsidian-rules.md, "Links"). Pure: paths in,
path out.

1. strip subpath and alias (done by the parser); an empty path is the note itself;
2. no extension means `.md`; extensions compare without case;
3. an exact vault path wins;
4. `./x` and `../x` resolve against the source's folder, with no fallback;
5. otherwise match the file name without case; a link with folders matches a path suffix;
6. ties: the source's own folder first, then the shortest path (equal lengths: UNVERIFIED,
   the alphabetically first, so the answer is deterministic);
7. else unresolved. Aliases never resolve.
"""

from __future__ import annotations

import functools
import posixpath
from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class Resolution:
    """Where a link goes (a vault path, or None) and every candidate that matched by name."""

    path: str | None
    candidates: tuple[str, ...] = ()

    @functools.cached_property  # one answer serves every link that gets it
    def ambiguous(self) -> bool:
        return len(self.candidates) > 1

    @functools.cached_property
    def target(self) -> str | None:
        """The id of what the link reaches: a note's path without `.md`, or a file's."""
        path = self.path
        return None if path is None else path[:-3] if path.lower().endswith(".md") else path


class Resolver:
    """Resolves link paths against every file of a vault (notes and attachments)."""

    def __init__(self, paths: Iterable[str]) -> None:
        self._by_lower_path: dict[str, list[str]] = {}
        self._by_lower_name: dict[str, list[str]] = {}
        # Answers already found: by link alone when the source's folder cannot matter, else
        # by (link, folder).
        self._anywhere: dict[str, Resolution] = {}
        self._known: dict[tuple[str, str], Resolution] = {}
        for path in sorted(paths):
            lower = path.lower()
            self._by_lower_path.setdefault(lower, []).append(path)
            self._by_lower_name.setdefault(lower.rpartition("/")[2], []).append(path)

    def _exact(self, path: str) -> str | None:
        found = self._by_lower_path.get(path.lower())
        if not found:
            return None
        return path if path in found else found[0]

    def _with_extension(self, linkpath: str) -> list[str]:
        """The file paths a link path can mean: `x.md` for a bare `x`, else the path as
        written (`img.png`, `Note.md`)."""
        if linkpath.lower().endswith(".md"):
            return [linkpath]
        return [linkpath + ".md", linkpath]

    def resolve(self, linkpath: str, source: str) -> Resolution:
        """Resolve ``linkpath`` (no #subpath, no |alias) written in the file ``source``."""
        if not linkpath:
            return Resolution(source)
        # The answer depends on the link and, at most, the source's folder: remember it,
        # for every folder when the folder could not have mattered.
        found = self._anywhere.get(linkpath)
        if found is not None:
            return found
        folder = source.rpartition("/")[0]
        found = self._known.get((linkpath, folder))
        if found is None:
            found = self._resolve(linkpath.replace("\\", "/"), folder)
            relative = linkpath.startswith(("./", "../"))
            if not relative and len(found.candidates) <= 1:
                self._anywhere[linkpath] = found
            else:
                self._known[(linkpath, folder)] = found
        return found

    def _resolve(self, linkpath: str, folder: str) -> Resolution:
        if "/" not in linkpath and "." not in linkpath:
            found = self._bare_note_name(linkpath, folder)
            if found is not None:
                return found
        if linkpath.startswith(("./", "../")):
            joined = _from_folder(linkpath, folder)
            if joined.startswith("../") or joined == "..":
                return Resolution(None)
            for candidate in self._with_extension(joined):
                exact = self._exact(candidate)
                if exact:
                    return Resolution(exact)
            return Resolution(None)
        linkpath = linkpath.lstrip("/")
        for candidate in self._with_extension(linkpath):
            exact = self._exact(candidate)
            if exact:
                # a bare name that also exists elsewhere is fragile; a written path is not
                others = () if "/" in linkpath else tuple(self._name_matches(candidate))
                return Resolution(exact, others)
        for candidate in self._with_extension(linkpath):
            matches = self._name_matches(candidate)
            if matches:
                return Resolution(self._best(matches, folder), tuple(matches))
        return Resolution(None)

    def _bare_note_name(self, name: str, folder: str) -> Resolution | None:
        """The common link, a note's name alone (``[[EXP-012 mosaic]]``), when a note of
        that name exists: the same answer as the steps below, found with one lookup."""
        lower = name.lower()
        matches = self._by_lower_name.get(lower + ".md")
        if not matches or lower in self._by_lower_path:
            return None  # no such note, or a file named just so at the root: the steps below
        at_root = [m for m in matches if "/" not in m]
        if at_root:  # an exact vault path
            wanted = name + ".md"
            return Resolution(wanted if wanted in at_root else at_root[0], tuple(matches))
        return Resolution(self._best(matches, folder), tuple(matches))

    def _name_matches(self, candidate: str) -> list[str]:
        lower = candidate.lower()
        matches = self._by_lower_name.get(posixpath.basename(lower), [])
        if "/" in lower:
            suffix = "/" + lower
            matches = [m for m in matches if ("/" + m.lower()).endswith(suffix)]
        return matches

    @staticmethod
    def _best(matches: list[str], folder: str) -> str:
        same_folder = [m for m in matches if m.rpartition("/")[0] == folder]
        if same_folder:
            return same_folder[0]
        return min(matches, key=lambda m: (len(m), m))


def _from_folder(linkpath: str, folder: str) -> str:
    """A `./x` or `../x` link path as a vault path (rule 4)."""
    return posixpath.normpath(posixpath.join(folder, linkpath))


def name_key(linkpath: str, source: str = "") -> str:
    """What a link and a file must share to meet: the lower-cased file name, without
    `.md`, that resolving ``linkpath`` from ``source`` looks for (a file path gives its
    own). Every step above finds only files of that name, so a link's answer changes
    only when a file with its key comes or goes."""
    if linkpath.startswith(("./", "../", ".\\", "..\\")):
        linkpath = _from_folder(linkpath.replace("\\", "/"), source.rpartition("/")[0])
    return _key(linkpath)


@functools.lru_cache(maxsize=1 << 17)  # the same few thousand targets, linked again and again
def _key(path: str) -> str:
    name = path.replace("\\", "/").rpartition("/")[2].lower()
    return name[:-3] if name.endswith(".md") else name
