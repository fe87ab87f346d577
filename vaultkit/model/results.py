"""Where the team stands: one value per metric and experiment, one name per metric,
which way each metric is better, which experiment is best and whether it meets the
thresholds the team wrote down. Pure: parsed notes and settings in, answers out.

Every output (the index, the lineage notes, `list`, `diff`, the Python API, pandas and
`check`) asks ``Results`` for its numbers, so no two of them can disagree
(docs/results.md says the rules with examples).
"""

from __future__ import annotations

import functools
import itertools
import math
import operator
import re
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import NamedTuple

from vaultkit.model.config import Config
from vaultkit.model.metrics import metric_key
from vaultkit.records import ParsedNote

# -- which way is better ------------------------------------------------------------------

# Words of a metric's name that make lower better: losses, errors, distances and costs,
# with the names scikit-learn, XGBoost, LightGBM, Ultralytics and Keras log.
LOWER_WORDS = frozenset(
    {
        # losses and errors
        "loss", "losses", "error", "errors", "err", "nll", "entropy", "crossentropy",
        "logloss", "deviance", "huber", "hinge", "brier", "kl", "divergence",
        # regression errors
        "mae", "mse", "rmse", "msle", "rmsle", "mape", "smape", "wape", "l1", "l2",
        "mad", "medae",
        # error rates
        "wer", "cer", "ter", "eer", "fpr", "fnr", "far", "frr", "fp", "fn", "miss",
        "misses", "missed", "perplexity", "ppl", "bpc", "bpd", "hamming",
        # distances and generative scores
        "fid", "kid", "distance", "chamfer", "lpips",
        # time and cost
        "latency", "time", "duration", "ms", "seconds", "sec", "secs",
    }
)  # fmt: skip
LOWER_SUFFIXES = ("loss", "error", "err")  # logloss, mlogloss, valLoss, top1err
# scikit-learn's scorers negate errors (`neg_mean_squared_error`): higher is better
HIGHER_PREFIXES = ("neg",)
_WORD = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+\d*|\d+")  # camelCase and snake_case words


def words(name: str) -> list[str]:
    """A metric name's words, lower-cased: `valLoss` -> val, loss; `top1_err` -> top, 1, err."""
    return [word.lower() for word in _WORD.findall(name)]


@functools.lru_cache(maxsize=4096)
def lower_is_better_by_name(name: str) -> bool:
    """Whether lower is better by the name alone (LOWER_WORDS, LOWER_SUFFIXES)."""
    found = words(name)
    if found and found[0] in HIGHER_PREFIXES:
        return False
    joined = "".join(found)
    return any(w in LOWER_WORDS for w in found) or joined.endswith(LOWER_SUFFIXES)


@dataclass(frozen=True)
class MetricRules:
    """What the settings say of metrics: names that stand for one metric
    (`metric_aliases`) and which way a metric is better (`metric_direction`)."""

    aliases: tuple[tuple[str, tuple[str, ...]], ...] = ()  # (the name, [other names])
    directions: tuple[tuple[str, str], ...] = ()  # (name, "higher" or "lower")

    @functools.cached_property
    def _alias_keys(self) -> dict[str, str]:
        return {metric_key(a): metric_key(name) for name, names in self.aliases for a in names}

    @functools.cached_property
    def spellings(self) -> dict[str, str]:
        """The configured spelling of each aliased metric: shown wherever it appears."""
        return {metric_key(name): name for name, _ in self.aliases}

    @functools.cached_property
    def _higher(self) -> dict[str, bool]:
        return {self.key(name): way == "higher" for name, way in self.directions}

    def key(self, name: str) -> str:
        """The metric a name stands for: `mAP@0.5`, `mAP_0.5`, `map 0.5` and its
        configured aliases are one key."""
        key = metric_key(name)
        return self._alias_keys.get(key, key)

    def higher_is_better(self, name: str) -> bool:
        configured = self._higher.get(self.key(name))
        return not lower_is_better_by_name(name) if configured is None else configured

    def better(self, metric: str, value: float, than: float) -> bool:
        """Strictly better: higher, or lower for a loss, an error or a latency."""
        return value > than if self.higher_is_better(metric) else value < than

    def meets(self, metric: str, value: float, threshold: float) -> bool:
        """At or above the threshold; at or below it where lower is better."""
        return value >= threshold if self.higher_is_better(metric) else value <= threshold

    def best(
        self, metric: str, points: Iterable[tuple[str, float | None]]
    ) -> tuple[str, float] | None:
        """The experiment with the best finite value of ``metric``; on a tie, the first."""
        found: tuple[str, float] | None = None
        for experiment, value in points:
            if value is None or not math.isfinite(value):
                continue
            if found is None or self.better(metric, value, found[1]):
                found = (experiment, value)
        return found


