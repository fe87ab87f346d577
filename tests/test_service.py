"""``vaultkit service``: the exact unit and agent files (golden), the unit checked by
``systemd-analyze verify``, the unit's own command run as the watcher it must be, and
install / status / uninstall round trips into a temporary home. The service managers
themselves (systemctl, launchctl) are stand-ins on PATH that record what they were asked:
a test must not start services on the machine that runs it."""

from __future__ import annotations

import json
import os
import plistlib
import shlex
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from vaultkit import service
from vaultkit.cli import cli
from vaultkit.create import demo_vault
from vaultkit.errors import ServiceError

from .conftest import experiment

GOLDEN = Path(__file__).parent / "golden" / "service"
PIPX_PYTHON = "/home/ada/.local/pipx/venvs/vaultkit/bin/python"
ADA_VAULT = Path("/home/ada/ML vault")
# Every character that means something to systemd's parser or to a shell.
AWKWARD = 'ML "100%" $HOME \\ vault'

# A stand-in for systemctl and launchctl: it records its arguments, remembers which
# agents are loaded, and answers the way the real tool does; FAKE_MODE=down is a system
# whose manager does not answer (a container).
FAKE_MANAGER = """\
import json, os, sys
log = os.environ["FAKE_LOG"]
with open(log, "a") as out:
    out.write(json.dumps([os.path.basename(sys.argv[0]), *sys.argv[1:]]) + "\\n")
if os.environ.get("FAKE_MODE") == "down":
    sys.exit("Failed to connect to bus: No medium found")
args = [a for a in sys.argv[1:] if a != "--user"]
loaded = log + ".loaded"
names = open(loaded).read().split() if os.path.exists(loaded) else []
if args[0] == "is-active":
    print("active")
elif args[0] == "is-enabled":
    print("enabled")
elif args[0] == "print":
    if args[1].rsplit("/", 1)[1] not in names:
        sys.exit("Could not find service in domain for port")  # launchctl: exit 113
    print("\\tstate = running\\n\\tlast exit code = (never exited)")
elif args[0] == "bootstrap":
    names.append(os.path.basename(args[2]).removesuffix(".plist"))
elif args[0] == "bootout":
    names.remove(args[1].rsplit("/", 1)[1])
open(loaded, "w").write(" ".join(names))
"""


def golden(name: str, produced: bytes) -> None:
    path = GOLDEN / name
    if os.environ.get("VAULTKIT_UPDATE_GOLDEN"):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(produced)
    assert produced == path.read_bytes()


# -- the files -------------------------------------------------------------------------------


def test_the_systemd_unit_is_exactly_the_golden_file() -> None:
    command = service.watch_command(ADA_VAULT, python=PIPX_PYTHON)
    golden("vaultkit-ml-vault.service", service.systemd_unit("vaultkit-ml-vault", command))


def test_the_launchd_agent_is_exactly_the_golden_file() -> None:
    command = service.watch_command(
        Path("/Users/ada/ML vault"), python="/Users/ada/.local/pipx/venvs/vaultkit/bin/python"
    )
    log = Path("/Users/ada/Library/Logs/vaultkit-ml-vault.log")
    plist = service.launchd_plist("vaultkit-ml-vault", command, log)
    golden("vaultkit-ml-vault.plist", plist)
    agent = plistlib.loads(plist)
    assert agent["ProgramArguments"] == command
    assert agent["KeepAlive"] == {"SuccessfulExit": False}  # restarted when it fails


@pytest.mark.parametrize(
    ("argument", "written"),
    [
        ("/usr/bin/python3", "/usr/bin/python3"),
        ("watch", "watch"),
        ("/home/ada/ML vault", '"/home/ada/ML vault"'),
        ("100%", "100%%"),  # a specifier otherwise
        ("$HOME", "$$HOME"),  # a variable otherwise
        ('say "hi"', '"say \\"hi\\""'),
        ("a\\b", '"a\\\\b"'),
        ("a;b", '"a;b"'),
        ("", '""'),
        ("Modèles", '"Modèles"'),
    ],
)
def test_systemd_quoting(argument: str, written: str) -> None:
    assert service.systemd_quote(argument) == written


