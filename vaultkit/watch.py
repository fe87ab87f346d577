"""``watch``: keep the generated notes current while people write.

The file-system handler only records which paths changed and wakes the loop; the loop
waits for a quiet moment (debounce), re-reads just those notes, rebuilds, and writes only
generated notes whose bytes change. Its own writes are recognised by their bytes and
ignored, so a build never triggers another. A failing rebuild is reported and the loop
goes on (mkdocs' lesson).
"""

from __future__ import annotations

import errno
import gc
import os
import re
import signal
import stat
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer
from watchdog.observers.polling import PollingObserver

from vaultkit.api import Vault
from vaultkit.create import sync_note_runs
from vaultkit.disk.read import not_utf8, read_bytes
from vaultkit.errors import VaultkitError, WatchError, describe_os_error
from vaultkit.model.check import cycle_problems, ignored, note_problems
from vaultkit.model.reading import parse_note
from vaultkit.model.runs import Run, linked_runs
from vaultkit.model.vault_model import VaultModel
from vaultkit.pipeline import Builder, BuildResult
from vaultkit.records import is_hidden, note_id
from vaultkit.tracker import Tracker

DEBOUNCE_SECONDS = 0.15
MAX_DELAY_SECONDS = 2.0  # a stream of events never postpones a rebuild longer than this
# a vault folder that goes away (restored from a backup, cloned again, a sync tool's
# replace) is waited for this long before the watcher stops
VAULT_GONE_SECONDS = 10.0
SAVE_EVERY_SECONDS = 5.0  # the build state is saved at most this often (and on stopping)
CONTENT_EVENTS = {"created", "modified", "deleted", "moved", "closed"}
# Editors' and tools' swap, backup and temporary files: vim (`.swp`, `4913`), emacs
# (`#x#`), JetBrains (`___jb_tmp___`), Office, rsync, and `sed -i` (`sedAb12Cd`, six
# random letters and digits beside the file it edits).
_TEMPORARY = re.compile(
    r"(~|\.swp|\.swx|\.swo|\.tmp|\.bak|\.crswap|\.part|___jb_tmp___|___jb_old___)$"
    r"|^(#.*#|4913|sed[A-Za-z0-9]{6})$",
    re.I,
)


def is_ignored(relative: str) -> bool:
    """Dot-paths (.obsidian/, .git/, our own temp files), editors' temporary files, and
    names that are not UTF-8 (a build's walk reports those)."""
    return (
        is_hidden(relative)
        or bool(_TEMPORARY.search(relative.rpartition("/")[2]))
        or (not relative.isprintable() and not_utf8(relative))
    )


class _Inbox(FileSystemEventHandler):
    """Collects changed vault paths from the observer thread; never does work itself."""

    def __init__(self, root: Path):
        self.root = str(root)
        self.changed: set[str] = set()
        self.rescan = False
        self.root_gone = False  # the watched folder itself was deleted or moved away
        self.condition = threading.Condition()

    def _relative(self, path: str | bytes) -> str | None:
        path = os.fsdecode(path)
        if not path.startswith(self.root + os.sep):
            return None
        relative = path[len(self.root) + 1 :].replace(os.sep, "/")
        return None if is_ignored(relative) else relative

    def on_any_event(self, event: FileSystemEvent) -> None:
        if event.event_type not in CONTENT_EVENTS:
            return  # opened / closed without writing / attributes: nothing changed
        if event.event_type in ("deleted", "moved") and os.fsdecode(event.src_path) == self.root:
            with self.condition:  # the folder watched is gone, even if one is back already
                self.root_gone = True
                self.condition.notify_all()
            return
        named = (
            [event.src_path, event.dest_path] if event.event_type == "moved" else [event.src_path]
        )
        paths = [p for p in map(self._relative, named) if p]
        if not paths:
            return
        with self.condition:
            if event.is_directory:
                if event.event_type == "modified":
                    return  # a folder's own timestamps; its files send their own events
                self.rescan = True  # a folder appeared, moved or vanished: look at every file
            else:
                self.changed.update(paths)
            self.condition.notify_all()

    def take(self) -> tuple[set[str], bool]:
        with self.condition:
            changed, rescan = self.changed, self.rescan
            self.changed, self.rescan = set(), False
            return changed, rescan

    def wait_for_batch(
        self, stop: threading.Event, debounce: float, alive: Callable[[], bool]
    ) -> bool:
        """Block until events arrived and went quiet for ``debounce`` seconds; False when
        stopped or when ``alive()`` says the vault is gone."""
        with self.condition:
            while not (self.changed or self.rescan):
                if stop.is_set() or not alive():
                    return False
                self.condition.wait(timeout=0.25)  # short waits keep Ctrl-C responsive
            first = time.monotonic()
            while time.monotonic() - first < MAX_DELAY_SECONDS:
                if not self.condition.wait(timeout=debounce):
                    break  # quiet for a whole window
            return True


