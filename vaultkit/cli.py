"""The ``vaultkit`` command: a thin click layer over vault -> graph -> check/formats."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from . import __version__, formats
from .check import check_model
from .errors import AmbiguousNote, NoteNotFound, VaultkitError
from .graph import (
    VaultModel,
    build_model,
    closest_names,
    has_tag,
    is_template,
    resolve_note_argument,
)
from .vault import find_vault_root, load_vault

CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}
PROGRESS_THRESHOLD = 2000  # notes; smaller vaults read too fast to need a progress line


class Session:
    """The vault a command works on, read once on first use."""

    def __init__(self, vault_option: str | None):
        self.vault_option = vault_option
        self._model: VaultModel | None = None

    @property
    def root(self) -> Path:
        if self.vault_option:
            root = Path(self.vault_option).expanduser()
            if not root.is_dir():
                raise VaultkitError(
                    "no such vault folder (check --vault or $VAULTKIT_VAULT)", str(root)
                )
            return root.resolve()
        return find_vault_root(Path.cwd())

    def model(self) -> VaultModel:
        if self._model is None:
            root = self.root
            self._model = build_model(load_vault(root, progress=_progress_printer()))
        return self._model

    def note(self, name: str) -> str:
        """Resolve a NOTE argument or exit 1 saying what is there instead."""
        model = self.model()
        found, candidates = resolve_note_argument(model, name)
        if found:
            return found
        if candidates:
            raise AmbiguousNote(
                f"{name!r} names {len(candidates)} notes; give the folder too: "
                + ", ".join(candidates)
            )
        close = closest_names(model, name)
        hint = f"; closest: {', '.join(close)}" if close else ""
        raise NoteNotFound(f"no note named {name!r}{hint}")


def _progress_printer():
    """A progress callback for big vaults when stderr is a terminal, else None."""
    if not sys.stderr.isatty():
        return None

    def progress(done: int, total: int):
        if total >= PROGRESS_THRESHOLD and (done % 500 == 0 or done == total):
            end = "\n" if done == total else ""
            click.echo(f"\rReading notes: {done}/{total}", err=True, nl=False)
            click.echo(end, err=True, nl=False)

    return progress


pass_session = click.make_pass_decorator(Session)


@click.group(context_settings=CONTEXT)
@click.option(
    "--vault",
    "vault_option",
    envvar="VAULTKIT_VAULT",
    metavar="PATH",
    help="Vault folder. Default: $VAULTKIT_VAULT, else the nearest folder above "
    "the current one that holds .obsidian/, else the current folder.",
)
@click.option("--debug", is_flag=True, help="Show a full traceback on unexpected errors.")
@click.version_option(__version__, prog_name="vaultkit")
@click.pass_context
def cli(ctx: click.Context, vault_option: str | None, debug: bool):
    """Index, lineage and checks for ML experiment notes in an Obsidian vault.

    An experiment is a note tagged #model_training that is a document (tagged #document,
    or with a 'Previous experiment' heading) and is not a template. Its status is the
    first tag on its 'Status:' line (e.g. 'Status: #writing'), else its 'status' property.

    \b
    Examples:
      vaultkit --vault ~/ml-vault list
      vaultkit lineage "EXP-013 focal loss"
      vaultkit check
    """
    ctx.obj = Session(vault_option)


@cli.command(name="list")
@click.option("--status", "status_filter", metavar="S", help="Only notes with this status.")
@click.option(
    "--tag", "tag_filter", metavar="T", help="Only notes with this tag (nested tags count)."
)
@click.option(
    "--all", "all_notes", is_flag=True, help="Every note that has a status, not only experiments."
)
@click.option(
    "--format",
    "output",
    type=click.Choice(["table", "json", "csv"]),
    default="table",
    show_default=True,
)
@pass_session
def list_command(session: Session, status_filter, tag_filter, all_notes, output):
    """List the experiments with their status and previous experiment.

    \b
    Examples:
      vaultkit list
      vaultkit list --status writing
      vaultkit list --all --format json
      vaultkit list --tag model_training/detection --format csv > experiments.csv
    """
    model = session.model()
    if all_notes:
        chosen = [
            n
            for n, note in model.notes.items()
            if note.parsed.status and not is_template(note, model.vault.templates_folder)
        ]
    else:
        chosen = list(model.experiments)
    if status_filter:
        wanted = status_filter.lstrip("#").lower()
        chosen = [n for n in chosen if model.notes[n].parsed.status == wanted]
    if tag_filter:
        wanted = tag_filter.lstrip("#").lower()
        chosen = [n for n in chosen if has_tag(model.notes[n].parsed.tag_names, wanted)]
    records = [formats.note_record(model, n) for n in sorted(chosen)]
    if output == "json":
        click.echo(formats.list_json(records), nl=False)
    elif output == "csv":
        click.echo(formats.list_csv(records), nl=False)
    else:
        click.echo(formats.list_table(records, "note" if all_notes else "experiment"), nl=False)


@cli.command()
@click.argument("note", required=False)
@click.option(
    "--format",
    "output",
    type=click.Choice(["text", "json", "mermaid", "dot"]),
    default="text",
    show_default=True,
)
@click.option(
    "--depth",
    type=click.IntRange(min=0),
    metavar="N",
    help="Show at most N generations below each root.",
)
@pass_session
def lineage(session: Session, note, output, depth):
    """Show how experiments grew out of each other.

    With NOTE: its chain, from its root(s) to everything that grew from it. Without NOTE:
    every lineage in the vault. NOTE is a name or a path, as in a wikilink.

    \b
    Examples:
      vaultkit lineage
      vaultkit lineage "EXP-013 focal loss"
      vaultkit lineage "EXP-013 focal loss" --format json
      vaultkit lineage --format mermaid > lineage.mmd
    """
    model = session.model()
    lineages = model.lineages()
    if note is None:
        if output == "json":
            click.echo(formats.to_json({"lineages": [ln.as_json() for ln in lineages]}), nl=False)
        elif output == "text":
            click.echo(formats.lineage_text(model, lineages, depth), nl=False)
        else:
            members = [m for ln in lineages for m in ln.members]
            edges = [e for ln in lineages for e in ln.edges]
            render = formats.lineage_mermaid if output == "mermaid" else formats.lineage_dot
            click.echo(render(model, members, edges), nl=False)
        return
    note_id = session.note(note)
    if note_id not in model.experiments:
        raise VaultkitError(
            "is not an experiment (needs #model_training and #document or a "
            "'Previous experiment' heading, and must not be a template)",
            note_id,
        )
    ancestors, descendants, edges = model.chain(note_id)
    chain = {note_id, *ancestors, *descendants}
    if output == "json":
        data = {
            "id": note_id,
            "ancestors": ancestors,
            "descendants": descendants,
            "edges": [list(e) for e in edges],
        }
        click.echo(formats.to_json(data), nl=False)
    elif output == "text":
        own = [ln for ln in lineages if note_id in ln.members]
        click.echo(formats.lineage_text(model, own, depth, keep=chain, focus=note_id), nl=False)
    else:
        render = formats.lineage_mermaid if output == "mermaid" else formats.lineage_dot
        click.echo(render(model, sorted(chain), edges), nl=False)


@cli.command()
@click.option(
    "--format", "output", type=click.Choice(["text", "json"]), default="text", show_default=True
)
@pass_session
def check(session: Session, output):
    """Find broken links, lineage cycles, bad properties and missing statuses.

    Exits 1 when there is an error (warnings alone exit 0), so it works as a git
    pre-commit hook.

    \b
    Examples:
      vaultkit check
      vaultkit check --format json | jq '.problems[] | select(.severity == "error")'
    """
    problems = check_model(session.model())
    click.echo(
        formats.check_json(problems) if output == "json" else formats.check_text(problems), nl=False
    )
    if any(p.severity == "error" for p in problems):
        sys.exit(1)


@cli.command()
@click.option(
    "--format",
    "output",
    type=click.Choice(["json", "graphml", "dot"]),
    default="json",
    show_default=True,
)
@pass_session
def graph(session: Session, output):
    """Print the whole typed link graph: notes, and links typed previous, next, related,
    references or link.

    \b
    Examples:
      vaultkit graph > vault.json            # networkx node-link JSON
      vaultkit graph --format graphml > vault.graphml
      vaultkit graph --format dot | dot -Tsvg > vault.svg
    """
    typed = formats.typed_graph(session.model())
    render = {
        "json": formats.graph_json,
        "graphml": formats.graph_graphml,
        "dot": formats.graph_dot,
    }[output]
    click.echo(render(typed), nl=False)


def main():
    """Entry point: no traceback reaches the user unless --debug is given."""
    debug = "--debug" in sys.argv[1:]
    try:
        code = cli(standalone_mode=False)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.Abort:
        click.echo("Aborted!", err=True)
        sys.exit(1)
    except KeyboardInterrupt:
        sys.exit(130)
    except Exception as exc:  # noqa: BLE001 - the last line of defence for users
        if debug:
            raise
        click.echo(f"Error: {type(exc).__name__}: {exc} (run with --debug for details)", err=True)
        sys.exit(1)
    sys.exit(code if isinstance(code, int) else 0)