DEFAULT_METRIC_RULES = MetricRules()


def metric_rules(config: Config) -> MetricRules:
    """The metric rules a vault's settings make."""
    return MetricRules(config.metric_aliases, config.metric_direction)


# -- conditions on a metric (`list --where`) ----------------------------------------------

_COMPARISONS: dict[str, Callable[[float, float], bool]] = {
    ">=": operator.ge,
    "<=": operator.le,
    "!=": operator.ne,
    "==": operator.eq,
    ">": operator.gt,
    "<": operator.lt,
    "=": operator.eq,
}
# the metric (any text, `@` and spaces too), the first comparison, a number (a `%` after
# it is how it was written: 72% is 72)
_CONDITION = re.compile(
    r"^\s*(?P<metric>[^<>=!]*[^<>=!\s])\s*(?P<op>>=|<=|!=|==|>|<|=)\s*(?P<value>[^\s%]+)\s*%?\s*$"
)
CONDITION_FORM = "METRIC OP NUMBER, e.g. 'mAP@0.5>=0.7' (OP: >=, <=, >, <, ==, !=)"


class Condition(NamedTuple):
    """`mAP@0.5 >= 0.7`: a metric, as written, compared with a number."""

    metric: str
    op: str
    value: float

    def holds(self, value: float | None) -> bool:
        """Whether ``value`` meets the condition; no value (or NaN) meets none."""
        if value is None or math.isnan(value):
            return False
        return _COMPARISONS[self.op](value, self.value)

    def __str__(self) -> str:
        op = "==" if self.op == "=" else self.op
        return f"{self.metric} {op} {self.value:g}"


def parse_condition(text: str) -> Condition:
    """``text`` as a ``Condition``; a ValueError that shows the form otherwise."""
    match = _CONDITION.match(text)
    number = None
    if match:
        try:
            number = float(match.group("value"))
        except ValueError:
            number = None
    if match is None or number is None or math.isnan(number):
        raise ValueError(f"cannot read the condition {text!r}: write {CONDITION_FORM}")
    return Condition(match.group("metric"), match.group("op"), number)


# -- one value per metric ------------------------------------------------------------------

NOTE, RUN = "note", "run"


class Value(NamedTuple):
    """One metric's value for one experiment, and where it comes from."""

    value: float  # exact, as written or logged
    source: str  # NOTE (the note states it) or RUN (only a synced run logged it)
    percent: bool = False  # written with `%`: 72% is 72


