"""What ``check`` finds (the codes are listed in the README). Pure: model in, problems out."""

from __future__ import annotations

import fnmatch
import posixpath
from collections.abc import Iterator
from typing import Any

from vaultkit.model.metrics import unanswered
from vaultkit.model.names import closest_names
from vaultkit.model.recognise import (
    has_template_tag,
    is_template,
    near_miss,
    why_not_an_experiment,
)
from vaultkit.model.results import metric_rules
from vaultkit.model.runs import run_problems
from vaultkit.model.synced import SyncedProperties, drift
from vaultkit.model.vault_model import ResolvedLink, VaultModel
from vaultkit.obsidian.note import normalise_heading
from vaultkit.records import ERROR, PREVIOUS, WARNING, Link, ParsedNote, Problem, is_synced


def _link_text(link: Link) -> str:
    if link.form == "markdown":
        return f"({link.target})"
    if link.form == "property":
        return f'"[[{link.target}]]"'
    return f"[[{link.target}]]"


# Every code check reports (the README's table says what each means).
CODES = frozenset(
    {
        "invalid-frontmatter",
        "unreadable-note",
        "dangling-link",
        "missing-attachment",
        "lineage-cycle",
        "previous-not-experiment",
        "ambiguous-link",
        "missing-status",
        "status-conflict",
        "ignored-tags",
        "missing-section",
        "empty-section",
        "reproducibility",
        "template-tags",
        "template-copy",
        "not-an-experiment",
        "left-alone",
        "nested-vault",
        "run-not-synced",
        "unknown-run",
        "run-not-finished",
        "run-deleted",
        "metric-drift",
        "params-drift",
        "result-not-read",
        "property-drift",
        "recipe-gap",
    }
)


NEAR_MISSES = ("template-copy", "not-an-experiment")  # notes that look like experiments


def check_model(model: VaultModel) -> list[Problem]:
    """Every problem in the vault but those the config ignores, sorted by note, line
    and code."""
    problems = list(model.vault.problems)
    for note_id in model.notes:
        problems.extend(note_problems(model, note_id))
    if model.vault.config.properties_sync:
        synced = SyncedProperties(model, model.results(), model.lineages())
        for experiment in model.experiments:
            problems += drift_problems(experiment, model.notes[experiment].parsed, synced)
    problems += cycle_problems(model)
    kept = [p for p in problems if not ignored(p, model.vault.config.ignore)]
    return sorted(kept, key=problem_order)


def problem_order(problem: Problem) -> tuple[str, int, str, str]:
    """How problems are listed: by note, line, code and message."""
    return (problem.note or "", problem.line or 0, problem.code, problem.message)


def ignored(problem: Problem, ignore: tuple[str, ...]) -> bool:
    """Whether an `ignore` entry of the config silences ``problem``: `code` alone, or
    `code:glob` where the glob matches the note's id (`dangling-link:Archive/*`)."""
    for entry in ignore:
        code, _, pattern = entry.partition(":")
        if code == problem.code and (
            not pattern or fnmatch.fnmatchcase(problem.note or "", pattern)
        ):
            return True
    return False


def cycle_problems(model: VaultModel) -> list[Problem]:
    """One `lineage-cycle` problem per circle of Previous-experiment links, on the note
    where the circle is written from."""
    problems = []
    for cycle in model.cycles():
        first, second = cycle[0], cycle[1]
        line = next(
            (
                r.link.line
                for r in model.links[first]
                if r.link.role == PREVIOUS and r.target == second
            ),
            None,
        )
        problems.append(
            Problem(
                "lineage-cycle",
                ERROR,
                first,
                line,
                "Previous experiment links go round in a circle: "
                + " -> ".join(cycle)
                + "; remove one of these links",
            )
        )
    return problems


class NoteProblems:
    """Each note's problems, worked out when first asked: ``build`` asks only for the
    index rows it renders again. ``elsewhere``: the problems found outside the note's own
    check (unreadable bytes, the cycles it starts), by note."""

    def __init__(self, model: VaultModel):
        self.model = model
        self.elsewhere: dict[str, list[Problem]] = {}
        for problem in [*model.vault.problems, *cycle_problems(model)]:
            if problem.note is not None:
                self.elsewhere.setdefault(problem.note, []).append(problem)

    def __call__(self, note_id: str) -> list[Problem]:
        found = [*self.elsewhere.get(note_id, []), *note_problems(self.model, note_id)]
        ignore = self.model.vault.config.ignore
        return [p for p in found if not ignored(p, ignore)] if ignore else found