@dataclass
class Update:
    """One rebuild, as printed: what changed, what was written, how long it took."""

    changed: list[str]
    result: BuildResult | None = None
    seconds: float = 0.0
    error: str | None = None
    # problems the change brought to the changed experiments, and those it fixed
    introduced: list[tuple[str, str, str]] = field(default_factory=list)  # (note, code, why)
    fixed: list[tuple[str, str, str]] = field(default_factory=list)

    @property
    def written(self) -> list[str]:
        return self.result.written if self.result else []

    @property
    def removed(self) -> list[str]:
        return self.result.removed if self.result else []

    @property
    def properties_set(self) -> list[str]:
        return self.result.properties_set if self.result else []

    def line(self) -> str:
        shown = ", ".join(self.changed[:3]) + (
            f" (+{len(self.changed) - 3} more)" if len(self.changed) > 3 else ""
        )
        stamp = time.strftime("%H:%M:%S")
        if self.error:
            return f"{stamp}  {shown}: rebuild failed: {self.error} (still watching)"
        outcome = (
            ", ".join(
                [f"wrote {p}" for p in self.written]
                + [f"removed {p}" for p in self.removed]
                + [f"set the vaultkit properties of {p}" for p in self.properties_set]
            )
            or "no generated note changed"
        )
        lines = [f"{stamp}  {shown} -> {outcome} ({self.seconds:.2f} s)"]
        if self.result is not None:
            lines += [f"  could not update {p}: {why}" for p, why in self.result.failed]
            lines += [f"  note: {notice}" for notice in self.result.notices]
        lines += [f"  new problem in {n}: {code}: {why}" for n, code, why in self.introduced]
        lines += [f"  fixed in {n}: {code}" for n, code, _ in self.fixed]
        return "\n".join(lines)


