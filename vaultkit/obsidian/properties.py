"""YAML as Obsidian reads it: the YAML 1.2 core schema, duplicate keys rejected.

Obsidian parses properties with the npm ``yaml`` package (YAML 1.2). PyYAML speaks
YAML 1.1, where ``2024-07-21`` is a date, ``no`` is False, ``12:30`` is 750 and
``0755`` is octal. This loader keeps PyYAML's parser (the C one when present) but
swaps in 1.2 resolvers, so python-frontmatter hands back what Obsidian sees.
"""

from __future__ import annotations

import re
from typing import Any

import frontmatter.default_handlers
import yaml
from yaml.composer import Composer
from yaml.constructor import ConstructorError, SafeConstructor
from yaml.nodes import MappingNode, ScalarNode
from yaml.parser import Parser
from yaml.reader import Reader
from yaml.resolver import BaseResolver
from yaml.scanner import Scanner


class _PurePythonParser(Reader, Scanner, Parser, Composer):
    """PyYAML's parser in Python, for where libyaml is missing."""

    def __init__(self, stream: str):
        Reader.__init__(self, stream)
        Scanner.__init__(self)
        Parser.__init__(self)
        Composer.__init__(self)


# the C parser is ~10x faster; the resolvers below still decide the types
_Parser: Any = getattr(yaml, "CParser", None) or _PurePythonParser


class Yaml12Resolver(BaseResolver):
    """Implicit types of the YAML 1.2 core schema, and nothing more."""


_CORE_TYPES = [
    ("tag:yaml.org,2002:bool", r"^(?:true|True|TRUE|false|False|FALSE)$", "tTfF"),
    ("tag:yaml.org,2002:int", r"^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$", "-+0123456789"),
    (
        "tag:yaml.org,2002:float",
        r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?"
        r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$",
        "-+0123456789.",
    ),
    ("tag:yaml.org,2002:null", r"^(?:~|null|Null|NULL|)$", ["~", "n", "N", ""]),
]
for _tag, _pattern, _first in _CORE_TYPES:
    Yaml12Resolver.add_implicit_resolver(_tag, re.compile(_pattern), list(_first))


def yaml12_int(value: str) -> int | str:
    """An integer of the core schema: decimal, `0o17` or `0x1F` (never YAML 1.1's `017`).
    One longer than Python converts (4,300 digits) stays the text it is."""
    try:
        if value.startswith("0o"):
            return int(value[2:], 8)
        if value.startswith("0x"):
            return int(value[2:], 16)
        return int(value, 10)
    except ValueError:
        return value


class Yaml12Constructor(SafeConstructor):
    """Safe construction with 1.2 integers and Obsidian's 'Map keys must be unique'."""

    def construct_yaml_int(self, node: ScalarNode) -> int | str:  # type: ignore[override]
        return yaml12_int(self.construct_scalar(node))

    def construct_mapping(self, node: MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            try:
                duplicate = key in seen
                seen.add(key)
            except TypeError:  # unhashable key: SafeConstructor reports it below
                continue
            if duplicate:
                raise ConstructorError(
                    "while constructing a mapping",
                    node.start_mark,
                    f"found duplicate key {key!r} (Obsidian: 'Map keys must be unique')",
                    key_node.start_mark,
                )
        return super().construct_mapping(node, deep=deep)


Yaml12Constructor.yaml_constructors = {
    **SafeConstructor.yaml_constructors,
    "tag:yaml.org,2002:int": Yaml12Constructor.construct_yaml_int,
}


class Yaml12Loader(_Parser, Yaml12Constructor, Yaml12Resolver):  # type: ignore[misc]
    def __init__(self, stream: str):
        _Parser.__init__(self, stream)
        Yaml12Constructor.__init__(self)
        Yaml12Resolver.__init__(self)


_HANDLER = frontmatter.default_handlers.YAMLHandler()


class YamlError(Exception):
    """Properties that Obsidian would refuse; ``line`` is 0-based within the YAML text."""

    def __init__(self, message: str, line: int | None):
        super().__init__(message)
        self.line = line


# The frontmatter most notes carry (`tags: [a, b]`, `created: 2024-05-01`, a block list)
# is read here directly, ~20x faster than the YAML parser; anything else goes to it.
# tests/test_properties.py checks that both give the same values of the same types.
_SIMPLE_SCALAR = r"[A-Za-z0-9_][A-Za-z0-9_ ./+-]*(?<! )"  # no indicator, quote or comment
_SIMPLE_ENTRY = re.compile(
    rf"([A-Za-z_][A-Za-z0-9_-]*):"
    rf"(?: ({_SIMPLE_SCALAR})| (\[(?:{_SIMPLE_SCALAR}(?:, {_SIMPLE_SCALAR})*)?\]))?$"
)
_SIMPLE_ITEM = re.compile(rf"( *)- ({_SIMPLE_SCALAR})$")
_SCALAR_TYPES = [(re.compile(pattern), tag.rsplit(":", 1)[1]) for tag, pattern, _ in _CORE_TYPES]


def _plain_scalar(text: str) -> bool | int | float | str | None:
    """A simple plain scalar's value under the core schema (the resolvers above, in their
    order; such a scalar never starts with a sign, a dot or `~`)."""
    for pattern, kind in _SCALAR_TYPES:
        if pattern.match(text):
            if kind == "bool":
                return text.lower() == "true"
            if kind == "int":
                return yaml12_int(text)
            if kind == "float":
                return float(text)
            return None
    return text


def _simple_mapping(text: str) -> dict[str, Any] | None:
    """The mapping of a frontmatter made of simple lines only, else None (ask the parser)."""
    result: dict[str, Any] = {}
    items: list[Any] | None = None  # the block list under the last `key:`, while it goes on
    indent: str | None = None
    key = ""
    for line in text.split("\n"):
        item = _SIMPLE_ITEM.match(line) if items is not None else None
        if item and items is not None:
            if indent is not None and item.group(1) != indent:
                return None
            indent = item.group(1)
            items.append(_plain_scalar(item.group(2)))
            result[key] = items
            continue
        entry = _SIMPLE_ENTRY.match(line)
        if not entry:
            return None
        key, scalar, flow = entry.groups()
        if key in result or not isinstance(_plain_scalar(key), str):
            return None  # duplicate keys are the parser's to refuse; `true:` is no string
        items, indent = None, None
        if scalar is not None:
            result[key] = _plain_scalar(scalar)
        elif flow is not None:
            inside = flow[1:-1]
            result[key] = [_plain_scalar(x) for x in inside.split(", ")] if inside else []
        else:
            result[key], items = None, []  # null, unless list items follow
    return result or None


def load_properties(text: str) -> dict[str, Any] | None:
    """Parse a frontmatter block's YAML; None when it is empty, YamlError when invalid."""
    simple = _simple_mapping(text)
    return simple if simple is not None else parse_yaml(text)


def parse_yaml(text: str) -> dict[str, Any] | None:
    """``load_properties`` by the YAML parser alone (the reference the fast path meets)."""
    try:
        data = _HANDLER.load(text, Loader=Yaml12Loader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = exc.problem or exc.context or "invalid YAML"
        raise YamlError(problem, mark.line if mark else None) from None
    except (yaml.YAMLError, ValueError, RecursionError) as exc:
        raise YamlError(str(exc).splitlines()[0] if str(exc) else "invalid YAML", None) from None
    if data is None or isinstance(data, dict):
        return data
    raise YamlError(f"properties must be 'key: value' pairs, not a {type(data).__name__}", 0)
