"""YAML as Obsidian reads it: the YAML 1.2 core schema, duplicate keys rejected.

Obsidian parses properties with the npm ``yaml`` package (YAML 1.2). PyYAML speaks
YAML 1.1, where ``2024-07-21`` is a date, ``no`` is False, ``12:30`` is 750 and
``0755`` is octal. This loader keeps PyYAML's parser (the C one when present) but
swaps in 1.2 resolvers, so python-frontmatter hands back what Obsidian sees.
"""

from __future__ import annotations

import re

import frontmatter
import yaml
from yaml.constructor import ConstructorError, SafeConstructor
from yaml.resolver import BaseResolver

try:  # the C parser is ~10x faster; the resolvers below still decide the types
    from yaml import CParser as _Parser
except ImportError:  # pragma: no cover - libyaml missing
    from yaml.parser import Parser as _Parser
    from yaml.reader import Reader as _Reader
    from yaml.scanner import Scanner as _Scanner
else:
    _Reader = _Scanner = None

from yaml.composer import Composer


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


class Yaml12Constructor(SafeConstructor):
    """Safe construction with 1.2 integers and Obsidian's 'Map keys must be unique'."""

    def construct_yaml_int(self, node):
        value = self.construct_scalar(node)
        if value.startswith("0o"):
            return int(value[2:], 8)
        if value.startswith("0x"):
            return int(value[2:], 16)
        return int(value, 10)

    def construct_mapping(self, node, deep=False):
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


Yaml12Constructor.add_constructor("tag:yaml.org,2002:int", Yaml12Constructor.construct_yaml_int)


if _Reader is None:

    class Yaml12Loader(_Parser, Yaml12Constructor, Yaml12Resolver):
        def __init__(self, stream):
            _Parser.__init__(self, stream)
            Yaml12Constructor.__init__(self)
            Yaml12Resolver.__init__(self)

else:  # pragma: no cover - pure-Python fallback

    class Yaml12Loader(_Reader, _Scanner, _Parser, Composer, Yaml12Constructor, Yaml12Resolver):
        def __init__(self, stream):
            _Reader.__init__(self, stream)
            _Scanner.__init__(self)
            _Parser.__init__(self)
            Composer.__init__(self)
            Yaml12Constructor.__init__(self)
            Yaml12Resolver.__init__(self)


_HANDLER = frontmatter.YAMLHandler()


class YamlError(Exception):
    """Properties that Obsidian would refuse; ``line`` is 0-based within the YAML text."""

    def __init__(self, message: str, line: int | None):
        super().__init__(message)
        self.line = line


def load_properties(text: str) -> dict | None:
    """Parse a frontmatter block's YAML; None when it is empty, YamlError when invalid."""
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
