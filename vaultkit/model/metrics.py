"""What an experiment note reports: metric values, settings, and how complete it is.
Pure: lines in, data out.

- Metrics come from tables in the Metrics and Result sections (a name column and a value
  column), Dataview inline fields (`mAP:: 0.61`, `[mAP:: 0.61]`) and numeric properties.
- Settings are hyperparameters and pinned versions written as `lr: 3e-4`,
  `batch size = 32` or `torch==2.3.0`.
- A template section is answered when it holds something besides the template's own
  questions.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import NamedTuple

RESULT_SECTIONS = ("result", "results")  # where results are read
PLAN_SECTION = "metrics"  # the plan: thresholds, and values a table holds
_NUMBER = re.compile(r"^[-+]?(?:\d{1,3}(?:,\d{3})+|\d+)?(?:\.\d+)?(?:[eE][-+]?\d+)?$")
_PLAIN_DECIMAL = re.compile(r"-?[0-9]+(?:\.[0-9]+)?")
_TABLE_RULE = re.compile(r"\s*\|?\s*:?-+:?\s*(\|\s*:?-+:?\s*)*\|?\s*")
_LIST_MARKER = re.compile(r"^\s*(?:[-*+]|\d+[.)])?\s*")
_CELL_SPLIT = re.compile(r"\|(?<!\\\|)")  # a `|` not escaped (literal first: fast)
# `[name:: value]`: a value holds no `[` (a numeric one never does), so a line of
# thousands of unclosed `[a:: ` is read in one pass, not once per bracket
_INLINE_FIELD = re.compile(
    r"\[([^\[\]():]+?)::\s*([^\[\]]+)\]|^\s*(?:[-*+]\s+)?\**([^\[\]():*]+?)\**::\s*(.+)$"
)
# Settings are found from their separator, then the name before it: scanning for a name
# at every position of every line is ten times slower. Each pattern starts with a literal
# character, which the regex engine finds fast (a leading [:=] is checked at every
# position: ~15x slower on a long note).
_COLON_SETTING = re.compile(r"(:)[ \t]*([\w.\-+]*\d[\w.\-+%,]*)")
_EQUALS_SETTING = re.compile(r"(==?)[ \t]*([\w.\-+]*\d[\w.\-+%,]*)")
_NUMERIC_VALUE = re.compile(r"[-+]?\d[\d.,]*(?:[eE][-+]?\d+)?%?")
_PIN_NAME = re.compile(r"(?<![\w.\-])([A-Za-z][\w.\-]*)$")
# The name just before a separator: letters first, up to 31 characters, not glued to a
# path or word. Read backwards (the text reversed, matched at its start): a search from
# the front would try every position of the line.
_SETTING_NAME_REVERSED = re.compile(r"[ \t]*([A-Za-z0-9_ .\-]{0,30}[A-Za-z])(?![/.\w])")


def setting_name(prefix: str) -> str | None:
    """The name a setting's separator follows in ``prefix`` (its line up to there)."""
    match = _SETTING_NAME_REVERSED.match(prefix[::-1])
    return match.group(1)[::-1] if match else None


_DIGIT = re.compile(r"\d")


def parse_number(text: str) -> float | None:
    """`0.61`, `61.2%`, `0.61 ± 0.02`, `4,812`, `3e-4` -> a number; anything else None."""
    if _PLAIN_DECIMAL.fullmatch(text):  # most table cells: no unit, spread or separator
        return float(text)
    text = text.strip().strip("*_`").split("±")[0].split("+/-")[0].strip()
    text = text.rstrip("%").strip()
    if not text or not _NUMBER.match(text) or not any(ch.isdigit() for ch in text):
        return None
    try:
        return float(text.replace(",", ""))
    except ValueError:
        return None


def cells(line: str) -> list[str]:
    """A table row's cells, stripped (a `\\|` inside one is no border)."""
    found = [c.strip() for c in _CELL_SPLIT.split(line.strip())]
    if found and not found[0]:
        found = found[1:]
    if found and not found[-1]:
        found = found[:-1]
    return found


