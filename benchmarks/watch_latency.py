"""Save-to-index latency of ``vaultkit watch``: edit an experiment's status and time how
long until the index note shows it. Prints the median of several saves.

    python benchmarks/watch_latency.py benchmarks/vaults/10k [--saves 9]
"""

from __future__ import annotations

import argparse
import statistics
import threading
import time
from pathlib import Path

from vaultkit.watch import Watcher


def measure(root: Path, saves: int = 9) -> list[float]:
    """Seconds from each save to the index reflecting it."""
    watcher = Watcher(root)
    watcher.start()
    thread = threading.Thread(target=watcher.run, daemon=True)
    thread.start()
    index = root / watcher.model.vault.config.index_path
    experiments = sorted(watcher.model.experiments)[:saves]
    latencies = []
    try:
        for note_id in experiments:
            note = root / watcher.model.notes[note_id].path
            text = note.read_text(encoding="utf-8")
            status = watcher.model.notes[note_id].parsed.status
            new = "paused" if status != "paused" else "writing"
            before = index.read_bytes()
            began = time.perf_counter()
            note.write_text(text.replace(f"Status: #{status}", f"Status: #{new}"), encoding="utf-8")
            while index.read_bytes() == before:
                if time.perf_counter() - began > 30:
                    raise TimeoutError(f"the index did not change after saving {note}")
                time.sleep(0.005)
            latencies.append(time.perf_counter() - began)
            time.sleep(0.3)  # let the watcher go quiet before the next save
    finally:
        watcher.close()
        thread.join(timeout=5)
    return latencies


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("root", type=Path)
    parser.add_argument("--saves", type=int, default=9)
    args = parser.parse_args()
    latencies = measure(args.root, args.saves)
    print(
        f"save-to-index latency: median {statistics.median(latencies):.3f} s "
        f"(min {min(latencies):.3f}, max {max(latencies):.3f}, n={len(latencies)})"
    )


if __name__ == "__main__":
    main()