def _link_problems(
    model: VaultModel, note_id: str, experiment: bool, resolved: ResolvedLink
) -> Iterator[Problem]:
    link = resolved.link
    in_previous = experiment and link.role == PREVIOUS
    if resolved.target is None:
        where = " in Previous experiment" if in_previous else ""
        attachment = is_attachment(link.target) and not in_previous
        message = f"{_link_text(link)}{where} points to {link.target!r}, which is not in the vault"
        if in_previous:  # a typo in a name breaks the chain: say which experiment is meant
            close = closest_names(model.experiments - {note_id}, link.target, limit=1)
            if close:
                message += f"; did you mean [[{close[0].rpartition('/')[2]}]]?"
        yield Problem(
            "missing-attachment" if attachment else "dangling-link",
            ERROR if in_previous else WARNING,
            note_id,
            link.line,
            message,
        )
        return
    if resolved.resolution.ambiguous:
        names = ", ".join(resolved.resolution.candidates)
        yield Problem(
            "ambiguous-link",
            WARNING,
            note_id,
            link.line,
            f"{_link_text(link)} matches {len(resolved.resolution.candidates)} files ({names}); "
            f"Obsidian picks {resolved.resolution.path}. Write the folder path to be sure",
        )
    if in_previous and link.target and resolved.target not in model.experiments:
        target = model.notes.get(resolved.target)
        why = why_not_an_experiment(target, model.vault) if target else "it is not a note"
        yield Problem(
            "previous-not-experiment",
            WARNING,
            note_id,
            link.line,
            f"Previous experiment links to {resolved.target!r}, which is not an experiment: {why}",
        )


def _ignored_tag_fix(properties: dict[str, Any], ignored: str) -> str:
    """What to do about a tags value Obsidian drops: a list for several tags written as
    one text; in a list already, a tag without spaces or the characters tags cannot hold."""
    key = next((k for k in properties if isinstance(k, str) and k.lower() == "tags"), None)
    if key is not None and isinstance(properties[key], str):
        return "write the tags as a YAML list, one per line"
    if any(ch.isspace() for ch in ignored.strip()):
        return "a tag holds no spaces: join the words with _ or - (or make them two tags)"
    return "a tag holds letters, digits, _, - and / only (and not digits alone)"


def is_attachment(target: str) -> bool:
    """A link to a file that is not a note: it names an extension other than `.md` (an
    image, a PDF, a canvas)."""
    extension = posixpath.splitext(target.rpartition("/")[2])[1].lower()
    return bool(extension) and extension != ".md" and extension[1:].isalnum()