class Prose(NamedTuple):
    """What a Result or Metrics section says in its lines (tables aside)."""

    values: dict[str, float]  # name -> value, the first written of each name
    thresholds: dict[str, float]
    percent: frozenset[str]  # the names whose value was written with `%`
    unread: list[tuple[int, str]]  # (index in the section, line) holding numbers no rule read


def table_metrics(lines: list[str]) -> Prose:
    """The values and thresholds of every table in ``lines``: the name column is one
    headed `metric` or `name` (else the first), the value column one headed `value`,
    `result` or `score` (else the second); a `threshold` column gives thresholds."""
    values: dict[str, float] = {}
    thresholds: dict[str, float] = {}
    percent: set[str] = set()
    index = 0
    while index + 1 < len(lines):
        header, rule = lines[index], lines[index + 1]
        if "|" not in header or "-" not in rule or not _TABLE_RULE.fullmatch(rule):
            index += 1
            continue
        names = [c.lower() for c in cells(header)]
        name_col = next((i for i, c in enumerate(names) if c in ("metric", "name", "metrics")), 0)
        value_col = next(
            (i for i, c in enumerate(names) if c in ("value", "result", "score", "actual")),
            1 if name_col == 0 else 0,
        )
        threshold_col = next(
            (i for i, c in enumerate(names) if "threshold" in c or c in ("target", "expected")),
            None,
        )
        index += 2
        while index < len(lines) and "|" in lines[index]:
            row = cells(lines[index])
            if len(row) > max(name_col, value_col):
                name = row[name_col].strip("*_` ")
                number = parse_number(row[value_col])
                if name and number is not None and name not in values:
                    values[name] = number
                    if row[value_col].split("±")[0].strip(" *_`").endswith("%"):
                        percent.add(name)
                if threshold_col is not None and threshold_col < len(row):
                    limit = parse_number(row[threshold_col])
                    if name and limit is not None:
                        thresholds.setdefault(name, limit)
            index += 1
    return Prose(values, thresholds, frozenset(percent), [])


# A result or threshold written in a sentence or a list item: `mAP@0.5 = 0.58`,
# `recall: 49%`, `mAP@0.5 ≥ 0.65`, `latency: at most 30 ms`. The name starts with a
# letter after a word boundary and is at most 40 characters; the value is a number,
# then a `%`, a `± spread` and a unit, and nothing glued to it (`2024-05-01` is no value).
_PROSE_PAIR = re.compile(
    r"(?<![\w@./-])(?P<name>[A-Za-z](?:[\w@./()\- ]|(?<=\d):(?=\d)){0,39}?)\s*"
    r"(?P<op>(?:[:=]\s*)?(?:≥|≤|>=|<=|=>|=<|>|<|(?i:at least|at most)\b)|[:=])\s*"
    r"(?P<value>[-+]?(?:\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?|\.\d+)(?:[eE][-+]?\d+)?)"
    r"(?P<percent>\s*%)?(?:\s*(?:±|\+/-|\+-)\s*\d[\d.]*\s*%?)?(?:\s*[A-Za-zµ/]+)?"
    r"(?=$|[\s,;)\]|(])"
)
_SIGNS = (":", "=", "<", ">", "≥", "≤")  # one of them, or "at least"/"at most", in a pair
_NOT_READ = re.compile(r"!?\[\[[^\]]*\]\]|\]\([^)]*\)|\w+://\S+|<!--.*?-->")
_THRESHOLD_WORDS = re.compile(r"threshold|expect|accept|target|goal|require", re.I)
_STANDALONE_NUMBER = re.compile(r"(?<![\w@.:/-])[-+]?\d+(?:[.,]\d+)*%?(?![\w@:/-])")


def _prose_text(line: str) -> str:
    """A line as its pairs are read: no list marker, emphasis, code ticks, links or
    addresses (a number in a link is no result)."""
    text = _LIST_MARKER.sub("", line, count=1)
    return _NOT_READ.sub(" ", text.replace("**", "").replace("__", "").replace("`", ""))