@pytest.mark.parametrize(
    ("folder", "taken", "name"),
    [
        ("ML vault", set(), "vaultkit-ml-vault"),
        ("ML vault", {"vaultkit-ml-vault"}, "vaultkit-ml-vault-2"),
        ("ML vault", {"vaultkit-ml-vault", "vaultkit-ml-vault-2"}, "vaultkit-ml-vault-3"),
        ("Модели", set(), "vaultkit-vault"),
        ("  --Team's 2026 vault!--", set(), "vaultkit-team-s-2026-vault"),
    ],
)
def test_service_names(folder: str, taken: set[str], name: str) -> None:
    assert service.service_name(Path("/home/ada") / folder, taken) == name


SYSTEMD_ANALYZE = shutil.which("systemd-analyze")


@pytest.mark.skipif(SYSTEMD_ANALYZE is None, reason="needs systemd-analyze (systemd)")
@pytest.mark.parametrize("folder", ["ML vault", AWKWARD, "Modèles d'entraînement"])
def test_systemd_analyze_verifies_the_unit(tmp_path: Path, folder: str) -> None:
    command = service.watch_command(tmp_path / folder, polling=True)
    unit = tmp_path / "vaultkit-test.service"
    unit.write_bytes(service.systemd_unit("vaultkit-test", command))
    verified = verify(unit)
    assert (verified.returncode, verified.stdout + verified.stderr) == (0, "")


@pytest.mark.skipif(SYSTEMD_ANALYZE is None, reason="needs systemd-analyze (systemd)")
def test_systemd_analyze_would_catch_a_badly_quoted_unit(tmp_path: Path) -> None:
    """The check above can fail: the same unit with one quote lost is refused."""
    command = service.watch_command(tmp_path / "ML vault")
    unit = tmp_path / "vaultkit-test.service"
    text = service.systemd_unit("vaultkit-test", command).decode()
    unit.write_text(text.replace('ML vault"', "ML vault"))
    verified = verify(unit)
    assert verified.returncode != 0
    assert "Unbalanced quoting" in verified.stderr


def verify(unit: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(SYSTEMD_ANALYZE), "verify", str(unit)], capture_output=True, text=True, timeout=60
    )


def exec_start(unit: str) -> list[str]:
    """ExecStart's words as systemd passes them: quotes as a POSIX shell reads them (for
    ``\\\\`` and ``\\"`` the rules agree), ``%%`` and ``$$`` undone."""
    line = next(x for x in unit.splitlines() if x.startswith("ExecStart="))
    words = shlex.split(line.removeprefix("ExecStart=").replace("%%", "%"))
    return [word.replace("$$", "$") for word in words]


