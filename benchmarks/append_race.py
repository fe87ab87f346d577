"""The window between vaultkit's last check of a file and its rename: a separate process
appends a line to the index every 2 ms while builds run back to back; how many lines
are lost. Not a test (it counts a race); see docs/architecture.md.

    python benchmarks/append_race.py [SECONDS]
"""

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.conftest import LINEAGE_VAULT, write_vault  # noqa: E402
from vaultkit.pipeline import Builder  # noqa: E402

seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 40.0
work = Path(tempfile.mkdtemp(prefix="vaultkit-race-"))
root = work / "vault"
write_vault(root, dict(LINEAGE_VAULT))
b = Builder(root)
b.build()
index = root / "Experiment Index.md"
appender = subprocess.Popen(
    [
        sys.executable,
        "-c",
        f"""
import time, sys
i = 0
end = time.time() + {seconds}
while time.time() < end:
    with open({str(index)!r}, 'a', encoding='utf-8') as f:
        f.write(f'line {{i}}\\n')
    i += 1
    time.sleep(0.002)
print(i)
""",
    ],
    stdout=subprocess.PIPE,
    text=True,
)
note = root / "Experiments" / "EXP-003 focal.md"
builds = 0
while appender.poll() is None:
    text = note.read_text()
    note.write_text(
        text.replace("#writing", "#pending")
        if "#writing" in text
        else text.replace("#pending", "#writing")
    )
    b.build()
    builds += 1
count = int(appender.stdout.read().strip())
text = index.read_text()
lost = [i for i in range(count) if f"line {i}\n" not in text]
print(f"{builds} builds, {count} lines appended, {len(lost)} lost")
shutil.rmtree(work, ignore_errors=True)
