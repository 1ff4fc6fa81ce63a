"""``python -m streaming_importer``: the first steps, then the command line."""

import sys

if sys.argv[1:2] == ["recall"]:
    # An agent's hook, run on every prompt: it starts with nothing else of the
    # package (no re-exec, no settings) to answer in tens of milliseconds.
    from streaming_importer.surfaces.hooks.recall import main as recall

    raise SystemExit(recall(sys.argv[2:]))

# First the malloc arena limit (a re-exec), then the stop signals: importing
# the rest takes time, and a SIGTERM meanwhile must still end in a clean exit
# (see startup.py).
from streaming_importer.ops.startup import catch_stop_signals, reexec_with_arena_limit

reexec_with_arena_limit()
catch_stop_signals()

from streaming_importer.surfaces.cli.main import run  # noqa: E402

run()
