"""The ``vaultkit`` command: options, messages and exit codes over the public Python API
(the ``vaultkit`` package, docs/api.md). Every command is a few lines: read the options,
call the API, print."""

from __future__ import annotations

import atexit
import difflib
import gc
import logging
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
from click.shell_completion import BashComplete, CompletionItem, FishComplete, add_completion_class

from vaultkit import (
    HELD,
    KNOWN_STATUSES,
    RUN_PROPERTY,
    TAGGED,
    ServiceError,
    Tracker,
    TrackerError,
    Vault,
    VaultkitError,
    VaultNotFound,
    __version__,
    cache_base,
    check_codes,
    clear_all_caches,
    find_vault,
    kept_of,
)
from vaultkit import demo as make_demo
from vaultkit import init as make_vault
from vaultkit.errors import describe_os_error
from vaultkit.output import formats

if TYPE_CHECKING:  # imported by the service commands only
    from vaultkit import service

CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}
PROGRESS_THRESHOLD = 2000  # notes; smaller vaults read too fast to need a progress line
SHOWN_CHANGES = 20  # files a build lists by name; the count line covers the rest


class Session:
    """The vault a command works on, found and opened on first use."""

    def __init__(self, vault_option: str | None, format_option: str | None = None):
        self.vault_option = vault_option
        self.format_option = format_option  # --format given before the command name
        self._vault: Vault | None = None

    def root(self, writes: bool = False) -> Path:
        """``--vault`` (or $VAULTKIT_VAULT), else the nearest folder above that holds
        `.obsidian/`, else the current folder; a command that writes refuses a folder
        that is not a vault unless it was named."""
        if self.vault_option is not None:
            if not self.vault_option.strip():
                raise VaultNotFound("--vault is empty; give the vault's folder")
            root = Path(self.vault_option).expanduser()
            if not root.is_dir():
                what = "is a file, not a folder" if root.exists() else "no such folder"
                raise VaultNotFound(
                    f"{what}; --vault (or $VAULTKIT_VAULT) names the vault's folder", str(root)
                )
            return root.resolve()
        found = find_vault()
        if found is not None:
            return found
        if writes:
            raise VaultNotFound(
                "is not an Obsidian vault (no .obsidian/ folder here or above), so vaultkit "
                "writes nothing here. Open the folder in Obsidian once, run 'vaultkit init "
                "FOLDER' for a new vault, or name the folder with --vault",
                str(Path.cwd()),
            )
        return Path.cwd().resolve()

    def vault(self, writes: bool = False) -> Vault:
        if self._vault is None:
            self._vault = Vault(self.root(writes), _progress_printer())
        return self._vault


def _progress_printer() -> Callable[[int, int], None] | None:
    """A progress callback for big vaults when stderr is a terminal, else None."""
    if not sys.stderr.isatty():
        return None

    def progress(done: int, total: int) -> None:
        if total >= PROGRESS_THRESHOLD and (done % 500 == 0 or done == total):
            click.echo(f"\rReading notes: {done}/{total}", err=True, nl=False)
            click.echo("\n" if done == total else "", err=True, nl=False)

    return progress


