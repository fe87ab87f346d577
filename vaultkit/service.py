"""``vaultkit watch`` as a background service of the platform's own service manager: a
systemd user unit on Linux, a launchd agent on macOS. It starts at login, restarts when it
fails, and logs where the platform keeps logs, so a vault's notes stay current without a
terminal kept open.

The service files are rendered by pure functions. They are written through disk/write.py
(atomic, only when the bytes change, never over a file vaultkit did not write or one
edited by hand) and the manager is driven with its own command, systemctl or launchctl.
A service file names its vault, so the files themselves are the list of services."""

from __future__ import annotations

import os
import plistlib
import re
import shlex
import shutil
import subprocess
import sys
from collections.abc import Container
from dataclasses import dataclass
from pathlib import Path

from vaultkit.disk.read import files_in, read_bytes
from vaultkit.disk.write import DELETE, Decision, FileUpdate, LeaveAlone, update_files
from vaultkit.errors import ServiceError, describe_os_error

MARK = "Written by vaultkit (vaultkit service install)"
PREFIX = "vaultkit-"
MANAGER_TIMEOUT = 30  # seconds; systemctl and launchctl answer in well under one
RESTART_AFTER = 10  # seconds between a failure and the restart
TRIES = 5  # restarts within START_LIMIT_SECONDS before systemd gives up
START_LIMIT_SECONDS = 300


NOT_OURS = "was not written by vaultkit, so vaultkit leaves it as it is"


@dataclass(frozen=True)
class Service:
    """One installed service: its name, the vault it watches, its file."""

    name: str
    vault: Path
    file: Path


def watch_command(vault: Path, polling: bool = False, python: str | None = None) -> list[str]:
    """The command a service runs: this Python, so the service uses the vaultkit that
    installed it (a venv, pipx) whatever the service manager's PATH holds."""
    return [python or sys.executable, "-m", "vaultkit", "--vault", str(vault), "watch"] + (
        ["--polling"] if polling else []
    )


def service_name(vault: Path, taken: Container[str] = ()) -> str:
    """``vaultkit-<folder name>``, in the letters every manager accepts; a number is added
    while the name is ``taken`` (another vault's service, or a file not vaultkit's)."""
    slug = re.sub(r"[^a-z0-9]+", "-", vault.name.lower()).strip("-")[:40].strip("-")
    base = PREFIX + (slug or "vault")
    name, number = base, 1
    while name in taken:
        number += 1
        name = f"{base}-{number}"
    return name


def check_vault_path(vault: Path) -> None:
    """Refuse a vault path no service file can hold: a line break or a control character
    (a systemd unit is lines; a plist, XML, has no control characters), or bytes that are
    not UTF-8 (both files are UTF-8 text)."""
    path = str(vault)
    shown = path.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in path):
        raise ServiceError(
            "has a line break or a control character in its path, which a service file "
            "cannot hold; rename the folder",
            shown,
        )
    try:
        path.encode("utf-8")
    except UnicodeEncodeError:
        raise ServiceError(
            "has a name that is not UTF-8, which a service file cannot hold; rename the folder",
            shown,
        ) from None


# -- systemd ---------------------------------------------------------------------------------


def systemd_quote(argument: str) -> str:
    """One ExecStart argument as systemd reads it: ``%`` (a specifier) as ``%%``, ``$`` (a
    variable) as ``$$``, and in double quotes, backslash and quote escaped, unless it is
    plain letters, digits and ``@+=:,./_-``."""
    escaped = argument.replace("%", "%%").replace("$", "$$")
    if re.fullmatch(r"[\w@+=:,./%$-]+", argument, re.ASCII):
        return escaped
    return '"' + escaped.replace("\\", "\\\\").replace('"', '\\"') + '"'


def systemd_unit(name: str, command: list[str]) -> bytes:
    """The user unit that runs ``command`` (a watch_command): at login, restarted on
    failure, its output in the journal."""
    vault = command[command.index("--vault") + 1]
    return f"""\
# {MARK}: it runs 'vaultkit watch' for one vault.
# Vault: {vault}
# Logs: journalctl --user -u {name} -f
# Remove: vaultkit service uninstall {name}
[Unit]
Description=vaultkit: keeps the index and lineage notes of {vault.replace("%", "%%")} current
StartLimitIntervalSec={START_LIMIT_SECONDS}
StartLimitBurst={TRIES}

[Service]
Type=exec
ExecStart={" ".join(systemd_quote(argument) for argument in command)}
Restart=on-failure
RestartSec={RESTART_AFTER}
Environment=PYTHONUNBUFFERED=1
StandardOutput=journal
StandardError=journal
SyslogIdentifier={name}

[Install]
WantedBy=default.target
""".encode()