class Watcher:
    """Builds once, then rebuilds on every batch of changes until stopped."""

    def __init__(
        self,
        root: Path,
        polling: bool = False,
        debounce: float = DEBOUNCE_SECONDS,
        report: Callable[[Update], None] | None = None,
        gone_grace: float = VAULT_GONE_SECONDS,
    ):
        self.root = Path(root).resolve()
        self.debounce = debounce
        self.report = report or (lambda update: None)
        self.inbox = _Inbox(self.root)
        self.observer = PollingObserver(timeout=0.5) if polling else Observer()
        self.stop_event = threading.Event()
        self.builder = Builder(self.root, save_every=SAVE_EVERY_SECONDS)
        self.own_writes: dict[str, bytes | None] = {}  # path -> bytes written (None: removed)
        self.syncer = RunSyncer(self.root, self.report)  # with runs_sync: the runs, aside
        self._root_id: tuple[int, int] | None = None  # the folder watched (see _follow_root)
        self.gone_grace = gone_grace

    @property
    def model(self) -> VaultModel | None:
        return self.builder.model

    def start(self) -> Update:
        """The first full build, then start watching."""
        began = time.perf_counter()
        update = self._build(["(start)"], None, began)
        self.builder.load()  # later changes update this model in memory
        self._root_id = _identity(self.root)
        try:
            self.observer.schedule(self.inbox, str(self.root), recursive=True)
            self.observer.start()
        except OSError as exc:
            raise WatchError(_watch_limit(exc), str(self.root)) from None
        return update

    def _follow_root(self) -> None:
        """The vault's folder went away or was replaced (deleted and restored, a fresh
        clone in its place): say so, wait for it, watch the new folder and build it
        afresh. Events of the old folder would never come again."""
        if not self.root.is_dir():
            self.report(
                Update(
                    ["(vault)"],
                    error=f"the vault folder is gone; waiting {self.gone_grace:.0f} s for it "
                    "to come back",
                )
            )
            deadline = time.monotonic() + self.gone_grace
            while not self.root.is_dir():
                if time.monotonic() > deadline:  # moved for good: a service should stop
                    raise WatchError(
                        f"the vault folder disappeared and did not come back within "
                        f"{self.gone_grace:.0f} s; stopped watching",
                        str(self.root),
                    )
                if self.stop_event.wait(0.25):
                    return
        began = time.perf_counter()
        self.observer.unschedule_all()
        self.observer.schedule(self.inbox, str(self.root), recursive=True)
        self._root_id = _identity(self.root)
        self.inbox.take()
        self.inbox.root_gone = False
        self.builder.model = None
        update = self._build(["(vault folder back)"], None, began)
        if update.result is not None:
            update.result.notices.append("the vault folder came back: watching it again")
        self.report(update)

    def _same_root(self) -> bool:
        """Whether the folder watched is still the vault's (a folder made again may
        reuse the old one's inode: the watch's own event says it went)."""
        return not self.inbox.root_gone and _identity(self.root) == self._root_id

    def _build(self, changed: list[str], paths: set[str] | None, began: float) -> Update:
        notes = sorted(note_id(p) for p in paths or () if p.lower().endswith(".md"))
        before, cycles_before = self._problems_of(notes), self._cycles()
        result = self.builder.build(changed=paths)
        model = self.builder.model
        if model is not None and model.vault.config.runs_sync:
            self.syncer.add(None if paths is None else {p for p in paths if p.endswith(".md")})
        for path in result.written:
            self.own_writes[path] = _bytes_of(self.root, path)
        for path in result.removed:
            self.own_writes[path] = None
        after = self._problems_of(notes)
        update = Update(changed, result, time.perf_counter() - began)
        for note in notes:
            old, new = before.get(note, set()), after.get(note, set())
            update.introduced += [(note, code, message) for code, message in sorted(new - old)]
            update.fixed += [(note, code, message) for code, message in sorted(old - new)]
        if cycles_before is not None:  # a save can close a circle of Previous links, or open one
            cycles_after = self._cycles() or set()
            update.introduced += sorted(cycles_after - cycles_before)
            update.fixed += sorted(cycles_before - cycles_after)
        return update

    def _cycles(self) -> set[tuple[str, str, str]] | None:
        """The lineage cycles of the model in memory, as (note, code, message); None
        before the first build (whose cycles are no change)."""
        model = self.builder.model
        if model is None:
            return None
        ignore = model.vault.config.ignore
        return {
            (p.note or "", p.code, p.message)
            for p in cycle_problems(model)
            if not ignored(p, ignore)
        }

    def _problems_of(self, notes: list[str]) -> dict[str, set[tuple[str, str]]]:
        """What check finds in each of ``notes`` that is an experiment, by the model in
        memory (the notes' own problems: cycles are the index's and check's to show)."""
        model = self.builder.model
        if model is None:
            return {}
        ignore = model.vault.config.ignore
        return {
            note: {
                (p.code, p.message) for p in note_problems(model, note) if not ignored(p, ignore)
            }
            for note in notes
            if note in model.experiments
        }

    def _is_own_write(self, path: str) -> bool:
        """True when the file holds exactly what vaultkit last wrote (or removed) there."""
        if path not in self.own_writes:
            return False
        return _bytes_of(self.root, path) == self.own_writes[path]

    def step(self) -> Update | None:
        """Handle one batch of events; None when they were all vaultkit's own writes.
        Whatever goes wrong is reported with the files being processed, and the watcher
        goes on (a bug in one rebuild must not stop it)."""
        changed, rescan = self.inbox.take()
        began = time.perf_counter()
        real = sorted(p for p in changed if not self._is_own_write(p))
        if not real and not rescan:
            return None
        shown = real or ["(folders changed)"]
        try:
            return self._build(shown, None if rescan else set(real), began)
        except VaultkitError as exc:
            return Update(shown, error=str(exc))
        except OSError as exc:
            where = f"{exc.filename}: " if exc.filename else ""
            return Update(shown, error=f"{where}{describe_os_error(exc)}")
        except Exception as exc:  # noqa: BLE001 - the watcher outlives any one rebuild
            self.builder.model = None  # start afresh next time
            return Update(
                shown,
                error=f"vaultkit did not expect this ({exc}); please report it. The next "
                "change rebuilds from scratch",
            )

    def run(self) -> None:
        """Watch until ``stop()``, Ctrl-C or SIGTERM."""
        while not self.stop_event.is_set():
            ready = self.inbox.wait_for_batch(self.stop_event, self.debounce, self._same_root)
            if not self.stop_event.is_set() and not self._same_root():
                self._follow_root()
                continue
            if not ready:
                break
            update = self.step()
            if update is not None:
                self.report(update)

    def stop(self) -> None:
        self.stop_event.set()
        self.syncer.stop()
        with self.inbox.condition:
            self.inbox.condition.notify_all()

    def close(self) -> None:
        self.stop()
        if self.observer.is_alive():
            self.observer.stop()
            self.observer.join(timeout=2)
        try:
            self.builder.save()
        except OSError:
            pass  # a cache that cannot be written is rebuilt next time