class VaultkitGroup(click.Group):
    """Prints vaultkit's errors as ``Error: <path>: <message>`` and exits 1."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except VaultkitError as exc:
            raise click.ClickException(str(exc)) from None


def _set_vault(ctx: click.Context, param: click.Parameter, value: str | None) -> None:
    """``--vault`` given after the command name: it counts as if given before it."""
    if value is not None:
        ctx.meta["vault_option"] = value  # read by completion, which makes no session
        session = ctx.find_object(Session)
        if session is not None:
            session.vault_option = value


def complete_vault(
    ctx: click.Context, param: click.Parameter, incomplete: str
) -> list[CompletionItem]:
    """Folders, as the shell completes them."""
    return [CompletionItem(incomplete, type="dir")]


vault_option = click.option(
    "--vault",
    metavar="PATH",
    shell_complete=complete_vault,
    expose_value=False,
    callback=_set_vault,
    is_eager=True,
    help="Vault folder (also accepted before the command name).",
)


def _format_before(ctx: click.Context, param: click.Parameter, value: str) -> str:
    """``--format`` given before the command name counts when none is given after it."""
    session = ctx.find_object(Session)
    if session is None or session.format_option is None:
        return value
    if ctx.get_parameter_source(str(param.name)) is not click.core.ParameterSource.DEFAULT:
        return value
    return str(param.type.convert(session.format_option, param, ctx))


def format_option(choices: list[str]) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """``--format`` with the first choice as the default."""
    return click.option(
        "--format",
        "output",
        type=click.Choice(choices),
        default=choices[0],
        show_default=True,
        callback=_format_before,
    )


def _completion_root(ctx: click.Context) -> Path:
    """The vault a command being completed works on: --vault as typed so far (before or
    after the command), else $VAULTKIT_VAULT, else the nearest vault above."""
    named = ctx.meta.get("vault_option")  # after the command name (meta is shared)
    while named is None and ctx is not None:
        named = ctx.params.get("vault_option")  # before it
        ctx = ctx.parent  # type: ignore[assignment]
    named = named or os.environ.get("VAULTKIT_VAULT")
    if named:
        return Path(named).expanduser()
    return find_vault() or Path.cwd()


def _complete_names(ctx: click.Context, incomplete: str, experiments: bool) -> list[CompletionItem]:
    """Note names that start with what was typed (``Vault.note_names``: from the file
    listing alone, so a tab press on a 10k vault stays quick)."""
    try:
        names = Vault(_completion_root(ctx)).note_names(experiments=experiments)
    except (OSError, VaultkitError):
        return []
    typed = incomplete.casefold()
    return [CompletionItem(name) for name in names if name.casefold().startswith(typed)]


def complete_note(
    ctx: click.Context, param: click.Parameter, incomplete: str
) -> list[CompletionItem]:
    """Any note of the vault (vaultkit's own aside)."""
    return _complete_names(ctx, incomplete, experiments=False)


def complete_experiment(
    ctx: click.Context, param: click.Parameter, incomplete: str
) -> list[CompletionItem]:
    """The vault's experiments, as the last build found them."""
    return _complete_names(ctx, incomplete, experiments=True)


def complete_vault_folder(
    ctx: click.Context, param: click.Parameter, incomplete: str
) -> list[CompletionItem]:
    """The vault's own folders (a new note's folder is inside the vault)."""
    try:
        folders = Vault(_completion_root(ctx)).folders()
    except (OSError, VaultkitError):
        return []
    typed = incomplete.casefold()
    return [CompletionItem(f) for f in folders if f.casefold().startswith(typed)]


class _BashComplete(BashComplete):
    """Click's bash completion, each value quoted as the shell reads it: a note name with
    spaces is inserted as one word (`EXP-003\\ focal\\ loss`), not three."""

    source_template = BashComplete.source_template.replace(
        "COMPREPLY+=($value)", 'COMPREPLY+=("$(printf "%%q" "$value")")'
    )


class _FishComplete(FishComplete):
    """Click's fish completion, a description kept whole past its first comma."""

    source_template = FishComplete.source_template.replace(
        'string split "," $completion', 'string split -m 1 "," $completion'
    )


add_completion_class(_BashComplete, "bash")
add_completion_class(_FishComplete, "fish")


def complete_status(
    ctx: click.Context, param: click.Parameter, incomplete: str
) -> list[CompletionItem]:
    return [CompletionItem(s) for s in KNOWN_STATUSES if s.startswith(incomplete.lower())]


tracking_option = click.option(
    "--tracking-uri",
    metavar="URI",
    help="MLflow tracking store: sqlite:///mlflow.db, ./mlruns, http://127.0.0.1:5000.",
)


def command(
    name: str | None = None, group: click.Group | None = None
) -> Callable[[Callable[..., Any]], click.Command]:
    """A vaultkit command (of ``group``, else of vaultkit itself): it takes ``--vault``
    too, and gets the session."""

    def decorate(function: Callable[..., Any]) -> click.Command:
        wrapped = click.pass_obj(function)
        return (group or cli).command(name=name)(vault_option(wrapped))

    return decorate


@click.group(cls=VaultkitGroup, context_settings=CONTEXT)
@click.option(
    "--vault",
    "vault_option",
    envvar="VAULTKIT_VAULT",
    metavar="PATH",
    shell_complete=complete_vault,
    help="Vault folder. Default: $VAULTKIT_VAULT, else the nearest folder above "
    "the current one that holds .obsidian/, else the current folder (commands that "
    "write refuse a folder that is not a vault unless it is named here).",
)
@click.option(
    "--format",
    "format_option",
    metavar="FORMAT",
    help="Output format of the command, for the commands that have --format.",
)
@click.option("--debug", is_flag=True, help="Show a full traceback on unexpected errors.")
@click.option(
    "-v", "--verbose", is_flag=True, help="Show MLflow's own log lines (hidden otherwise)."
)
@click.version_option(__version__, prog_name="vaultkit")
@click.pass_context
def cli(
    ctx: click.Context,
    vault_option: str | None,
    format_option: str | None,
    debug: bool,
    verbose: bool,
) -> None:
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
    ctx.obj = Session(vault_option, format_option)
    if verbose:
        logging.getLogger("vaultkit").setLevel(logging.DEBUG)
    if format_option is not None and ctx.invoked_subcommand is not None:
        command = cli.get_command(ctx, ctx.invoked_subcommand)
        if command is not None and not any(p.name == "output" for p in command.params):
            raise click.UsageError(f"vaultkit {ctx.invoked_subcommand} has no --format option")


# -- list -----------------------------------------------------------------------------------


def _check_sort(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    if value is not None and not (value.startswith("metric:") and len(value) > 7):
        raise click.BadParameter("use metric:NAME, e.g. --sort metric:mAP@0.5")
    return value


@command(name="list")
@click.option(
    "--status",
    "statuses",
    metavar="S",
    multiple=True,
    help="Only notes with this status (repeatable: any of them).",
    shell_complete=complete_status,
)
@click.option(
    "--tag",
    "tags",
    metavar="T",
    multiple=True,
    help="Only notes with this tag, nested tags counting (repeatable: any of them).",
)
@click.option(
    "--all", "all_notes", is_flag=True, help="Every note that has a status, not only experiments."
)
@click.option(
    "--where",
    "conditions",
    metavar="COND",
    multiple=True,
    help="Only experiments whose metric meets COND, e.g. 'mAP@0.5>=0.7' (repeatable: all of "
    "them). OP: >=, <=, >, <, ==, !=.",
)
@click.option(
    "--sort",
    metavar="metric:NAME",
    callback=_check_sort,
    help="Best first by a metric (higher is better, lower for loss, latency, error…).",
)
@format_option(["table", "json", "csv"])
def list_command(
    session: Session,
    statuses: tuple[str, ...],
    tags: tuple[str, ...],
    all_notes: bool,
    conditions: tuple[str, ...],
    sort: str | None,
    output: str,
) -> None:
    """List the experiments with their status and previous experiment.

    \b
    Examples:
      vaultkit list
      vaultkit list --status writing --status pending
      vaultkit list --all --format json
      vaultkit list --tag model_training/detection --format csv > experiments.csv
      vaultkit list --sort metric:mAP@0.5
      vaultkit list --where 'mAP@0.5>=0.7' --where 'latency ms<30' --sort metric:mAP@0.5
    """
    vault = session.vault()
    try:
        chosen = vault.select(
            statuses=statuses,
            tags=tags,
            all_notes=all_notes,
            sort_by=sort.removeprefix("metric:") if sort else None,
            where=conditions,
        )
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    records, metric = chosen.records, chosen.metric
    if chosen.empty_because:
        click.echo(chosen.empty_because, err=output != "table")
    if output == "json":
        click.echo(formats.to_json([r.as_json() for r in records]), nl=False)
    elif output == "csv":
        click.echo(formats.list_csv([r.as_json() for r in records], chosen.metrics), nl=False)
    elif not chosen.empty_because:
        rows = [(r.status, r.sections, r.id, r.previous) for r in records]
        extra = None
        if metric is not None:
            extra = (metric, [formats.number(r.metrics.get(metric)) for r in records])
        click.echo(formats.list_table(rows, chosen.noun, extra), nl=False)
        if all_notes:
            _say_near_misses(vault)


def _say_near_misses(vault: Vault) -> None:
    """The notes that look like experiments and are none, each with why."""
    missed = vault.near_misses()
    if missed:
        click.echo("\nNot experiments, though they look like one:")
        for problem in missed:
            click.echo(f"  {problem.note}: {problem.message}")


# -- lineage --------------------------------------------------------------------------------


@command()
@click.argument("note", required=False, shell_complete=complete_experiment)
@format_option(["text", "json", "mermaid", "dot"])
@click.option(
    "--depth",
    type=click.IntRange(min=0),
    metavar="N",
    help="Show at most N generations below each root.",
)
def lineage(session: Session, note: str | None, output: str, depth: int | None) -> None:
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
    vault = session.vault()
    model = vault.lineage_view
    if note is None:
        lineages = model.lineages if depth is None else vault.lineages_within(depth)
        scope = {m for found in model.lineages for m in found.members}
        if output == "json":
            click.echo(formats.to_json({"lineages": [ln.as_json() for ln in lineages]}), nl=False)
        elif output == "text":
            click.echo(formats.lineage_text(model, lineages, scope=scope), nl=False)
        else:
            members = [m for ln in lineages for m in ln.members]
            edges = [e for ln in lineages for e in ln.edges]
            render = formats.lineage_mermaid if output == "mermaid" else formats.lineage_dot
            click.echo(render(model, members, edges), nl=False)
        return
    scope = set(vault.lineage(note).members)
    chain = vault.lineage(note, depth=depth)
    if output == "json":
        click.echo(formats.to_json(chain.as_json()), nl=False)
    elif output == "text":
        own = [kept_of(ln, set(chain.members)) for ln in model.lineages if chain.id in ln.members]
        click.echo(formats.lineage_text(model, own, focus=chain.id, scope=scope), nl=False)
    else:
        render = formats.lineage_mermaid if output == "mermaid" else formats.lineage_dot
        click.echo(render(model, chain.members, chain.edges), nl=False)


# -- check, graph ---------------------------------------------------------------------------


@command()
@format_option(["text", "json"])
@click.option("--summary", is_flag=True, help="Counts per code and severity instead of a list.")
@click.option(
    "--code",
    "codes",
    multiple=True,
    metavar="CODE",
    help="Only problems of this code (repeatable).",
)
@click.option(
    "--severity", type=click.Choice(["error", "warning"]), help="Only problems of this severity."
)
@click.option(
    "--experiments", "experiments_only", is_flag=True, help="Only the experiments' problems."
)
@click.option(
    "--changed",
    "changed_only",
    is_flag=True,
    help="Only the problems of notes changed or added since the last build.",
)
@click.option(
    "--tracked",
    "tracked_only",
    is_flag=True,
    help="Only the problems of notes git tracks (what the pre-commit hook checks).",
)
@click.option(
    "--fix",
    is_flag=True,
    help="Remove the #template and #document_template tags that experiments still carry.",
)
def check(
    session: Session,
    output: str,
    summary: bool,
    codes: tuple[str, ...],
    severity: str | None,
    experiments_only: bool,
    changed_only: bool,
    tracked_only: bool,
    fix: bool,
) -> None:
    """Find broken links, lineage cycles, bad properties and missing statuses.

    Exits 1 when there is an error (warnings alone exit 0), so it works as a git
    pre-commit hook. A code that repeats many times is counted rather than listed (the
    JSON has every problem); `ignore` in .vaultkit/config.toml silences codes.

    \b
    Examples:
      vaultkit check
      vaultkit check --summary
      vaultkit check --code dangling-link --severity error
      vaultkit check --experiments --changed
      vaultkit check --fix
      vaultkit check --format json | jq '.problems[] | select(.severity == "error")'
    """
    try:
        check_codes(codes)  # before anything is read or fixed
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    vault = session.vault(writes=fix)
    if fix:
        for path in vault.fix_template_tags():
            click.echo(f"fixed {path}: removed its #template and #document_template tags")
    problems = vault.check(
        codes=codes,
        severity=severity,
        experiments_only=experiments_only,
        changed_only=changed_only,
        tracked_only=tracked_only,
    )
    if output == "json":
        click.echo(formats.check_json(problems), nl=False)
    elif summary:
        click.echo(formats.check_summary(problems), nl=False)
    else:
        click.echo(formats.check_text(problems, summarise=not codes), nl=False)
    if any(p.severity == "error" for p in problems):
        sys.exit(1)


@command()
@format_option(["json", "graphml", "dot"])
@click.option(
    "--generated", is_flag=True, help="Include vaultkit's own notes (the index, lineage notes)."
)
def graph(session: Session, output: str, generated: bool) -> None:
    """Print the whole typed link graph: notes, and links typed previous, next, related,
    references or link. vaultkit's own notes are left out unless --generated.

    \b
    Examples:
      vaultkit graph > vault.json            # networkx node-link JSON
      vaultkit graph --format graphml > vault.graphml
      vaultkit graph --format dot | dot -Tsvg > vault.svg
    """
    typed = session.vault().graph(generated=generated)
    render = {
        "json": formats.graph_json,
        "graphml": formats.graph_graphml,
        "dot": formats.graph_dot,
    }[output]
    click.echo(render(typed), nl=False)


# -- creating -------------------------------------------------------------------------------


@cli.command()
@click.argument("path", type=click.Path(path_type=Path))
def init(path: Path) -> None:
    """Create a new vault for experiment notes at PATH.

    It gets the Templates plugin pointed at Templates/, the experiment template, an
    Experiments/ folder, a welcome note and a .gitignore for Obsidian's per-device files.

    \b
    Examples:
      vaultkit init ~/ml-notes
      vaultkit --vault ~/ml-notes new-experiment "EXP-001 baseline"
    """
    created = make_vault(path)
    click.echo(f"Created a vault at {path.resolve()} ({len(created)} files).")
    click.echo("Open it in Obsidian with 'Open folder as vault', then start an experiment:")
    click.echo(f'  vaultkit --vault "{path}" new-experiment "EXP-001 baseline"')


@cli.command()
@click.argument("path", type=click.Path(path_type=Path), default="vaultkit-demo", required=False)
@click.option(
    "--with-mlflow",
    is_flag=True,
    help="Also log the demo's training runs to an MLflow store in the vault "
    "(mlflow.db; needs the mlflow extra) and sync them into the notes.",
)
def demo(path: Path, with_mlflow: bool) -> None:
    """Create a demo vault at PATH (default: ./vaultkit-demo) with a small defect-detector
    project, two lineages, a branch and a merge, then build its index and lineage notes.

    \b
    Examples:
      vaultkit demo
      vaultkit demo /tmp/demo-vault --with-mlflow
    """
    made = make_demo(path, with_mlflow=with_mlflow)
    vault, orphan = made.vault, made.orphan_run
    config = vault.settings.config
    click.echo(f"Demo vault: {vault.root}")
    click.echo(
        f"  {len(vault.experiments)} experiments in {len(vault.lineages)} lineages; "
        f"wrote {len(made.build.written)} generated files"
    )
    click.echo("")
    click.echo("Open it in Obsidian ('Open folder as vault'), then open:")
    click.echo(f"  {config.index_path[:-3]}  (each lineage's best; every experiment, its results)")
    click.echo(f"  {config.lineage_folder}/  (one note and one canvas per lineage)")
    if config.recipes != "none":
        click.echo(f"  {config.recipe_folder}/  (how to rebuild each lineage's best model)")
    if config.base_path is not None:
        click.echo(f"  {config.base_path}  (a table to sort and filter, Obsidian 1.9+)")
    click.echo("Allow Mermaid diagrams when Obsidian asks (1.13+) to see the lineage charts.")
    click.echo("")
    click.echo("Then try:")
    click.echo(f'  vaultkit --vault "{path}" lineage')
    click.echo(f'  vaultkit --vault "{path}" recipe EXP-004')
    click.echo(
        f'  vaultkit --vault "{path}" new-experiment "EXP-005 tiled inference" '
        '--previous "EXP-004 mosaic and focal loss"'
    )
    if orphan:
        click.echo("With MLflow (the store is mlflow.db in the vault):")
        click.echo(f'  vaultkit --vault "{path}" check --code metric-drift')
        click.echo(f'  vaultkit --vault "{path}" runs list --orphans')
        click.echo(
            f'  vaultkit --vault "{path}" new-experiment "EXP-005 lr sweep" --from-run {orphan}'
        )


@command(name="new-experiment")
@click.argument("title")
@click.option(
    "--previous",
    "previous",
    multiple=True,
    metavar="NOTE",
    shell_complete=complete_experiment,
    help="The experiment this one grows out of (repeat for a merge).",
)
@click.option(
    "--related",
    "related",
    multiple=True,
    metavar="NOTE",
    shell_complete=complete_note,
    help="A note to list under Related: (repeatable).",
)
@click.option(
    "--folder",
    metavar="DIR",
    shell_complete=complete_vault_folder,
    help="Folder for the note, inside the vault. Default: where the experiments live.",
)
@click.option(
    "--template",
    "template",
    metavar="NOTE",
    shell_complete=complete_note,
    help="Template note. Default: the vault's experiment template.",
)
@click.option("--open", "open_note", is_flag=True, help="Open the new note in Obsidian.")
@click.option(
    "--from-run",
    "from_run",
    metavar="RUN_ID",
    help="An MLflow run: its parameters, environment and metrics fill the note, which "
    "names it; the note naming its parent run becomes the previous experiment.",
)
@tracking_option
def new_experiment_command(
    session: Session,
    title: str,
    previous: tuple[str, ...],
    related: tuple[str, ...],
    folder: str | None,
    template: str | None,
    open_note: bool,
    from_run: str | None,
    tracking_uri: str | None,
) -> None:
    """Start the next experiment note from the template, linked to where it came from.

    The note gets TITLE as its name, the template's {{title}}/{{date}}/{{time}} filled in,
    'Status: #writing', and links to each --previous experiment; each of those gets a link
    to the new note in its 'Next experiment' section and nothing else changes. Prints the
    new note's path.

    \b
    Examples:
      vaultkit new-experiment "EXP-014 focal loss" --previous "EXP-013 mosaic"
      vaultkit new-experiment "EXP-020 merge" --previous EXP-014 --previous EXP-017 --open
      vaultkit new-experiment "EXP-021 sweep best" --from-run 3f2c1ab0... --tracking-uri sqlite:///mlflow.db
    """
    vault = session.vault(writes=True)
    run = _tracker(vault, tracking_uri).run(from_run) if from_run else None
    if from_run and run is None:
        raise TrackerError(
            f"the tracking store has no run {from_run!r}; 'vaultkit runs list' shows its runs"
        )
    if run is not None and run.deleted:
        raise TrackerError(
            f"run {from_run} is deleted (in MLflow's trash): restore it there first "
            f"(mlflow runs restore --run-id {from_run}), or start from another run"
        )
    created = vault.new_experiment(
        title, previous=previous, related=related, folder=folder, template=template, run=run
    )
    click.echo(created.path)
    for parent in created.parents_updated:
        click.echo(f"  linked from {parent} (Next experiment)", err=True)
    for parent in created.parents_already_linked:
        click.echo(f"  {parent} already links to it", err=True)
    if open_note:
        uri = vault.obsidian_uri(created.path)
        if not _launch(uri):
            click.echo(f"Open this in Obsidian: {uri}", err=True)


def _launch(uri: str) -> bool:
    """Hand ``uri`` to the desktop's opener, its messages silenced; False when there is
    none or it fails. (click.launch cannot say: on Linux it does not wait for xdg-open,
    which is where "no method available" shows.) An opener still running after a few
    seconds is taken to have worked: some stay until the application they start exits."""
    if sys.platform == "win32":
        try:
            os.startfile(uri)  # type: ignore[attr-defined]
        except OSError:
            return False
        return True
    opener = "open" if sys.platform == "darwin" else "xdg-open"
    try:
        process = subprocess.Popen(
            [opener, uri], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
    except OSError:
        return False
    try:
        return process.wait(timeout=5) == 0
    except subprocess.TimeoutExpired:
        return True


# -- build, watch ---------------------------------------------------------------------------


@command()
@click.option("--dry-run", is_flag=True, help="Print what would change as a diff; write nothing.")
@click.option(
    "--check",
    "check_only",
    is_flag=True,
    help="Write nothing; exit 1 when the generated notes are out of date (for CI and pre-commit).",
)
def build(session: Session, dry_run: bool, check_only: bool) -> None:
    """Write the index note and one lineage note and canvas per lineage.

    Generated text lives between <!-- vaultkit:begin NAME --> and <!-- vaultkit:end NAME -->;
    your text outside the markers is kept byte for byte. A file is written only when its
    bytes change, atomically, and never over an edit made while the build ran. A generated
    file that is no longer needed is removed only while it is exactly what vaultkit wrote.

    \b
    Examples:
      vaultkit build
      vaultkit build --dry-run | less
      vaultkit build --check
    """
    vault = session.vault(writes=True)
    result = vault.build(dry_run=dry_run or check_only)
    if check_only:
        stale = [*result.written, *result.removed]
        if stale or result.properties_set:
            for path in stale:
                click.echo(f"out of date: {path}")
            for path in result.properties_set:
                click.echo(f"out of date: {path} (its vaultkit properties)")
            click.echo("The generated notes are out of date: run 'vaultkit build'.")
            sys.exit(1)
        click.echo("The generated notes are up to date.")
        return
    for notice in result.notices:
        click.echo(f"Note: {notice}", err=True)
    for path, why in result.left_alone:
        click.echo(f"Left alone: {path}: {why}", err=True)
    if dry_run:
        click.echo(result.diff if result.diff else "Nothing to change.\n", nl=False)
    elif result.skipped_because == "nothing changed":
        click.echo("Nothing changed since the last build.")
    elif result.skipped_because:
        count = len(result.changed)
        which = "it is no experiment" if count == 1 else "none of them an experiment"
        click.echo(
            f"{count} file{'s' * (count != 1)} changed since the last build, {which}: "
            "nothing to write."
        )
    else:
        changes = [f"wrote   {p}" for p in result.written] + [
            f"removed {p}" for p in result.removed
        ]
        changes += [f"set     vaultkit properties of {p}" for p in result.properties_set]
        for line in changes[:SHOWN_CHANGES]:
            click.echo(line)
        if len(changes) > SHOWN_CHANGES:
            click.echo(f"… and {len(changes) - SHOWN_CHANGES} more")
        properties = len(result.properties_set)
        click.echo(
            f"{len(result.written)} written, {len(result.removed)} removed, "
            f"{result.unchanged} unchanged"
            + (
                f", properties set in {properties} note{'s' * (properties != 1)}"
                if properties
                else ""
            )
        )
    for path, why in result.failed:
        click.echo(f"Error: {path}: {why}", err=True)
    if result.failed:
        sys.exit(1)


@command()
@click.option(
    "--polling",
    is_flag=True,
    help="Poll for changes instead of native events (network drives, WSL).",
)
def watch(session: Session, polling: bool) -> None:
    """Build, then keep the index and lineage notes current as notes change.

    Prints one line per update: what changed, which generated notes were rewritten, how
    long it took. Ctrl-C stops it.

    \b
    Examples:
      vaultkit watch
      vaultkit --vault /mnt/share/ml-vault watch --polling
    """
    from vaultkit.watch import watch_forever  # watchdog is needed by this command only

    gc.enable()  # a long-running process must collect its garbage
    watch_forever(session.root(writes=True), polling, click.echo)


@command(name="set-status")
@click.argument("note", shell_complete=complete_experiment)
@click.argument("status", shell_complete=complete_status)
@click.option(
    "--force",
    is_flag=True,
    help="Do it anyway: done with sections unanswered, a new status, a note that is no experiment.",
)
def set_status_command(session: Session, note: str, status: str, force: bool) -> None:
    """Set a note's status where it is written (its 'Status:' line or its status property).

    Nothing else in the note changes. Marking an experiment done is refused while template
    sections are unanswered, because a done note must let someone rebuild the model.

    \b
    Examples:
      vaultkit set-status "EXP-013 focal loss" done
      vaultkit set-status "EXP-013 focal loss" postpone
    """
    vault = session.vault(writes=True)
    found = vault.note(note)
    old, new = vault.set_status(found, status, force=force)
    click.echo(f"{found}.md: {old or 'no status'} -> {new}")
    if new == "done":
        for gap in vault.gaps(found):
            click.echo(f"  note: {gap}", err=True)


@command(name="diff")
@click.argument("note", shell_complete=complete_experiment)
@click.argument("other", required=False, shell_complete=complete_experiment)
@format_option(["text", "json", "markdown"])
def diff_command(session: Session, note: str, other: str | None, output: str) -> None:
    """Show what changed from OTHER (default: NOTE's previous experiments) to NOTE.

    Section by section, the lines added and removed; parsed settings (lr: 3e-4,
    batch size = 32, torch==2.3.0) old -> new; metric deltas and whether they improved.

    \b
    Examples:
      vaultkit diff "EXP-004 mosaic and focal loss"
      vaultkit diff "EXP-004 mosaic and focal loss" "EXP-001 baseline" --format markdown
    """
    results = session.vault().diff(note, other)
    if output == "json":
        click.echo(formats.to_json(results), nl=False)
    else:
        render = formats.diff_markdown if output == "markdown" else formats.diff_text
        click.echo("\n".join(render(result) for result in results), nl=False)


@command(name="compare")
@click.argument("notes", nargs=-1, metavar="[NOTE]...", shell_complete=complete_experiment)
@click.option(
    "--lineage",
    metavar="NOTE",
    shell_complete=complete_experiment,
    help="Every experiment of NOTE's chain, roots first, instead of NOTEs.",
)
@format_option(["text", "json", "markdown"])
def compare_command(
    session: Session, notes: tuple[str, ...], lineage: str | None, output: str
) -> None:
    """Show two or more experiments side by side.

    Their status and template sections answered, every metric any of them reports
    (the best of each marked, higher or lower being better as the metric says), and
    the settings in force (stated, or carried from a previous experiment) that differ.

    \b
    Examples:
      vaultkit compare EXP-001 EXP-002 EXP-004
      vaultkit compare --lineage "EXP-004 mosaic and focal loss" --format markdown
    """
    try:
        result = session.vault().compare(*notes, lineage=lineage)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    if output == "json":
        click.echo(formats.to_json(result), nl=False)
    elif output == "markdown":
        click.echo(formats.compare_markdown(result), nl=False)
    else:
        click.echo(formats.compare_text(result), nl=False)


@command(name="recipe")
@click.argument("note", metavar="NOTE", shell_complete=complete_experiment)
@format_option(["text", "json", "markdown"])
def recipe_command(session: Session, note: str, output: str) -> None:
    """Everything needed to rebuild NOTE's model, assembled along its chain.

    Each answer of the template's rebuild questions (data, augmentation, environment,
    model, metrics) comes from the note that states it: NOTE's own section, else the
    nearest previous experiment's ("as in [[X]]" and "as before" are followed). Every
    setting shows its value and the experiment that set or last changed it; then the
    libraries, the seed, the runs, the replay from the root (what each step changed and
    its main metric) and the gaps: what the chain never states, and contradictions.

    \b
    Examples:
      vaultkit recipe "EXP-004 mosaic and focal loss"
      vaultkit recipe EXP-004 --format markdown > recipe.md
      vaultkit recipe EXP-004 --format json | jq '.gaps'
    """
    recipe = session.vault().recipe(note)
    if output == "json":
        click.echo(formats.to_json(recipe), nl=False)
    else:
        click.echo(formats.recipe_document(recipe, markdown=output == "markdown"), nl=False)


@cli.group(name="runs", cls=VaultkitGroup)
def runs_group() -> None:
    """Join experiment notes and their MLflow runs (needs: pip install 'vaultkit[mlflow]').

    A note names its runs with an mlflow_run property (one id or a list) or with a
    run's address from the MLflow UI anywhere in it (References is the usual place).
    The store: --tracking-uri, else $MLFLOW_TRACKING_URI, else mlflow_tracking_uri in
    .vaultkit/config.toml, else MLflow's default.

    \b
    Examples:
      vaultkit runs sync --tracking-uri sqlite:///mlflow.db
      vaultkit runs list --orphans
    """


@command(name="sync", group=runs_group)
@click.argument("notes", nargs=-1, metavar="[NOTE]...", shell_complete=complete_experiment)
@tracking_option
def runs_sync_command(session: Session, notes: tuple[str, ...], tracking_uri: str | None) -> None:
    """Write each linked run into its note: experiment, status, times, git commit, final
    and best metrics with their steps, the step that logged the note's own value,
    parameters, logged environment.

    The run block (between <!-- vaultkit:begin run --> and <!-- vaultkit:end run -->)
    goes at the end of the Result section; text outside it is kept byte for byte, and a
    second sync of unchanged runs writes nothing and reads no run again. A run the store
    does not have keeps what the block showed of it. Without NOTE: every experiment that
    names a run. The store must be named (--tracking-uri, $MLFLOW_TRACKING_URI or
    mlflow_tracking_uri in .vaultkit/config.toml); vaultkit never creates or upgrades one.

    \b
    Examples:
      vaultkit runs sync --tracking-uri sqlite:///mlflow.db
      vaultkit runs sync "EXP-004 mosaic and focal loss"
    """
    vault = session.vault(writes=True)
    synced = vault.sync_runs(list(notes) or None, _tracker(vault, tracking_uri))
    if not synced:
        click.echo(
            f"No experiment names an MLflow run yet: add an {RUN_PROPERTY} property with a "
            "run id, or the run's address from the MLflow UI, to the notes of your runs."
        )
        return
    for entry in synced:
        state = "wrote  " if entry.written else "same   "
        missing = f"  (not in the store: {', '.join(entry.missing)})" if entry.missing else ""
        found = len(entry.runs) - len(entry.missing)
        runs = f"{found} run{'s' * (found != 1)}"
        click.echo(f"{state} {entry.path}  {runs}{missing}")
    written = sum(entry.written for entry in synced)
    click.echo(f"\n{written} of {len(synced)} notes written")


@command(name="tag", group=runs_group)
@tracking_option
def runs_tag_command(session: Session, tracking_uri: str | None) -> None:
    """Tag each linked run with its note: vaultkit.note (the note's obsidian:// address,
    which opens it from MLflow's run page) and vaultkit.note_title.

    Writes to the tracking store, so only when asked; tags a run already holds are not
    set again.

    \b
    Examples:
      vaultkit runs tag --tracking-uri http://127.0.0.1:5000
    """
    vault = session.vault()
    tagged = vault.tag_runs(_tracker(vault, tracking_uri))
    for path, run_id, outcome in tagged:
        click.echo(f"{outcome:<16} {run_id}  {path}")
    count = sum(outcome == TAGGED for *_, outcome in tagged)
    click.echo(f"\n{count} of {len(tagged)} runs tagged")
    failed = [(run_id, o) for _, run_id, o in tagged if o not in (TAGGED, HELD)]
    if failed:
        click.echo(
            f"{len(failed)} run{'s' * (len(failed) != 1)} could not be tagged: "
            + "; ".join(f"{run_id} ({outcome})" for run_id, outcome in failed),
            err=True,
        )
        sys.exit(1)


@command(name="list", group=runs_group)
@click.option("--orphans", is_flag=True, help="Only the runs no note names.")
@tracking_option
@format_option(["table", "json"])
def runs_list_command(
    session: Session, orphans: bool, tracking_uri: str | None, output: str
) -> None:
    """The store's runs, newest first, each with the notes that name it.

    \b
    Examples:
      vaultkit runs list --tracking-uri sqlite:///mlflow.db
      vaultkit runs list --orphans
    """
    vault = session.vault()
    runs = vault.runs(_tracker(vault, tracking_uri), orphans=orphans)
    if output == "json":
        click.echo(formats.to_json([r.as_json() for r in runs]), nl=False)
    else:
        click.echo(formats.runs_table(runs, orphans), nl=False)


def _tracker(vault: Vault, tracking_uri: str | None) -> Tracker:
    """The tracking store, opened, and said on stderr: which store a command used is
    never a guess."""
    tracker = vault.tracker(tracking_uri)
    click.echo(f"MLflow store: {tracker.shown}", err=True)
    return tracker


def complete_service(
    ctx: click.Context, param: click.Parameter, incomplete: str
) -> list[CompletionItem]:
    from vaultkit import service

    try:
        names = [s.name for s in service.installed(service.manager_for())]
    except VaultkitError:
        return []
    return [CompletionItem(name) for name in names if name.startswith(incomplete)]


@cli.group(name="cache", cls=VaultkitGroup)
def cache_group() -> None:
    """vaultkit's caches of a vault, kept outside the vault.

    What vaultkit learnt about a vault (each note's parse, the last build, the answers of
    list, lineage and check) lives in your cache folder, never in the vault: a vault
    synced by iCloud Drive, Dropbox, OneDrive or Syncthing sees only the generated notes
    change. Removing a cache is always safe: the next command reads the vault again.

    \b
    Examples:
      vaultkit cache path
      vaultkit cache clear --vault ~/ml-vault
      vaultkit cache clear --all
    """


@command(name="path", group=cache_group)
def cache_path_command(session: Session) -> None:
    """Print the folder that holds this vault's caches.

    $VAULTKIT_CACHE_DIR moves every vault's caches elsewhere.
    """
    click.echo(session.vault().cache_folder)


@command(name="clear", group=cache_group)
@click.option("--all", "every_vault", is_flag=True, help="Every vault's caches on this machine.")
def cache_clear_command(session: Session, every_vault: bool) -> None:
    """Remove this vault's caches (with --all, every vault's). Nothing in a vault is
    touched; the next command reads the vault again."""
    if every_vault:
        freed = clear_all_caches()
        for root, size in freed.items():
            click.echo(f"removed {_megabytes(size)} of caches of {root}")
        if not freed:
            click.echo(f"No caches to remove in {cache_base()}.")
        return
    vault = session.vault()
    size = vault.clear_cache()
    if size:
        click.echo(f"Removed {_megabytes(size)} of caches of {vault.root} ({vault.cache_folder}).")
    else:
        click.echo(f"No caches of {vault.root} to remove (they would be in {vault.cache_folder}).")


def _megabytes(size: int) -> str:
    return f"{size / 1e6:.1f} MB" if size >= 100_000 else f"{size / 1e3:.0f} kB"


@cli.group(name="service", cls=VaultkitGroup)
def service_group() -> None:
    """Keep a vault's notes current without a terminal: 'vaultkit watch' as a background
    service that starts at login and restarts if it fails.

    Linux: a systemd user unit (logs in the journal). macOS: a launchd agent (logs in
    ~/Library/Logs). Elsewhere vaultkit says so and shows the command to run yourself.

    \b
    Examples:
      vaultkit service install --vault ~/ml-vault
      vaultkit service status
      vaultkit service uninstall vaultkit-ml-vault
    """


@command(name="install", group=service_group)
@click.option("--polling", is_flag=True, help="The watcher polls (network drives, WSL).")
@click.option("--force", is_flag=True, help="Replace a service file changed by hand.")
@click.option("--dry-run", is_flag=True, help="Show the service file; write and start nothing.")
def service_install_command(session: Session, polling: bool, force: bool, dry_run: bool) -> None:
    """Install and start the watcher for a vault.

    The vault is --vault, else the vault you are in. Installing again is safe: an
    unchanged service is left as it is (and started if it was stopped); a vault keeps
    its service name.

    \b
    Examples:
      vaultkit service install --vault ~/ml-vault
      vaultkit service install --dry-run
    """
    from vaultkit import service

    root = session.root(writes=True)
    service.check_vault_path(root)
    command = service.watch_command(root, polling)
    manager = service.manager_for(command)
    if dry_run:
        found = service.service_for(manager, root)
        name = found.name if found else service.service_name(root)
        click.echo(f"# {manager.folder / (name + manager.suffix)}")
        click.echo(manager.render(name, command).decode(), nl=False)
        return
    installed, changed = service.install(manager, root, command, force)
    state = "Installed" if changed else "Already installed, unchanged:"
    click.echo(f"{state} {installed.name}, a {manager.kind} that runs 'vaultkit watch'")
    _describe_service(manager, installed)
    click.echo("It runs now, starts at every login and restarts if it fails.")


@command(name="status", group=service_group)
def service_status_command(session: Session) -> None:
    """Show your vaultkit services: vault, state, file, logs.

    Every service vaultkit installed for you; with --vault, only that vault's.

    \b
    Examples:
      vaultkit service status
      vaultkit service status --vault ~/ml-vault
    """
    from vaultkit import service

    manager = service.manager_for()
    services = service.installed(manager)
    if session.vault_option is not None:
        services = [_service_of_vault(_vault_named(session), services)]
    if not services:
        click.echo(
            "No vaultkit service is installed. Install one with: "
            "vaultkit service install --vault PATH"
        )
        return
    for found in services:
        click.echo(f"{found.name}: {manager.state(found)}")
        _describe_service(manager, found)


@command(name="uninstall", group=service_group)
@click.argument("name", required=False, shell_complete=complete_service)
def service_uninstall_command(session: Session, name: str | None) -> None:
    """Stop a service and remove its file.

    The service is NAME (see 'vaultkit service status'), else the vault's (--vault, else
    the vault you are in); the vault folder may be gone. Notes and logs stay.

    \b
    Examples:
      vaultkit service uninstall vaultkit-ml-vault
      vaultkit service uninstall --vault ~/ml-vault
    """
    from vaultkit import service

    manager = service.manager_for()
    services = service.installed(manager)
    if name is None:
        found = _service_of_vault(_vault_named(session), services)
    else:
        found = _service_named(name, services)
    complaint = service.uninstall(manager, found)
    if complaint:
        click.echo(f"Note: the service could not be stopped: {complaint}", err=True)
    click.echo(f"Removed {found.name} ({found.file}); {found.vault} is no longer watched.")


def _describe_service(manager: service.Manager, found: service.Service) -> None:
    gone = "" if found.vault.is_dir() else "  (missing: moved or deleted?)"
    click.echo(f"  vault: {found.vault}{gone}")
    click.echo(f"  file:  {found.file}")
    click.echo(f"  logs:  {manager.logs(found)}")


def _vault_named(session: Session) -> Path:
    """--vault as given, even when the folder is gone (a service can outlive its vault),
    else the vault you are in."""
    if session.vault_option:
        return Path(session.vault_option).expanduser().resolve()
    return session.root()


def _service_named(name: str, services: list[service.Service]) -> service.Service:
    for found in services:
        if found.name == name:
            return found
    names = [s.name for s in services]
    close = difflib.get_close_matches(name, names, n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    raise ServiceError(
        f"no vaultkit service is named {name!r}. Installed: {', '.join(names) or 'none'}{hint}"
    )


def _service_of_vault(root: Path, services: list[service.Service]) -> service.Service:
    """The service that watches ``root``; an error naming the services there are."""
    for found in services:
        if found.vault == root:
            return found
    there = "; ".join(f"{s.name} watches {s.vault}" for s in services) or "none is installed"
    raise ServiceError(
        f"no vaultkit service watches this vault ({there}); 'vaultkit service install' "
        "installs one",
        str(root),
    )


def main() -> None:
    """Entry point: no traceback reaches the user unless --debug is given."""
    debug = "--debug" in sys.argv[1:]
    # One command reads a whole vault into many small objects and exits: the cyclic
    # garbage collector would only scan them again and again (it halves a 10k-note
    # build). `watch` turns it back on.
    gc.disable()
    try:
        code = cli(standalone_mode=False)
        code = code if isinstance(code, int) else 0
    except click.ClickException as exc:
        exc.show()
        code = exc.exit_code
    except click.exceptions.Exit as exc:
        code = exc.exit_code
    except click.Abort:
        click.echo("Aborted!", err=True)
        code = 1
    except KeyboardInterrupt:
        code = 130
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 0 if exc.code is None else 1
    except Exception as exc:  # noqa: BLE001 - the last line of defence for users
        if debug:
            raise
        what = str(exc)
        if isinstance(exc, OSError):  # words, not Python's names and numbers
            what = describe_os_error(exc)
            what = f"{exc.filename}: {what}" if exc.filename else what
        click.echo(
            f"Error: vaultkit stopped on something it did not expect ({what}). Run again "
            "with --debug for the details, and report them.",
            err=True,
        )
        code = 1
    if debug or sys.getprofile() or sys.gettrace():
        sys.exit(code)  # let profilers and coverage write their reports
    _leave(code)


def _leave(code: int) -> None:
    """Run the exit handlers libraries registered (MLflow's and SQLAlchemy's, after a
    `runs` command), flush what was printed, and end the process at once. Every file is
    written and closed by now; freeing a big vault's objects one by one at interpreter
    exit would cost up to 0.4 s (a third of a 10k-note build) and change nothing."""
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed pipe (`vaultkit list | head`)
            pass
    os._exit(code)