class Systemd:
    """Linux: a user unit in ~/.config/systemd/user (or $XDG_CONFIG_HOME), driven with
    ``systemctl --user``; the journal keeps the log."""

    kind = "systemd user service"
    suffix = ".service"
    no_manager = (
        "Without a systemd user manager (most containers, WSL without systemd, some SSH "
        "sessions) nothing runs it"
    )

    def __init__(self, home: Path | None = None):
        config = os.environ.get("XDG_CONFIG_HOME") if home is None else None
        self.folder = Path(config or (home or Path.home()) / ".config") / "systemd" / "user"

    def render(self, name: str, command: list[str]) -> bytes:
        return systemd_unit(name, command)

    def vault_of(self, data: bytes) -> Path | None:
        text = data.decode("utf-8", errors="replace")
        if not text.startswith(f"# {MARK}"):
            return None
        found = re.search(r"^# Vault: (.*)$", text, re.MULTILINE)
        return Path(found.group(1)) if found else None

    def logs(self, service: Service) -> str:
        return f"journalctl --user -u {service.name} -f"

    def start(self, service: Service, changed: bool) -> None:
        unit = service.name + self.suffix
        _manage(["systemctl", "--user", "daemon-reload"])
        _manage(["systemctl", "--user", "enable", unit])
        _manage(["systemctl", "--user", "restart" if changed else "start", unit])

    def stop(self, service: Service) -> None:
        _manage(["systemctl", "--user", "disable", "--now", service.name + self.suffix])

    def forget(self) -> None:
        _manage(["systemctl", "--user", "daemon-reload"])

    def state(self, service: Service) -> str:
        unit = service.name + self.suffix
        active = _ask(["systemctl", "--user", "is-active", unit])
        enabled = _ask(["systemctl", "--user", "is-enabled", unit])
        if active.returncode not in (0, 3) or not active.stdout.strip():
            return f"unknown: {_complaint(active)}"
        return f"{active.stdout.strip()}, {enabled.stdout.strip() or 'not enabled'}"


# -- launchd ---------------------------------------------------------------------------------


def launchd_plist(name: str, command: list[str], log: Path) -> bytes:
    """The launch agent that runs ``command``: at login, again when it exits with an
    error, its output appended to ``log``."""
    agent = {
        "Label": name,
        "ProgramArguments": command,
        "RunAtLoad": True,
        "KeepAlive": {"SuccessfulExit": False},
        "ThrottleInterval": RESTART_AFTER,
        "ProcessType": "Background",
        "EnvironmentVariables": {"PYTHONUNBUFFERED": "1"},
        "StandardOutPath": str(log),
        "StandardErrorPath": str(log),
    }
    data = plistlib.dumps(agent, sort_keys=False)
    head, _, rest = data.partition(b"<plist")
    return (
        head
        + f"<!-- {MARK}: it runs 'vaultkit watch' for one vault. -->\n".encode()
        + (b"<plist" + rest)
    )


class Launchd:
    """macOS: an agent in ~/Library/LaunchAgents, driven with ``launchctl`` in the
    person's GUI domain; the log goes to ~/Library/Logs."""

    kind = "launchd agent"
    suffix = ".plist"
    no_manager = "launchd did not load it; 'launchctl print' on the agent may say why"

    def __init__(self, home: Path | None = None, uid: int | None = None):
        home = home or Path.home()
        self.folder = home / "Library" / "LaunchAgents"
        self.log_folder = home / "Library" / "Logs"
        self.domain = f"gui/{os.getuid() if uid is None else uid}"

    def log(self, name: str) -> Path:
        return self.log_folder / f"{name}.log"

    def render(self, name: str, command: list[str]) -> bytes:
        return launchd_plist(name, command, self.log(name))

    def vault_of(self, data: bytes) -> Path | None:
        if MARK.encode() not in data:
            return None
        try:
            arguments = plistlib.loads(data).get("ProgramArguments", [])
            return Path(arguments[arguments.index("--vault") + 1])
        except (plistlib.InvalidFileException, ValueError, IndexError, AttributeError):
            return None

    def logs(self, service: Service) -> str:
        return f"tail -f {shlex.quote(str(self.log(service.name)))}"

    def _loaded(self, service: Service) -> bool:
        return _ask(["launchctl", "print", f"{self.domain}/{service.name}"]).returncode == 0

    def start(self, service: Service, changed: bool) -> None:
        if self._loaded(service):
            if not changed:
                return
            _manage(["launchctl", "bootout", f"{self.domain}/{service.name}"])
        _manage(["launchctl", "bootstrap", self.domain, str(service.file)])

    def stop(self, service: Service) -> None:
        if self._loaded(service):
            _manage(["launchctl", "bootout", f"{self.domain}/{service.name}"])

    def forget(self) -> None:
        """launchd forgets an agent when it is booted out."""

    def state(self, service: Service) -> str:
        printed = _ask(["launchctl", "print", f"{self.domain}/{service.name}"])
        if printed.returncode != 0:
            return "not loaded"
        fields = dict(re.findall(r"^\s*([a-z ]+?) = (.*)$", printed.stdout, re.MULTILINE))
        state = fields.get("state", "loaded")
        last = fields.get("last exit code")
        return f"{state}, last exit code {last}" if last else state


