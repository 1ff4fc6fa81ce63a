"""The first start's peak memory: building the model folder, then importing the demo.

Runs ``python -m streaming_importer --once`` over ``demo/claude-projects``
with an empty state folder (so the fp32 model file is written from its
weights first, as on a new machine), ``--runs`` times, each under a wrapper
process of its own whose ``RUSAGE_CHILDREN`` peak is only the importer's.
Prints each run's peak RSS and seconds (target: at most 450 MB).

    python benchmarks/first_start.py [--runs 3]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGET_MB = 450
#: Runs the importer as its child and prints that child's peak RSS in KiB.
WRAPPER = (
    "import resource, subprocess, sys;"
    "subprocess.run([sys.executable, '-m', 'streaming_importer', '--once'], check=True,"
    " stderr=subprocess.DEVNULL);"
    "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)"
)


def first_start_peak_mb(state: Path) -> float:
    """Peak RSS (MB) of one first start into ``state`` (which must not exist yet)."""
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("QDRANT_", "MODELS_DIR"))},
        "CONVERSATIONS_DIR": str(ROOT / "demo" / "claude-projects"),
        "STATE_DIR": str(state),
        "SOURCES": "claude",
        "WEB_PORT": "off",
    }
    done = subprocess.run(
        [sys.executable, "-c", WRAPPER], env=env, cwd=ROOT, capture_output=True, text=True
    )
    if done.returncode != 0:
        raise RuntimeError(done.stderr[-2000:])
    return int(done.stdout.split()[-1]) / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    peaks = []
    for run in range(args.runs):
        with tempfile.TemporaryDirectory(prefix="first-start-") as tmp:
            started = time.monotonic()
            peak = first_start_peak_mb(Path(tmp) / "state")
            peaks.append(peak)
            print(f"run {run + 1}: peak RSS {peak:.0f} MB, {time.monotonic() - started:.1f} s")
    verdict = "met" if max(peaks) <= TARGET_MB else "NOT met"
    print(f"peak RSS {min(peaks):.0f}-{max(peaks):.0f} MB; target <= {TARGET_MB} MB {verdict}")


if __name__ == "__main__":
    main()
