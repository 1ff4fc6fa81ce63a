"""The import: intake -> segment -> embed stage -> store stage -> ledger, and its lifecycle.

The stages meet only through bounded streams of :mod:`~.items`; :mod:`~.lifecycle` wires them
and holds no stage logic. Imports everything below it, nothing of search or surfaces.
"""