def note_problems(model: VaultModel, note_id: str) -> list[Problem]:
    """The problems of one note: what it says, and where its links go (not cycles)."""
    problems: list[Problem] = []
    note = model.notes[note_id]
    parsed = note.parsed
    experiment = note_id in model.experiments
    if parsed.frontmatter_error:
        message, line = parsed.frontmatter_error
        # A template's {{date}} or Templater placeholders break its own YAML until quoted;
        # Obsidian's help says to quote them, but the notes made from it are what matters.
        template = is_template(note, model.vault) or parsed.frontmatter_placeholders
        hint = '; quote template variables, e.g. date: "{{date}}"' if template else ""
        problems.append(
            Problem(
                "invalid-frontmatter",
                WARNING if template else ERROR,
                note_id,
                line,
                f"properties are not valid YAML, so Obsidian ignores them all: {message}{hint}",
            )
        )
    if parsed.ignored_tags is not None:
        problems.append(
            Problem(
                "ignored-tags",
                WARNING,
                note_id,
                None,
                f"tags: {parsed.ignored_tags!r} is ignored by Obsidian (1.9+); "
                + _ignored_tag_fix(parsed.properties, parsed.ignored_tags),
            )
        )
    if experiment:
        config = model.vault.config
        problems += run_problems(note_id, parsed, config.drift_tolerance, metric_rules(config))
    if experiment:
        problems += [_not_read(note_id, line, text) for line, text in parsed.unread_results]
    if experiment and has_template_tag(parsed.tag_names):
        problems.append(
            Problem(
                "template-tags",
                WARNING,
                note_id,
                parsed.fields["tags"].line if "tags" in parsed.fields else None,
                "still carries #template or #document_template from the template; remove "
                "them (vaultkit check --fix does)",
            )
        )
    missed = None if experiment else near_miss(note, model.vault)
    if missed is not None:
        problems.append(Problem(missed[0], WARNING, note_id, None, missed[1]))
    if experiment and parsed.status is None:
        footer = parsed.fields.get("tags") or parsed.fields.get("status")
        problems.append(
            Problem(
                "missing-status",
                WARNING,
                note_id,
                footer.line if footer else None,  # the footer, where the status goes
                "experiment has no status; add a footer line such as 'Status: #writing'",
            )
        )
    if parsed.footer_status and parsed.property_status:
        if parsed.footer_status != parsed.property_status:
            status_line = parsed.fields["status"].line
            problems.append(
                Problem(
                    "status-conflict",
                    WARNING,
                    note_id,
                    status_line,
                    f"footer says #{parsed.footer_status} but the status property says "
                    f"{parsed.property_status!r}; vaultkit uses the footer",
                )
            )
    if experiment and parsed.status == "done":
        problems.extend(_done_problems(note_id, parsed))
    for resolved in model.resolved_links(note_id):
        if (
            resolved.target is None
            or resolved.resolution.ambiguous
            or (experiment and resolved.link.role == PREVIOUS)
        ):
            problems.extend(_link_problems(model, note_id, experiment, resolved))
    return problems


def drift_problems(note_id: str, parsed: ParsedNote, synced: SyncedProperties) -> list[Problem]:
    """Where an experiment's vaultkit properties (properties_sync) say something its text
    does not: a property edited by hand, or a note changed since the last build. Not in
    the index's problem counts: the build that writes the index puts them right."""
    found = drift(parsed.properties, synced.wanted(note_id))
    if not found:
        return []
    if not any(is_synced(name) for name in parsed.properties):
        what = "has none of vaultkit's properties yet"
    else:
        what = "properties say other than the note: " + "; ".join(
            f"{name} is {_shown(said)}, the note says {_shown(says)}" for name, said, says in found
        )
    return [
        Problem(
            "property-drift",
            WARNING,
            note_id,
            1,  # where the properties are
            f"{what}; run vaultkit build to set them (the note is what counts: to change a "
            "value, change the note)",
        )
    ]


def _shown(value: object) -> str:
    return "absent" if value is None else repr(value)


QUOTED = 80  # characters of a line quoted in a message


def _not_read(note_id: str, line: int, text: str) -> Problem:
    quoted = text if len(text) <= QUOTED else text[: QUOTED - 1] + "…"
    return Problem(
        "result-not-read",
        WARNING,
        note_id,
        line,
        f"Result line {quoted!r} holds numbers that no rule reads as a metric; write "
        "them as `- name: value` (`- mAP@0.5: 0.61`), or a table `| metric | value |`",
    )


def _done_problems(note_id: str, parsed: ParsedNote) -> Iterator[Problem]:
    """A note marked done must let someone rebuild the model: every template section
    answered, and the template's reproducibility questions covered."""
    lines = None
    for name in unanswered(parsed.sections):
        state = parsed.sections.get(name, "missing")
        if state == "missing":
            yield Problem(
                "missing-section",
                WARNING,
                note_id,
                None,
                f"done, but the template section {name!r} is not in the note",
            )
        else:
            if lines is None:
                lines = {normalise_heading(h.text): h.line for h in reversed(parsed.headings)}
            what = "is empty" if state == "empty" else "has only the template's questions"
            yield Problem(
                "empty-section",
                WARNING,
                note_id,
                lines.get(name),
                f"done, but the section {name!r} {what}",
            )
    if parsed.gaps:
        headings = {normalise_heading(h.text): h.line for h in reversed(parsed.headings)}
    for gap in parsed.gaps:
        # each gap names its section first ("Model does not say …"): point at its heading
        named = [name for name in headings if name and gap.lower().startswith(name + " ")]
        line = headings[max(named, key=len)] if named else None
        yield Problem("reproducibility", WARNING, note_id, line, f"done, but {gap}")
