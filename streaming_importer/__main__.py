# First the malloc arena limit (a re-exec), then the stop signals: importing
# the rest takes time, and a SIGTERM meanwhile must still end in a clean exit
# (see startup.py).
from streaming_importer.startup import catch_stop_signals, reexec_with_arena_limit

reexec_with_arena_limit()
catch_stop_signals()

from streaming_importer.cli import run  # noqa: E402

run()