Manager = Systemd | Launchd


def manager_for(command: list[str] | None = None, platform: str | None = None) -> Manager:
    """The service manager of this system; where there is none vaultkit knows, an error
    that shows ``command`` (the watcher) to run another way."""
    platform = platform or sys.platform
    if platform == "darwin":
        return Launchd()
    if platform.startswith("linux") and shutil.which("systemctl"):
        return Systemd()
    what = "Linux without systemctl" if platform.startswith("linux") else platform
    raise ServiceError(
        f"vaultkit knows the service managers systemd (Linux) and launchd (macOS); this "
        f"system ({what}) has neither. Keep the watcher running another way (a login item, "
        "a scheduled task, a terminal multiplexer)"
        + (f". The command:\n  {shlex.join(command)}" if command else "")
    )


# -- what the commands do --------------------------------------------------------------------


def installed(manager: Manager) -> list[Service]:
    """Every service vaultkit wrote, from the files in the manager's folder."""
    found = []
    for file_name in files_in(manager.folder, f"{PREFIX}*{manager.suffix}"):
        data = read_bytes(manager.folder, file_name)
        vault = None if data is None else manager.vault_of(data)
        if vault is not None:
            name = file_name.removesuffix(manager.suffix)
            found.append(Service(name, vault, manager.folder / file_name))
    return found


def service_for(manager: Manager, vault: Path) -> Service | None:
    return next((s for s in installed(manager) if s.vault == vault), None)


def install(
    manager: Manager, vault: Path, command: list[str], force: bool = False
) -> tuple[Service, bool]:
    """Write the service file for ``vault`` and start it now: the service, and whether its
    file was written (False: it was there already, unchanged). A file vaultkit did not write is
    never replaced, nor one that differs from what it would write, unless ``force``."""
    check_vault_path(vault)
    service = service_for(manager, vault)
    if service is None:
        taken = {f.removesuffix(manager.suffix) for f in files_in(manager.folder, "*")}
        name = service_name(vault, taken)
        service = Service(name, vault, manager.folder / (name + manager.suffix))
    new = manager.render(service.name, command)

    def update(current: bytes | None) -> Decision:
        if current is None or current == new or (force and manager.vault_of(current)):
            return new
        if manager.vault_of(current) is None:
            return LeaveAlone(NOT_OURS)
        return LeaveAlone(
            "differs from what vaultkit writes now (edited by hand, or vaultkit was installed "
            "again elsewhere); 'vaultkit service install --force' replaces it"
        )

    changed = _write(manager, service, update)
    try:
        manager.start(service, changed)
    except ServiceError as exc:
        raise ServiceError(
            f"is written, but the service did not start: {exc.message}. {manager.no_manager}; "
            f"'vaultkit service uninstall {service.name}' removes the file. To run the "
            f"watcher yourself: {shlex.join(command)}",
            str(service.file),
        ) from None
    return service, changed


def uninstall(manager: Manager, service: Service) -> str | None:
    """Stop the service and remove its file, if vaultkit wrote it. The file goes even when
    the manager does not answer (then nothing it runs can be stopped either); what it
    said is returned, to be shown."""
    try:
        manager.stop(service)
    except ServiceError as exc:
        complaint: str | None = exc.message
    else:
        complaint = None

    def update(current: bytes | None) -> Decision:
        if current is not None and manager.vault_of(current) is None:
            return LeaveAlone(NOT_OURS)
        return DELETE

    _write(manager, service, update)
    if complaint is None:
        manager.forget()
    return complaint


def _write(manager: Manager, service: Service, update: FileUpdate) -> bool:
    outcome = update_files(manager.folder, {service.file.name: update})
    for found, why in [*outcome.failed, *outcome.left_alone]:
        raise ServiceError(why, str(manager.folder / found))
    return bool(outcome.written or outcome.removed)


def _ask(command: list[str]) -> subprocess.CompletedProcess[str]:
    """Run a manager's command and return what it said, whatever its exit code."""
    try:
        return subprocess.run(
            command, capture_output=True, text=True, timeout=MANAGER_TIMEOUT, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        why = describe_os_error(exc) if isinstance(exc, OSError) else "it did not answer"
        return subprocess.CompletedProcess(command, 1, "", f"{command[0]}: {why}")


def _complaint(done: subprocess.CompletedProcess[str]) -> str:
    lines = (done.stderr or done.stdout).strip().splitlines()
    return lines[0] if lines else f"exit code {done.returncode}"


def _manage(command: list[str]) -> None:
    """Run a manager's command that must succeed."""
    done = _ask(command)
    if done.returncode != 0:
        raise ServiceError(f"'{shlex.join(command)}' failed: {_complaint(done)}")
