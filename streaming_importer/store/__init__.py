"""Where points go: a :class:`~streaming_importer.store.base.Sink` and its two engines.

- :mod:`~streaming_importer.store.base`: the Protocol, the point types, the model identity;
- :mod:`~streaming_importer.store.edge`: qdrant-edge-py, Qdrant's own engine in this
  process, in a folder under the state folder (default), kept as
  :mod:`~streaming_importer.store.layout` says and read ahead by
  :mod:`~streaming_importer.store.warm`;
- :mod:`~streaming_importer.store.server`: a Qdrant server through qdrant-client
  (``QDRANT_URL``).

Imports only :mod:`~streaming_importer.ops` and :mod:`~streaming_importer.errors`.
"""

from __future__ import annotations

from streaming_importer.ops.config import Settings
from streaming_importer.store.base import (
    DATETIME_FIELDS,
    KEYWORD_FIELDS,
    SCHEMA,
    Hit,
    ModelIdentity,
    Point,
    Sink,
    Sparse,
    Where,
    check_identity,
    check_schema,
)

__all__ = [
    "DATETIME_FIELDS",
    "KEYWORD_FIELDS",
    "SCHEMA",
    "Hit",
    "ModelIdentity",
    "Point",
    "Sink",
    "Sparse",
    "Where",
    "check_identity",
    "check_schema",
    "open_sink",
]


def open_sink(settings: Settings, *, one_shot: bool = False) -> Sink:
    """The sink the settings name, not yet opened; ``one_shot``: for one search and close."""
    # Imported here, not at the top: qdrant-client alone takes about a second
    # to import, which a run on the embedded engine (and every CLI search) would
    # otherwise pay for an engine it does not use.
    if settings.qdrant_url:
        from streaming_importer.store.server import ServerSink

        return ServerSink.from_url(
            settings.qdrant_url,
            settings.qdrant_api_key,
            settings.collection_name,
            shards=settings.qdrant_shards,
            replicas=settings.qdrant_replicas,
        )
    from streaming_importer.store.edge import EdgeSink

    return EdgeSink(
        settings.store_dir,
        settings.collection_name,
        index_points=settings.store_index_points,
        warm=not one_shot,
    )