def prose_metrics(lines: list[str], questions: Sequence[str], plan: bool = False) -> Prose:
    """Results (``plan`` False: the Result section) or thresholds (``plan``: the Metrics
    section) written as `name: value` or `name = value` pairs, several to a line, in list
    items or nested under the template's question. In the plan, a pair is a threshold
    when it compares (`≥ 0.65`, `at least 0.65`) or stands under, or on, a line that
    speaks of a threshold (`Expected (accepted) threshold for each metric`)."""
    values: dict[str, float] = {}
    thresholds: dict[str, float] = {}
    percent: set[str] = set()
    unread: list[tuple[int, str]] = []
    # a pair needs a number: only the lines that hold a digit are read (most lines of a
    # section are prose without one, and a build reads two sections of every note)
    for index in [i for i, line in enumerate(lines) if _DIGIT.search(line)]:
        line = lines[index]
        stripped = line.strip()
        if stripped.startswith(_NOT_PROSE):
            continue
        text = _prose_text(line)
        lowered = text.lower()
        # and a separator: most lines of prose have none (and the pattern would try every
        # word of the line as a name)
        paired = (
            any(sign in text for sign in _SIGNS) or "at least" in lowered or "at most" in lowered
        )
        under_threshold = plan and _under_threshold(lines, index)
        found = False
        for pair in _PROSE_PAIR.finditer(text) if paired else ():
            name = " ".join(pair.group("name").split()).strip(" (")
            if not name or is_question(name, questions) or len(name.split()) > 5:
                continue
            if text[pair.end("name") : pair.start("value")] == ":":
                continue  # `12:30`, `3:1`: a time or a ratio, not a pair
            op = pair.group("op").lstrip(":=").strip().lower() or pair.group("op").strip()
            number = float(pair.group("value").replace(",", ""))
            compares = op not in (":", "=")
            if plan and (compares or under_threshold):
                thresholds.setdefault(name, number)
                found = True
            elif not plan and not compares:
                if name not in values:
                    values[name] = number
                    if pair.group("percent"):
                        percent.add(name)
                found = True
        if not found and not plan and "::" not in text and _STANDALONE_NUMBER.search(text):
            unread.append((index, stripped))
    return Prose(values, thresholds, frozenset(percent), unread)


_NOT_PROSE = ("|", "#", "<!--", "```", "~~~")  # table rows, headings, comments, fences


def _under_threshold(lines: list[str], index: int) -> bool:
    """Whether the line at ``index`` speaks of a threshold or is nested (deeper indented)
    under a line that does: walking up, a line less indented than every line after it
    is one of its parents."""
    depth = _depth(lines[index])
    for above in range(index, -1, -1):
        line = lines[above]
        stripped = line.strip()
        if not stripped or stripped.startswith(_NOT_PROSE):
            continue
        if above < index:
            outer = _depth(line)
            if outer >= depth:
                continue
            depth = outer
        if _THRESHOLD_WORDS.search(line):
            return True
        if depth == 0:
            return False
    return False


def _depth(line: str) -> int:
    return len(line) - len(line.lstrip(" \t"))


def inline_metrics(lines: list[str]) -> dict[str, float]:
    """Dataview fields with numeric values: `mAP:: 0.61`, `[mAP:: 0.61]`."""
    found: dict[str, float] = {}
    for line in lines:
        if "::" not in line:
            continue
        for match in _INLINE_FIELD.finditer(line):
            key = (match.group(1) or match.group(3) or "").strip()
            number = parse_number(match.group(2) or match.group(4) or "")
            if key and number is not None:
                found.setdefault(key, number)
    return found


NAME_WINDOW = 120  # characters before a setting's separator where its name is looked for


def settings(text: str) -> dict[str, str]:
    """Hyperparameters and pinned versions: name (lower case) -> value as written. A
    setting never spans lines, nor holds another separator, so the whole text is scanned
    at once; the name is read from the line before the separator."""
    found: dict[str, str] = {}
    matches = [*_COLON_SETTING.finditer(text), *_EQUALS_SETTING.finditer(text)]
    matches.sort(key=lambda match: match.start())
    for match in matches:
        separator, value = match.groups()
        # the line before the separator, at most NAME_WINDOW characters of it: a name is
        # short, and a whole long line per setting would make a pasted log quadratic
        start = match.start()
        window = max(0, start - NAME_WINDOW)
        newline = text.rfind("\n", window, start)
        prefix = text[newline + 1 if newline != -1 else window : start]
        if separator == "==":
            pin = _PIN_NAME.search(prefix)
            if pin:
                found.setdefault(pin.group(1).lower(), value.rstrip(",."))
            continue
        value = value.rstrip(",.")
        number = _NUMERIC_VALUE.match(value)
        if not number or number.group().rstrip(",.") != value:
            continue  # `v1.2`, `3rd`: not a number
        name = setting_name(prefix)
        if not name:
            continue
        key = " ".join(name.lower().split())
        if not key.startswith(("http", "www")):
            found.setdefault(key, value)
    return found


