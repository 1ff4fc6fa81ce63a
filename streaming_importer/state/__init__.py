"""What the state folder keeps between runs: the checkpoint, counts, tombstones, its lock.

Imports only :mod:`streaming_importer.sources` and :mod:`streaming_importer.errors`.
"""
