"""``watch``: keep the generated notes current while people write.

The file-system handler only records which paths changed and wakes the loop; the loop
waits for a quiet moment (debounce), re-reads just those notes, rebuilds, and writes only
generated notes whose bytes change. Its own writes are recognised by their bytes and
ignored, so a build never triggers another. A failing rebuild is reported and the loop
goes on (mkdocs' lesson).
"""

from __future__ import annotations

import gc
import os
import re
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer
from watchdog.observers.polling import PollingObserver

from vaultkit.build import apply, plan_build
from vaultkit.disk.read import Vault, load_vault, read_note, stat_keys, walk_files
from vaultkit.errors import VaultkitError
from vaultkit.model.vault_model import VaultModel, build_model

DEBOUNCE_SECONDS = 0.15
MAX_DELAY_SECONDS = 2.0  # a stream of events never postpones a rebuild longer than this
CONTENT_EVENTS = {"created", "modified", "deleted", "moved", "closed"}
# Editors' swap, backup and temporary files (vim, emacs, JetBrains, Office, rsync).
_TEMPORARY = re.compile(r"(~|\.swp|\.swx|\.swo|\.tmp|\.bak|\.crswap|\.part)$|^(#.*#|4913)$", re.I)


def is_ignored(relative: str) -> bool:
    """Dot-paths (.obsidian/, .git/, our own temp files) and editors' temporary files."""
    parts = relative.split("/")
    return any(part.startswith(".") for part in parts) or bool(_TEMPORARY.search(parts[-1]))


class _Inbox(FileSystemEventHandler):
    """Collects changed vault paths from the observer thread; never does work itself."""

    def __init__(self, root: Path):
        self.root = str(root)
        self.changed: set[str] = set()
        self.rescan = False
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
        paths = [self._relative(event.src_path)]
        if event.event_type == "moved":
            paths.append(self._relative(event.dest_path))
        paths = [p for p in paths if p]
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
    written: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    seconds: float = 0.0
    error: str | None = None

    def line(self) -> str:
        shown = ", ".join(self.changed[:3]) + (
            f" (+{len(self.changed) - 3} more)" if len(self.changed) > 3 else ""
        )
        stamp = time.strftime("%H:%M:%S")
        if self.error:
            return f"{stamp}  {shown}: rebuild failed: {self.error} (still watching)"
        outcome = (
            ", ".join([f"wrote {p}" for p in self.written] + [f"removed {p}" for p in self.deleted])
            or "no generated note changed"
        )
        return f"{stamp}  {shown} -> {outcome} ({self.seconds:.2f} s)"


class Watcher:
    """Builds once, then rebuilds on every batch of changes until stopped."""

    def __init__(
        self,
        root: Path,
        polling: bool = False,
        debounce: float = DEBOUNCE_SECONDS,
        report: Callable[[Update], None] | None = None,
    ):
        self.root = Path(root).resolve()
        self.debounce = debounce
        self.report = report or (lambda update: None)
        self.inbox = _Inbox(self.root)
        self.observer = PollingObserver(timeout=0.5) if polling else Observer()
        self.stop_event = threading.Event()
        self.vault: Vault | None = None
        self.model: VaultModel | None = None
        self.own_writes: dict[str, bytes] = {}
        self.signatures: dict[str, str] | None = None  # of the lineage notes last planned
        self.rows: dict = {}  # the index rows last planned
        self.files: tuple | None = None  # what they were rendered against
        self.link_cache: dict = {}

    def start(self) -> Update:
        """The first full build, then start watching."""
        began = time.perf_counter()
        self.vault = load_vault(self.root, skip_generated=True)  # as build reads it
        update = self._build(["(start)"], began)
        self.observer.schedule(self.inbox, str(self.root), recursive=True)
        self.observer.start()
        return update

    def _build(self, changed: list[str], began: float) -> Update:
        if self.model is None:
            self.model = build_model(self.vault, all_links=False)
        else:
            self.model.update(set(changed))
        plan = plan_build(self.model, self.signatures, self.link_cache, self.rows, self.files)
        report = apply(self.model, plan)
        self.signatures, self.rows, self.files = plan.signatures, plan.rows, plan.files
        for path in report.written:
            self.own_writes[path] = plan.writes[path]
        for path in report.deleted:
            self.own_writes[path] = b""
        # Our own files are part of the vault too (their events are ignored below).
        self.vault.files = sorted(
            (set(self.vault.files) | set(report.written)) - set(report.deleted)
        )
        return Update(changed, report.written, report.deleted, time.perf_counter() - began)

    def _is_own_write(self, path: str) -> bool:
        """True when the file holds exactly what vaultkit last wrote (or deleted) there."""
        expected = self.own_writes.get(path)
        if expected is None:
            return False
        try:
            current = (self.root / path).read_bytes()
        except FileNotFoundError:
            current = b""
        except OSError:
            return False
        return current == expected

    def _refresh(self, changed: set[str], rescan: bool) -> list[str]:
        """Re-read what changed; returns the paths that really did."""
        vault = self.vault
        if rescan:  # compare every file with what was read, as the parse cache does
            files = walk_files(self.root)
            changed |= set(files) ^ set(vault.files)
            now = stat_keys(self.root, [p for p in files if p in vault.notes])
            changed |= {p for p, key in now.items() if key != vault.notes[p].stat_key}
        files = set(vault.files)
        real = sorted(
            p
            for p in changed
            if not self._is_own_write(p) and (p in files or (self.root / p).is_file())
        )  # a temporary file that came and went is no change
        vault.problems = [p for p in vault.problems if p.note is None or p.note + ".md" not in real]
        for path in real:
            full = self.root / path
            present = full.is_file()
            if present:
                files.add(path)
            else:
                files.discard(path)
            if not path.lower().endswith(".md") or vault.config.is_generated(path):
                continue  # a generated note is a file of the vault, never read by build
            vault.notes.pop(path, None)
            if present:
                note, problem = read_note(self.root, path)
                if note is not None:
                    vault.notes[path] = note
                else:
                    files.discard(path)
                if problem is not None:
                    vault.problems.append(problem)
        vault.files = sorted(files)
        return real

    def step(self) -> Update | None:
        """Handle one batch of events; None when they were all vaultkit's own writes."""
        changed, rescan = self.inbox.take()
        began = time.perf_counter()
        real = self._refresh(changed, rescan)
        if not real:
            return None
        try:
            return self._build(real, began)
        except VaultkitError as exc:
            return Update(real, error=exc.message)
        except OSError as exc:
            return Update(real, error=f"{exc.filename or ''}: {exc.strerror or exc}")

    def run(self) -> None:
        """Watch until ``stop()``, Ctrl-C or SIGTERM."""
        while not self.stop_event.is_set():
            ready = self.inbox.wait_for_batch(self.stop_event, self.debounce, self.root.is_dir)
            if not self.root.is_dir():
                raise VaultkitError(
                    "the vault folder disappeared; stopped watching", str(self.root)
                )
            if not ready:
                break
            update = self.step()
            if update is not None:
                self.report(update)

    def stop(self) -> None:
        self.stop_event.set()
        with self.inbox.condition:
            self.inbox.condition.notify_all()

    def close(self) -> None:
        self.stop()
        if self.observer.is_alive():
            self.observer.stop()
            self.observer.join(timeout=2)


def watch_forever(root: Path, polling: bool, echo: Callable[[str], None]) -> None:
    """The ``watch`` command: Ctrl-C and SIGTERM end it cleanly."""
    watcher = Watcher(root, polling=polling, report=lambda u: echo(u.line()))

    def terminate(signum, frame):
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