# `- optimizer: AdamW`, `loss = focal`: a line that is one setting whose value is one word
_TEXT_SETTING = re.compile(
    r"^[ \t]*(?:[-*+][ \t]+)?[*_`]*([A-Za-z][\w .\-]{0,30}?)[*_`]*[ \t]*[:=][ \t]*"
    r"[*_`]*([A-Za-z][\w.\-+/]*)[*_`]*[ \t]*$",
    re.M,
)


def text_settings(text: str) -> dict[str, str]:
    """Settings whose value is a word (`optimizer: AdamW`): name (lower case) -> value,
    compared with a run's parameters of the same name."""
    found: dict[str, str] = {}
    for name, value in _TEXT_SETTING.findall(text):
        found.setdefault(" ".join(name.lower().split()), value)
    return found


_VERSION = re.compile(r"==|\b\d+\.\d+(?:\.\d+)?\b")
# How randomness is controlled (a seed, determinism), and the words one of which every
# match holds: they avoid i, s and k, which a case-blind regex also matches to ı, ſ, İ
# and K
SEED = (
    re.compile(r"\bseed\b|manual_seed|random[_ ]state|deterministic", re.I),
    ("eed", "random", "determ"),
)


class SectionTexts:
    """A note's sections as text, each joined and lower-cased once: the reproducibility
    gaps and the recipe's facts ask about the same sections."""

    def __init__(self, bodies: Mapping[str, list[str]]) -> None:
        self.bodies = bodies
        self._joined: dict[str, tuple[str, str]] = {}
        self._said: dict[tuple[str, re.Pattern[str]], bool] = {}

    def _both(self, name: str) -> tuple[str, str]:
        found = self._joined.get(name)
        if found is None:
            text = "\n".join(self.bodies.get(name, ()))
            found = self._joined[name] = (text, text.lower())
        return found

    def text(self, name: str) -> str:
        return self._both(name)[0]

    def lowered(self, name: str) -> str:
        return self._both(name)[1]

    def says(self, name: str, pattern: re.Pattern[str], words: Sequence[str]) -> bool:
        """``pattern`` in the section. ``words``, one of which every match holds (lower
        case), rule most sections out at once: a case-blind regex scans slowly."""
        key = (name, pattern)
        said = self._said.get(key)
        if said is None:
            lowered = self.lowered(name)
            said = any(word in lowered for word in words) and bool(pattern.search(self.text(name)))
            self._said[key] = said
        return said


_THRESHOLD = re.compile(r"threshold\D{0,40}\d", re.I)


def reproducibility_gaps(
    texts: SectionTexts, thresholds: dict[str, float], asked: set[str]
) -> list[str]:
    """The team template's own questions turned into checks, for the sections the vault's
    template ``asked`` for; each gap says what is missing."""
    gaps = []
    if "environment setup" in asked and not texts.says("environment setup", _VERSION, ("==", ".")):
        gaps.append("Environment setup names no library versions (e.g. torch==2.3.0)")
    if "model" in asked and not texts.says("model", *SEED):
        gaps.append("Model does not say how randomness is controlled (a seed)")
    if "data detail" in asked and not _DIGIT.search(texts.text("data detail")):
        gaps.append("Data detail gives no class counts")
    if "metrics" in asked and not thresholds and not texts.says("metrics", _THRESHOLD, ("thre",)):
        gaps.append("Metrics gives no accepted thresholds")
    return gaps


def unanswered(sections: dict[str, str]) -> list[str]:
    """The template sections that are missing, empty or only questions (``sections`` holds
    the state of each section the vault's template asks for, in its order)."""
    return [name for name, state in sections.items() if state != "answered"]