class Results:
    """Every experiment's metrics under one name per metric, resolved once.

    Precedence: a value the note states wins (the team wrote what it reports: a best
    epoch, a mean over seeds); a metric the note does not state takes its synced runs'
    final value, a finished run's before a failed attempt's, else the first run named.
    The name shown is the spelling most experiments write (the configured one for an
    aliased metric; a run's own where no note writes the metric)."""

    def __init__(
        self,
        rules: MetricRules,
        parsed: Callable[[str], ParsedNote],
        experiments: list[str],
        previous: Results | None = None,
    ):
        """``parsed(note)`` gives any note's parse (a note with a status that is no
        experiment has values too); the names shown are counted over ``experiments``.
        ``previous``: the last build's, whose values of unchanged parses are kept while
        the names and rules are the same (the watcher's builds come seconds apart)."""
        self.rules = rules
        self.parsed = parsed
        self.experiments = experiments
        notes = list(map(parsed, experiments))
        # spelling -> how many experiments write it (a note writes a spelling once)
        written = Counter(itertools.chain.from_iterable(p.metrics for p in notes))
        logged = dict.fromkeys(itertools.chain.from_iterable(p.run_metrics for p in notes))
        by_key: dict[str, dict[str, int]] = {}
        for spelling, count in written.items():
            by_key.setdefault(rules.key(spelling), {})[spelling] = count
        self.names = {rules.key(n): n for n in reversed(logged)}  # the first logged wins
        for key, counts in by_key.items():
            self.names[key] = max(counts, key=counts.__getitem__)  # the first, on a tie
        self.names.update({k: n for k, n in rules.spellings.items() if k in self.names})
        self._shown: dict[str, str] = {}
        # note -> (the parse its values were resolved from, the values)
        self._values: dict[str, tuple[ParsedNote, dict[str, Value]]] = {}
        if previous is not None and previous.rules == rules and previous.names == self.names:
            self._values, self._shown = previous._values, previous._shown

    @functools.cached_property
    def shown_names(self) -> tuple[tuple[str, str], ...]:
        """(key, name shown) for every metric: what a change of spelling changes."""
        return tuple(sorted(self.names.items()))

    def name(self, written: str) -> str:
        """The name shown for a metric written ``written``."""
        shown = self._shown.get(written)
        if shown is None:
            shown = self._shown[written] = self.names.get(self.rules.key(written), written)
        return shown

    def values(self, note: str) -> dict[str, Value]:
        """The note's metrics by shown name: its own first, then its runs'."""
        parsed = self.parsed(note)
        found = self._values.get(note)
        if found is None or found[0] is not parsed:
            found = self._values[note] = (parsed, resolve(parsed, self.name))
        return found[1]

    def value(self, note: str, metric: str) -> float | None:
        found = self.values(note).get(metric)
        return None if found is None else found.value

    def numbers(self, note: str) -> dict[str, float]:
        """The note's metrics as plain numbers (JSON, pandas)."""
        return {name: found.value for name, found in self.values(note).items()}

    def thresholds(self, note: str) -> dict[str, float]:
        """The note's thresholds, by shown name (the first written of each metric)."""
        found: dict[str, float] = {}
        for name, limit in self.parsed(note).thresholds.items():
            found.setdefault(self.name(name), limit)
        return found

    def thresholds_met(self, note: str) -> tuple[int, int]:
        """(met, judged): of the thresholds whose metric the experiment reports, how many
        it meets. A threshold with no value yet is not judged."""
        values = self.values(note)
        judged = [(m, t) for m, t in self.thresholds(note).items() if m in values]
        met = sum(self.rules.meets(m, values[m].value, t) for m, t in judged)
        return met, len(judged)

    def most_reported(self, notes: Iterable[str], limit: int | None = None) -> list[str]:
        """The metrics most of ``notes`` report (at most ``limit``); among equally
        reported ones, the first written first (a team writes its main metric at the
        top)."""
        return most_reported((self.values(note) for note in notes), limit)

    def best(self, metric: str, notes: Iterable[str]) -> tuple[str, float] | None:
        return self.rules.best(metric, ((n, self.value(n, metric)) for n in notes))


def resolve(parsed: ParsedNote, shown: Callable[[str], str]) -> dict[str, Value]:
    """One note's metrics by shown name (see ``Results`` for the precedence)."""
    found: dict[str, Value] = {}
    for name, value in parsed.metrics.items():
        key = shown(name)
        if key not in found:
            found[key] = Value(value, NOTE, name in parsed.percent)
    for name, value in parsed.run_metrics.items():
        found.setdefault(shown(name), Value(value, RUN))
    return found


def most_reported(reports: Iterable[Mapping[str, object]], limit: int | None = None) -> list[str]:
    """The names most reports hold (at most ``limit``); on a tie, the first seen first."""
    counts: dict[str, int] = {}
    for metrics in reports:
        for name in metrics:
            counts[name] = counts.get(name, 0) + 1
    first_seen = {name: order for order, name in enumerate(counts)}
    return sorted(counts, key=lambda name: (-counts[name], first_seen[name]))[:limit]


def path_to(
    experiment: str,
    parents: Callable[[str], list[str]],
    value: Callable[[str], float | None],
    metric: str,
    rules: MetricRules = DEFAULT_METRIC_RULES,
) -> list[str]:
    """The chain from a root down to ``experiment``, one parent per step: at a merge, the
    parent with the best value of ``metric`` (else the first). A cycle ends the walk."""
    path = [experiment]
    seen = {experiment}
    while True:
        candidates = [p for p in parents(path[-1]) if p not in seen]
        if not candidates:
            return path[::-1]
        chosen = rules.best(metric, ((p, value(p)) for p in candidates))
        step = chosen[0] if chosen else candidates[0]
        path.append(step)
        seen.add(step)


INDEX_METRICS = 3  # metric columns of the index, when `index_metrics` names none


def index_metrics(config: Config, results: Results) -> list[str]:
    """The index's metric columns: `index_metrics` (under the names shown), else the
    INDEX_METRICS most reported."""
    configured = [results.name(name) for name in config.index_metrics]
    return list(dict.fromkeys(configured)) or results.most_reported(
        results.experiments, INDEX_METRICS
    )


def main_metric(config: Config, results: Results) -> str | None:
    """The metric that ranks the experiments: `lineage_metric`, else the one most of
    them report."""
    if config.lineage_metric:
        return results.name(config.lineage_metric)
    found = results.most_reported(results.experiments, 1)
    return found[0] if found else None