def test_the_units_command_runs_the_watcher_for_its_vault(tmp_path: Path) -> None:
    """The unit's own command line, run as systemd would run it, keeps the vault's index
    current and stops cleanly on SIGTERM (systemd's stop)."""
    vault = tmp_path / AWKWARD
    demo_vault(vault)
    unit = service.systemd_unit("vaultkit-test", service.watch_command(vault)).decode()
    argv = exec_start(unit)
    assert argv == service.watch_command(vault)
    watcher = subprocess.Popen(
        argv,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    assert watcher.stdout is not None
    try:
        assert "initial build" in watcher.stdout.readline()
        assert f"Watching {vault}" in watcher.stdout.readline()
        new = vault / "Experiments" / "EXP-900 from the service.md"
        new.write_text(experiment("[[EXP-001 baseline]]", "writing"), encoding="utf-8")
        index = vault / "Experiment Index.md"
        deadline = time.monotonic() + 20
        while "EXP-900 from the service" not in index.read_text(encoding="utf-8"):
            assert time.monotonic() < deadline, "the watcher did not update the index"
            time.sleep(0.1)
    finally:
        watcher.send_signal(signal.SIGTERM)
        out, err = watcher.communicate(timeout=15)
    assert watcher.returncode == 0, err
    assert out.endswith("Stopped watching.\n")


# -- install, status, uninstall --------------------------------------------------------------


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A temporary home with stand-in service managers first on PATH."""
    home = tmp_path / "home"
    home.mkdir()
    fake_bin = tmp_path / "bin"
    fake_bin.mkdir()
    for tool in ("systemctl", "launchctl"):
        script = fake_bin / tool
        script.write_text(f"#!{sys.executable}\n{FAKE_MANAGER}")
        script.chmod(0o755)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("XDG_CONFIG_HOME", raising=False)
    monkeypatch.setenv("PATH", f"{fake_bin}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("FAKE_LOG", str(tmp_path / "calls.jsonl"))
    return home


def calls(home: Path) -> list[list[str]]:
    """What the service manager was asked since the last look."""
    log = Path(os.environ["FAKE_LOG"])
    asked = [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []
    log.write_text("")
    return asked


def vaultkit(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args))


def systemctl(*args: str) -> list[str]:
    return ["systemctl", "--user", *args]


@pytest.fixture
def vault(tmp_path: Path) -> Path:
    root = tmp_path / "work" / "ML vault"
    demo_vault(root)
    return root


def test_install_status_uninstall_round_trip(home: Path, vault: Path) -> None:
    unit = home / ".config" / "systemd" / "user" / "vaultkit-ml-vault.service"
    described = (
        f"  vault: {vault}\n  file:  {unit}\n  logs:  journalctl --user -u vaultkit-ml-vault -f\n"
    )

    result = vaultkit("service", "install", "--vault", str(vault))
    assert result.exit_code == 0, result.output
    assert result.output == (
        "Installed vaultkit-ml-vault, a systemd user service that runs 'vaultkit watch'\n"
        + described
        + "It runs now, starts at every login and restarts if it fails.\n"
    )
    assert unit.read_bytes() == service.systemd_unit(
        "vaultkit-ml-vault", service.watch_command(vault)
    )
    assert calls(home) == [
        systemctl("daemon-reload"),
        systemctl("enable", "vaultkit-ml-vault.service"),
        systemctl("restart", "vaultkit-ml-vault.service"),
    ]

    written = unit.stat().st_mtime_ns
    again = vaultkit("service", "install", "--vault", str(vault))
    assert again.exit_code == 0, again.output
    assert again.output.startswith("Already installed, unchanged: vaultkit-ml-vault,")
    assert unit.stat().st_mtime_ns == written  # nothing written
    assert calls(home)[-1] == systemctl("start", "vaultkit-ml-vault.service")

    status = vaultkit("service", "status")
    assert status.output == "vaultkit-ml-vault: active, enabled\n" + described
    assert calls(home) == [
        systemctl("is-active", "vaultkit-ml-vault.service"),
        systemctl("is-enabled", "vaultkit-ml-vault.service"),
    ]

    removed = vaultkit("service", "uninstall", "--vault", str(vault))
    assert removed.exit_code == 0, removed.output
    assert removed.output == f"Removed vaultkit-ml-vault ({unit}); {vault} is no longer watched.\n"
    assert calls(home) == [
        systemctl("disable", "--now", "vaultkit-ml-vault.service"),
        systemctl("daemon-reload"),
    ]
    assert not [p for p in home.rglob("*") if p.is_file()]  # the home holds no file of ours
    none = vaultkit("service", "status")
    assert none.output == (
        "No vaultkit service is installed. Install one with: vaultkit service install "
        "--vault PATH\n"
    )


def test_install_from_inside_the_vault_and_the_dry_run(
    home: Path, vault: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(vault / "Experiments")
    shown = vaultkit("service", "install", "--dry-run")
    unit = home / ".config" / "systemd" / "user" / "vaultkit-ml-vault.service"
    assert (
        shown.output
        == f"# {unit}\n"
        + service.systemd_unit("vaultkit-ml-vault", service.watch_command(vault)).decode()
    )
    assert not unit.exists() and calls(home) == []
    assert vaultkit("service", "install", "--polling").exit_code == 0
    assert exec_start(unit.read_text())[-2:] == ["watch", "--polling"]


def test_two_vaults_with_one_folder_name_get_two_services(
    home: Path, vault: Path, tmp_path: Path
) -> None:
    other = tmp_path / "other" / "ML vault"
    demo_vault(other)
    for root in (vault, other, vault):
        assert vaultkit("service", "install", "--vault", str(root)).exit_code == 0
    units = home / ".config" / "systemd" / "user"
    assert sorted(p.name for p in units.iterdir()) == [
        "vaultkit-ml-vault-2.service",
        "vaultkit-ml-vault.service",
    ]
    assert f"# Vault: {other}\n" in (units / "vaultkit-ml-vault-2.service").read_text()
    status = vaultkit("service", "status", "--vault", str(other)).output
    assert status.startswith("vaultkit-ml-vault-2: active, enabled\n")


def test_a_file_vaultkit_did_not_write_is_never_touched(home: Path, tmp_path: Path) -> None:
    units = home / ".config" / "systemd" / "user"
    units.mkdir(parents=True)
    theirs = units / "vaultkit-notes.service"
    theirs.write_text("[Service]\nExecStart=/usr/bin/true\n")
    notes = tmp_path / "notes"
    demo_vault(notes)
    assert vaultkit("service", "install", "--vault", str(notes)).exit_code == 0
    assert theirs.read_text() == "[Service]\nExecStart=/usr/bin/true\n"
    assert (units / "vaultkit-notes-2.service").exists()  # another name
    assert vaultkit("service", "status").output.startswith("vaultkit-notes-2: ")  # not theirs
    refused = vaultkit("service", "uninstall", "vaultkit-notes")
    assert refused.exit_code == 1
    assert "no vaultkit service is named 'vaultkit-notes'" in refused.output
    assert "did you mean 'vaultkit-notes-2'?" in refused.output
    assert theirs.read_text() == "[Service]\nExecStart=/usr/bin/true\n"


def test_a_unit_edited_by_hand_is_replaced_only_with_force(home: Path, vault: Path) -> None:
    assert vaultkit("service", "install", "--vault", str(vault)).exit_code == 0
    unit = home / ".config" / "systemd" / "user" / "vaultkit-ml-vault.service"
    edited = unit.read_text().replace("RestartSec=10", "RestartSec=60")
    unit.write_text(edited)
    calls(home)
    refused = vaultkit("service", "install", "--vault", str(vault))
    assert refused.exit_code == 1
    assert f"Error: {unit}: differs from what vaultkit writes now" in refused.output
    assert "--force" in refused.output
    assert unit.read_text() == edited and calls(home) == []
    forced = vaultkit("service", "install", "--vault", str(vault), "--force")
    assert forced.exit_code == 0, forced.output
    assert "RestartSec=10" in unit.read_text()
    assert calls(home)[-1] == systemctl("restart", "vaultkit-ml-vault.service")


def test_a_service_outlives_its_vault_and_is_still_removed(
    home: Path, vault: Path, tmp_path: Path
) -> None:
    assert vaultkit("service", "install", "--vault", str(vault)).exit_code == 0
    vault.rename(tmp_path / "moved")
    status = vaultkit("service", "status").output
    assert f"  vault: {vault}  (missing: moved or deleted?)\n" in status
    removed = vaultkit("service", "uninstall", "--vault", str(vault))
    assert removed.exit_code == 0, removed.output


def test_a_manager_that_does_not_answer_is_reported_with_the_way_out(
    home: Path, vault: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_MODE", "down")
    result = vaultkit("service", "install", "--vault", str(vault))
    unit = home / ".config" / "systemd" / "user" / "vaultkit-ml-vault.service"
    assert result.exit_code == 1
    assert result.output.startswith(
        f"Error: {unit}: is written, but the service did not start: 'systemctl --user "
        "daemon-reload' failed: Failed to connect to bus: No medium found. Without a systemd "
        "user manager"
    )
    assert shlex.join(service.watch_command(vault)) in result.output
    assert "'vaultkit service uninstall vaultkit-ml-vault' removes the file" in result.output
    status = vaultkit("service", "status").output
    assert status.startswith("vaultkit-ml-vault: unknown: Failed to connect to bus")
    removed = vaultkit("service", "uninstall", "vaultkit-ml-vault")
    assert removed.exit_code == 0 and not unit.exists()
    assert removed.output.startswith(
        "Note: the service could not be stopped: 'systemctl --user disable --now "
        "vaultkit-ml-vault.service' failed: Failed to connect to bus: No medium found\n"
        "Removed vaultkit-ml-vault"
    )


def test_a_system_without_a_service_manager_gets_the_command(
    home: Path, vault: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(Path(os.environ["FAKE_LOG"]).parent / "nothing"))
    result = vaultkit("service", "install", "--vault", str(vault))
    assert result.exit_code == 1
    assert result.output == (
        "Error: vaultkit knows the service managers systemd (Linux) and launchd (macOS); "
        f"this system ({'Linux without systemctl' if sys.platform == 'linux' else sys.platform})"
        " has neither. Keep the watcher running another way (a login item, a scheduled task, "
        f"a terminal multiplexer). The command:\n  {shlex.join(service.watch_command(vault))}\n"
    )
    assert not (home / ".config").exists()


def test_the_launchd_agent_round_trip(home: Path, vault: Path) -> None:
    """macOS, through the API (this test runs anywhere): the agent file, launchctl's
    bootstrap into the person's GUI domain, its state, and bootout."""
    launchd = service.Launchd(uid=501)
    command = service.watch_command(vault)
    installed, changed = service.install(launchd, vault, command)
    agent = home / "Library" / "LaunchAgents" / "vaultkit-ml-vault.plist"
    assert (installed, changed) == (service.Service("vaultkit-ml-vault", vault, agent), True)
    log = home / "Library" / "Logs" / "vaultkit-ml-vault.log"
    assert agent.read_bytes() == service.launchd_plist("vaultkit-ml-vault", command, log)
    assert calls(home) == [
        ["launchctl", "print", "gui/501/vaultkit-ml-vault"],
        ["launchctl", "bootstrap", "gui/501", str(agent)],
    ]
    assert service.install(launchd, vault, command) == (installed, False)
    assert calls(home) == [["launchctl", "print", "gui/501/vaultkit-ml-vault"]]  # running
    assert service.installed(launchd) == [installed]
    assert launchd.state(installed) == "running, last exit code (never exited)"
    assert launchd.logs(installed) == f"tail -f {log}"
    calls(home)
    service.uninstall(launchd, installed)
    assert calls(home) == [
        ["launchctl", "print", "gui/501/vaultkit-ml-vault"],
        ["launchctl", "bootout", "gui/501/vaultkit-ml-vault"],
    ]
    assert not agent.exists()
    assert launchd.state(installed) == "not loaded"


def test_the_manager_for_each_platform(home: Path) -> None:
    assert isinstance(service.manager_for(platform="darwin"), service.Launchd)
    assert isinstance(service.manager_for(platform="linux"), service.Systemd)
    with pytest.raises(ServiceError, match=r"this system \(win32\) has neither"):
        service.manager_for(["vaultkit", "watch"], platform="win32")


@pytest.mark.parametrize(
    ("name", "said"),
    [
        (b"caf\xe9 vault", "has a name that is not UTF-8, which a service file cannot hold"),
        (b"tab\there", "has a line break or a control character in its path"),
        (b"bell\x07vault", "has a line break or a control character in its path"),
    ],
    ids=["not UTF-8", "a tab", "a control character"],
)
@pytest.mark.parametrize("dry_run", [True, False], ids=["dry run", "install"])
def test_a_vault_path_no_service_file_can_hold_is_refused_in_words(
    home: Path, tmp_path: Path, name: bytes, said: str, dry_run: bool
) -> None:
    root = Path(os.fsdecode(os.path.join(os.fsencode(tmp_path), name)))
    demo_vault(root)
    result = vaultkit("--vault", str(root), "service", "install", *(["--dry-run"] * dry_run))
    assert result.exit_code == 1
    assert said in result.output and "rename the folder" in result.output
    assert "did not expect" not in result.output
    assert calls(home) == []