def completeness(sections: dict[str, str]) -> str:
    """`answered/asked`, e.g. `9/10`."""
    return f"{len(sections) - len(unanswered(sections))}/{len(sections)}"


def plain_number(value: float) -> str:
    """A metric value for a table or a chart: a plain decimal, whole numbers exact
    (`25000000`), others rounded to six significant digits but never into their whole
    part (`0.671`, `0.00001`, `12345678901234`). Never exponent form (`1e-05`), which
    Mermaid's charts cannot parse and people misread; `inf` and `nan` stay so. (The run
    block, JSON and pandas keep every digit: ``exact_number``.)"""
    if not math.isfinite(value):
        return str(value)
    if value.is_integer() and abs(value) < 1e15:  # counts stay exact: 123456789
        return str(int(value))
    # six significant digits, but every digit of the whole part (no 12345700000000)
    digits = max(6, len(str(int(abs(value)))))
    text = format(Decimal(f"{value:.{digits}g}"), "f")
    return "0" if text == "-0" else text


def exact_number(value: float) -> str:
    """A value with every digit it has, as a plain decimal: `12345678901234.5`,
    `0.1234567`, `0.00001`; `inf` and `nan` stay so."""
    if not math.isfinite(value):
        return str(value)
    text = format(Decimal(repr(value)), "f")
    text = text.rstrip("0").rstrip(".") if "." in text else text
    return "0" if text in ("-0", "") else text


@functools.lru_cache(maxsize=8192)  # asked for every metric of every note, every build
def metric_key(name: str) -> str:
    """A metric's name as compared across notes and runs: case, spaces and punctuation
    aside, so `mAP@0.5`, `mAP_0.5`, `map 0.5` and `val mAP 0.5` vs `val_mAP_0.5` are one
    metric (MLflow allows no `@` in a name)."""
    return "".join(char for char in name.casefold() if char.isalnum())


def is_question(line: str, questions: Sequence[str]) -> bool:
    """A template question left as it is (list marker, spaces and case aside)."""
    text = _LIST_MARKER.sub("", line).strip().lower()
    return text in questions


def section_state(lines: list[str] | None, questions: Sequence[str]) -> str:
    """'missing', 'empty' (nothing written), 'unanswered' (only the template's questions)
    or 'answered'."""
    if lines is None:
        return "missing"
    state = "empty"
    for line in lines:
        text = line.strip()
        if not text or text in ("-", "*", "+"):
            continue
        if not is_question(line, questions):
            return "answered"
        state = "unanswered"
    return state


# Sections a template has that no experiment must fill in: what comes next is planned
# later, and side notes are optional.
NOT_ASKED = frozenset(
    {"", "next experiment", "next", "next steps", "side note", "side notes", "notes"}
)

TemplateSections = tuple[tuple[str, tuple[str, ...]], ...]  # (section, its questions), in order


_PLACEHOLDER = re.compile(r"(?:\s*(?:\{\{[^{}]*\}\}|<%.*?%>))+\s*")


def template_sections(template_text: str) -> TemplateSections:
    """The sections a template asks to fill in (its headings of the highest level, but
    for NOT_ASKED) and the question lines under each, normalised as ``is_question``
    compares them."""
    headings = [
        re.match(r"^(#{1,6})\s+(.*?)\s*#*\s*$", line) for line in template_text.splitlines()
    ]
    # a title heading that is only a placeholder (`# {{title}}`, `# <% tp.file.title %>`)
    # becomes the note's name, not a section to fill in
    headings = [None if m and _PLACEHOLDER.fullmatch(m.group(2)) else m for m in headings]
    levels = [len(m.group(1)) for m in headings if m]
    top = min(levels, default=1)
    found: dict[str, list[str]] = {}
    current: str | None = None
    for line, heading in zip(template_text.splitlines(), headings, strict=True):
        if heading and len(heading.group(1)) <= top:
            current = " ".join(heading.group(2).split()).lower()
            found.setdefault(current, [])
        elif heading:
            continue  # a lower heading inside a section
        elif current is not None and line.strip() and line.strip() not in ("-", "*", "+"):
            found[current].append(_LIST_MARKER.sub("", line).strip().lower())
    return tuple((name, tuple(q)) for name, q in found.items() if name not in NOT_ASKED)
