"""Text -> vectors: chunks that fit the model, the model (built offline), BM25 terms.

Imports :mod:`~streaming_importer.store` (the point types and the model identity),
:mod:`~streaming_importer.ops` and :mod:`~streaming_importer.sources`.
"""