class RunSyncer:
    """With `runs_sync = true`: writes the runs the changed notes name into them in a
    thread of its own, so that no save waits on the tracker. A run block it writes comes
    back as a change like any save, and the next rebuild shows it. A tracker out of reach
    is said once; the notes wait for it, and are tried again every RETRY_SECONDS or at
    the next change."""

    RETRY_SECONDS = 60.0

    def __init__(self, root: Path, report: Callable[[Update], None]):
        self.root = root
        self.report = report
        self.pending: set[str] | None = set()  # vault paths; None: every note
        self.written: dict[str, bytes | None] = {}  # what it last wrote, by path
        self.condition = threading.Condition()
        self.busy = False
        self.stopped = False
        self.unreachable: str | None = None  # why the tracker is out of reach, once said
        self._tracker: Tracker | None = None
        self._thread: threading.Thread | None = None
        self._failed_at = 0.0

    def add(self, paths: set[str] | None) -> None:
        """Sync the runs of ``paths`` (None: of every note), but of the notes whose bytes
        are the ones it wrote itself."""
        with self.condition:
            if paths is None:
                self.pending = None
            elif self.pending is not None:
                self.pending |= {p for p in paths if not self._own(p)}
            if self.pending != set():
                self.condition.notify_all()
                if self._thread is None:
                    self._thread = threading.Thread(
                        target=self._loop, name="vaultkit runs sync", daemon=True
                    )
                    self._thread.start()

    def _own(self, path: str) -> bool:
        """The note holds exactly the run block it last wrote there."""
        return path in self.written and _bytes_of(self.root, path) == self.written[path]

    def wait_idle(self, timeout: float) -> bool:
        """Until nothing waits to be synced (or the tracker is out of reach): True, else
        False after ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        with self.condition:
            while self.busy or (self.pending != set() and self.unreachable is None):
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self.condition.wait(timeout=min(left, 0.1))
            return True

    def stop(self) -> None:
        with self.condition:
            self.stopped = True
            self.condition.notify_all()

    def _loop(self) -> None:
        while True:
            with self.condition:
                while not self.stopped and (
                    self.pending == set() or (self.unreachable and not self._retry_due())
                ):
                    self.condition.wait(timeout=1.0)
                if self.stopped:
                    return
                paths, self.pending, self.busy = self.pending, set(), True
            try:
                notices = self._sync(paths)
            except VaultkitError as exc:
                with self.condition:  # what waits stays waiting
                    if paths is None or self.pending is None:
                        self.pending = None
                    else:
                        self.pending |= paths
                    said, self.unreachable = self.unreachable, str(exc)
                    self._failed_at = time.monotonic()
                    self._tracker = None
                notices = (
                    []
                    if said
                    else [
                        f"runs_sync: {exc}; the runs wait, tried again every "
                        f"{self.RETRY_SECONDS:.0f} s and at the next change"
                    ]
                )
            else:
                if self.unreachable is not None:
                    notices.insert(0, "runs_sync: the tracking store answers again")
                self.unreachable = None
            finally:
                with self.condition:
                    self.busy = False
                    self.condition.notify_all()
            if notices:
                self.report(Update(["(runs)"], BuildResult(notices=notices)))

    def _retry_due(self) -> bool:
        return time.monotonic() - self._failed_at >= self.RETRY_SECONDS

    def _sync(self, paths: set[str] | None) -> list[str]:
        vault = Vault(self.root)  # reads nothing until asked
        self._tracker = self._tracker or vault.tracker()
        if paths is None:
            synced = vault.sync_runs(tracker=self._tracker)
        else:
            settings = vault.settings
            naming = {}  # the changed notes that name runs, parsed
            for path in sorted(p for p in paths if p.lower().endswith(".md")):
                data = _bytes_of(self.root, path)
                parsed = (
                    parse_note(data.decode("utf-8", "replace"), settings.rules) if data else None
                )
                if parsed is not None and linked_runs(parsed):
                    naming[path] = parsed
            ids = [i for parsed in naming.values() for i in linked_runs(parsed)]
            summaries = self._tracker.summaries(ids) if ids else {}  # one search for all
            known: dict[str, Run | None] = {}
            synced = [
                sync_note_runs(
                    self.root, path, parsed, settings.config, self._tracker, known, summaries
                )
                for path, parsed in naming.items()
            ]
        written = [s.path for s in synced if s.written]
        for path in written:
            self.written[path] = _bytes_of(self.root, path)
        return [f"runs_sync: wrote the run block of {path}" for path in written]


def _identity(folder: Path) -> tuple[int, int] | None:
    """(device, inode) of a folder, None when it is not there: a folder deleted and made
    again at the same path is another folder."""
    try:
        info = folder.stat()
    except OSError:
        return None
    return (info.st_dev, info.st_ino) if stat.S_ISDIR(info.st_mode) else None


def _watch_limit(exc: OSError) -> str:
    """Why the watch could not start, and the fix, for the limits Linux sets on inotify."""
    if exc.errno == errno.ENOSPC:
        return (
            "the system's limit of inotify watches is reached (a watch per folder); raise it "
            "with 'sudo sysctl fs.inotify.max_user_watches=524288', or run 'vaultkit watch "
            "--polling'"
        )
    if exc.errno == errno.EMFILE:
        return (
            "the system's limit of inotify instances is reached (other programs hold them); "
            "raise it with 'sudo sysctl fs.inotify.max_user_instances=1024', or run "
            "'vaultkit watch --polling'"
        )
    return f"cannot watch the folder: {describe_os_error(exc)}; try 'vaultkit watch --polling'"


def _bytes_of(root: Path, path: str) -> bytes | None:
    """A vault file's bytes now; None when it is gone or cannot be read."""
    try:
        return read_bytes(root, path)
    except (OSError, VaultkitError):
        return None


def watch_forever(root: Path, polling: bool, echo: Callable[[str], None]) -> None:
    """The ``watch`` command: Ctrl-C and SIGTERM end it cleanly."""
    watcher = Watcher(root, polling=polling, report=lambda u: echo(u.line()))

    def terminate(signum: int, frame: object) -> None:
        watcher.stop()

    previous = signal.signal(signal.SIGTERM, terminate)
    try:
        first = watcher.start()
        gc.freeze()  # the vault as first read stays; collections need not scan it
        echo(first.line().replace("(start) ->", "initial build ->"))
        echo(
            f"Watching {watcher.root} ({'polling' if polling else 'native events'}); "
            "Ctrl-C to stop."
        )
        watcher.run()
    except KeyboardInterrupt:
        pass
    finally:
        watcher.close()
        signal.signal(signal.SIGTERM, previous)
    echo("Stopped watching.")
